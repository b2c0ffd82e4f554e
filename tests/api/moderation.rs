//! Moderation: who may do what, tombstones, mutes, kicks, bans, locks,
//! members-only rooms, and the audit log.

use std::time::Duration;

use rocket::futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{LiveApp, spawn_server};
use crate::http::Browser;

const PASSWORD: &str = "correct horse battery";

async fn with_role(app: &LiveApp, name: &str, role: &str) -> Browser {
    let browser = app.member(name).await;
    let mut db = crate::helpers::connect_db(app.dir()).await;
    sqlx::query("UPDATE users SET role = $1 WHERE name = $2").bind(role).bind(name).execute(&mut db).await.unwrap();
    browser
}

async fn act(browser: &mut Browser, path: &str, body: Value) -> (u16, Value) {
    let response = browser.post_json(path, &body).await;
    let value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authors_delete_their_own_and_moderators_any_leaving_a_tombstone() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut moderator = with_role(&app, "mod", "moderator").await;
    let first = alice.say("r", "oops, a typo").await;
    let second = alice.say("r", "something rude").await;

    assert_eq!(act(&mut bob, &format!("/rooms/r/messages/{first}/delete"), json!({})).await.0, 403);
    assert_eq!(act(&mut alice, &format!("/rooms/r/messages/{first}/delete"), json!({})).await.0, 200);
    assert_eq!(act(&mut moderator, &format!("/rooms/r/messages/{second}/delete"), json!({})).await.0, 200);
    assert_eq!(act(&mut moderator, "/rooms/r/messages/999/delete", json!({})).await.0, 404);

    let history = bob.get("/rooms/r/messages").await.json();
    for (message, by) in history.as_array().unwrap().iter().zip(["alice", "mod"]) {
        assert_eq!(message["text"], "", "the old text is gone");
        assert_eq!(message["deleted"]["by"], by);
        assert!(message["deleted"]["at"].is_string());
    }
    let mut replay = bob.events("/rooms/r/events", &[("Last-Event-ID", "0")]).await;
    let replayed = replay.messages_until(second, Duration::from_secs(5)).await;
    assert!(replayed.iter().all(|m| m["text"] == "" && m["deleted"].is_object()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_reaches_open_sockets_at_once() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let id = alice.say("live", "delete me").await;
    let url = format!("ws://{}/rooms/live/ws", app.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(act(&mut alice, &format!("/rooms/live/messages/{id}/delete"), json!({})).await.0, 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next()).await.expect("a delete frame").unwrap().unwrap();
        if let Message::Text(text) = frame {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "delete" {
                assert_eq!(value, json!({ "type": "delete", "room": "live", "id": id, "seq": id + 1 }));
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_user_gets_403_with_a_reason_in_that_room_only() {
    let app = spawn_server().await;
    let mut moderator = with_role(&app, "mod", "moderator").await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    assert_eq!(
        act(&mut bob, "/rooms/r/mute", json!({ "user": "alice", "minutes": 10 })).await.0,
        403,
        "members can't mute"
    );
    assert_eq!(act(&mut moderator, "/rooms/r/mute", json!({ "user": "alice", "minutes": 10 })).await.0, 200);
    let (status, body) = act(&mut alice, "/rooms/r/messages", json!({ "text": "hello?" })).await;
    assert_eq!(status, 403);
    assert!(body["error"].as_str().unwrap().contains("muted in #r"), "{body}");
    assert_eq!(act(&mut alice, "/rooms/elsewhere/messages", json!({ "text": "hi" })).await.0, 201);
    assert_eq!(act(&mut moderator, "/rooms/r/mute", json!({ "user": "alice", "minutes": 0 })).await.0, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_ends_the_users_streams_and_reconnects_get_204() {
    let app = spawn_server().await;
    let mut moderator = with_role(&app, "mod", "moderator").await;
    let mut alice = app.member("alice").await;
    let mut stream = alice.events("/rooms/k/events", &[]).await;
    stream.next_event_within(Duration::from_secs(5)).await.unwrap();
    let url = format!("ws://{}/rooms/k/ws", app.addr);
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request.headers_mut().insert("Cookie", alice.cookie_header().parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request.clone()).await.unwrap();
    assert_eq!(act(&mut moderator, "/rooms/k/kick", json!({ "user": "alice" })).await.0, 200);
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(frame)) = socket.next().await {
            if let Message::Close(close) = frame {
                return close.map(|c| u16::from(c.code));
            }
        }
        None
    });
    let code = closed.await.expect("the socket ends");
    assert_eq!(code, Some(4403), "a close code that tells the page not to reconnect");
    let sse_closed =
        tokio::time::timeout(Duration::from_secs(5), async { while stream.next_event().await.is_some() {} });
    sse_closed.await.expect("the event stream ends");
    let again = alice.send("GET", "/rooms/k/events", &[], None).await;
    assert_eq!(again.status, 204, "EventSource stops on 204");
    assert!(tokio_tungstenite::connect_async(request).await.is_err(), "no new socket either");
    assert_eq!(alice.events("/rooms/other/events", &[]).await.status, 200, "other rooms are fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_revokes_sessions_refuses_login_generically_and_covers_guest_names() {
    let app = spawn_server().await;
    let mut moderator = with_role(&app, "mod", "moderator").await;
    let mut alice = app.member("alice").await;
    assert_eq!(act(&mut moderator, "/admin/ban", json!({ "user": "alice" })).await.0, 200);
    assert_eq!(alice.get("/api/me").await.json()["guest"], true, "the session is revoked");
    let mut fresh = app.browser();
    let refused = fresh.post_form("/login", &[("username", "alice"), ("password", PASSWORD)]).await;
    let wrong = app.browser().post_form("/login", &[("username", "alice"), ("password", "not the password")]).await;
    assert_eq!(refused.status, 401);
    assert_eq!(wrong.status, 401);
    let strip_token = |body: &str| body.split(r#"name="csrf""#).next().unwrap_or_default().to_owned();
    assert_eq!(strip_token(&refused.body), strip_token(&wrong.body), "the same generic failure");

    let mut guest = app.browser();
    let guest_name = guest.get("/api/me").await.json()["user"].as_str().unwrap().to_owned();
    assert_eq!(act(&mut moderator, "/admin/ban", json!({ "user": guest_name })).await.0, 200);
    assert_eq!(act(&mut guest, "/rooms/lobby/messages", json!({ "text": "hi" })).await.0, 403);
    assert_eq!(act(&mut moderator, "/admin/ban", json!({ "user": guest_name, "banned": false })).await.0, 200);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(act(&mut guest, "/rooms/lobby/messages", json!({ "text": "hi again" })).await.0, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_room_is_read_only_except_for_moderators() {
    let app = spawn_server().await;
    let mut moderator = with_role(&app, "mod", "moderator").await;
    let mut alice = app.member("alice").await;
    assert_eq!(act(&mut alice, "/rooms/news/lock", json!({ "locked": true })).await.0, 403);
    assert_eq!(act(&mut moderator, "/rooms/news/lock", json!({ "locked": true })).await.0, 200);
    let (status, body) = act(&mut alice, "/rooms/news/messages", json!({ "text": "hi" })).await;
    assert_eq!(status, 403);
    assert!(body["error"].as_str().unwrap().contains("locked"));
    assert_eq!(act(&mut moderator, "/rooms/news/messages", json!({ "text": "announcement" })).await.0, 201);
    assert_eq!(alice.get("/rooms/news/messages").await.status, 200, "still readable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_only_room_leaks_nothing_to_outsiders() {
    let app = spawn_server().await;
    let mut moderator = with_role(&app, "mod", "moderator").await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut guest = app.browser();
    moderator.say("staff", "before the change").await;
    // Bob is watching before the room closes: his socket must end.
    let url = format!("ws://{}/rooms/staff/ws", app.addr);
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request.headers_mut().insert("Cookie", bob.cookie_header().parse().unwrap());
    let (mut bobs_socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    let (status, _) =
        act(&mut moderator, "/rooms/staff/members-only", json!({ "enabled": true, "add": ["alice"] })).await;
    assert_eq!(status, 200);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(frame)) = bobs_socket.next().await {
            if let Message::Text(text) = &frame {
                assert!(!text.contains("secret"), "no event reaches an outsider");
            }
            if frame.is_close() {
                break;
            }
        }
    });
    ended.await.expect("an outsider's socket ends");
    moderator.say("staff", "secret plans").await;

    for outsider in [&mut bob, &mut guest] {
        assert_eq!(outsider.get("/rooms/staff").await.status, 404);
        assert_eq!(outsider.get("/rooms/staff/messages").await.status, 404);
        assert_eq!(outsider.get("/rooms/staff/messages?after=0&wait=1").await.status, 404);
        assert_eq!(outsider.send("GET", "/rooms/staff/events", &[], None).await.status, 404);
        assert_eq!(act(outsider, "/rooms/staff/messages", json!({ "text": "let me in" })).await.0, 404);
        assert!(!outsider.get("/").await.body.contains("/rooms/staff"), "not even listed");
    }
    assert_eq!(alice.get("/rooms/staff/messages").await.json().as_array().unwrap().len(), 2);
    assert_eq!(act(&mut alice, "/rooms/staff/messages", json!({ "text": "a member speaks" })).await.0, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_grant_moderator_and_read_the_audit_log() {
    let app = spawn_server().await;
    let mut admin = with_role(&app, "boss", "admin").await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    assert_eq!(act(&mut alice, "/admin/role", json!({ "user": "bob", "role": "moderator" })).await.0, 403);
    assert_eq!(act(&mut bob, "/rooms/r/lock", json!({ "locked": true })).await.0, 403);
    assert_eq!(act(&mut admin, "/admin/role", json!({ "user": "bob", "role": "moderator" })).await.0, 200);
    assert_eq!(act(&mut bob, "/rooms/r/lock", json!({ "locked": true })).await.0, 200);
    assert_eq!(act(&mut admin, "/admin/role", json!({ "user": "bob", "role": "member" })).await.0, 200);
    assert_eq!(act(&mut bob, "/rooms/r/lock", json!({ "locked": false })).await.0, 403, "revoked");
    assert_eq!(act(&mut admin, "/admin/role", json!({ "user": "bob", "role": "overlord" })).await.0, 422);

    assert_eq!(alice.get("/admin/audit").await.status, 403);
    let log = admin.get("/admin/audit").await.json();
    let actions: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["set-role", "lock", "set-role"], "newest first");
    let page = admin.send("GET", "/admin/audit", &[("Accept", "text/html")], None).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("set-role") && page.body.contains("bob"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_account_removes_its_memberships_and_mutes_so_the_next_owner_of_the_name_inherits_none() {
    let app = spawn_server().await;
    let mut moderator = with_role(&app, "mod", "moderator").await;
    let mut alice = app.member("alice").await;
    let (status, _) =
        act(&mut moderator, "/rooms/staff/members-only", json!({ "enabled": true, "add": ["alice"] })).await;
    assert_eq!(status, 200);
    assert_eq!(act(&mut moderator, "/rooms/r/mute", json!({ "user": "alice", "minutes": 10 })).await.0, 200);
    moderator.say("staff", "staff only").await;
    assert_eq!(alice.get("/rooms/staff/messages").await.status, 200, "a member of the room reads it");
    assert_eq!(act(&mut alice, "/rooms/r/messages", json!({ "text": "hi" })).await.0, 403, "and is muted");

    let deleted = alice.post_form("/account/delete", &[("password", PASSWORD)]).await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    let mut db = crate::helpers::connect_db(app.dir()).await;
    for table in ["room_members", "mutes"] {
        let left: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE name = 'alice'"))
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert_eq!(left, 0, "{table} keeps nothing of the deleted account");
    }

    // Within the policy cache's lifetime, and with the name's case changed.
    let mut next_owner = app.member("Alice").await;
    assert_eq!(next_owner.get("/rooms/staff/messages").await.status, 404, "no inherited membership");
    assert_eq!(act(&mut next_owner, "/rooms/r/messages", json!({ "text": "hello" })).await.0, 201, "no mute");
}
