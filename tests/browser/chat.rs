//! Two people in one room: accounts through the real forms, a member and a
//! guest chatting live, hostile text shown as text, who is online.

use std::time::Instant;

use serde_json::json;

use crate::webdriver::ENTER;
use crate::{LIVE, SLOW, open_room, register, rig, texts};

/// Defines `online()`: the online list as text, `name tag tag|name ...`.
const ONLINE: &str = "const online = () => [...document.querySelectorAll('#online li')]
    .map(li => [...li.children].map(e => e.textContent).join(' ')).join('|');";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_logging_out_and_logging_in_through_the_real_forms() {
    let Some(rig) = rig().await else { return };
    let browser = rig.desktop().await;
    register(&rig, &browser, "alice").await;
    assert_eq!(browser.js("return document.title", json!([])).await, "#lobby · Chat");

    browser.click(&browser.find("form[action='/logout'] button").await).await;
    let guest = browser
        .wait_for("a guest name after logging out", SLOW, "return document.querySelector('.name.guest')?.textContent")
        .await;
    assert!(guest.as_str().unwrap().starts_with("guest-"), "{guest}");

    browser.goto(&rig.url("/login")).await;
    browser.type_into(&browser.find("input[name=username]").await, "alice").await;
    browser.type_into(&browser.find("input[name=password]").await, "wrong password").await;
    browser.click(&browser.find("form[action='/login'] button").await).await;
    let refused = browser.wait_for("the reason", SLOW, "return document.querySelector('p.error')?.textContent").await;
    assert_eq!(refused, "wrong username or password");

    let (username, password) = (browser.find("input[name=username]").await, browser.find("input[name=password]").await);
    let kept = browser
        .js("return [arguments[0].value, arguments[1].value]", json!([username.reference(), password.reference()]))
        .await;
    assert_eq!(kept, json!(["", ""]), "a refused login echoes nothing back (the same answer for any name)");
    browser.type_into(&username, "alice").await;
    browser.type_into(&password, "correct horse battery").await;
    browser.click(&browser.find("form[action='/login'] button").await).await;
    browser.wait_for("logged in again", SLOW, "return document.querySelector('a.name')?.textContent === 'alice'").await;
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_and_a_guest_chat_live_and_see_each_other_come_and_go() {
    let Some(rig) = rig().await else { return };
    let alice = rig.desktop().await;
    register(&rig, &alice, "alice").await;
    open_room(&rig, &alice, "tea").await;
    let guest = rig.desktop().await;
    open_room(&rig, &guest, "tea").await;
    let guest_name = guest.js("return document.getElementById('chat').dataset.me", json!([])).await;
    let guest_name = guest_name.as_str().unwrap().to_owned();

    // Both pages list both people, the guest marked as one.
    for (page, expected) in
        [(&alice, format!("alice you|{guest_name} guest")), (&guest, format!("alice|{guest_name} guest you"))]
    {
        let script = format!("return online() === {}", json!(expected));
        page.wait_for(&format!("online: {expected}"), SLOW, &format!("{ONLINE} {script}")).await;
    }
    alice
        .wait_for(
            "the join notice",
            SLOW,
            &format!(
                "return document.querySelector('#messages li.system')?.textContent.endsWith({})",
                json!(format!("{guest_name} joined"))
            ),
        )
        .await;

    // Alice types and presses Enter; the guest's page shows it.
    let box_ = alice.find("#send textarea").await;
    alice.type_into(&box_, "hello from alice").await;
    let sent = Instant::now();
    alice.type_into(&box_, ENTER).await;
    guest
        .wait_for("alice's message on the guest's page", LIVE, "return [...document.querySelectorAll('#messages li.msg .text')].some(e => e.textContent === 'hello from alice')")
        .await;
    let took = sent.elapsed();
    assert!(took <= LIVE, "delivered in {took:?}");
    let shown = guest
        .js(
            "const li = [...document.querySelectorAll('#messages li.msg')].pop();
             const time = li.querySelector('time');
             const html = document.documentElement;
             const expected = new Intl.DateTimeFormat(html.lang, { hour: 'numeric', minute: '2-digit', hour12: html.dataset.clock === '12h' })
               .format(new Date(time.dateTime));
             return { user: li.querySelector('.user').textContent, guest: li.querySelector('.user').classList.contains('guest'),
                      time: time.textContent, expected, age: Date.now() - new Date(time.dateTime) };",
            json!([]),
        )
        .await;
    assert_eq!(shown["user"], "alice");
    assert_eq!(shown["guest"], false);
    assert_eq!(shown["time"], shown["expected"], "the reader's local time: {shown}");
    assert!(shown["age"].as_f64().unwrap().abs() < 5000.0, "posted just now: {shown}");
    assert_eq!(
        alice.js("return document.querySelector('#send textarea').value", json!([])).await,
        "",
        "the box is cleared"
    );

    // Hostile text from the guest is text on alice's page, and runs nothing
    // (the only pictures in the list are the authors' avatars, outside the texts).
    let hostile = "<img src=x onerror=alert(1)>";
    alice.js("window.alert = () => { document.body.dataset.alerted = 'yes'; };", json!([])).await;
    let guest_box = guest.find("#send textarea").await;
    guest.type_into(&guest_box, hostile).await;
    guest.type_into(&guest_box, ENTER).await;
    alice
        .wait_for(
            "the hostile message",
            LIVE,
            &format!(
                "return [...document.querySelectorAll('#messages .text')].some(e => e.textContent === {})",
                json!(hostile)
            ),
        )
        .await;
    let checks = alice
        .js("return { images: document.querySelectorAll('#messages .text img').length, alerted: document.body.dataset.alerted || null }", json!([]))
        .await;
    assert_eq!(checks, json!({ "images": 0, "alerted": null }));
    assert_eq!(alice.alert_text().await, None, "no alert is open");
    guest.refresh().await;
    crate::wait_connected(&guest).await;
    assert!(texts(&guest).await.contains(&hostile.to_owned()), "the server-rendered page escapes it too");
    assert_eq!(guest.alert_text().await, None);

    // The guest leaves: alice's page drops them and says so.
    guest.quit().await;
    alice.wait_for("the guest to leave", SLOW, &format!("{ONLINE} return online() === 'alice you'")).await;
    alice
        .wait_for(
            "the leave notice",
            SLOW,
            &format!(
                "return [...document.querySelectorAll('#messages li.system')].some(li => li.textContent.endsWith({}))",
                json!(format!("{guest_name} left"))
            ),
        )
        .await;
    // Notices are the page's own: the room holds exactly the two messages.
    let stored = rig.api().get("/rooms/tea/messages").await.json();
    assert_eq!(stored.as_array().unwrap().len(), 2, "{stored}");
    assert_eq!(texts(&alice).await, ["hello from alice", hostile]);
    alice.quit().await;
}
