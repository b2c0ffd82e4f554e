//! Clients that stop reading: a stream whose client has taken nothing for
//! `stream_stall_secs` is dropped, freeing its replay, slot and presence.

use std::time::Duration;

use rocket::futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{LiveApp, seed_messages, spawn_server_with, within};

fn stalling(figment: rocket::figment::Figment) -> rocket::figment::Figment {
    figment.merge(("stream_stall_secs", 1)).merge(("metrics", true))
}

/// Waits until the server counts no open stream of `transport`.
async fn streams_close(app: &LiveApp, transport: &str) {
    let none = format!(r#"chat_streams_open{{transport="{transport}"}} 0"#);
    let mut metrics = app.browser();
    within(30, "the stalled stream is dropped", async {
        while !metrics.get("/metrics").await.body.contains(&none) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_client_that_stops_reading_is_dropped_after_the_stall_limit() {
    let app = spawn_server_with(stalling).await;
    let rooms: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
    let names: Vec<&str> = rooms.iter().map(String::as_str).collect();
    seed_messages(app.dir(), &names, 1000, 1).await;
    let cursor = rooms.iter().map(|room| format!("{room}:0")).collect::<Vec<_>>().join(",");
    let path = format!("/events?rooms={}", rooms.join(","));
    // 50,000 replayed events (each id a 50-room cursor: tens of MB), never
    // read: every buffer between the two fills, then the server waits.
    let unread = app.browser().events(&path, &[("Last-Event-ID", cursor.as_str())]).await;
    assert_eq!(unread.status, 200);
    streams_close(&app, "sse").await;
    drop(unread);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_that_stops_reading_is_dropped_after_the_stall_limit() {
    let app = spawn_server_with(stalling).await;
    seed_messages(app.dir(), &["w"], 1000, 1).await;
    // The longest messages: a replay of the room is some 2 MB.
    let mut db = crate::helpers::connect_db(app.dir()).await;
    sqlx::query("UPDATE messages SET text = $1").bind("x".repeat(2000)).execute(&mut db).await.unwrap();
    let url = format!("ws://{}/rooms/w/ws?after=0", app.addr);
    let (mut unread, _) = tokio_tungstenite::connect_async(url).await.expect("the handshake succeeds");
    // Each resume starts the replay again; nothing is ever read, so every
    // buffer between the two fills and the server's send waits.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let resume = json!({"type": "resume", "after": 0}).to_string();
        let sent = tokio::time::timeout(Duration::from_secs(5), unread.send(Message::Text(resume))).await;
        if !matches!(sent, Ok(Ok(()))) {
            break;
        }
    }
    streams_close(&app, "ws").await;
    drop(unread);
}
