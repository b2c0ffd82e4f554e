//! Floods: post rates, body sizes, open-stream caps, and the master switch.

use std::time::Duration;

use rocket::http::Status;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, spawn_server, spawn_server_with};

fn limited(figment: rocket::figment::Figment) -> rocket::figment::Figment {
    figment.merge(("rate_limits", true))
}

#[rocket::async_test]
async fn a_member_posts_a_burst_of_10_then_gets_429_with_retry_after() {
    // The default burst at a slower refill: ten durable posts on a busy
    // machine can take longer than the default rate's 200 ms per token.
    let app = spawn_app_with(|f| limited(f).merge(("posts_per_sec", 1))).await;
    app.register("alice", "correct horse battery").await;
    for i in 0..10 {
        assert_eq!(app.post_json("lobby", r#"{"text":"hi"}"#).await.status(), Status::Created, "post {i}");
    }
    let refused = app.post_json("lobby", r#"{"text":"hi"}"#).await;
    assert_eq!(refused.status(), Status::TooManyRequests);
    assert_eq!(refused.headers().get_one("Retry-After"), Some("1"));
    assert_eq!(app.history_ids("lobby", "limit=200").await.len(), 10, "the refused post is not stored");
}

#[rocket::async_test]
async fn guests_are_held_to_a_stricter_rate() {
    let app = spawn_app_with(limited).await;
    for _ in 0..5 {
        assert_eq!(app.post_json("lobby", r#"{"text":"hi"}"#).await.status(), Status::Created);
    }
    assert_eq!(app.post_json("lobby", r#"{"text":"hi"}"#).await.status(), Status::TooManyRequests);
}

#[rocket::async_test]
async fn a_rate_limited_form_post_is_429_too() {
    let app = spawn_app_with(|f| limited(f).merge(("guest_post_burst", 1))).await;
    assert_eq!(app.post_form("/rooms/lobby/messages", &[("text", "one")]).await.status(), Status::SeeOther);
    let refused = app.post_form("/rooms/lobby/messages", &[("text", "two")]).await;
    assert_eq!(refused.status(), Status::TooManyRequests);
    assert!(refused.headers().get_one("Retry-After").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_are_limited_per_address_across_guests() {
    let app = spawn_server_with(|f| limited(f).merge(("ip_posts_per_sec", 1)).merge(("ip_post_burst", 3))).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        // A new browser each time: a fresh guest name, the same address.
        let mut browser = app.browser();
        let response = browser.post_json("/rooms/lobby/messages", &json!({ "text": "hi" })).await;
        statuses.push(response.status);
    }
    assert_eq!(statuses, [201, 201, 201, 429]);
}

#[rocket::async_test]
async fn bodies_over_64_kib_are_413_and_the_longest_message_fits_even_through_the_form() {
    let app = spawn_app().await;
    let over = json!({ "text": "x".repeat(65 * 1024) }).to_string();
    assert_eq!(app.post_json("lobby", &over).await.status(), Status::PayloadTooLarge);
    let over_form = app.post_form("/rooms/lobby/messages", &[("text", &"x".repeat(65 * 1024))]).await;
    assert_eq!(over_form.status(), Status::PayloadTooLarge);
    assert!(app.history_ids("lobby", "").await.is_empty());
    let longest = json!({ "text": "😀".repeat(2000) }).to_string();
    assert_eq!(app.post_json("lobby", &longest).await.status(), Status::Created, "2000 four-byte characters fit");
    // The form percent-encodes each of those characters as 12 bytes: 24 KB.
    let longest_form = app.post_form("/rooms/lobby/messages", &[("text", &"😀".repeat(2000))]).await;
    assert_eq!(longest_form.status(), Status::SeeOther, "the longest message fits through the form too");
    assert_eq!(app.history_ids("lobby", "").await, [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_are_capped_per_browser_and_per_address() {
    // A closed connection is noticed at the next write: heartbeats every second.
    let app = spawn_server_with(|f| {
        limited(f).merge(("streams_per_session", 2)).merge(("streams_per_ip", 3)).merge(("heartbeat_secs", 1))
    })
    .await;
    let mut alice = app.browser();
    alice.get("/").await; // a guest name, so the per-browser cap applies
    let first = alice.events("/rooms/a/events", &[]).await;
    let _second = alice.events("/rooms/b/events", &[]).await;
    let third = alice.send("GET", "/rooms/c/events", &[], None).await;
    assert_eq!(third.status, 429);
    assert!(third.header("Retry-After").is_some());
    let _other = app.browser().events("/rooms/a/events", &[]).await;
    let over_address = app.browser().send("GET", "/rooms/a/events", &[], None).await;
    assert_eq!(over_address.status, 429, "the address is at its cap");
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        let stream = alice.events("/rooms/c/events", &[]).await;
        if stream.status == 200 {
            reopened = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "closing a stream frees its slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_false_turns_every_limit_off() {
    let app = spawn_server().await;
    let mut browser = app.browser();
    for i in 0..30 {
        browser.say("lobby", &format!("m{i}")).await;
    }
    let mut streams = Vec::new();
    for _ in 0..20 {
        let stream = browser.events("/rooms/lobby/events", &[]).await;
        assert_eq!(stream.status, 200);
        streams.push(stream);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_posters_all_succeed_without_busy_errors() {
    let app = spawn_server().await;
    let posters: Vec<_> = (0..50)
        .map(|p| {
            let mut browser = app.browser();
            tokio::spawn(async move {
                for i in 0..10 {
                    browser.say("busy", &format!("p{p} m{i}")).await;
                }
            })
        })
        .collect();
    for poster in posters {
        poster.await.expect("every post answered 201");
    }
    let mut reader = app.browser();
    let history = reader.get("/rooms/busy/messages?after=490").await.json();
    assert_eq!(history.as_array().unwrap().len(), 10, "500 messages, ids 1..=500");
}
