//! Every message carries `"html"`, its text rendered once and sanitized:
//! in the posting answer, history, the page, every stream and the long
//! poll; an edit renders it again and a deletion empties it. The renderer's
//! own rules are unit-tested beside it (src/rooms/format/tests.rs).

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{LiveApp, seed_messages, spawn_server};
use crate::http::Browser;

const WAIT: Duration = Duration::from_secs(10);
const REL: &str = "noopener noreferrer nofollow ugc";

/// The one entry of `kind` a long poll after `after` answers.
async fn polled(browser: &mut Browser, after: i64, kind: &str) -> Value {
    let answer = browser.get(&format!("/rooms/r/messages?after={after}&wait=5")).await.json();
    let entries = answer.as_array().expect("an array");
    entries.iter().find(|e| e["type"] == kind).unwrap_or_else(|| panic!("a {kind} entry in {answer}")).clone()
}

/// The message `id` as history shows it now.
async fn in_history(browser: &mut Browser, id: i64) -> Value {
    let history = browser.get("/rooms/r/messages").await.json();
    history.as_array().unwrap().iter().find(|m| m["id"] == id).expect("the message is in history").clone()
}

async fn edit(browser: &mut Browser, id: i64, text: &str) -> Value {
    let answer = browser.post_json(&format!("/rooms/r/messages/{id}/edit"), &json!({ "text": text })).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_message_carries_its_html_in_the_answer_in_history_and_on_every_stream() {
    let app: LiveApp = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut reader = app.browser();
    let mut stream = reader.events("/rooms/r/events", &[]).await;

    let text = "**bold** <b>raw</b> https://example.com @bob";
    let answer = alice.post_json("/rooms/r/messages", &json!({ "text": text })).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let posted = answer.json();
    let html = format!(
        "<p><strong>bold</strong> &lt;b&gt;raw&lt;/b&gt; <a href=\"https://example.com\" rel=\"{REL}\">https://example.com</a> \
         <a href=\"/dm/bob\" rel=\"{REL}\">@bob</a></p>"
    );
    assert_eq!(posted["text"], text, "the plain text stays for clients that want it");
    assert_eq!(posted["html"], html);
    let id = posted["id"].as_i64().unwrap();

    assert_eq!(in_history(&mut reader, id).await["html"], html);
    let streamed = stream.messages_until(id, WAIT).await;
    assert_eq!(streamed.last().unwrap()["html"], html, "the SSE event");
    assert_eq!(polled(&mut reader, id - 1, "message").await["html"], html, "the long poll");

    let page = reader.get("/rooms/r").await.body;
    assert!(page.contains(&html), "the page shows the HTML as HTML");
    assert!(!page.contains("<b>raw</b>"), "and never the raw HTML someone typed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_renders_the_html_again_and_every_transport_carries_it() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut reader = app.browser();
    let id = alice.say("r", "plain").await;
    let mut stream = reader.events("/rooms/r/events", &[("Last-Event-ID", &id.to_string())]).await;

    let edited = edit(&mut alice, id, "now *emphatic*").await;
    assert_eq!(edited["html"], "<p>now <em>emphatic</em></p>");
    assert_eq!(in_history(&mut reader, id).await["html"], "<p>now <em>emphatic</em></p>");
    let event = loop {
        let event = stream.next_event_within(WAIT).await.expect("the stream stays open");
        if event.event.as_deref() == Some("edit") {
            break event.json();
        }
    };
    assert_eq!(event["html"], "<p>now <em>emphatic</em></p>", "the SSE edit event");
    assert_eq!(polled(&mut reader, id, "edit").await["html"], "<p>now <em>emphatic</em></p>", "the long poll");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_message_carries_empty_html_like_its_text() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut reader = app.browser();
    let id = alice.say("r", "**oops**").await;
    let deleted = alice.post_json(&format!("/rooms/r/messages/{id}/delete"), &json!({})).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);

    let shown = in_history(&mut reader, id).await;
    assert_eq!((&shown["text"], &shown["html"]), (&json!(""), &json!("")), "{shown}");
    assert!(shown["deleted"].is_object());
    let entry = polled(&mut reader, id, "delete").await;
    assert_eq!(entry, json!({ "type": "delete", "room": "r", "id": id, "seq": id + 1 }), "no text, no HTML");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_quotes_plain_text_and_a_replay_carries_the_html() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let original = alice.say("r", "**loud** words").await;
    let answer = alice.post_json("/rooms/r/messages", &json!({ "text": "_yes_", "reply_to": original })).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let reply = answer.json();
    assert_eq!(reply["reply_to"]["text"], "**loud** words", "the quote is the plain text");
    assert_eq!(reply["html"], "<p><em>yes</em></p>");

    // A stream resuming from before both replays them from the store.
    let mut stream = app.browser().events("/rooms/r/events", &[("Last-Event-ID", "0")]).await;
    let replayed = stream.messages_until(reply["id"].as_i64().unwrap(), WAIT).await;
    let html: Vec<&Value> = replayed.iter().map(|m| &m["html"]).collect();
    assert_eq!(html, [&json!("<p><strong>loud</strong> words</p>"), &json!("<p><em>yes</em></p>")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_stored_before_html_was_are_rendered_when_read() {
    let app = spawn_server().await;
    // Rows as the store held them before the `html` column: NULL there.
    seed_messages(app.dir(), &["r"], 3, 1_700_000_000_000).await;
    let mut reader = app.browser();
    let history = reader.get("/rooms/r/messages").await.json();
    let html: Vec<&Value> = history.as_array().unwrap().iter().map(|m| &m["html"]).collect();
    assert_eq!(
        html,
        [
            &json!("<p>seeded message 1 of r</p>"),
            &json!("<p>seeded message 2 of r</p>"),
            &json!("<p>seeded message 3 of r</p>")
        ]
    );
    assert_eq!(polled(&mut reader, 2, "message").await["html"], "<p>seeded message 3 of r</p>");
    assert!(reader.get("/rooms/r").await.body.contains("<p>seeded message 1 of r</p>"), "and on the page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_markup_comes_back_as_text_and_hostile_links_as_no_links() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let text = "<script>alert(1)</script>\n\n[a](javascript:alert(1)) [b](data:text/html,x) <vbscript:msgbox(1)>";
    let answer = alice.post_json("/rooms/r/messages", &json!({ "text": text })).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(
        answer.json()["html"],
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n<p>a b vbscript:msgbox(1)</p>",
        "raw HTML as text; refused links keep only their words"
    );
}
