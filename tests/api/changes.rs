//! Changes are resumable like messages: every edit, deletion and reaction
//! takes its place in the room's one ordered sequence, so a client that
//! was away and resumes from its last position ends up showing exactly
//! what a client that never disconnected shows, over every transport.

use std::collections::BTreeMap;
use std::time::Duration;

use rocket::futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{LiveApp, spawn_server};
use crate::http::{Browser, EventStream};

const WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy)]
enum Transport {
    RoomSse,
    MultiSse,
    WebSocket,
    LongPoll,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One entry of the room's sequence as a client received it.
#[derive(Debug, Clone)]
struct Entry {
    kind: String,
    seq: i64,
    data: Value,
}

/// A client of one transport, with the position it would resume from.
enum Client {
    Sse { stream: EventStream, position: String },
    WebSocket { socket: Box<Socket>, position: i64 },
    LongPoll { browser: Browser, position: i64 },
}

impl Client {
    async fn open(app: &LiveApp, transport: Transport, position: &str) -> Client {
        let headers = [("Last-Event-ID", position)];
        match transport {
            Transport::RoomSse => {
                let stream = app.browser().events("/rooms/r/events", &headers).await;
                Client::Sse { stream, position: position.to_owned() }
            }
            Transport::MultiSse => {
                let cursor = format!("r:{}", seq_of(position));
                let stream = app.browser().events("/events?rooms=r", &[("Last-Event-ID", &cursor)]).await;
                Client::Sse { stream, position: cursor }
            }
            Transport::WebSocket => {
                let position = seq_of(position);
                let url = format!("ws://{}/rooms/r/ws?after={position}", app.addr);
                let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("the handshake succeeds");
                Client::WebSocket { socket: Box::new(socket), position }
            }
            Transport::LongPoll => Client::LongPoll { browser: app.browser(), position: seq_of(position) },
        }
    }

    /// Where this client would resume from: `Last-Event-ID`, the cursor, or `after`.
    fn position(&self) -> String {
        match self {
            Client::Sse { position, .. } => position.clone(),
            Client::WebSocket { position, .. } | Client::LongPoll { position, .. } => position.to_string(),
        }
    }

    /// Every entry up to and including number `last`.
    async fn entries_until(&mut self, last: i64) -> Vec<Entry> {
        tokio::time::timeout(WAIT, self.read_until(last)).await.expect("every entry within the wait")
    }

