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
