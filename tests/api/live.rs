//! The one admission and live loop behind every transport (`live`): the
//! order of its checks as a client sees it (a refused stream never counts in
//! presence, members-only rooms do not exist for outsiders, a long poll is
//! admitted like a stream), the services driven without HTTP, and the
//! WebSocket's answers to frames it cannot use.

use std::time::Duration;

use rocket::futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use chat::auth::{GuestName, Visitor};
use chat::live::{Item, StreamRequest, StreamSession, Transport, Viewer};
use chat::rooms::RoomName;
use chat::stream::Start;

use crate::helpers::{LiveApp, spawn_server, spawn_server_with, within};
use crate::http::Browser;
use crate::presence::{online, presence_within};

const WAIT: Duration = Duration::from_secs(10);
const PASSWORD: &str = "correct horse battery";

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn member(app: &LiveApp, name: &str) -> Browser {
    let mut browser = app.browser();
    let registered = browser.post_form("/register", &[("username", name), ("password", PASSWORD)]).await;
    assert_eq!(registered.status, 303, "{name}: {}", registered.body);
    browser
}

/// A member with a role given straight in the database (admins are made
/// from the command line, moderators by admins).
async fn moderator(app: &LiveApp, name: &str) -> Browser {
    let browser = member(app, name).await;
    let mut db = crate::helpers::connect_db(app.dir()).await;
    let query = sqlx::query("UPDATE users SET role = $1 WHERE name = $2").bind("moderator").bind(name);
    query.execute(&mut db).await.unwrap();
    browser
}

/// A browser with a guest cookie, and its guest name.
async fn guest(app: &LiveApp) -> (Browser, String) {
    let mut browser = app.browser();
    let me = browser.get("/api/me").await.json();
    (browser, me["user"].as_str().expect("a guest name").to_owned())
}

/// Makes `room` members-only with `members` on its allow list.
async fn close_room(moderator: &mut Browser, room: &str, members: &[&str]) {
    let body = json!({ "enabled": true, "add": members });
    let response = moderator.post_json(&format!("/rooms/{room}/members-only"), &body).await;
    assert_eq!(response.status, 200, "{}", response.body);
}

/// A WebSocket on `room` carrying `browser`'s cookies and `headers`.
async fn socket(
    app: &LiveApp,
    room: &str,
    browser: &Browser,
    headers: &[(&'static str, &str)],
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/rooms/{room}/ws", app.addr).into_client_request().unwrap();
    let cookies = browser.cookie_header();
    if !cookies.is_empty() {
        request.headers_mut().insert("Cookie", cookies.parse().unwrap());
    }
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

/// The status a refused WebSocket handshake was answered with.
fn refused_status(result: Result<Socket, tokio_tungstenite::tungstenite::Error>) -> u16 {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other:?}"),
        Ok(_) => panic!("expected a refusal, the socket opened"),
    }
}

/// The next JSON frame that is not an online list.
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let frame = within(10, "a frame", socket.next()).await.expect("the socket stays open").expect("a frame");
        if let Message::Text(text) = frame {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] != "presence" {
                return value;
            }
        }
    }
}

