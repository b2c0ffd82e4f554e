//! What bounds an upload: `upload_max_bytes` (checked as the body streams
//! in), the per-account quota, guests, the post rate, decompression bombs,
//! and the cross-site checks every POST gets.

use std::path::Path;
use std::time::{Duration, Instant};

use rocket::http::{ContentType, Header, Status};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{multipart, multipart_type, png, posted, upload};
use crate::helpers::{spawn_app_with, spawn_server_with, within};

const MIB: usize = 1024 * 1024;

/// The files an app has left in its uploads' temporary directory.
fn temporary_files(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join("files").join("tmp")).map_or(0, |dir| dir.count())
}

async fn reason(response: rocket::local::asynchronous::LocalResponse<'_>) -> (Status, String) {
    let status = response.status();
    (status, response.into_json::<Value>().await.unwrap()["error"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_upload_max_bytes_is_413_with_the_reason_and_nothing_is_kept() {
    let app = spawn_app_with(|f| f.merge(("guest_uploads", true)).merge(("upload_max_bytes", MIB))).await;
    let exactly = vec![b'x'; MIB];
    posted(&app, "r", ("max.bin", "application/octet-stream", &exactly)).await;
    let over = vec![b'x'; MIB + 1];
    let (status, why) =
        reason(upload(&app, "r", &[], Some(("big.bin", "application/octet-stream", &over))).await).await;
    assert_eq!(status, Status::PayloadTooLarge);
    assert_eq!(why, "the file is larger than the limit of 1 MiB (upload_max_bytes)");
    assert_eq!(temporary_files(app.dir.path()), 0, "the part received is gone");
    assert_eq!(app.history_ids("r", "").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_far_over_the_limit_is_refused_without_being_read() {
    let app = spawn_server_with(|f| f.merge(("upload_max_bytes", MIB))).await;
    let mut alice = app.member("alice").await;
    let token = alice.csrf_token().await;
    let head = |length: &str| {
        format!(
            "POST /rooms/r/attachments HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nX-CSRF-Token: {token}\r\n\
             Content-Type: {}\r\n{length}\r\n",
            app.addr,
            alice.cookie_header(),
            multipart_type()
        )
    };

    // 50 MB declared: refused on the head and the first bytes (Rocket
    // peeks at a few before routing), the rest never sent.
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    socket.write_all(head("Content-Length: 52428800\r\n").as_bytes()).await.unwrap();
    socket.write_all(&multipart(&[], Some(("huge.bin", "application/octet-stream", &[b'x'; 4096])))).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = within(5, "an answer to the head", socket.read(&mut answer)).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 413"), "{}", String::from_utf8_lossy(&answer[..n]));

    // 50 MB sent without a declared length: refused once the file passes
    // 1 MiB, long before the sender is done (it is never read to its end).
    let socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (mut reader, mut writer) = socket.into_split();
    writer.write_all(head("Transfer-Encoding: chunked\r\n").as_bytes()).await.unwrap();
    let (sent_tx, mut sent_rx) = tokio::sync::watch::channel(0usize);
    let sender = tokio::spawn(async move {
        let mut body = multipart(&[], Some(("huge.bin", "application/octet-stream", b"")));
        // Without its closing boundary: the file part stays open.
        let end = body.windows(4).rposition(|w| w == b"\r\n--").unwrap();
        body.truncate(end);
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        let frame =
            |bytes: &[u8]| [format!("{:x}\r\n", bytes.len()).into_bytes(), bytes.to_vec(), b"\r\n".to_vec()].concat();
        if writer.write_all(&frame(&body)).await.is_err() {
            return;
        }
        while sent < 50 * MIB {
            if writer.write_all(&frame(&chunk)).await.is_err() {
                return; // the server stopped reading and closed
            }
            sent += chunk.len();
            let _ = sent_tx.send(sent);
        }
    });
    let started = Instant::now();
    let mut answer = vec![0u8; 4096];
    let n = within(20, "the refusal", reader.read(&mut answer)).await.unwrap();
    let sent_when_refused = *sent_rx.borrow_and_update();
    assert!(answer[..n].starts_with(b"HTTP/1.1 413"), "{}", String::from_utf8_lossy(&answer[..n]));
    assert!(sent_when_refused < 20 * MIB, "refused after {sent_when_refused} bytes of 50 MiB");
    sender.abort();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(temporary_files(app.dir()), 0, "nothing of it is kept");
    assert_eq!(alice.get("/rooms/r/messages").await.json(), json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_quota_is_413_with_the_reason_until_a_message_with_files_is_deleted() {
    let app = spawn_app_with(|f| f.merge(("upload_quota_bytes", 1000))).await;
    app.register("alice", "correct horse battery").await;
    let file = vec![b'a'; 600];
    let first = posted(&app, "r", ("a.txt", "text/plain", &file)).await;
    let (status, why) = reason(upload(&app, "r", &[], Some(("b.txt", "text/plain", &file))).await).await;
    assert_eq!(status, Status::PayloadTooLarge);
    assert_eq!(why, "your files fill your quota of 1000 bytes: delete messages with files to make room");
    posted(&app, "r", ("small.txt", "text/plain", &file[..400])).await;
    let (status, _) = reason(upload(&app, "r", &[], Some(("one.txt", "text/plain", b"1"))).await).await;
    assert_eq!(status, Status::PayloadTooLarge, "full is refused before the body is read");

    let delete = app.client.post(format!("/rooms/r/messages/{}/delete", first["id"])).header(ContentType::JSON);
    assert_eq!(delete.body("{}").dispatch().await.status(), Status::Ok);
    posted(&app, "r", ("again.txt", "text/plain", &file)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_may_not_upload_unless_guest_uploads_is_on() {
    let file = ("a.png", "image/png", &png(2, 2)[..]);
    let app = spawn_app_with(|f| f).await;
    let (status, why) = reason(upload(&app, "r", &[], Some(file)).await).await;
    assert_eq!((status, why.as_str()), (Status::Forbidden, "guests may not attach files here: log in or register"));
    assert_eq!(temporary_files(app.dir.path()), 0);
    app.register("alice", "correct horse battery").await;
    assert_eq!(upload(&app, "r", &[], Some(file)).await.status(), Status::Created, "members may");

    let open = spawn_app_with(|f| f.merge(("guest_uploads", true))).await;
    assert_eq!(upload(&open, "r", &[], Some(file)).await.status(), Status::Created);
    let closed = spawn_app_with(|f| f.merge(("guest_uploads", true)).merge(("allow_guests", false))).await;
    assert_eq!(
        upload(&closed, "r", &[], Some(file)).await.status(),
        Status::Unauthorized,
        "nor where guests may not post"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decompression_bomb_is_refused_with_422_and_nothing_is_kept() {
    let app = spawn_app_with(|f| f.merge(("guest_uploads", true))).await;
    // 467 bytes whose header claims 100000 × 100000 pixels (ten gigapixels).
    let bomb = include_bytes!("../../fixtures/bomb-100000x100000.png");
    let started = Instant::now();
    let (status, why) = reason(upload(&app, "r", &[], Some(("bomb.png", "image/png", bomb))).await).await;
    assert_eq!((status, why.as_str()), (Status::UnprocessableEntity, "the image is larger than 40 megapixels"));
    assert!(started.elapsed() < Duration::from_secs(2), "refused before decoding: {:?}", started.elapsed());
    let stored: Vec<_> = walk(&app.dir.path().join("files"));
    assert!(stored.is_empty(), "{stored:?}");
    assert!(app.history_ids("r", "").await.is_empty());
    let damaged = b"\x89PNG\r\n\x1a\n and then not a PNG at all";
    let (status, _) = reason(upload(&app, "r", &[], Some(("x.png", "image/png", damaged))).await).await;
    assert_eq!(status, Status::UnprocessableEntity);
}

/// Every file under `dir`.
pub fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { found.extend(walk(&path)) } else { found.push(path) }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_draw_on_the_post_rate_limit() {
    let app = spawn_app_with(|f| {
        f.merge(("rate_limits", true))
            .merge(("posts_per_sec", 1))
            .merge(("post_burst", 2))
            .merge(("guest_uploads", true))
    })
    .await;
    app.register("alice", "correct horse battery").await;
    app.say("r", "one").await;
    posted(&app, "r", ("a.txt", "text/plain", b"two")).await;
    let response = upload(&app, "r", &[], Some(("b.txt", "text/plain", b"three"))).await;
    assert_eq!(response.status(), Status::TooManyRequests);
    assert!(response.headers().get_one("Retry-After").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_origin_upload_is_refused_and_so_is_one_without_the_token() {
    let app = spawn_app_with(|f| f.merge(("guest_uploads", true))).await;
    let body = multipart(&[], Some(("a.txt", "text/plain", b"hi")));
    let token = app.csrf().await;
    let post = || {
        app.client
            .post("/rooms/r/attachments")
            .header(ContentType::parse_flexible(&multipart_type()).unwrap())
            .body(body.clone())
    };
    let foreign = post()
        .header(Header::new("X-CSRF-Token", token.clone()))
        .header(Header::new("Origin", "https://evil.example"))
        .header(Header::new("Host", "chat.example"));
    assert_eq!(foreign.dispatch().await.status(), Status::Forbidden);
    let cross_site =
        post().header(Header::new("X-CSRF-Token", token)).header(Header::new("Sec-Fetch-Site", "cross-site"));
    assert_eq!(cross_site.dispatch().await.status(), Status::Forbidden);
    // A form on another site can post multipart with no preflight: without
    // this browser's token it is refused before its body is read.
    assert_eq!(post().dispatch().await.status(), Status::Forbidden);
    assert_eq!(post().header(Header::new("X-CSRF-Token", "forged")).dispatch().await.status(), Status::Forbidden);
    assert!(app.history_ids("r", "").await.is_empty());
    assert!(walk(&app.dir.path().join("files")).is_empty());
}
