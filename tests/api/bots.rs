//! Bots and incoming webhooks: a bot made with `chat bot add` posts, reads
//! history and opens every kind of stream of its rooms with its bearer
//! token alone, is 403 in other rooms (404 where the room is hidden from
//! it), 401 once revoked, never logs in through the form, and has a rate
//! limit of its own; a webhook made with `chat hook add` posts to its room
//! as its bot with no cookie, CSRF token or same origin, and is 404 once
//! unknown or revoked, and rate limited per hook.

use std::path::Path;
use std::time::Duration;

use rocket::futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::cli::{chat, stderr, stdout};
use crate::helpers::{LiveApp, spawn_server, spawn_server_with, within};
use crate::http::{Browser, Response};

const WAIT: Duration = Duration::from_secs(10);
const PASSWORD: &str = "correct horse battery";

/// `chat bot add NAME --rooms ROOMS` on the app's database: the token it
/// prints once, on its last line.
fn add_bot(dir: &Path, name: &str, rooms: &str) -> String {
    let added = chat(dir, &["bot", "add", name, "--rooms", rooms], "");
    assert!(added.status.success(), "{}", stderr(&added));
    let out = stdout(&added);
    let token = out.lines().last().expect("the token line").trim().to_owned();
    assert!(token.starts_with("bot_"), "{out}");
    token
}

/// `chat hook add --bot BOT --room ROOM`: the URL path it prints once.
fn add_hook(dir: &Path, bot: &str, room: &str) -> String {
    let added = chat(dir, &["hook", "add", "--bot", bot, "--room", room], "");
    assert!(added.status.success(), "{}", stderr(&added));
    let path = stdout(&added).lines().last().expect("the URL line").trim().to_owned();
    assert!(path.starts_with("/hooks/hook_"), "{path}");
    path
}

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let output = chat(dir, args, "");
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    stdout(&output)
}

/// A request carrying `token` as its bearer token and no cookie.
async fn as_bot(app: &LiveApp, token: &str, method: &str, path: &str, body: Option<Value>) -> Response {
    let auth = format!("Bearer {token}");
    let body = body.map(|b| ("application/json", b.to_string()));
    app.browser().send(method, path, &[("Authorization", &auth)], body).await
}

async fn bot_says(app: &LiveApp, token: &str, room: &str, text: &str) -> Response {
    as_bot(app, token, "POST", &format!("/rooms/{room}/messages"), Some(json!({ "text": text }))).await
}

async fn member(app: &LiveApp, name: &str) -> Browser {
    let mut browser = app.browser();
    let registered = browser.post_form("/register", &[("username", name), ("password", PASSWORD)]).await;
    assert_eq!(registered.status, 303, "{name}: {}", registered.body);
    browser
}

#[tokio::test]
async fn a_bot_posts_with_its_token_and_its_messages_say_bot_true_in_history_and_on_streams() {
    let app = spawn_server().await;
    let token = add_bot(app.dir(), "ci-bot", "alerts,lobby");
    let mut alice = member(&app, "alice").await;
    let mut watching = alice.events("/rooms/alerts/events", &[]).await;
    assert_eq!(watching.status, 200);
    let alices = alice.say("alerts", "anyone there?").await;

    let posted = bot_says(&app, &token, "alerts", "build 42 passed").await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let message = posted.json();
    assert_eq!((message["user"].as_str(), message["bot"].as_bool()), (Some("ci-bot"), Some(true)), "{message}");
    assert_eq!(message["guest"], false);

    let seen = watching.messages_until(message["id"].as_i64().unwrap(), WAIT).await;
    let streamed = seen.last().unwrap();
    assert_eq!((streamed["text"].as_str(), streamed["bot"].as_bool()), (Some("build 42 passed"), Some(true)));
    assert_eq!(seen[0]["id"], alices, "{seen:?}");
    assert_eq!(seen[0]["bot"], false, "a person's message says bot: false");

    let history = as_bot(&app, &token, "GET", "/rooms/alerts/messages", None).await;
    assert_eq!(history.status, 200, "{}", history.body);
    let bots: Vec<(Value, Value)> =
        history.json().as_array().unwrap().iter().map(|m| (m["user"].clone(), m["bot"].clone())).collect();
    assert_eq!(bots, [(json!("alice"), json!(false)), (json!("ci-bot"), json!(true))]);
}

