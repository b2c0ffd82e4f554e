//! Live delivery through nginx, once per transport: each message arrives
//! while the connection is open (nothing held in a proxy buffer), and a
//! stream cut and resumed gets exactly what it missed.

use std::time::Duration;

use rocket::futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::http::EventStream;
use crate::{Rig, rig, rig_with};

/// How long a posted message may take to reach an open connection. A
/// buffering proxy would hold it until its buffer filled: forever, here.
const LIVE: Duration = Duration::from_secs(5);

fn ids(messages: &[Value]) -> Vec<i64> {
    messages.iter().map(|m| m["id"].as_i64().unwrap()).collect()
}

fn texts(messages: &[Value]) -> Vec<&str> {
    messages.iter().map(|m| m["text"].as_str().unwrap()).collect()
}

async fn open_events(rig: &Rig, path: &str, headers: &[(&str, &str)]) -> EventStream {
    let stream = rig.browser().events(path, headers).await;
    assert_eq!(stream.status, 200, "{}", rig.nginx.logs());
    assert!(stream.header("Content-Type").is_some_and(|t| t.starts_with("text/event-stream")));
    assert_eq!(stream.header("X-Accel-Buffering"), None, "nginx keeps its own instructions to itself");
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_through_nginx_delivers_each_message_while_the_stream_is_open() {
    let Some(rig) = rig().await else { return };
    let mut stream = open_events(&rig, "/rooms/sse/events", &[]).await;
    let mut poster = rig.browser();
    for text in ["first", "second"] {
        let id = poster.say("sse", text).await;
        assert_eq!(texts(&stream.messages_until(id, LIVE).await), [text]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_multi_room_stream_through_nginx_carries_every_room() {
    let Some(rig) = rig().await else { return };
    let mut stream = open_events(&rig, "/events?rooms=north,south", &[]).await;
    let mut poster = rig.browser();
    poster.say("north", "to the north").await;
    poster.say("south", "to the south").await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let event = stream.next_event_within(LIVE).await.expect("the stream stays open");
        if event.event.as_deref() == Some("message") {
            seen.push(event.json());
        }
    }
    let rooms: Vec<&str> = seen.iter().map(|m| m["room"].as_str().unwrap()).collect();
    assert_eq!(rooms, ["north", "south"]);
    assert_eq!(texts(&seen), ["to the north", "to the south"]);
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next frame that is neither an online list nor a ping.
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(LIVE, socket.next()).await.expect("a frame in time");
        if let Message::Text(text) = frame.expect("the socket stays open").expect("a frame") {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] != "presence" {
                return value;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_through_nginx_sends_and_receives_with_the_pages_origin() {
    let Some(rig) = rig().await else { return };
    let mut request = format!("ws://{}/rooms/ws/ws", rig.nginx_addr()).into_client_request().unwrap();
    // What a browser on the page sends: the handshake passes the server's
    // same-origin check only if nginx passes the Host the browser used.
    request.headers_mut().insert("Origin", format!("http://{}", rig.nginx_addr()).parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.expect("the handshake succeeds");
    assert_eq!(response.status(), 101);

    socket.send(Message::text(json!({ "type": "send", "text": "up the socket" }).to_string())).await.unwrap();
    let mut frames = [next_json(&mut socket).await, next_json(&mut socket).await];
    frames.sort_by_key(|f| f["type"].as_str().unwrap().to_owned());
    assert_eq!(frames[0], json!({ "type": "ack", "id": 1 }));
    assert_eq!(frames[1]["text"], "up the socket");

    rig.browser().say("ws", "down the socket").await;
    let delivered = next_json(&mut socket).await;
    assert_eq!((delivered["type"].as_str(), delivered["id"].as_i64()), (Some("message"), Some(2)));
    assert_eq!(delivered["text"], "down the socket");
}

/// The number of requests of `transport` the server holds open, from its
/// own metrics (read past nginx, which hides them).
async fn held(rig: &Rig, transport: &str) -> u64 {
    let metrics = rig.direct().get("/metrics").await.body;
    let line = format!("chat_streams_open{{transport=\"{transport}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&line)).map_or(0, |n| n.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_held_through_nginx_is_answered_when_a_message_is_posted() {
    let Some(rig) = rig_with(&[("ROCKET_METRICS", "true")]).await else { return };
    let mut poller = rig.browser();
    let poll = tokio::spawn(async move { poller.get("/rooms/lp/messages?after=0&wait=25").await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while held(&rig, "poll").await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the poll reached the server and waits");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!poll.is_finished(), "nothing to answer yet");
    let id = rig.browser().say("lp", "wake up").await;
    let answer = tokio::time::timeout(LIVE, poll).await.expect("answered at once").unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(ids(answer.json().as_array().unwrap()), [id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_stream_cut_and_resumed_through_nginx_gets_exactly_what_it_missed() {
    let Some(rig) = rig().await else { return };
    let mut poster = rig.browser();
    let mut stream = open_events(&rig, "/rooms/cut/events", &[]).await;
    let mut last = 0;
    for i in 1..=3 {
        last = poster.say("cut", &format!("before {i}")).await;
    }
    assert_eq!(ids(&stream.messages_until(last, LIVE).await), [1, 2, 3]);
    drop(stream);

    let mut missed = Vec::new();
    for i in 1..=3 {
        missed.push(poster.say("cut", &format!("while away {i}")).await);
    }
    let last_seen = last.to_string();
    let mut resumed = open_events(&rig, "/rooms/cut/events", &[("Last-Event-ID", &last_seen)]).await;
    let replayed = resumed.messages_until(*missed.last().unwrap(), LIVE).await;
    assert_eq!(ids(&replayed), missed);
    assert_eq!(texts(&replayed), ["while away 1", "while away 2", "while away 3"]);
    // Nothing repeated after the replay: the next message is the next one.
    let next = poster.say("cut", "after").await;
    assert_eq!(ids(&resumed.messages_until(next, LIVE).await), [next]);
}