/// `[(name, guest)]` of guests, members first then guests by name: the
/// order online lists use.
fn guests(names: &[&str]) -> Vec<(String, bool)> {
    let mut list: Vec<(String, bool)> = names.iter().map(|name| (name.to_string(), true)).collect();
    list.sort();
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_stream_never_shows_its_visitor_online() {
    // Two streams per browser and per address; addresses come from
    // X-Real-IP, so each visitor below is placed at the address it needs.
    // A long grace period: anyone counted by mistake would stay listed.
    let app = spawn_server_with(|f| {
        f.merge(("rate_limits", true))
            .merge(("streams_per_session", 2))
            .merge(("streams_per_ip", 2))
            .merge(("ip_header", "X-Real-IP"))
            .merge(("presence_grace_ms", 60_000))
    })
    .await;
    let (mut watcher, watcher_name) = guest(&app).await;
    let mut watching = watcher.events("/rooms/r/events", &[("X-Real-IP", "10.0.0.1")]).await;
    assert_eq!(watching.status, 200);
    let first = presence_within(&mut watching, WAIT).await.expect("the online list on connect");
    assert_eq!(online(&first), guests(&[&watcher_name]));

    // Carol holds her two streams, which also fill address 10.0.0.2.
    let (mut carol, carol_name) = guest(&app).await;
    let carols_stream = carol.events("/rooms/r/events", &[("X-Real-IP", "10.0.0.2")]).await;
    assert_eq!(carols_stream.status, 200);
    let joined = presence_within(&mut watching, WAIT).await.expect("carol's arrival is announced");
    assert_eq!(online(&joined), guests(&[&watcher_name, &carol_name]));
    let _carols_socket = socket(&app, "r", &carol, &[("X-Real-IP", "10.0.0.2")]).await.expect("carol's second stream");

    // One more of each transport, from carol and from dave, who shares her
    // address and has no other stream: every one is refused.
    let (mut dave, dave_name) = guest(&app).await;
    for (who, browser) in [("carol", &mut carol), ("dave", &mut dave)] {
        assert_eq!(refused_status(socket(&app, "r", browser, &[("X-Real-IP", "10.0.0.2")]).await), 429, "{who} ws");
        let sse = browser.send("GET", "/rooms/r/events", &[("X-Real-IP", "10.0.0.2")], None).await;
        assert_eq!(sse.status, 429, "{who} sse");
    }

    let listed = app.browser().get("/rooms/r/presence").await.json();
    assert_eq!(online(&listed), guests(&[&watcher_name, &carol_name]), "dave is not online");
    // Erin's stream, from a free address, is the next change the watcher
    // sees: no change caused by the refusals came before it, and dave is
    // not in it.
    let (mut erin, erin_name) = guest(&app).await;
    let _erins_stream = erin.events("/rooms/r/events", &[("X-Real-IP", "10.0.0.3")]).await;
    let next = presence_within(&mut watching, WAIT).await.expect("erin's arrival is announced");
    assert_eq!(online(&next), guests(&[&watcher_name, &carol_name, &erin_name]));
    assert!(!next.to_string().contains(&dave_name), "{next}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_only_rooms_are_left_out_of_the_room_list_and_presence_for_outsiders() {
    let app = spawn_server().await;
    let mut moderator = moderator(&app, "mod").await;
    let mut alice = member(&app, "alice").await;
    let mut bob = member(&app, "bob").await;
    let (mut visitor, _) = guest(&app).await;
    moderator.say("lobby", "open to all").await;
    close_room(&mut moderator, "staff", &["alice"]).await;
    moderator.say("staff", "members only").await;

    let names = |rooms: Value| -> Vec<String> {
        rooms.as_array().expect("a list").iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect()
    };
    for (who, insider) in [("alice", &mut alice), ("mod", &mut moderator)] {
        assert_eq!(names(insider.get("/api/rooms").await.json()), ["staff", "lobby"], "{who}");
        let presence = insider.get("/rooms/staff/presence").await;
        assert_eq!(presence.status, 200, "{who}");
        assert_eq!(presence.json()["room"], "staff");
    }
    for (who, outsider) in [("bob", &mut bob), ("a guest", &mut visitor)] {
        assert_eq!(names(outsider.get("/api/rooms").await.json()), ["lobby"], "{who}");
        let presence = outsider.get("/rooms/staff/presence").await;
        assert_eq!(presence.status, 404, "{who}");
        assert!(!presence.body.contains("online"), "{who}: {}", presence.body);
    }
}

/// The session's next item other than a keepalive.
async fn next_item(session: &mut StreamSession) -> Item {
    let item = async {
        loop {
            match session.next().await {
                Item::Keepalive => continue,
                item => return item,
            }
        }
    };
    within(10, "an item", item).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_run_without_http() {
    let dir = tempfile::tempdir().unwrap();
    let (_, settings) = chat::config::prepare(crate::helpers::test_figment(dir.path())).expect("valid settings");
    let services = chat::startup::Services::start(&settings, chat::Clock::system(), chat::metrics::Metrics::new())
        .await
        .expect("the services start");
    let room = RoomName::parse("quiet").unwrap();
    let name = GuestName::generate();
    let visitor = Visitor::Guest { name: name.clone() };
    let before = services.chat.post(room.clone(), &visitor, "before the stream", None).await.expect("posted");

    let request = StreamRequest {
        viewer: Viewer::Guest(Some(name.clone())),
        client_ip: None,
        rooms: vec![(room.clone(), Start::Latest)],
        transport: Transport::Sse,
    };
    let mut session = services.streams.open(request, std::future::pending()).await.expect("admitted");
    match next_item(&mut session).await {
        Item::Presence(list) => {
            assert_eq!(list.room, room);
            assert_eq!(
                list.members.iter().map(|m| (m.user.as_str(), m.guest)).collect::<Vec<_>>(),
                [(name.as_str(), true)]
            );
        }
        other => panic!("the online list comes first, got {other:?}"),
    }
    assert_eq!(session.cursor().to_string(), "", "the position is known once a message is handed out");
    match next_item(&mut session).await {
        Item::Message(delivery) => assert_eq!(delivery.seq(), before.seq()),
        other => panic!("then the latest message, got {other:?}"),
    }
    assert_eq!(session.cursor().to_string(), format!("quiet:{}", before.seq()));

    // Another visitor joins: an online list, and the cursor stays.
    let other = GuestName::generate();
    let request = StreamRequest {
        viewer: Viewer::Guest(Some(other.clone())),
        client_ip: None,
        rooms: vec![(room.clone(), Start::Latest)],
        transport: Transport::Sse,
    };
    let _other_session = services.streams.open(request, std::future::pending()).await.expect("admitted");
    match next_item(&mut session).await {
        Item::Presence(list) => assert_eq!(list.count, 2),
        other => panic!("a join is an online list, got {other:?}"),
    }
    assert_eq!(session.cursor().to_string(), format!("quiet:{}", before.seq()), "presence does not move it");

    let live = services.chat.post(room.clone(), &visitor, "while it is open", None).await.expect("posted");
    match next_item(&mut session).await {
        Item::Message(delivery) => {
            assert_eq!(delivery.seq(), live.seq());
            assert_eq!(delivery.message.text, "while it is open");
        }
        other => panic!("the new message arrives live, got {other:?}"),
    }
    assert_eq!(session.cursor().to_string(), format!("quiet:{}", live.seq()));

    within(2, "stopping the background tasks", services.tasks.stop()).await;
    assert_eq!(services.tasks.running(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_is_admitted_like_a_stream() {
    let app = spawn_server_with(|f| f.merge(("metrics", true))).await;
    let mut moderator = moderator(&app, "mod").await;
    let mut alice = member(&app, "alice").await;
    let mut bob = member(&app, "bob").await;
    close_room(&mut moderator, "staff", &["alice"]).await;
    let last = moderator.say("staff", "first").await;
    let poll = format!("/rooms/staff/messages?after={last}&wait=5");

    let asked = tokio::time::Instant::now();
    assert_eq!(bob.get(&poll).await.status, 404, "an outsider's poll");
    assert!(asked.elapsed() < Duration::from_secs(3), "refused before waiting: {:?}", asked.elapsed());

    let waiting = tokio::spawn(async move { alice.get(&poll).await });
    // The poll holds an open stream session while it waits.
    let mut metrics = app.browser();
    within(5, "the poll waits on the room", async {
        while !metrics.get("/metrics").await.body.contains(r#"chat_streams_open{transport="poll"} 1"#) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let presence = moderator.get("/rooms/staff/presence").await.json();
    assert!(online(&presence).is_empty(), "a waiting poll does not show its visitor online: {presence}");
    let second = moderator.say("staff", "second").await;
    let answer = within(5, "the poll answers", waiting).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(crate::helpers::ids(&answer.json()), [second], "the message posted while it waited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_answers_an_unusable_frame_with_its_reason_and_stays_open() {
    let app = spawn_server().await;
    let (browser, _) = guest(&app).await;
    let mut ws = socket(&app, "frames", &browser, &[]).await.expect("the socket opens");
    for (frame, reason) in [
        ("{}", "type must be send, resume or typing"),
        (r#"{"type":"shout","text":"hi"}"#, "type must be send, resume or typing"),
        ("[1, 2]", "frames are JSON objects with a type"),
        ("not json", "frames are JSON objects with a type"),
        (r#"{"type":"send"}"#, "the field text is missing"),
        (r#"{"type":"send","text":7}"#, "the field text is missing"),
        (r#"{"type":"resume","after":-1}"#, "after must be a message id"),
        (r#"{"type":"resume"}"#, "after must be a message id"),
        (r#"{"type":"send","text":"hi","reply_to":"1"}"#, "reply_to must be a message id"),
    ] {
        ws.send(Message::text(frame)).await.unwrap();
        assert_eq!(next_json(&mut ws).await, json!({ "type": "error", "code": 422, "reason": reason }), "{frame}");
    }
    ws.send(Message::text(json!({ "type": "send", "text": "still here" }).to_string())).await.unwrap();
    let mut answers = [next_json(&mut ws).await, next_json(&mut ws).await];
    answers.sort_by_key(|f| f["type"].as_str().unwrap().to_owned());
    assert_eq!(answers[0], json!({ "type": "ack", "id": 1 }), "the socket stayed open");
    assert_eq!(answers[1]["text"], "still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_at_its_stream_cap_still_gets_stored_messages_from_a_long_poll_but_may_not_wait() {
    let app = spawn_server_with(|figment| {
        figment.merge(("rate_limits", true)).merge(("streams_per_session", 1)).merge(("streams_per_ip", 10))
    })
    .await;
    let (mut browser, _) = guest(&app).await;
    let first = browser.say("capped", "before").await;
    let _held = browser.events("/rooms/capped/events", &[]).await;
    let stored = browser.get(&format!("/rooms/capped/messages?after={}&wait=5", first - 1)).await;
    assert_eq!(stored.status, 200, "{}", stored.body);
    assert_eq!(stored.json()[0]["text"], "before", "stored messages answer at once, whatever the cap");
    let waiting =
        within(3, "a refused wait", browser.get(&format!("/rooms/capped/messages?after={first}&wait=5"))).await;
    assert_eq!(waiting.status, 429, "waiting holds a stream, and the browser's one is taken: {}", waiting.body);
}
