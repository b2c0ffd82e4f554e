//! Who is online and the room list: `GET /rooms/<room>/presence`,
//! `event: presence` on the streams (on connect, on change, after the grace
//! period, one entry per person however many tabs), and `GET /api/rooms`.

use std::time::{Duration, Instant};

use rocket::http::Status;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_server_with};
use crate::http::{Browser, EventStream};

const WAIT: Duration = Duration::from_secs(10);
const PASSWORD: &str = "correct horse battery";

/// A short grace period, and heartbeats every second so a closed stream is
/// noticed within one.
fn quick(figment: rocket::figment::Figment) -> rocket::figment::Figment {
    figment.merge(("presence_grace_ms", 1000)).merge(("heartbeat_secs", 1))
}

/// `[(user, guest)]` of a presence JSON.
pub fn online(presence: &Value) -> Vec<(String, bool)> {
    let list = presence["online"].as_array().expect("an online list");
    list.iter().map(|m| (m["user"].as_str().unwrap().to_owned(), m["guest"].as_bool().unwrap())).collect()
}

/// The next presence event within `window`, skipping messages; `None` if
/// none came.
pub async fn presence_within(stream: &mut EventStream, window: Duration) -> Option<Value> {
    let next = async {
        loop {
            let event = stream.next_event().await.expect("the stream stays open");
            if event.event.as_deref() == Some("presence") {
                return event.json();
            }
        }
    };
    tokio::time::timeout(window, next).await.ok()
}

async fn member(app: &crate::helpers::LiveApp, name: &str) -> Browser {
    let mut browser = app.browser();
    let registered = browser.post_form("/register", &[("username", name), ("password", PASSWORD)]).await;
    assert_eq!(registered.status, 303, "{}", registered.body);
    browser
}

