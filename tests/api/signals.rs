//! Typing and read positions reach open streams as signals: never stored,
//! never replayed, carrying no event id, and limited so a busy typist costs
//! one signal each two seconds.

use std::time::Duration;

use rocket::futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::spawn_server;
use crate::http::EventStream;

/// The next event of one of `kinds`, skipping the rest.
async fn next_of(stream: &mut EventStream, kinds: &[&str]) -> (String, Option<String>, Value) {
    loop {
        let event = stream.next_event_within(Duration::from_secs(10)).await.expect("the stream stays open");
        if let Some(kind) = event.event.as_deref().filter(|k| kinds.contains(k)) {
            return (kind.to_owned(), event.id.clone(), event.json());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_reaches_the_others_once_per_two_seconds_without_an_id() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut watching = bob.events("/rooms/r/events", &[]).await;
    let mut own = alice.events("/rooms/r/events", &[]).await;
    for _ in 0..3 {
        assert_eq!(alice.post_json("/rooms/r/typing", &json!({})).await.status, 204);
    }
    let posted = alice.say("r", "done typing").await;
    let (kind, id, data) = next_of(&mut watching, &["typing", "message"]).await;
    assert_eq!(
        (kind.as_str(), id, data),
        ("typing", None, json!({ "room": "r", "user": "alice", "display": "alice" }))
    );
    let (kind, _, data) = next_of(&mut watching, &["typing", "message"]).await;
    assert_eq!((kind.as_str(), data["id"].as_i64()), ("message", Some(posted)), "one typing signal, not three");
    let (kind, _, _) = next_of(&mut own, &["typing", "message"]).await;
    assert_eq!(kind, "message", "nobody is told they themselves are typing");

    // Not replayed: a stream resuming from before it sees only the message.
    let mut later = bob.events("/rooms/r/events", &[("Last-Event-ID", "0")]).await;
    assert_eq!(next_of(&mut later, &["typing", "message"]).await.0, "message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_says_it_is_typing_and_hears_others() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let bob = app.member("bob").await;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/rooms/r/ws", app.addr).into_client_request().unwrap();
    request.headers_mut().insert("Cookie", bob.cookie_header().parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut watching = alice.events("/rooms/r/events", &[]).await;
    socket.send(Message::text(r#"{"type":"typing"}"#)).await.unwrap();
    let (_, _, data) = next_of(&mut watching, &["typing"]).await;
    assert_eq!(data, json!({ "room": "r", "user": "bob", "display": "bob" }));

    assert_eq!(alice.post_json("/rooms/r/typing", &json!({})).await.status, 204);
    let frame = loop {
        let Message::Text(text) = socket.next().await.unwrap().unwrap() else { continue };
        let value: Value = serde_json::from_str(&text).unwrap();
        if value["type"] == "typing" {
            break value;
        }
    };
    assert_eq!(frame, json!({ "type": "typing", "room": "r", "user": "alice", "display": "alice" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muted_people_may_not_say_they_are_typing() {
    let app = spawn_server().await;
    let mut bob = app.member("bob").await;
    let mut moderator = app.member("mod").await;
    let mut db = crate::helpers::connect_db(app.dir()).await;
    sqlx::query("UPDATE users SET role = 'moderator' WHERE name = 'mod'").execute(&mut db).await.unwrap();
    assert_eq!(moderator.post_json("/rooms/r/mute", &json!({ "user": "bob", "minutes": 5 })).await.status, 200);
    assert_eq!(bob.post_json("/rooms/r/typing", &json!({})).await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_on_one_device_tells_the_accounts_other_streams() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let id = alice.say("r", "read me").await;
    // The phone has another room open: read positions follow the account.
    let mut phone = bob.events("/rooms/elsewhere/events", &[]).await;
    let mut alices = alice.events("/rooms/r/events", &[]).await;
    assert_eq!(bob.post_json("/rooms/r/read", &json!({ "id": id })).await.status, 204);
    let (kind, event_id, data) = next_of(&mut phone, &["read"]).await;
    assert_eq!((kind.as_str(), event_id, data), ("read", None, json!({ "room": "r", "id": id })));
    alice.say("r", "after").await;
    assert_eq!(next_of(&mut alices, &["read", "message"]).await.0, "message", "nobody else hears of it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_long_poll_answers_a_signal_and_the_next_poll_keeps_its_place() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let id = alice.say("r", "first").await;
    let poll = tokio::spawn(async move { bob.get(&format!("/rooms/r/messages?after={id}&wait=10")).await.json() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(alice.post_json("/rooms/r/typing", &json!({})).await.status, 204);
    let answer = tokio::time::timeout(Duration::from_secs(5), poll).await.expect("answered at once").unwrap();
    assert_eq!(answer, json!([{ "type": "typing", "room": "r", "user": "alice", "display": "alice" }]));
}
