//! Display names on the page: a name chosen on the registration form shows
//! beside that person's messages and in the online list, with the handle on
//! hover (the `title`), live and after a reload; mention autocomplete finds
//! people by display name or by handle and writes the handle.

use serde_json::json;

use crate::webdriver::{ENTER, Session};
use crate::{LIVE, SLOW, open_room, register, rig};

/// `[text, title]` of the author of the last message a page shows.
async fn last_author(browser: &Session) -> serde_json::Value {
    browser
        .js(
            "const user = [...document.querySelectorAll('#messages li.msg .user')].pop();
             return user ? [user.textContent, user.title] : null",
            json!([]),
        )
        .await
}

/// Types `typed` into the empty message box and answers the suggestions
/// shown, as `[data-user, text]`.
async fn suggestions(browser: &Session, typed: &str) -> serde_json::Value {
    let box_ = browser.find("#send textarea").await;
    browser.clear(&box_).await;
    browser.type_into(&box_, typed).await;
    browser
        .wait_for(
            "the suggestions",
            SLOW,
            "const menu = document.getElementById('mention-list');
             return menu && !menu.hidden && menu.children.length > 0",
        )
        .await;
    browser
        .js(
            "return [...document.querySelectorAll('#mention-list li')].map(li => [li.dataset.user, li.textContent])",
            json!([]),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_display_names_with_the_handle_on_hover_and_autocomplete_finds_either() {
    let Some(rig) = rig().await else { return };
    // Registering through the form, with a display name.
    let zhang = rig.desktop().await;
    zhang.goto(&rig.url("/register")).await;
    zhang.type_into(&zhang.find("input[name=username]").await, "zhangwei").await;
    zhang.type_into(&zhang.find("input[name=display]").await, "张伟").await;
    zhang.type_into(&zhang.find("input[name=password]").await, "correct horse battery").await;
    zhang.click(&zhang.find("form[action='/register'] button").await).await;
    zhang.wait_for("the lobby", SLOW, "return document.querySelector('a.name')?.textContent === 'zhangwei'").await;
    let bob = rig.desktop().await;
    register(&rig, &bob, "bob").await;
    open_room(&rig, &bob, "lobby").await;
    open_room(&rig, &zhang, "lobby").await;

    // The online list: display name, handle on hover.
    bob.wait_for(
        "zhangwei online under his display name",
        SLOW,
        "const li = document.querySelector('#online li[data-user=zhangwei] .user');
         return li && li.textContent === '张伟' && li.title === 'zhangwei'",
    )
    .await;

    // A live message: the same.
    let box_ = zhang.find("#send textarea").await;
    zhang.type_into(&box_, "大家好").await;
    zhang.type_into(&box_, ENTER).await;
    bob.wait_for("the message", LIVE, "return document.querySelectorAll('#messages li.msg').length === 1").await;
    assert_eq!(last_author(&bob).await, json!(["张伟", "zhangwei"]));
    assert_eq!(last_author(&zhang).await, json!(["张伟", "zhangwei"]), "the sender's own page too");

    // The page as the server renders it, after a reload.
    open_room(&rig, &bob, "lobby").await;
    assert_eq!(last_author(&bob).await, json!(["张伟", "zhangwei"]));

    // Autocomplete: by display name, by handle; picking writes the handle.
    let by_display = suggestions(&bob, "hi @张").await;
    assert_eq!(by_display, json!([["zhangwei", "张伟 @zhangwei"]]));
    let box_ = bob.find("#send textarea").await;
    bob.type_into(&box_, ENTER).await;
    assert_eq!(bob.js("return document.querySelector('#send textarea').value", json!([])).await, "hi @zhangwei ");
    assert_eq!(bob.js("return document.getElementById('mention-list').hidden", json!([])).await, true);
    assert_eq!(
        bob.js("return document.querySelectorAll('#messages li.msg').length", json!([])).await,
        1,
        "Enter picked the name; it sent nothing"
    );
    let by_handle = suggestions(&bob, "@ZHANGW").await;
    assert_eq!(by_handle, json!([["zhangwei", "张伟 @zhangwei"]]));
    let nobody = bob
        .js(
            "const box = document.querySelector('#send textarea');
             box.value = '@nobody-here'; box.dispatchEvent(new Event('input'));
             return document.getElementById('mention-list').hidden",
            json!([]),
        )
        .await;
    assert_eq!(nobody, true, "no list when nobody matches");
    // A handle typed in full needs no list: Enter sends the message.
    let box_ = bob.find("#send textarea").await;
    bob.clear(&box_).await;
    bob.type_into(&box_, "thanks @zhangwei").await;
    bob.type_into(&box_, ENTER).await;
    bob.wait_for("the mention sent", LIVE, "return document.querySelectorAll('#messages li.msg').length === 2").await;
}

/// Whether every avatar `css` finds has loaded, as `[count, all loaded,
/// the first one's src]`.
async fn avatars(browser: &Session, css: &str) -> serde_json::Value {
    browser
        .js(
            "const imgs = [...document.querySelectorAll(arguments[0])];
             return [imgs.length, imgs.every(i => i.complete && i.naturalWidth > 0), imgs[0] && imgs[0].src]",
            json!([css]),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avatar_uploaded_on_the_account_page_shows_beside_messages_and_in_the_online_list() {
    let Some(rig) = rig().await else { return };
    let alice = rig.desktop().await;
    register(&rig, &alice, "alice").await;
    let bob = rig.desktop().await;
    register(&rig, &bob, "bob").await;

    // The drawn pictures, before anyone uploads one.
    open_room(&rig, &bob, "lobby").await;
    open_room(&rig, &alice, "lobby").await;
    let box_ = alice.find("#send textarea").await;
    alice.type_into(&box_, "hello").await;
    alice.type_into(&box_, ENTER).await;
    bob.wait_for("alice's message", LIVE, "return document.querySelectorAll('#messages li.msg').length === 1").await;
    let host = format!("http://{}", rig.app.addr);
    let wait_loaded =
        "return [...document.querySelectorAll('img.avatar')].every(i => i.complete && i.naturalWidth > 0)";
    bob.wait_for("the avatars to load", SLOW, wait_loaded).await;
    assert_eq!(
        avatars(&bob, "#messages li.msg .user img.avatar").await,
        json!([1, true, format!("{host}/avatars/alice")])
    );
    bob.wait_for("two online", SLOW, "return document.querySelectorAll('#online li img.avatar').length === 2").await;
    bob.wait_for("the avatars to load", SLOW, wait_loaded).await;
    assert_eq!(avatars(&bob, "#online li[data-user=alice] img.avatar").await[1], true);

    // Alice uploads a picture on her account page; it is shown there at once.
    let files = tempfile::tempdir().unwrap();
    let photo = files.path().join("me.png");
    let image = image::RgbImage::from_pixel(400, 300, image::Rgb([200, 30, 30]));
    image.save(&photo).unwrap();
    alice.goto(&rig.url("/account")).await;
    alice.type_into(&alice.find("#avatar-form input[type=file]").await, photo.to_str().unwrap()).await;
    alice.click(&alice.find("#avatar-form button").await).await;
    alice
        .wait_for(
            "the new picture",
            SLOW,
            "const img = document.getElementById('avatar-now');
             return img.src.includes('?v=') && img.complete && img.naturalWidth === 128",
        )
        .await;

    // Bob's next page shows it beside her message and in the online list
    // (with his cache off: a cached picture may stay for five minutes).
    open_room(&rig, &alice, "lobby").await;
    let red = "const img = document.querySelector(arguments[0]);
        const canvas = document.createElement('canvas');
        canvas.width = canvas.height = 8;
        const context = canvas.getContext('2d');
        context.drawImage(img, 0, 0, 8, 8);
        const [r, g, b] = context.getImageData(4, 4, 1, 1).data;
        return r > 180 && g < 60 && b < 60";
    bob.devtools("Network.enable", json!({})).await;
    bob.devtools("Network.setCacheDisabled", json!({ "cacheDisabled": true })).await;
    bob.refresh().await;
    crate::wait_connected(&bob).await;
    bob.wait_for("the avatars to load", SLOW, wait_loaded).await;
    assert_eq!(bob.js(red, json!(["#messages li.msg .user img.avatar"])).await, true, "her picture beside her message");
    bob.wait_for("alice online", SLOW, "return !!document.querySelector('#online li[data-user=alice] img.avatar')")
        .await;
    bob.wait_for("the avatars to load", SLOW, wait_loaded).await;
    assert_eq!(bob.js(red, json!(["#online li[data-user=alice] img.avatar"])).await, true, "and in the online list");
}
