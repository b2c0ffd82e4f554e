//! The delivery guarantees, once per transport: SSE, WebSocket and long
//! polling each give every message exactly once, in id order, resumable
//! after a drop. Written once, run for each transport.

use std::time::Duration;

use rocket::futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{LiveApp, spawn_server, spawn_server_with};
use crate::http::{Browser, EventStream};

const WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy)]
enum Transport {
    Sse,
    WebSocket,
    LongPoll,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A subscriber over one transport, reading message JSON in order.
enum Subscriber {
    Sse(EventStream),
    WebSocket(Box<Socket>),
    LongPoll { browser: Browser, room: String, last: i64 },
}

async fn subscribe(app: &LiveApp, room: &str, transport: Transport, after: Option<i64>) -> Subscriber {
    match transport {
        Transport::Sse => {
            let resume = after.map(|id| id.to_string());
            let headers: Vec<(&str, &str)> = resume.iter().map(|id| ("Last-Event-ID", id.as_str())).collect();
            Subscriber::Sse(app.browser().events(&format!("/rooms/{room}/events"), &headers).await)
        }
        Transport::WebSocket => {
            let query = after.map(|id| format!("?after={id}")).unwrap_or_default();
            let url = format!("ws://{}/rooms/{room}/ws{query}", app.addr);
            let (socket, response) = tokio_tungstenite::connect_async(url).await.expect("the handshake succeeds");
            assert_eq!(response.status(), 101);
            Subscriber::WebSocket(Box::new(socket))
        }
        Transport::LongPoll => {
            let last = match after {
                Some(id) => id,
                // A poller starts where the room is now, like a live stream.
                None => {
                    crate::helpers::ids(&app.browser().get(&format!("/rooms/{room}/messages?limit=1")).await.json())
                        .last()
                        .copied()
                        .unwrap_or(0)
                }
            };
            Subscriber::LongPoll { browser: app.browser(), room: room.to_owned(), last }
        }
    }
}

impl Subscriber {
    /// Messages up to and including id `last`, in the order received.
    async fn messages_until(&mut self, last: i64) -> Vec<Value> {
        tokio::time::timeout(WAIT, self.read_until(last)).await.expect("all messages within the wait")
    }

