//! `GET /events?rooms=a,b,c`: several rooms on one stream, each event naming
//! its room, the event id a cursor that resumes every room at once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use chat::auth::{GuestName, Visitor};
use chat::rooms::{MessageText, RoomName};
use chat::store::{NewMessage, Store};
use chat::stream::{Feed, Hub, LiveItem, RoomsFeed, Start};

use crate::helpers::{spawn_server, spawn_server_with};
use crate::http::{EventStream, SseEvent};

const WAIT: Duration = Duration::from_secs(10);

/// The next message event (skipping presence and heartbeats).
async fn next_message(stream: &mut EventStream) -> SseEvent {
    loop {
        let event = stream.next_event_within(WAIT).await.expect("the stream stays open");
        if event.event.as_deref() == Some("message") {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stream_carries_several_rooms_and_its_ids_are_cursors() {
    let app = spawn_server().await;
    let mut poster = app.browser();
    poster.say("a", "before").await;
    let mut stream = app.browser().events("/events?rooms=a,b", &[]).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("X-Accel-Buffering"), Some("no"));
    assert_eq!(stream.next_event_within(WAIT).await.unwrap().retry, Some(2000));
    for room in ["a", "b"] {
        let presence = stream.next_event_within(WAIT).await.unwrap();
        assert_eq!(presence.event.as_deref(), Some("presence"));
        assert_eq!(presence.json()["room"], room);
    }
    let replayed = next_message(&mut stream).await;
    assert_eq!((replayed.json()["room"].as_str(), replayed.id.as_deref()), (Some("a"), Some("a:1,b:0")));

    poster.say("b", "in b").await;
    poster.say("a", "in a").await;
    poster.say("c", "not carried").await;
    poster.say("b", "in b again").await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let event = next_message(&mut stream).await;
        let message = event.json();
        seen.push((message["room"].as_str().unwrap().to_owned(), message["text"].as_str().unwrap().to_owned()));
        let id = event.id.unwrap();
        let cursor: BTreeMap<&str, i64> =
            id.split(',').map(|p| p.split_once(':').unwrap()).map(|(r, n)| (r, n.parse().unwrap())).collect();
        let room = message["room"].as_str().unwrap();
        assert_eq!(cursor[room], message["id"].as_i64().unwrap(), "{id}: the cursor names this message");
    }
    let in_room = |room: &str| seen.iter().filter(|(r, _)| r == room).map(|(_, t)| t.as_str()).collect::<Vec<_>>();
    assert_eq!(in_room("a"), ["in a"]);
    assert_eq!(in_room("b"), ["in b", "in b again"], "each room keeps its order");
    assert!(in_room("c").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_with_the_cursor_has_no_gap_and_no_duplicate_in_any_room() {
    let app = spawn_server().await;
    let rooms = ["x", "y", "z"];
    let per_room = 80;
    let mut posters = Vec::new();
    for room in rooms {
        let mut browser = app.browser();
        posters.push(tokio::spawn(async move {
            for i in 1..=per_room {
                browser.say(room, &format!("{room}{i}")).await;
                if i % 10 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }));
    }
    let mut seen: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut first = app.browser().events("/events?rooms=x,y,z&last_event_id=x:0,y:0,z:0", &[]).await;
    let mut last_id = String::new();
    for _ in 0..60 {
        let event = next_message(&mut first).await;
        let message = event.json();
        seen.entry(message["room"].as_str().unwrap().to_owned()).or_default().push(message["id"].as_i64().unwrap());
        last_id = event.id.unwrap();
    }
    drop(first);
    let mut second = app.browser().events("/events?rooms=x,y,z", &[("Last-Event-ID", &last_id)]).await;
    while seen.values().map(Vec::len).sum::<usize>() < rooms.len() * per_room as usize {
        let message = next_message(&mut second).await.json();
        seen.entry(message["room"].as_str().unwrap().to_owned()).or_default().push(message["id"].as_i64().unwrap());
    }
    for poster in posters {
        poster.await.unwrap();
    }
    for room in rooms {
        assert_eq!(seen[room], (1..=per_room).collect::<Vec<_>>(), "room {room}: every id once, in order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_the_cursor_does_not_name_starts_with_its_latest_and_a_stale_one_resets() {
    let app = spawn_server().await;
    let mut poster = app.browser();
    for i in 1..=3 {
        poster.say("old", &format!("m{i}")).await;
        poster.say("new", &format!("m{i}")).await;
    }
    // `old` resumes after 2; `new` is not named (a room a tab just added);
    // `gone` names an id beyond its history (a database that was reset).
    let mut stream = app.browser().events("/events?rooms=old,new,gone", &[("Last-Event-ID", "old:2,gone:9")]).await;
    let mut messages = Vec::new();
    let mut resets = Vec::new();
    while messages.len() < 4 {
        let event = stream.next_event_within(WAIT).await.unwrap();
        match event.event.as_deref() {
            Some("message") => messages.push(event.json()),
            Some("reset") => resets.push(event.json()["room"].as_str().unwrap().to_owned()),
            _ => {}
        }
    }
    let texts = |room: &str| {
        messages
            .iter()
            .filter(|m| m["room"] == room)
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts("old"), ["m3"]);
    assert_eq!(texts("new"), ["m1", "m2", "m3"]);
    assert_eq!(resets, ["gone"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rooms_and_cursors_are_refused_with_the_reason() {
    let app = spawn_server_with(|f| f.merge(("rate_limits", false))).await;
    let many = (0..51).map(|i| format!("r{i}")).collect::<Vec<_>>().join(",");
    for (path, headers, status, reason) in [
        ("/events".to_owned(), vec![], 422, "1 to 50 rooms"),
        ("/events?rooms=".to_owned(), vec![], 422, "1 to 50 rooms"),
        (format!("/events?rooms={many}"), vec![], 422, "1 to 50 rooms"),
        ("/events?rooms=lobby,Bad.Room".to_owned(), vec![], 422, "room names"),
        ("/events?rooms=lobby".to_owned(), vec![("Last-Event-ID", "lobby=3")], 400, "a cursor like lobby:12"),
        ("/events?rooms=lobby&last_event_id=lobby:x".to_owned(), vec![], 400, "a cursor like lobby:12"),
        ("/events?rooms=lobby".to_owned(), vec![("Last-Event-ID", "a:1,a:2")], 400, "names room a twice"),
    ] {
        let response = app.browser().send("GET", &path, &headers, None).await;
        assert_eq!(response.status, status, "{path}: {}", response.body);
        let body: Value = response.json();
        assert!(body["error"].as_str().unwrap().contains(reason), "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_room_stream_is_one_stream_under_the_caps_and_closes_when_its_session_ends() {
    let app = spawn_server_with(|f| {
        f.merge(("rate_limits", true)).merge(("streams_per_session", 1)).merge(("session_check_secs", 1))
    })
    .await;
    let mut alice = app.browser();
    let registered =
        alice.post_form("/register", &[("username", "alice"), ("password", "correct horse battery")]).await;
    assert_eq!(registered.status, 303);
    let mut shared = alice.events("/events?rooms=a,b,c,d,e,f,g,h", &[]).await;
    assert_eq!(shared.status, 200, "eight rooms are one stream");
    let second = alice.send("GET", "/events?rooms=a", &[], None).await;
    assert_eq!(second.status, 429, "the per-session cap counts streams, not rooms");
    let mut other = alice.clone();
    assert_eq!(other.post_form("/logout", &[]).await.status, 303);
    let ended = tokio::time::timeout(WAIT, async { while shared.next_event().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the stream closes after logout");
    let replay = alice.send("GET", "/events?rooms=a", &[], None).await;
    assert_eq!(replay.status, 401);
}

/// The merge as a plain type, without HTTP: the cursor moves exactly as
/// items are handed out.
#[tokio::test]
async fn a_rooms_feed_moves_its_cursor_only_as_it_hands_messages_out() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::new(64);
    let store = Store::open(&crate::helpers::database_url(dir.path()), std::sync::Arc::new(hub.clone())).await.unwrap();
    let (a, b) = (RoomName::parse("a").unwrap(), RoomName::parse("b").unwrap());
    let post = |room: &RoomName, text: &str| {
        let author = Visitor::Guest { name: GuestName::generate() }.author();
        let html = chat::rooms::format::render(text);
        NewMessage {
            room: room.clone(),
            author,
            text: MessageText::parse(text).unwrap(),
            html,
            reply_to: None,
            attachments: Vec::new(),
        }
    };
    store.append(post(&a, "a1")).await.unwrap();
    store.append(post(&a, "a2")).await.unwrap();
    let feeds = vec![
        (Feed::open(store.clone(), &hub, a.clone(), Start::After(0)).await.unwrap(), Start::After(0)),
        (Feed::open(store.clone(), &hub, b.clone(), Start::Latest).await.unwrap(), Start::Latest),
    ];
    let mut feed = RoomsFeed::new(feeds);
    assert_eq!(feed.cursor().to_string(), "a:0,b:0", "an empty room is known to be empty");
    for expected in ["a:1,b:0", "a:2,b:0"] {
        assert!(matches!(next(&mut feed).await, LiveItem::Message(_)));
        assert_eq!(feed.cursor().to_string(), expected);
    }
    store.append(post(&b, "b1")).await.unwrap();
    assert!(matches!(next(&mut feed).await, LiveItem::Message(m) if m.message.text == "b1"));
    assert_eq!(feed.cursor().to_string(), "a:2,b:1");
}

async fn next(feed: &mut RoomsFeed) -> LiveItem {
    tokio::time::timeout(WAIT, feed.next()).await.expect("an item in time").expect("open").expect("no store error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_of_twenty_thousand_rooms_is_refused_within_milliseconds() {
    let app = spawn_server().await;
    let cursor = (0..20_000).map(|i| format!("r{i}:{i}")).collect::<Vec<_>>().join(",");
    let mut browser = app.browser();
    let started = std::time::Instant::now();
    let stream = browser.events("/events?rooms=lobby", &[("Last-Event-ID", cursor.as_str())]).await;
    let took = started.elapsed();
    assert_eq!(stream.status, 400);
    assert!(took < Duration::from_millis(500), "answered in {took:?}");
}
