//! How the page hears about messages: the shared event stream by default,
//! a WebSocket or long polling when the address asks
//! (`?transport=ws|sse|poll`), and long polling in a browser without
//! EventSource. Each way shows messages from others live, says which it is
//! (`data-stream` on `#chat`), and a forced one catches up after a cut
//! network with every message exactly once.

use serde_json::{Value, json};

use crate::proxy::Proxy;
use crate::webdriver::Session;
use crate::{LIVE, SLOW, ids, rig, texts, wait_connected};

/// Wraps `ChatLive.connect` before the page's scripts run, so the test sees
/// every event live.js hands to the page (`window.liveEvents`, as
/// `[kind, data]`), whatever app.js then does with it.
const RECORD_EVENTS: &str = "window.liveEvents = [];
    let live;
    Object.defineProperty(window, 'ChatLive', {
      configurable: true,
      get: () => live,
      set(real) {
        live = { connect(subscriber) {
          const onEvent = subscriber.onEvent;
          subscriber.onEvent = (kind, data) => {
            window.liveEvents.push([kind, data]);
            return onEvent.call(subscriber, kind, data);
          };
          return real.connect(subscriber);
        } };
      },
    });";

/// What a browser without EventSource looks like to the page.
const NO_EVENT_SOURCE: &str = "delete window.EventSource;";

/// Runs `script` in every page this browser loads from now on, before the
/// page's own scripts (DevTools; CSP does not apply to it).
async fn before_each_page(browser: &Session, script: &str) {
    browser.devtools("Page.addScriptToEvaluateOnNewDocument", json!({ "source": script })).await;
}

async fn stream_of(browser: &Session) -> Value {
    browser.js("return document.getElementById('chat').dataset.stream", json!([])).await
}

async fn wait_for_text(browser: &Session, what: &str, text: &str) {
    let script = format!(
        "return [...document.querySelectorAll('#messages li.msg .text')].some(e => e.textContent === {})",
        json!(text)
    );
    browser.wait_for(what, LIVE, &script).await;
}

/// Waits until live.js has handed the page a `delete` of message `id`.
async fn wait_for_delete(browser: &Session, room: &str, id: i64) {
    let script = format!(
        "return window.liveEvents.some(([kind, data]) => kind === 'delete' && data.room === {} && data.id === {id})",
        json!(room)
    );
    browser.wait_for(&format!("a delete event for message {id}"), LIVE, &script).await;
}

/// A client that posts as a member (so it may delete its own messages).
async fn member(rig: &crate::Rig, name: &str) -> crate::http::Browser {
    let mut poster = rig.api();
    let registered = poster.post_form("/register", &[("username", name), ("password", "correct horse battery")]).await;
    assert_eq!(registered.status, 303, "registering {name}: {}", registered.body);
    poster
}

/// The scenario every forced per-tab transport must pass: it is the one in
/// use, shows others' messages live, and after the network is cut and
/// restored shows what was posted meanwhile, each message exactly once.
async fn a_forced_transport_is_live_and_catches_up_after_a_cut(transport: &str) {
    let Some(rig) = rig().await else { return };
    let room = format!("over-{transport}");
    let mut poster = member(&rig, "poster").await;
    poster.say(&room, "before the page").await;
    let proxy = Proxy::start(rig.app.addr).await;
    let browser = rig.desktop().await;
    before_each_page(&browser, RECORD_EVENTS).await;
    browser.goto(&format!("http://{}/rooms/{room}?transport={transport}", proxy.addr)).await;
    wait_connected(&browser).await;
    assert_eq!(stream_of(&browser).await, transport, "#chat data-stream names the transport");

    poster.say(&room, "live one").await;
    wait_for_text(&browser, "a message posted by someone else", "live one").await;

    proxy.cut();
    browser
        .wait_for(
            "the page to notice the cut",
            SLOW,
            "return ['reconnecting', 'offline'].includes(document.getElementById('state').textContent)",
        )
        .await;
    for i in 1..=3 {
        poster.say(&room, &format!("missed {i}")).await;
    }
    proxy.restore();
    wait_connected(&browser).await;
    browser
        .wait_for("the missed messages", SLOW, "return document.querySelectorAll('#messages li.msg').length >= 5")
        .await;
    let last = poster.say(&room, "after the cut").await;
    wait_for_text(&browser, "a live message after the cut", "after the cut").await;
    assert_eq!(ids(&browser).await, (1..=last).collect::<Vec<_>>(), "no gap, no duplicate");
    assert_eq!(
        texts(&browser).await,
        ["before the page", "live one", "missed 1", "missed 2", "missed 3", "after the cut"]
    );

    // Deletions and who is online reach a socket; long polling carries
    // messages only.
    if transport == "ws" {
        let deleted = poster.post_json(&format!("/rooms/{room}/messages/{last}/delete"), &json!({})).await;
        assert_eq!(deleted.status, 200, "{}", deleted.body);
        wait_for_delete(&browser, &room, last).await;
        browser
            .wait_for(
                "the socket's visitor in the online list",
                LIVE,
                "return document.querySelectorAll('#online li').length === 1",
            )
            .await;
    }
    assert_eq!(stream_of(&browser).await, transport, "still the forced transport after reconnecting");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_ws_in_the_address_uses_a_websocket_that_is_live_and_resumes_after_a_cut() {
    a_forced_transport_is_live_and_catches_up_after_a_cut("ws").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_poll_in_the_address_long_polls_live_and_resumes_after_a_cut() {
    a_forced_transport_is_live_and_catches_up_after_a_cut("poll").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_without_event_source_falls_back_to_long_polling() {
    let Some(rig) = rig().await else { return };
    let browser = rig.desktop().await;
    before_each_page(&browser, NO_EVENT_SOURCE).await;
    browser.goto(&rig.url("/rooms/old-browser")).await;
    wait_connected(&browser).await;
    assert_eq!(browser.js("return typeof window.EventSource", json!([])).await, "undefined", "the script ran first");
    assert_eq!(stream_of(&browser).await, "poll");
    rig.api().say("old-browser", "hello, old browser").await;
    wait_for_text(&browser, "a message over long polling", "hello, old browser").await;
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_and_transport_sse_stay_on_the_shared_event_stream_which_relays_deletions() {
    let Some(rig) = rig().await else { return };
    let mut poster = member(&rig, "poster").await;
    let browser = rig.desktop().await;
    before_each_page(&browser, RECORD_EVENTS).await;
    for (path, text) in [("/rooms/plain", "over the stream"), ("/rooms/plain?transport=sse", "asked for sse")] {
        browser.goto(&rig.url(path)).await;
        wait_connected(&browser).await;
        let role = stream_of(&browser).await;
        assert!(role == "leader" || role == "solo", "{path}: the shared event stream, not {role}");
        let id = poster.say("plain", text).await;
        wait_for_text(&browser, &format!("{path}: a message over the event stream"), text).await;
        let deleted = poster.post_json(&format!("/rooms/plain/messages/{id}/delete"), &json!({})).await;
        assert_eq!(deleted.status, 200, "{}", deleted.body);
        wait_for_delete(&browser, "plain", id).await;
    }
    browser.quit().await;
}
