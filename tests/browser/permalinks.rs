//! Permalinks on the page: a link opens the room at its message,
//! highlighted and in view, with newer messages still arriving after it;
//! "Copy link" gives that link; a quote of a message far back opens it.

use serde_json::json;

use crate::{LIVE, rig, wait_connected};

/// Whether the highlighted message is `id` and inside the visible list.
const HIGHLIGHTED_IN_VIEW: &str = "const li = document.querySelector('#messages li.msg.permalink');
    if (!li) return null;
    const list = document.getElementById('messages').getBoundingClientRect();
    const row = li.getBoundingClientRect();
    return [Number(li.dataset.id), row.top >= list.top - 1 && row.bottom <= list.bottom + 1];";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permalink_opens_its_message_in_view_and_newer_messages_still_arrive() {
    let Some(rig) = rig().await else { return };
    let mut api = rig.api();
    for i in 1..=120 {
        api.say("archive", &format!("message {i}")).await;
    }
    let page = rig.desktop().await;
    page.goto(&rig.url("/rooms/archive?at=10")).await;
    wait_connected(&page).await;
    assert_eq!(page.js(HIGHLIGHTED_IN_VIEW, json!([])).await, json!([10, true]));

    // What was posted after the window shown streams in behind it, in order.
    let newest = api.say("archive", "after the link").await;
    page.wait_for(
        "every newer message",
        LIVE * 5,
        &format!("return document.querySelector('#messages li.msg[data-id=\"{newest}\"]') !== null"),
    )
    .await;
    let shown = crate::ids(&page).await;
    let from_ten: Vec<i64> = shown.iter().copied().skip_while(|&id| id < 10).collect();
    assert_eq!(from_ten, (10..=newest).collect::<Vec<_>>(), "nothing skipped between the link and the newest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_link_gives_the_permalink_and_a_quote_far_back_opens_it() {
    let Some(rig) = rig().await else { return };
    let mut api = rig.api();
    let original = api.say("quotes", "the original").await;
    for i in 1..=150 {
        api.say("quotes", &format!("filler {i}")).await;
    }
    let reply = api.post_json("/rooms/quotes/messages", &json!({ "text": "answer", "reply_to": original })).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply_id = reply.json()["id"].as_i64().unwrap();

    let page = rig.desktop().await;
    page.goto(&rig.url("/rooms/quotes")).await;
    wait_connected(&page).await;
    // The clipboard may be refused to an automated page; the link is then
    // shown in a prompt. Either way it is the message's permalink.
    page.js("window.prompt = (_, link) => { window.shownLink = link; }; navigator.clipboard.writeText = async (link) => { window.shownLink = link; };", json!([])).await;
    let copy = format!("document.querySelector('#messages li.msg[data-id=\"{reply_id}\"] .tool-link').click()");
    page.js(&copy, json!([])).await;
    let link = page.wait_for("the copied link", LIVE, "return window.shownLink || null").await;
    assert_eq!(link, json!(rig.url(&format!("/rooms/quotes?at={reply_id}"))));

    // The quoted message is more than two pages back: the quote opens it.
    let quote = format!("document.querySelector('#messages li.msg[data-id=\"{reply_id}\"] .quote').click()");
    page.js(&quote, json!([])).await;
    page.wait_for(
        "the original's permalink",
        LIVE * 5,
        &format!("return location.search === '?at={original}' && document.getElementById('state').textContent === 'connected'"),
    )
    .await;
    assert_eq!(page.js(HIGHLIGHTED_IN_VIEW, json!([])).await, json!([original, true]));
}