#[tokio::test]
async fn a_bot_opens_every_kind_of_stream_of_its_rooms_and_hears_what_is_posted() {
    let app = spawn_server().await;
    let token = add_bot(app.dir(), "ci-bot", "alerts");
    let auth = format!("Bearer {token}");
    let mut bot = app.browser();
    let mut one = bot.events("/rooms/alerts/events", &[("Authorization", &auth)]).await;
    let mut multi = bot.events("/events?rooms=alerts", &[("Authorization", &auth)]).await;
    assert_eq!((one.status, multi.status), (200, 200));
    let mut socket = bot_socket(&app, "alerts", &token).await.expect("the socket opens");

    let mut alice = member(&app, "alice").await;
    let id = alice.say("alerts", "deploy?").await;
    assert_eq!(one.messages_until(id, WAIT).await.last().unwrap()["text"], "deploy?");
    assert_eq!(multi.messages_until(id, WAIT).await.last().unwrap()["room"], "alerts");
    let frame = loop {
        let frame = within(10, "a frame", socket.next()).await.expect("open").expect("a frame");
        if let Message::Text(text) = frame {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "message" {
                break value;
            }
        }
    };
    assert_eq!(frame["id"], id);

    let polled = as_bot(&app, &token, "GET", &format!("/rooms/alerts/messages?after={}&wait=5", id - 1), None).await;
    assert_eq!(polled.status, 200, "{}", polled.body);
    assert_eq!(polled.json()[0]["id"], id, "a long poll answers what is stored after `after`");
}

