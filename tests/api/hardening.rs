//! The second hardening round's edges that are not about one feature: no
//! HTTP/2 cleartext, a useful reason when Secure cookies never come back
//! over plain HTTP, and files only their owner can read.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use rocket::http::{ContentType, Header, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{spawn_app_with, spawn_server};

/// The client preface of HTTP/2 with prior knowledge (RFC 9113, 3.4).
const H2C_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_cleartext_with_prior_knowledge_is_not_spoken() {
    let app = spawn_server().await;
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    socket.write_all(H2C_PREFACE).await.unwrap();
    // An empty SETTINGS frame, as a real h2c client sends next.
    socket.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer)).await;
    // An HTTP/2 server answers with its own SETTINGS frame (type 4).
    let settings_frame = answer.len() >= 9 && answer[3] == 4;
    assert!(!settings_frame, "the server spoke HTTP/2: {answer:?}");
    assert!(answer.is_empty() || answer.starts_with(b"HTTP/1.1 4"), "{:?}", String::from_utf8_lossy(&answer));
}

#[rocket::async_test]
async fn a_form_without_cookies_over_plain_http_with_secure_cookies_says_https_is_expected() {
    let app = spawn_app_with(|f| f.merge(("secure_cookies", true))).await;
    let form = "username=alice&password=whatever+it+is&csrf=forged";
    let post = |proto: Option<&'static str>| {
        let mut request = app.client.post("/login").header(ContentType::Form).body(form);
        if let Some(proto) = proto {
            request = request.header(Header::new("X-Forwarded-Proto", proto));
        }
        request
    };
    let plain = post(None).dispatch().await;
    assert_eq!(plain.status(), Status::Forbidden);
    let body = plain.into_string().await.unwrap();
    assert!(body.contains("HTTPS") && body.contains("secure_cookies = false"), "{body}");

    let behind_tls = post(Some("https")).dispatch().await;
    assert_eq!(behind_tls.status(), Status::Forbidden);
    let body = behind_tls.into_string().await.unwrap();
    assert!(body.contains("the form has expired"), "over HTTPS the cause is elsewhere: {body}");
}

#[rocket::async_test]
async fn without_secure_cookies_a_form_without_a_token_gets_the_usual_reason() {
    let app = spawn_app_with(|f| f.merge(("secure_cookies", false))).await;
    let form = "username=alice&password=whatever+it+is&csrf=forged";
    let response = app.client.post("/login").header(ContentType::Form).body(form).dispatch().await;
    assert_eq!(response.status(), Status::Forbidden);
    assert!(response.into_string().await.unwrap().contains("the form has expired"));
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[test]
fn the_data_directory_and_database_files_are_the_owners_alone_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // `chat db migrate` opens the database as the server does.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("umask 000 && exec {} db migrate", env!("CARGO_BIN_EXE_chat")))
        .env("ROCKET_DATA_DIR", &data)
        .env_remove("ROCKET_DATABASE_URL")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(mode(&data), 0o700, "the data directory");
    assert_eq!(mode(&data.join("chat.db")), 0o600, "the database");
    assert_eq!(mode(&data.join("secret_key")), 0o600, "the key");
    for journal in ["chat.db-wal", "chat.db-shm"] {
        if data.join(journal).exists() {
            assert_eq!(mode(&data.join(journal)), 0o600, "{journal}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_key_file_others_can_read_is_warned_about_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("secret_key");
    std::fs::write(&key, base64_key()).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = crate::process::start(dir.path(), &[]).await;
    let log_path = server.log_path().to_owned();
    crate::process::stop(server).await;
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(log.contains("can be read by others"), "{log}");
}

/// 64 bytes, base64: a key as someone might have written it by hand.
fn base64_key() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([42u8; 64])
}
