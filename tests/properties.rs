//! Properties, checked on generated inputs: the SSE framing of any text,
//! replay after any cursor, and sessions that stay dead once ended.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chat::auth::{Accounts, Activity, GuestName, PasswordHasher, SessionPolicy, Sessions, Visitor};
use chat::rooms::{Delivery, Message, MessageText, RoomName};
use chat::store::{NewMessage, Store};
use chat::stream::{FeedItem, Hub, Start};
use chat::web::sse::Sse;
use proptest::prelude::*;
use rocket::futures::stream;
use rocket::local::asynchronous::Client;
use rocket::response::Responder;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| tokio::runtime::Runtime::new().unwrap());

/// An event as a browser's EventSource sees it (WHATWG: lines end in CRLF,
/// LF or CR; one leading space after the colon is dropped; data lines join
/// with LF).
#[derive(Debug, Default, PartialEq)]
struct Received {
    id: Option<String>,
    event: Option<String>,
    data: Vec<String>,
}

fn parse_sse(body: &str) -> Vec<Received> {
    let normalized = body.replace("\r\n", "\n").replace('\r', "\n");
    let mut events = Vec::new();
    let mut current = Received::default();
    for line in normalized.split('\n') {
        if line.is_empty() {
            if !current.data.is_empty() {
                events.push(std::mem::take(&mut current));
            }
            current = Received::default();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match field {
            "id" => current.id = Some(value),
            "event" => current.event = Some(value),
            "data" => current.data.push(value),
            _ => {}
        }
    }
    events
}

async fn wire_bytes(delivery: &Delivery) -> String {
    let client = Client::untracked(rocket::build()).await.unwrap();
    let request = client.get("/");
    let events = Sse(stream::iter(vec![chat::web::sse::message_frame(delivery)]));
    let mut response = events.respond_to(request.inner()).unwrap();
    response.body_mut().to_string().await.unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_survives_the_sse_round_trip_as_one_message(text in any::<String>(), id in 1i64..i64::MAX) {
        // Built from its JSON: any text at all, not only valid message text.
        let message: Message = serde_json::from_value(serde_json::json!({
            "id": id, "room": "lobby", "user": "alice", "guest": false, "text": text,
            "at": "1970-01-01T00:00:00.000Z",
        }))
        .unwrap();
        let delivery = Delivery::new(message);
        let body = RUNTIME.block_on(wire_bytes(&delivery));
        let events = parse_sse(&body);
        prop_assert_eq!(events.len(), 1, "{:?}", body);
        prop_assert_eq!(events[0].event.as_deref(), Some("message"));
        prop_assert_eq!(events[0].id.clone(), Some(id.to_string()));
        let data: serde_json::Value = serde_json::from_str(&events[0].data.join("\n")).unwrap();
        prop_assert_eq!(data["text"].as_str(), Some(text.as_str()));
    }
}

async fn store_with(messages: usize) -> (Store, Hub, tempfile::TempDir, RoomName) {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::new(64);
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let store = Store::open(&url, Arc::new(hub.clone())).await.unwrap();
    let room = RoomName::parse("prop").unwrap();
    let author = Visitor::Guest { name: GuestName::generate() }.author();
    for i in 0..messages {
        let message = NewMessage {
            room: room.clone(),
            author: author.clone(),
            text: MessageText::parse(&format!("m{i}")).unwrap(),
            html: format!("<p>m{i}</p>"),
            reply_to: None,
            attachments: Vec::new(),
        };
        store.append(message).await.unwrap();
    }
    (store, hub, dir, room)
}

/// Everything a fresh feed yields before it would wait for live messages.
async fn replay(store: &Store, hub: &Hub, room: &RoomName, start: Start) -> (bool, Vec<i64>) {
    let mut feed = chat::stream::Feed::open(store.clone(), hub, room.clone(), start).await.unwrap();
    let (mut reset, mut ids) = (false, Vec::new());
    while let Ok(item) = tokio::time::timeout(Duration::from_millis(20), feed.next()).await {
        match item.unwrap().unwrap() {
            FeedItem::Reset => reset = true,
            FeedItem::Message(delivery) => ids.push(delivery.seq()),
        }
    }
    (reset, ids)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_replay_after_k_is_exactly_the_stored_messages_above_k(stored in 0usize..60, cursor in 0i64..70) {
        let (reset, ids) = RUNTIME.block_on(async {
            let (store, hub, _dir, room) = store_with(stored).await;
            replay(&store, &hub, &room, Start::After(cursor)).await
        });
        let stored = stored as i64;
        if cursor <= stored {
            prop_assert!(!reset);
            prop_assert_eq!(ids, ((cursor + 1)..=stored).collect::<Vec<_>>());
        } else {
            // A cursor from another history: reset, then the latest.
            prop_assert!(reset);
            prop_assert_eq!(ids, ((stored - 49).max(1)..=stored).collect::<Vec<_>>());
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Login,
    Logout(usize),
    LogoutEverywhere(usize),
    ChangePassword(usize),
    Advance(u64),
    Touch(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Login),
        2 => (0usize..8).prop_map(Op::Logout),
        1 => (0usize..8).prop_map(Op::LogoutEverywhere),
        1 => (0usize..8).prop_map(Op::ChangePassword),
        2 => (0u64..10).prop_map(Op::Advance),
        3 => (0usize..8).prop_map(Op::Touch),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn a_session_never_authenticates_again_once_it_has_ended(ops in prop::collection::vec(op(), 1..12)) {
        RUNTIME.block_on(async {
            let (store, _hub, _dir, _room) = store_with(0).await;
            let clock = chat::Clock::manual();
            let policy = SessionPolicy {
                idle: Duration::from_secs(7 * 86_400),
                absolute: Duration::from_secs(30 * 86_400),
                cache_ttl: Duration::from_secs(15),
            };
            let sessions = Sessions::new(store.clone(), clock.clone(), policy);
            let accounts = Accounts::new(store, PasswordHasher::new(0).await.unwrap(), sessions.clone());
            let mut password = "correct horse battery".to_owned();
            let mut all = vec![accounts.register("alice", &password).await.unwrap()];
            let mut ended = std::collections::HashSet::new();
            for op in ops {
                let pick = |i: usize| all[i % all.len()].clone();
                match op {
                    Op::Login => all.push(accounts.login("alice", &password).await.unwrap()),
                    Op::Logout(i) => {
                        let user = pick(i);
                        accounts.logout(&user.session_id).await.unwrap();
                        ended.insert(user.session_id);
                    }
                    Op::LogoutEverywhere(i) => {
                        accounts.logout_everywhere(&pick(i)).await.unwrap();
                        ended.extend(all.iter().map(|u| u.session_id.clone()));
                    }
                    Op::ChangePassword(i) => {
                        let user = pick(i);
                        if ended.contains(&user.session_id) {
                            continue;
                        }
                        let new = format!("{password}!");
                        let fresh = accounts.change_password(&user, &password, &new).await.unwrap();
                        password = new;
                        ended.extend(all.iter().map(|u| u.session_id.clone()));
                        all.push(fresh);
                    }
                    Op::Advance(days) => clock.advance(Duration::from_secs(days * 86_400)),
                    Op::Touch(i) => {
                        let user = pick(i);
                        if sessions.authenticate(&user.session_id, Activity::Active).await.unwrap().is_none() {
                            ended.insert(user.session_id);
                        }
                    }
                }
                for id in &ended {
                    let live = sessions.authenticate(id, Activity::Passive).await.unwrap();
                    assert!(live.is_none(), "an ended session authenticated again");
                }
            }
        });
    }
}