/// A browser with a guest cookie, and its guest name.
async fn guest(app: &crate::helpers::LiveApp) -> (Browser, String) {
    let mut browser = app.browser();
    let me = browser.get("/api/me").await.json();
    (browser, me["user"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_sends_presence_on_connect_and_whenever_it_changes() {
    let app = spawn_server_with(quick).await;
    let mut alice = member(&app, "alice").await;
    let mut watching = alice.events("/rooms/r/events", &[]).await;
    assert_eq!(watching.next_event_within(WAIT).await.unwrap().retry, Some(2000));
    let first = watching.next_event_within(WAIT).await.unwrap();
    assert_eq!(first.event.as_deref(), Some("presence"), "presence comes first");
    assert_eq!(first.id, None, "presence never moves the browser's Last-Event-ID");
    assert_eq!(first.json()["room"], "r");
    assert_eq!(online(&first.json()), [("alice".to_owned(), false)]);

    let (mut visitor, name) = guest(&app).await;
    let visiting = visitor.events("/rooms/r/events", &[]).await;
    let both = presence_within(&mut watching, WAIT).await.expect("a join is announced");
    assert_eq!(online(&both), [("alice".to_owned(), false), (name.clone(), true)], "members first, guests marked");
    let body = app.browser().get("/rooms/r/presence").await;
    assert_eq!(body.status, 200);
    assert_eq!(body.json(), both, "GET /rooms/<room>/presence is the same JSON");

    drop(visiting);
    let left = presence_within(&mut watching, WAIT).await.expect("a leave is announced");
    assert_eq!(online(&left), [("alice".to_owned(), false)]);
    assert!(alice.get("/rooms/r/messages").await.json().as_array().unwrap().is_empty(), "no message was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_tabs_count_once_and_the_last_one_leaves_after_the_grace_period() {
    let app = spawn_server_with(quick).await;
    let (mut watcher, watcher_name) = guest(&app).await;
    let mut watching = watcher.events("/rooms/r/events", &[]).await;
    presence_within(&mut watching, WAIT).await.unwrap();
    let mut alice = member(&app, "alice").await;
    let mut tabs = Vec::new();
    for _ in 0..3 {
        tabs.push(alice.events("/rooms/r/events", &[]).await);
    }
    let joined = presence_within(&mut watching, WAIT).await.unwrap();
    assert_eq!(online(&joined), [("alice".to_owned(), false), (watcher_name.clone(), true)]);
    assert!(
        presence_within(&mut watching, Duration::from_millis(500)).await.is_none(),
        "tabs two and three: no change"
    );

    tabs.truncate(1);
    assert!(presence_within(&mut watching, Duration::from_millis(2500)).await.is_none(), "one tab is still open");

    // A reload: the last tab closes and a new one opens within the grace period.
    tabs.clear();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reloaded = alice.events("/rooms/r/events", &[]).await;
    assert!(presence_within(&mut watching, Duration::from_millis(2500)).await.is_none(), "a reload does not flicker");

    drop(reloaded);
    let closed = Instant::now();
    let left = presence_within(&mut watching, WAIT).await.expect("alice leaves");
    assert_eq!(online(&left), [(watcher_name, true)]);
    assert!(closed.elapsed() >= Duration::from_millis(1000), "not before the grace period: {:?}", closed.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_without_a_guest_name_is_not_counted_and_bad_rooms_are_422() {
    let app = spawn_server_with(quick).await;
    let mut anonymous = app.browser().events("/rooms/r/events", &[]).await;
    let first = presence_within(&mut anonymous, WAIT).await.unwrap();
    assert!(online(&first).is_empty(), "{first}");
    let bad = app.browser().send("GET", "/rooms/Not.Valid/presence", &[], None).await;
    assert_eq!(bad.status, 422);
    assert!(bad.json()["error"].as_str().unwrap().contains("room names"));
    let empty = app.browser().get("/rooms/quiet/presence").await.json();
    assert_eq!(empty, serde_json::json!({ "room": "quiet", "online": [], "count": 0 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_multi_room_stream_counts_its_viewer_in_every_room_it_carries() {
    let app = spawn_server_with(quick).await;
    let mut alice = member(&app, "alice").await;
    let mut shared = alice.events("/events?rooms=a,b", &[]).await;
    let first = [presence_within(&mut shared, WAIT).await.unwrap(), presence_within(&mut shared, WAIT).await.unwrap()];
    assert_eq!(first.iter().map(|p| p["room"].as_str().unwrap()).collect::<Vec<_>>(), ["a", "b"]);
    for room in ["a", "b"] {
        let body = app.browser().get(&format!("/rooms/{room}/presence")).await.json();
        assert_eq!(online(&body), [("alice".to_owned(), false)], "{room}");
    }
    let (mut bob, bob_name) = guest(&app).await;
    let _in_b = bob.events("/rooms/b/events", &[]).await;
    let change = presence_within(&mut shared, WAIT).await.unwrap();
    assert_eq!(change["room"], "b", "only b changed");
    assert_eq!(online(&change), [("alice".to_owned(), false), (bob_name, true)]);
}

#[rocket::async_test]
async fn the_room_list_has_each_rooms_message_count_and_last_time() {
    let app = spawn_app().await;
    app.say("rust", "one").await;
    app.say("go", "one").await;
    let last_rust = app.say("rust", "two").await;
    let response = app.client.get("/api/rooms").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    let rooms: Value = response.into_json().await.unwrap();
    assert_eq!(
        rooms,
        serde_json::json!([
            { "name": "rust", "messages": 2, "last_at": last_rust["at"] },
            { "name": "go", "messages": 1, "last_at": rooms[1]["last_at"] },
        ]),
        "most recently active first"
    );
    let one: Value = app.client.get("/api/rooms?limit=1").dispatch().await.into_json().await.unwrap();
    assert_eq!(one.as_array().unwrap().len(), 1);
    for (query, reason) in [("limit=0", "between 1 and 200"), ("limit=x", "whole number")] {
        let response = app.client.get(format!("/api/rooms?{query}")).dispatch().await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "{query}");
        let body: Value = response.into_json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains(reason), "{query}: {body}");
    }
}