    async fn read_until(&mut self, last: i64) -> Vec<Value> {
        let mut seen: Vec<Value> = Vec::new();
        while seen.last().and_then(|m| m["id"].as_i64()) != Some(last) {
            match self {
                Subscriber::Sse(stream) => seen.extend(stream.messages_until(last, WAIT).await),
                Subscriber::WebSocket(socket) => {
                    let frame = socket.next().await.expect("the socket stays open").expect("a frame");
                    if let Message::Text(text) = frame {
                        let mut value: Value = serde_json::from_str(&text).unwrap();
                        if value["type"] == "message" {
                            // The rest is the very JSON the other transports carry.
                            value.as_object_mut().unwrap().remove("type");
                            seen.push(value);
                        }
                    }
                }
                Subscriber::LongPoll { browser, room, last: cursor } => {
                    let batch = browser.get(&format!("/rooms/{room}/messages?after={cursor}&wait=5")).await.json();
                    for entry in batch.as_array().unwrap() {
                        // A long poll tags each entry of the room's sequence
                        // like a WebSocket frame; only new messages here.
                        let mut message = entry.clone();
                        assert_eq!(message.as_object_mut().unwrap().remove("type"), Some(json!("message")));
                        *cursor = message["id"].as_i64().unwrap();
                        seen.push(message);
                    }
                }
            }
        }
        seen
    }
}

fn ids(messages: &[Value]) -> Vec<i64> {
    messages.iter().map(|m| m["id"].as_i64().unwrap()).collect()
}

async fn post_concurrently(app: &LiveApp, room: &str, posters: usize, each: usize) {
    let tasks: Vec<_> = (0..posters)
        .map(|p| {
            let mut browser = app.browser();
            let room = room.to_owned();
            tokio::spawn(async move {
                for i in 0..each {
                    browser.say(&room, &format!("p{p} m{i}")).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

async fn fan_out_in_order(transport: Transport) {
    let app = spawn_server().await;
    let mut subscribers = Vec::new();
    for _ in 0..5 {
        subscribers.push(subscribe(&app, "fan", transport, None).await);
    }
    post_concurrently(&app, "fan", 3, 20).await;
    for subscriber in &mut subscribers {
        assert_eq!(ids(&subscriber.messages_until(60).await), (1..=60).collect::<Vec<_>>(), "{transport:?}");
    }
}

async fn resume_without_gap_or_duplicate(transport: Transport) {
    let app = spawn_server().await;
    let mut first = subscribe(&app, "resume", transport, Some(0)).await;
    post_concurrently(&app, "resume", 2, 5).await;
    assert_eq!(ids(&first.messages_until(10).await), (1..=10).collect::<Vec<_>>());
    drop(first);
    post_concurrently(&app, "resume", 2, 10).await;
    let mut again = subscribe(&app, "resume", transport, Some(10)).await;
    assert_eq!(ids(&again.messages_until(30).await), (11..=30).collect::<Vec<_>>(), "{transport:?}");
}

async fn slow_consumer_misses_nothing(transport: Transport) {
    let app = spawn_server_with(|f| f.merge(("room_queue_capacity", 4))).await;
    let mut slow = subscribe(&app, "slow", transport, Some(0)).await;
    post_concurrently(&app, "slow", 4, 25).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ids(&slow.messages_until(100).await), (1..=100).collect::<Vec<_>>(), "{transport:?}");
}

macro_rules! for_each_transport {
    ($($scenario:ident),*) => {
        mod over_sse { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $scenario() { super::$scenario(super::Transport::Sse).await } )* }
        mod over_websocket { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $scenario() { super::$scenario(super::Transport::WebSocket).await } )* }
        mod over_long_poll { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $scenario() { super::$scenario(super::Transport::LongPoll).await } )* }
    };
}

for_each_transport!(fan_out_in_order, resume_without_gap_or_duplicate, slow_consumer_misses_nothing);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_websocket_and_long_poll_clients_in_one_room_see_one_sequence() {
    let app = spawn_server().await;
    let mut clients = Vec::new();
    for transport in [Transport::Sse, Transport::WebSocket, Transport::LongPoll, Transport::WebSocket] {
        clients.push(subscribe(&app, "mixed", transport, Some(0)).await);
    }
    post_concurrently(&app, "mixed", 3, 15).await;
    let mut sequences = Vec::new();
    for client in &mut clients {
        sequences.push(client.messages_until(45).await);
    }
    for sequence in &sequences[1..] {
        assert_eq!(sequence, &sequences[0], "identical messages in identical order");
    }
    assert_eq!(ids(&sequences[0]), (1..=45).collect::<Vec<_>>());
}

async fn socket(
    app: &LiveApp,
    room: &str,
    origin: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    socket_with(app, room, origin, None).await
}

async fn socket_with(
    app: &LiveApp,
    room: &str,
    origin: Option<&str>,
    cookies: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/rooms/{room}/ws", app.addr).into_client_request().unwrap();
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", origin.parse().unwrap());
    }
    if let Some(cookies) = cookies {
        request.headers_mut().insert("Cookie", cookies.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

/// The next JSON frame `wanted` accepts.
async fn next_frame(socket: &mut Socket, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next()).await.expect("a frame in time").unwrap().unwrap();
        if let Message::Text(text) = frame {
            let value: Value = serde_json::from_str(&text).unwrap();
            if wanted(&value) {
                return value;
            }
        }
    }
}

/// The next JSON frame that is not an online list.
async fn next_json(socket: &mut Socket) -> Value {
    next_frame(socket, |frame| frame["type"] != "presence").await
}

/// The next online list a socket sends.
async fn next_presence(socket: &mut Socket) -> Value {
    next_frame(socket, |frame| frame["type"] == "presence").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_counts_in_presence_and_sends_the_online_list() {
    let app = spawn_server().await;
    let mut alice = app.browser();
    let registered =
        alice.post_form("/register", &[("username", "alice"), ("password", "correct horse battery")]).await;
    assert_eq!(registered.status, 303);
    let mut ws = socket_with(&app, "here", None, Some(&alice.cookie_header())).await.unwrap();
    let first = next_presence(&mut ws).await;
    let online = [{ json!({ "user": "alice", "display": "alice", "guest": false }) }];
    let alone = json!({ "type": "presence", "room": "here", "online": online, "count": 1 });
    assert_eq!(first, alone);
    let listed = app.browser().get("/rooms/here/presence").await.json();
    assert_eq!(listed["online"], first["online"], "the socket's visitor is online for everyone");
    let mut bob = app.browser();
    let bob_name = bob.get("/api/me").await.json()["user"].as_str().unwrap().to_owned();
    let _stream = bob.events("/rooms/here/events", &[]).await;
    let both = next_presence(&mut ws).await;
    let names: Vec<&str> = both["online"].as_array().unwrap().iter().map(|m| m["user"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice", bob_name.as_str()], "a join elsewhere reaches the socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_posts_as_its_visitor_and_gets_reasons_without_closing() {
    let app = spawn_server().await;
    let mut ws = socket(&app, "talk", None).await.unwrap();
    ws.send(Message::text(json!({ "type": "send", "text": "  " }).to_string())).await.unwrap();
    let refused = next_json(&mut ws).await;
    assert_eq!(refused, json!({ "type": "error", "code": 422, "reason": "the message is empty" }));
    ws.send(Message::text("not json")).await.unwrap();
    assert_eq!(next_json(&mut ws).await["code"], 422);
    ws.send(Message::text(json!({ "type": "send", "text": "hello", "user": "mallory" }).to_string())).await.unwrap();
    let mut frames = [next_json(&mut ws).await, next_json(&mut ws).await];
    frames.sort_by_key(|f| f["type"].as_str().unwrap().to_owned());
    assert_eq!(frames[0], json!({ "type": "ack", "id": 1 }));
    assert_eq!(frames[1]["type"], "message");
    assert_eq!(frames[1]["text"], "hello");
    assert!(frames[1]["user"].as_str().unwrap().starts_with("guest-"), "the server names the author");
    ws.send(Message::text(json!({ "type": "resume", "after": 0 }).to_string())).await.unwrap();
    assert_eq!(next_json(&mut ws).await["id"], 1, "resume replays what was missed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_handshake_from_another_origin_is_403() {
    let app = spawn_server().await;
    let refused = socket(&app, "x", Some("https://evil.example")).await.unwrap_err();
    match refused {
        tokio_tungstenite::tungstenite::Error::Http(response) => assert_eq!(response.status(), 403),
        other => panic!("expected a 403, got {other:?}"),
    }
    let same = format!("http://{}", app.addr);
    assert!(socket(&app, "x", Some(&same)).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_wait_on_the_room_queue_and_many_can_wait_at_once() {
    let app = spawn_server().await;
    let waiting: Vec<_> = (0..50)
        .map(|_| {
            let mut browser = app.browser();
            tokio::spawn(async move { browser.get("/rooms/lp/messages?after=0&wait=20").await.json() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = tokio::time::Instant::now();
    app.browser().say("lp", "wake up").await;
    for poll in waiting {
        assert_eq!(ids(poll.await.unwrap().as_array().unwrap()), vec![1]);
    }
    assert!(started.elapsed() < Duration::from_secs(5), "every poll returned at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_polling_is_history_after_a_known_id() {
    let app = spawn_server().await;
    let mut browser = app.browser();
    for i in 1..=3 {
        browser.say("plain", &format!("m{i}")).await;
    }
    let answer = browser.get("/rooms/plain/messages?after=1").await.json();
    assert_eq!(ids(answer.as_array().unwrap()), vec![2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_socket_posts_under_their_name_and_an_ended_session_gets_401() {
    let app = spawn_server_with(|f| f.merge(("session_check_secs", 1))).await;
    let mut alice = app.browser();
    let registered =
        alice.post_form("/register", &[("username", "alice"), ("password", "correct horse battery")]).await;
    assert_eq!(registered.status, 303);
    let cookies = alice.cookie_header();
    let mut ws = socket_with(&app, "m", None, Some(&cookies)).await.unwrap();
    ws.send(Message::text(json!({ "type": "send", "text": "hi" }).to_string())).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.push(next_json(&mut ws).await);
    }
    let message = seen.iter().find(|f| f["type"] == "message").unwrap();
    assert_eq!(message["user"], "alice");
    assert_eq!(message["guest"], false);

    assert_eq!(alice.post_form("/logout", &[]).await.status, 303);
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(Ok(frame)) = ws.next().await {
            if let Message::Close(close) = frame {
                return close.map(|c| u16::from(c.code));
            }
        }
        None
    });
    let code = closed.await.expect("the socket closes once the session has ended");
    assert_eq!(code, Some(4401), "a close code that tells the page not to reconnect");
    match socket_with(&app, "m", None, Some(&cookies)).await.unwrap_err() {
        tokio_tungstenite::tungstenite::Error::Http(response) => assert_eq!(response.status(), 401),
        other => panic!("expected a 401, got {other:?}"),
    }
}
