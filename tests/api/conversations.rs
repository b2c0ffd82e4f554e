//! Replies, edits (with their versions) and reactions: who may make each,
//! what each refuses and why, and what the message JSON then carries.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{LiveApp, spawn_server, spawn_server_with, spawn_server_with_clock};
use crate::http::Browser;

async fn make(app: &LiveApp, name: &str, role: &str) {
    let mut db = crate::helpers::connect_db(app.dir()).await;
    sqlx::query("UPDATE users SET role = $1 WHERE name = $2").bind(role).bind(name).execute(&mut db).await.unwrap();
}

async fn call(browser: &mut Browser, path: &str, body: Value) -> (u16, Value) {
    let response = browser.post_json(path, &body).await;
    (response.status, serde_json::from_str(&response.body).unwrap_or(Value::Null))
}

async fn get(browser: &mut Browser, path: &str) -> (u16, Value) {
    let response = browser.get(path).await;
    (response.status, serde_json::from_str(&response.body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_quotes_the_start_of_its_original_until_that_is_deleted() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let long = "x".repeat(300);
    let original = alice.say("r", &long).await;
    let (status, reply) =
        call(&mut alice, "/rooms/r/messages", json!({ "text": "agreed", "reply_to": original })).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(
        reply["reply_to"],
        json!({ "id": original, "user": "alice", "display": "alice", "text": "x".repeat(200) })
    );

    let elsewhere = alice.say("other", "in another room").await;
    for bad in [json!(elsewhere + 100), json!("1"), json!(-1)] {
        let (status, body) = call(&mut alice, "/rooms/r/messages", json!({ "text": "hm", "reply_to": bad })).await;
        assert_eq!(status, 422, "reply_to {bad}: {body}");
        assert!(body["error"].as_str().unwrap().contains("reply_to"), "{body}");
    }

    let (status, _) = call(&mut alice, &format!("/rooms/r/messages/{original}/delete"), json!({})).await;
    assert_eq!(status, 200);
    let history = alice.get("/rooms/r/messages").await.json();
    let quoted = history.as_array().unwrap().iter().find(|m| m["reply_to"].is_object()).unwrap();
    assert_eq!(quoted["reply_to"], json!({ "id": original, "user": "alice", "display": "alice", "text": null }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_author_edits_within_the_window_and_the_versions_stay_for_moderation() {
    let clock = chat::Clock::manual();
    let app = spawn_server_with_clock(clock.clone(), |f| f.merge(("edit_window_secs", 600))).await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut moderator = app.member("mod").await;
    make(&app, "mod", "moderator").await;
    let id = alice.say("r", "the frist draft").await;
    let edit = format!("/rooms/r/messages/{id}/edit");

    let (status, edited) = call(&mut alice, &edit, json!({ "text": "the first draft" })).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!((edited["id"].as_i64(), edited["text"].as_str()), (Some(id), Some("the first draft")));
    assert!(edited["edited_at"].is_string(), "{edited}");
    assert_eq!(call(&mut bob, &edit, json!({ "text": "hijacked" })).await.0, 403);
    assert_eq!(call(&mut alice, &edit, json!({ "text": "  " })).await.0, 422);
    assert_eq!(call(&mut alice, &edit, json!({ "text": "y".repeat(2001) })).await.0, 422);
    assert_eq!(call(&mut alice, &edit, json!({ "nope": 1 })).await.0, 422);
    assert_eq!(call(&mut alice, "/rooms/r/messages/999/edit", json!({ "text": "x" })).await.0, 404);

    let versions = format!("/rooms/r/messages/{id}/versions");
    for reader in [&mut alice, &mut moderator] {
        let (status, body) = get(reader, &versions).await;
        assert_eq!(status, 200, "{body}");
        let texts: Vec<&str> =
            body["versions"].as_array().unwrap().iter().map(|v| v["text"].as_str().unwrap()).collect();
        assert_eq!(texts, ["the frist draft", "the first draft"]);
        assert!(body["versions"][0]["at"].is_string());
    }
    assert_eq!(get(&mut bob, &versions).await.0, 403);

    clock.advance(Duration::from_secs(601));
    let (status, late) = call(&mut alice, &edit, json!({ "text": "too late" })).await;
    assert_eq!(status, 403, "{late}");
    assert!(late["error"].as_str().unwrap().contains("600 s"), "{late}");

    let (status, _) = call(&mut moderator, &format!("/rooms/r/messages/{id}/delete"), json!({})).await;
    assert_eq!(status, 200);
    clock.advance(Duration::from_secs(0));
    assert_eq!(call(&mut alice, &edit, json!({ "text": "after deletion" })).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_toggle_count_and_name_who_reacted() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut guest = app.browser();
    let id = alice.say("r", "lunch?").await;
    let react = format!("/rooms/r/messages/{id}/reactions");

    assert_eq!(call(&mut alice, &react, json!({ "emoji": "👍", "on": true })).await.0, 200);
    assert_eq!(call(&mut bob, &react, json!({ "emoji": "👍", "on": true })).await.0, 200);
    let (status, body) = call(&mut guest, &react, json!({ "emoji": "🎉", "on": true })).await;
    assert_eq!(status, 200, "guests react where they may post: {body}");
    let (_, again) = call(&mut bob, &react, json!({ "emoji": "👍", "on": true })).await;
    assert_eq!(again["reactions"][0], json!({ "emoji": "👍", "count": 2, "users": ["alice", "bob"] }), "idempotent");

    let (status, body) = call(&mut alice, &react, json!({ "emoji": "👍", "on": false })).await;
    assert_eq!(status, 200);
    assert_eq!(body["reactions"][0], json!({ "emoji": "👍", "count": 1, "users": ["bob"] }));
    let message = &alice.get("/rooms/r/messages").await.json()[0];
    assert_eq!(message["reactions"], body["reactions"], "the message carries them");

    for bad in [json!("x"), json!("👍👍"), json!(""), json!(1)] {
        let (status, body) = call(&mut alice, &react, json!({ "emoji": bad, "on": true })).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    assert_eq!(call(&mut alice, "/rooms/r/messages/999/reactions", json!({ "emoji": "👍" })).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_carries_at_most_twenty_different_reactions() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let id = alice.say("r", "react to me").await;
    let react = format!("/rooms/r/messages/{id}/reactions");
    let faces: Vec<String> = ('😀'..='😶').map(String::from).take(21).collect();
    for face in &faces[..20] {
        assert_eq!(call(&mut alice, &react, json!({ "emoji": face })).await.0, 200, "{face}");
    }
    let (status, body) = call(&mut alice, &react, json!({ "emoji": faces[20] })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("20"), "{body}");
    assert_eq!(call(&mut alice, &react, json!({ "emoji": faces[0], "on": false })).await.0, 200, "taking one back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muted_people_and_guests_where_guests_may_not_post_cannot_react() {
    let app = spawn_server_with(|f| f.merge(("allow_guests", false))).await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut moderator = app.member("mod").await;
    make(&app, "mod", "moderator").await;
    let id = alice.say("r", "quiet please").await;
    let react = format!("/rooms/r/messages/{id}/reactions");
    let (status, _) = call(&mut moderator, "/rooms/r/mute", json!({ "user": "bob", "minutes": 5 })).await;
    assert_eq!(status, 200);
    assert_eq!(call(&mut bob, &react, json!({ "emoji": "👍" })).await.0, 403);
    assert_eq!(call(&mut app.browser(), &react, json!({ "emoji": "👍" })).await.0, 401);
}