async fn bot_socket(
    app: &LiveApp,
    room: &str,
    token: &str,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tokio_tungstenite::tungstenite::Error,
> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/rooms/{room}/ws", app.addr).into_client_request().unwrap();
    request.headers_mut().insert("Authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

#[tokio::test]
async fn a_bot_gets_403_in_a_room_it_was_not_given_on_every_route_and_404_for_a_conversation() {
    let app = spawn_server().await;
    let token = add_bot(app.dir(), "ci-bot", "alerts");
    let auth = format!("Bearer {token}");
    let mut alice = member(&app, "alice").await;
    alice.say("lobby", "people only").await;

    let posted = bot_says(&app, &token, "lobby", "hello").await;
    assert_eq!(posted.status, 403, "{}", posted.body);
    assert_eq!(posted.json()["error"], "this bot may only use its own rooms");
    assert_eq!(as_bot(&app, &token, "GET", "/rooms/lobby/messages", None).await.status, 403);
    assert_eq!(as_bot(&app, &token, "GET", "/rooms/lobby/messages?after=0&wait=1", None).await.status, 403);
    let mut bot = app.browser();
    assert_eq!(bot.send("GET", "/rooms/lobby/events", &[("Authorization", &auth)], None).await.status, 403);
    assert_eq!(bot.send("GET", "/events?rooms=alerts,lobby", &[("Authorization", &auth)], None).await.status, 403);
    let refused = match bot_socket(&app, "lobby", &token).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        other => panic!("expected a refused handshake, got {:?}", other.map(|_| "an open socket")),
    };
    assert_eq!(refused, 403);
    let rooms = as_bot(&app, &token, "GET", "/api/rooms", None).await.json();
    assert!(rooms.as_array().unwrap().iter().all(|r| r["name"] != "lobby"), "{rooms}");

    // A conversation it is not in stays hidden: 404 as for everyone else.
    member(&app, "bob").await;
    let dm = alice.post_json("/api/dm", &json!({ "users": ["bob"] })).await.json()["room"].clone();
    let dm = dm.as_str().unwrap();
    alice.say(dm, "just us").await;
    assert_eq!(as_bot(&app, &token, "GET", &format!("/rooms/{dm}/messages"), None).await.status, 404);
    assert_eq!(bot_says(&app, &token, dm, "hi").await.status, 404);
}

#[tokio::test]
async fn a_revoked_bot_gets_401_and_its_open_stream_ends() {
    let app = spawn_server_with(|f| f.merge(("session_check_secs", 1))).await;
    let token = add_bot(app.dir(), "ci-bot", "alerts");
    let auth = format!("Bearer {token}");
    assert_eq!(bot_says(&app, &token, "alerts", "still here").await.status, 201);
    let mut stream = app.browser().events("/rooms/alerts/events", &[("Authorization", &auth)]).await;
    assert_eq!(stream.status, 200);

    let revoked = run_ok(app.dir(), &["bot", "revoke", "ci-bot"]);
    assert!(revoked.contains("ci-bot is revoked"), "{revoked}");
    let posted = bot_says(&app, &token, "alerts", "gone").await;
    assert_eq!(posted.status, 401, "{}", posted.body);
    assert!(posted.json()["error"].as_str().unwrap().contains("revoked"), "{}", posted.body);
    assert_eq!(as_bot(&app, &token, "GET", "/rooms/alerts/messages", None).await.status, 401);
    let reopened = app.browser().send("GET", "/rooms/alerts/events", &[("Authorization", &auth)], None).await;
    assert_eq!(reopened.status, 401);
    within(10, "the revoked bot's stream ends", async { while stream.next_event().await.is_some() {} }).await;
    let listed = run_ok(app.dir(), &["bot", "list"]);
    assert!(listed.starts_with("ci-bot\talerts\tsince ") && listed.contains("\trevoked "), "{listed}");
}

#[tokio::test]
async fn a_bearer_token_is_judged_alone_and_a_bot_never_passes_for_a_person() {
    let app = spawn_server().await;
    let token = add_bot(app.dir(), "ci-bot", "alerts");
    let auth = format!("Bearer {token}");

    // The form: a bot has no password, so no password lets it in.
    let mut browser = app.browser();
    let login = browser.post_form("/login", &[("username", "ci-bot"), ("password", PASSWORD)]).await;
    assert_eq!(login.status, 401, "{}", login.body);
    let taken = browser.post_form("/register", &[("username", "CI-BOT"), ("password", PASSWORD)]).await;
    assert_eq!(taken.status, 409, "a bot's name is taken like any account's");
    let reset = chat(app.dir(), &["user", "reset-password", "ci-bot"], "correct horse battery\n");
    assert!(!reset.status.success() && stderr(&reset).contains("is a bot"), "{}", stderr(&reset));

    // Pages and the account need a person.
    let mut bot = app.browser();
    assert_eq!(bot.send("GET", "/rooms/alerts", &[("Authorization", &auth)], None).await.status, 403);
    assert_eq!(bot.send("GET", "/account", &[("Authorization", &auth)], None).await.status, 403);
    assert_eq!(bot.send("GET", "/settings", &[("Authorization", &auth)], None).await.status, 403);

    // A bad token is 401 even beside a live session's cookie, and a good
    // one is the bot even beside it.
    let mut alice = member(&app, "alice").await;
    let body = Some(("application/json", json!({ "text": "who am I?" }).to_string()));
    let forged =
        alice.send("POST", "/rooms/alerts/messages", &[("Authorization", "Bearer bot_nope")], body.clone()).await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    let as_ci = alice.send("POST", "/rooms/alerts/messages", &[("Authorization", &auth)], body.clone()).await;
    assert_eq!((as_ci.status, as_ci.json()["user"].clone()), (201, json!("ci-bot")));

    // No cookie is made for it, and no origin asked of it: it rides on none.
    let read = as_bot(&app, &token, "GET", "/rooms/alerts/messages", None).await;
    assert_eq!((read.status, read.header("Set-Cookie")), (200, None));
    let headers = [("Authorization", auth.as_str()), ("Origin", "https://elsewhere.example")];
    assert_eq!(app.browser().send("POST", "/rooms/alerts/messages", &headers, body).await.status, 201);
}

#[tokio::test]
async fn a_bot_has_a_rate_limit_of_its_own_that_spares_the_people_behind_its_address() {
    let app = spawn_server_with(|f| {
        f.merge(("rate_limits", true))
            .merge(("bot_post_burst", 3))
            .merge(("bot_posts_per_sec", 1))
            .merge(("ip_post_burst", 3))
            .merge(("ip_posts_per_sec", 1))
    })
    .await;
    let token = add_bot(app.dir(), "ci-bot", "alerts");
    for i in 0..3 {
        assert_eq!(bot_says(&app, &token, "alerts", &format!("burst {i}")).await.status, 201);
    }
    let refused = bot_says(&app, &token, "alerts", "one too many").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.header("Retry-After").is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
    // The bot's posts took nothing from the address's bucket.
    let mut alice = member(&app, "alice").await;
    alice.say("alerts", "my turn").await;
}

#[tokio::test]
async fn a_webhook_posts_its_text_to_its_room_as_its_bot_with_no_cookie_or_csrf_even_from_another_origin() {
    let app = spawn_server().await;
    add_bot(app.dir(), "deploys", "alerts");
    let hook = add_hook(app.dir(), "deploys", "alerts");
    let slack = json!({ "text": "v2 is live", "username": "ignored", "icon_emoji": ":rocket:" }).to_string();
    let headers = [("Origin", "https://ci.example"), ("Sec-Fetch-Site", "cross-site")];
    let posted = app.browser().send("POST", &hook, &headers, Some(("application/json", slack))).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let message = posted.json();
    assert_eq!((message["room"].clone(), message["user"].clone()), (json!("alerts"), json!("deploys")));
    assert_eq!((message["text"].clone(), message["bot"].clone()), (json!("v2 is live"), json!(true)));
    let mut alice = member(&app, "alice").await;
    let history = alice.get("/rooms/alerts/messages").await.json();
    assert_eq!(history[0]["text"], "v2 is live");

    for (body, reason) in [(json!({}), "the field text is missing"), (json!({ "text": "  " }), "the message is empty")]
    {
        let refused = app.browser().send("POST", &hook, &[], Some(("application/json", body.to_string()))).await;
        assert_eq!((refused.status, refused.json()["error"].clone()), (422, json!(reason)));
    }
    let listed = run_ok(app.dir(), &["hook", "list"]);
    assert!(listed.starts_with("1\tdeploys\t#alerts\tsince "), "{listed}");
}

#[tokio::test]
async fn an_unknown_or_revoked_webhook_is_404_like_a_path_that_never_was() {
    let app = spawn_server().await;
    add_bot(app.dir(), "deploys", "alerts");
    let hook = add_hook(app.dir(), "deploys", "alerts");
    let second = add_hook(app.dir(), "deploys", "alerts");
    let app = &app;
    let post = |path: String| async move {
        let body = json!({ "text": "hi" }).to_string();
        app.browser().send("POST", &path, &[], Some(("application/json", body))).await.status
    };
    assert_eq!(post(hook.clone()).await, 201);
    let unknown = format!("/hooks/hook_{}", "A".repeat(43));
    assert_eq!(post(unknown).await, 404);
    assert_eq!(post("/hooks/nonsense".into()).await, 404);
    run_ok(app.dir(), &["hook", "revoke", "1"]);
    assert_eq!(post(hook).await, 404, "a revoked hook");
    assert_eq!(post(second.clone()).await, 201, "the other hook still posts");
    run_ok(app.dir(), &["bot", "revoke", "deploys"]);
    assert_eq!(post(second).await, 404, "a hook of a revoked bot");

    let refused = chat(app.dir(), &["hook", "add", "--bot", "deploys", "--room", "alerts"], "");
    assert!(!refused.status.success() && stderr(&refused).contains("no live bot"), "{}", stderr(&refused));
    add_bot(app.dir(), "ci-bot", "alerts");
    let elsewhere = chat(app.dir(), &["hook", "add", "--bot", "ci-bot", "--room", "lobby"], "");
    assert!(stderr(&elsewhere).contains("ci-bot may not post in #lobby"), "{}", stderr(&elsewhere));
}

#[tokio::test]
async fn a_webhook_is_rate_limited_per_hook() {
    let app = spawn_server_with(|f| {
        f.merge(("rate_limits", true)).merge(("hook_post_burst", 2)).merge(("hook_posts_per_sec", 1))
    })
    .await;
    add_bot(app.dir(), "deploys", "alerts");
    let first = add_hook(app.dir(), "deploys", "alerts");
    let second = add_hook(app.dir(), "deploys", "alerts");
    let post = |path: &str| {
        let path = path.to_owned();
        let mut browser = app.browser();
        async move {
            let body = json!({ "text": "tick" }).to_string();
            browser.send("POST", &path, &[], Some(("application/json", body))).await
        }
    };
    assert_eq!(post(&first).await.status, 201);
    assert_eq!(post(&first).await.status, 201);
    let refused = post(&first).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.header("Retry-After").is_some());
    assert_eq!(post(&second).await.status, 201, "each hook has its own bucket");
}