    async fn read_until(&mut self, last: i64) -> Vec<Entry> {
        let mut seen: Vec<Entry> = Vec::new();
        while seen.last().map(|e| e.seq) != Some(last) {
            match self {
                Client::Sse { stream, position } => {
                    let event = stream.next_event().await.expect("the stream stays open");
                    let (Some(kind), Some(id)) = (event.event.clone(), event.id.clone()) else { continue };
                    *position = id.clone();
                    let data = event.json();
                    seen.push(Entry { seq: seq_in(&kind, &data), kind, data });
                }
                Client::WebSocket { socket, position } => {
                    let Message::Text(text) = socket.next().await.expect("open").expect("a frame") else { continue };
                    let mut data: Value = serde_json::from_str(&text).unwrap();
                    let kind = data.as_object_mut().unwrap().remove("type").unwrap().as_str().unwrap().to_owned();
                    if kind == "presence" {
                        continue;
                    }
                    *position = seq_in(&kind, &data);
                    seen.push(Entry { seq: *position, kind, data });
                }
                Client::LongPoll { browser, position } => {
                    let answer = browser.get(&format!("/rooms/r/messages?after={position}&wait=5")).await.json();
                    for item in answer.as_array().unwrap() {
                        let mut data = item.clone();
                        let kind = data.as_object_mut().unwrap().remove("type").unwrap().as_str().unwrap().to_owned();
                        *position = seq_in(&kind, &data);
                        seen.push(Entry { seq: *position, kind, data });
                    }
                }
            }
        }
        seen
    }
}

/// A one-room position (`7`) or a cursor (`r:7`) as a number.
fn seq_of(position: &str) -> i64 {
    position.rsplit(':').next().unwrap().parse().unwrap()
}

/// An entry's number: its `seq`, or a new message's id.
fn seq_in(kind: &str, data: &Value) -> i64 {
    if kind == "message" { data["id"].as_i64().unwrap() } else { data["seq"].as_i64().expect("a change has a seq") }
}

/// What a page shows of each message, after applying entries in order.
fn page_after(entries: &[Entry]) -> BTreeMap<i64, Value> {
    let mut page = BTreeMap::new();
    for Entry { kind, data, .. } in entries {
        let id = data["id"].as_i64().unwrap();
        match kind.as_str() {
            "message" | "edit" => {
                page.insert(id, shown(data));
            }
            "delete" => {
                if let Some(message) = page.get_mut(&id) {
                    *message = json!({ "text": "", "deleted": true });
                }
            }
            "reaction" => {
                if let Some(message) = page.get_mut(&id) {
                    message["reactions"] = data["reactions"].clone();
                }
            }
            other => panic!("unexpected entry {other}"),
        }
    }
    page
}

/// The part of a message a page renders.
fn shown(message: &Value) -> Value {
    if message["deleted"].is_object() {
        return json!({ "text": "", "deleted": true });
    }
    let reactions = if message["reactions"].is_array() { message["reactions"].clone() } else { json!([]) };
    json!({ "text": message["text"], "edited": message["edited_at"].is_string(), "reactions": reactions })
}

async fn changes_made_while_away_are_replayed(transport: Transport) {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    for text in ["one", "two", "three"] {
        alice.say("r", text).await;
    }
    let mut always = Client::open(&app, transport, "0").await;
    let mut away = Client::open(&app, transport, "0").await;
    let mut seen_by_away = away.entries_until(3).await;
    let resume_from = away.position();
    drop(away);

    // While it is away: a post, an edit of an older message, a reaction,
    // a deletion, and another post.
    alice.say("r", "four").await;
    let edited = alice.post_json("/rooms/r/messages/1/edit", &json!({ "text": "one, edited" })).await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let reacted = bob.post_json("/rooms/r/messages/2/reactions", &json!({ "emoji": "👍", "on": true })).await;
    assert_eq!(reacted.status, 200, "{}", reacted.body);
    let deleted = alice.post_json("/rooms/r/messages/3/delete", &json!({})).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    alice.say("r", "five").await;

    let seen_always = always.entries_until(8).await;
    let mut resumed = Client::open(&app, transport, &resume_from).await;
    let replayed = resumed.entries_until(8).await;
    assert_eq!(replayed.iter().map(|e| e.seq).collect::<Vec<_>>(), (4..=8).collect::<Vec<_>>(), "{transport:?}");
    assert_eq!(
        replayed.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["message", "edit", "reaction", "delete", "message"],
        "{transport:?}"
    );
    assert!(replayed.iter().all(|e| !e.data.to_string().contains("three")), "deleted text is never replayed");
    seen_by_away.extend(replayed);
    let page = page_after(&seen_always);
    assert_eq!(page_after(&seen_by_away), page, "{transport:?}: the same page as an always-connected client");

    let history = alice.get("/rooms/r/messages").await.json();
    let stored: BTreeMap<i64, Value> =
        history.as_array().unwrap().iter().map(|m| (m["id"].as_i64().unwrap(), shown(m))).collect();
    assert_eq!(page, stored, "{transport:?}: and the page matches the history");
}

mod over_room_sse {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_made_while_away_are_replayed() {
        super::changes_made_while_away_are_replayed(super::Transport::RoomSse).await
    }
}

mod over_multi_room_sse {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_made_while_away_are_replayed() {
        super::changes_made_while_away_are_replayed(super::Transport::MultiSse).await
    }
}

mod over_websocket {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_made_while_away_are_replayed() {
        super::changes_made_while_away_are_replayed(super::Transport::WebSocket).await
    }
}

mod over_long_poll {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_made_while_away_are_replayed() {
        super::changes_made_while_away_are_replayed(super::Transport::LongPoll).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_ids_strictly_increase_though_changes_take_numbers_between_them() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let first = alice.say("r", "a").await;
    alice.post_json(&format!("/rooms/r/messages/{first}/edit"), &json!({ "text": "b" })).await;
    alice.post_json(&format!("/rooms/r/messages/{first}/reactions"), &json!({ "emoji": "🎉" })).await;
    let second = alice.say("r", "c").await;
    assert_eq!((first, second), (1, 4), "the edit and the reaction took 2 and 3");
}
