//! What a WebSocket client may send: messages up to a size (1009 above),
//! text only (1003 for binary), and sends and resumes at the post rate.

use rocket::futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{LiveApp, spawn_server, spawn_server_with, within};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &LiveApp, room: &str) -> Socket {
    let url = format!("ws://{}/rooms/{room}/ws", app.addr);
    let (socket, response) = tokio_tungstenite::connect_async(url).await.expect("the handshake succeeds");
    assert_eq!(response.status(), 101);
    socket
}

/// The close code the server ends the socket with, skipping what comes
/// before it.
async fn close_code(socket: &mut Socket) -> Option<CloseCode> {
    within(10, "the server closes the socket", async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
}

/// The next `ack` or `error` frame.
async fn next_answer(socket: &mut Socket) -> Value {
    within(10, "an answer frame", async {
        loop {
            if let Message::Text(text) = socket.next().await.expect("open").expect("a frame") {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] == "ack" || value["type"] == "error" {
                    return value;
                }
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_16_kib_closes_the_socket_with_1009() {
    let app = spawn_server().await;
    let mut socket = connect(&app, "big").await;
    // Under the limit (if over the longest post): answered, the socket stays.
    let fits = json!({"type": "send", "text": "x".repeat(15 * 1024)}).to_string();
    socket.send(Message::Text(fits)).await.unwrap();
    assert_eq!(next_answer(&mut socket).await["code"], 422);
    let too_big = json!({"type": "send", "text": "x".repeat(16 * 1024)}).to_string();
    socket.send(Message::Text(too_big)).await.unwrap();
    assert_eq!(close_code(&mut socket).await, Some(CloseCode::Size));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_limit_is_a_setting() {
    let app = spawn_server_with(|f| f.merge(("ws_max_message_bytes", 100))).await;
    let mut socket = connect(&app, "small").await;
    socket.send(Message::Text(json!({"type": "send", "text": "x".repeat(100)}).to_string())).await.unwrap();
    assert_eq!(close_code(&mut socket).await, Some(CloseCode::Size));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_frame_closes_the_socket_with_1003() {
    let app = spawn_server().await;
    let mut socket = connect(&app, "binary").await;
    socket.send(Message::Binary(br#"{"type":"send","text":"hi"}"#.to_vec())).await.unwrap();
    assert_eq!(close_code(&mut socket).await, Some(CloseCode::Unsupported));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_and_sends_share_the_post_rate_limit() {
    let app = spawn_server_with(|f| f.merge(("rate_limits", true)).merge(("guest_post_burst", 3))).await;
    let mut socket = connect(&app, "replay").await;
    for _ in 0..3 {
        socket.send(Message::Text(json!({"type": "resume", "after": 0}).to_string())).await.unwrap();
    }
    socket.send(Message::Text(json!({"type": "resume", "after": 0}).to_string())).await.unwrap();
    let refused = next_answer(&mut socket).await;
    assert_eq!((refused["type"].as_str(), refused["code"].as_u64()), (Some("error"), Some(429)), "{refused}");
    socket.send(Message::Text(json!({"type": "send", "text": "hi"}).to_string())).await.unwrap();
    let refused = next_answer(&mut socket).await;
    assert_eq!(refused["code"], 429, "the resumes used the post budget: {refused}");
}
