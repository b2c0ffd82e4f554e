//! Two people talking: replies, edits (the Up arrow), reactions and typing,
//! live on both pages; and a page that was cut off while messages were
//! posted, edited, reacted to and deleted ends up showing exactly what an
//! always-connected page shows, over every transport.

use serde_json::{Value, json};

use crate::proxy::Proxy;
use crate::webdriver::{ENTER, Session};
use crate::{LIVE, SLOW, open_room, register, rig, wait_connected};

const ARROW_UP: &str = "\u{E013}";

/// What a page shows of each message: id, deleted, text, edited, reactions.
const PAGE_STATE: &str = "return [...document.querySelectorAll('#messages li.msg')].map(li => [
    Number(li.dataset.id), li.classList.contains('deleted'), li.querySelector('.text')?.textContent ?? null,
    !!li.querySelector('.edited'), [...li.querySelectorAll('.reaction')].map(b => b.textContent).join(' ')])";

async fn page_state(browser: &Session) -> Value {
    browser.js(PAGE_STATE, json!([])).await
}

/// Clicks through JavaScript: the row tools only show on hover.
async fn click(browser: &Session, css: &str) {
    let script = format!("document.querySelector({}).click()", json!(css));
    browser.js(&script, json!([])).await;
}

async fn wait_for(browser: &Session, what: &str, condition: &str) -> Value {
    browser.wait_for(what, LIVE, &format!("return {condition}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_reply_edit_react_and_see_each_other_typing() {
    let Some(rig) = rig().await else { return };
    let alice = rig.desktop().await;
    register(&rig, &alice, "alice").await;
    open_room(&rig, &alice, "talk").await;
    let bob = rig.desktop().await;
    register(&rig, &bob, "bob").await;
    open_room(&rig, &bob, "talk").await;

    let alice_box = alice.find("#send textarea").await;
    alice.type_into(&alice_box, "hello bob").await;
    alice.type_into(&alice_box, ENTER).await;
    let first = "#messages li.msg[data-user='alice']";
    wait_for(
        &bob,
        "alice's message",
        &format!("document.querySelector(\"{first} .text\")?.textContent === 'hello bob'"),
    )
    .await;

    // Bob starts typing: alice sees it.
    let bob_box = bob.find("#send textarea").await;
    bob.type_into(&bob_box, "hi").await;
    wait_for(&alice, "bob typing", "document.getElementById('typing').textContent === 'bob is typing…'").await;

    // Bob replies to alice's message: the quote shows on both pages, and
    // his message clears "typing" at once.
    click(&bob, &format!("{first} .tool-reply")).await;
    assert_eq!(bob.js("return document.getElementById('composing').hidden", json!([])).await, false);
    bob.type_into(&bob_box, " alice").await;
    bob.type_into(&bob_box, ENTER).await;
    let reply = "#messages li.msg[data-user='bob']";
    for page in [&alice, &bob] {
        wait_for(
            page,
            "the quote",
            &format!("document.querySelector(\"{reply} .quote .quote-text\")?.textContent === 'hello bob'"),
        )
        .await;
    }
    wait_for(&alice, "typing cleared by the message", "document.getElementById('typing').textContent === ''").await;

    // Alice presses Up in her empty composer, fixes her message, sends.
    alice.type_into(&alice_box, ARROW_UP).await;
    assert_eq!(alice.js("return arguments[0].value", json!([alice_box.reference()])).await, "hello bob");
    alice.type_into(&alice_box, "!").await;
    alice.type_into(&alice_box, ENTER).await;
    for page in [&alice, &bob] {
        wait_for(page, "the edit", &format!("document.querySelector(\"{first} .text\")?.textContent === 'hello bob!' && !!document.querySelector(\"{first} .edited\")")).await;
    }
    wait_for(
        &bob,
        "the quote follows the edit",
        &format!("document.querySelector(\"{reply} .quote-text\").textContent === 'hello bob!'"),
    )
    .await;

    // Bob reacts from the picker; alice adds hers with one click.
    click(&bob, &format!("{first} .tool-react")).await;
    click(&bob, &format!("{first} .picker .pick")).await;
    let reaction = format!("{first} .reaction");
    wait_for(&alice, "bob's reaction", &format!("document.querySelector(\"{reaction}\")?.textContent === '👍 1'"))
        .await;
    assert_eq!(
        alice
            .js(&format!("return document.querySelector(\"{reaction}\").getAttribute('aria-pressed')"), json!([]))
            .await,
        "false"
    );
    click(&alice, &reaction).await;
    for page in [&alice, &bob] {
        wait_for(page, "two reactions", &format!("document.querySelector(\"{reaction}\")?.textContent === '👍 2'"))
            .await;
    }
    assert_eq!(
        alice
            .js(&format!("return document.querySelector(\"{reaction}\").getAttribute('aria-pressed')"), json!([]))
            .await,
        "true"
    );

    // A reload renders the same from the server.
    let before = page_state(&bob).await;
    bob.refresh().await;
    wait_connected(&bob).await;
    assert_eq!(page_state(&bob).await, before, "the server renders what the stream built");
    alice.quit().await;
    bob.quit().await;
}

/// Posts, edits, reactions and a deletion while a page's connection is cut
/// (through a proxy); once it is back, it shows what a page that was never
/// cut shows.
async fn a_page_cut_off_catches_up_with_every_change(transport: &str) {
    let Some(rig) = rig().await else { return };
    let room = format!("changes-{transport}");
    let mut poster = rig.api();
    let form = [("username", "poster"), ("password", "correct horse battery")];
    assert_eq!(poster.post_form("/register", &form).await.status, 303);
    let first = poster.say(&room, "before the page").await;
    let second = poster.say(&room, "to be deleted").await;
    let proxy = Proxy::start(rig.app.addr).await;
    let cut_off = rig.desktop().await;
    cut_off.goto(&format!("http://{}/rooms/{room}?transport={transport}", proxy.addr)).await;
    wait_connected(&cut_off).await;
    let always = rig.desktop().await;
    always.goto(&rig.url(&format!("/rooms/{room}?transport={transport}"))).await;
    wait_connected(&always).await;

    proxy.cut();
    cut_off
        .wait_for(
            "the page to notice the cut",
            SLOW,
            "return ['reconnecting', 'offline'].includes(document.getElementById('state').textContent)",
        )
        .await;
    let while_away = poster.say(&room, "while away").await;
    let edited = poster
        .post_json(&format!("/rooms/{room}/messages/{first}/edit"), &json!({ "text": "edited while away" }))
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let reacted =
        poster.post_json(&format!("/rooms/{room}/messages/{first}/reactions"), &json!({ "emoji": "🎉" })).await;
    assert_eq!(reacted.status, 200, "{}", reacted.body);
    let deleted = poster.post_json(&format!("/rooms/{room}/messages/{second}/delete"), &json!({})).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let last = poster.say(&room, "the last").await;
    proxy.restore();

    let done = format!("!!document.querySelector('#messages li.msg[data-id=\"{last}\"]')");
    for page in [&always, &cut_off] {
        page.wait_for("every change", SLOW, &format!("return {done}")).await;
    }
    let expected = json!([
        [first, false, "edited while away", true, "🎉 1"],
        [second, true, null, false, ""],
        [while_away, false, "while away", false, ""],
        [last, false, "the last", false, ""],
    ]);
    assert_eq!(page_state(&always).await, expected, "{transport}: the always-connected page");
    assert_eq!(page_state(&cut_off).await, expected, "{transport}: the page that was cut off");
    let shown = cut_off.js("return document.body.textContent.includes('to be deleted')", json!([])).await;
    assert_eq!(shown, false, "{transport}: the deleted text is gone");
    cut_off.quit().await;
    always.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_event_stream_a_page_cut_off_catches_up_with_every_change() {
    a_page_cut_off_catches_up_with_every_change("sse").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_websocket_a_page_cut_off_catches_up_with_every_change() {
    a_page_cut_off_catches_up_with_every_change("ws").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_long_polling_a_page_cut_off_catches_up_with_every_change() {
    a_page_cut_off_catches_up_with_every_change("poll").await;
}
