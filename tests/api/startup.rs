//! The binary as a user starts it: from an empty directory with nothing but
//! its environment, with its security defaults; every way starting can
//! fail is one clear line and a non-zero exit; and it keeps serving when it
//! runs out of file descriptors.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rocket::futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::http::Browser;

const WAIT: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The binary in `cwd` with only `env` (and `PATH`): no `Rocket.toml`, no
/// inherited `ROCKET_*` variables.
fn binary(cwd: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chat"));
    command.current_dir(cwd).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    command.envs(env.iter().copied()).stdin(Stdio::null());
    command
}

/// Spawns `command` (its output to `log`) and waits until `addr` accepts.
async fn serving(mut command: Command, addr: SocketAddr, log: &Path) -> KillOnDrop {
    let out = std::fs::File::create(log).unwrap();
    let child = command.stdout(out.try_clone().unwrap()).stderr(out).spawn().expect("the binary starts");
    let child = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "not listening within 20 s: {}", std::fs::read_to_string(log).unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_page_and_live_messages_from_an_empty_directory_with_its_safe_defaults() {
    let empty = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let command = binary(empty.path(), &[("ROCKET_PORT", &port.to_string()), ("ROCKET_CLI_COLORS", "false")]);
    let _server = serving(command, addr, &logs.path().join("log")).await;

    let mut alice = Browser::new(addr);
    let page = alice.get("/").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/static/app.js"), "the built-in template renders");
    assert_eq!(page.header("Server"), None, "no Server header");
    for (file, kind) in [("app.js", "text/javascript"), ("app.css", "text/css")] {
        let asset = alice.get(&format!("/static/{file}")).await;
        assert_eq!(asset.status, 200, "{file} is built in");
        assert!(asset.header("Content-Type").unwrap().starts_with(kind), "{file}");
        let etag = asset.header("ETag").expect("a validator").to_owned();
        let again = alice.send("GET", &format!("/static/{file}"), &[("If-None-Match", &etag)], None).await;
        assert_eq!(again.status, 304, "{file} revalidates");
    }

    let big = json!({ "text": "x".repeat(65 * 1024) });
    assert_eq!(alice.post_json("/rooms/lobby/messages", &big).await.status, 413, "64 KiB bodies");

    let password = "correct horse";
    assert_eq!(alice.post_form("/register", &[("username", "alice"), ("password", password)]).await.status, 303);
    assert_eq!(alice.post_form("/logout", &[]).await.status, 303);
    let form = login_form(&mut alice, "alice", password).await;
    let spoofed = [("X-Real-IP", "10.9.9.9")];
    let logged_in = alice.send("POST", "/login", &spoofed, Some(("application/x-www-form-urlencoded", form))).await;
    assert_eq!(logged_in.status, 303, "{}", logged_in.body);
    let mut stream = Browser::new(addr).events("/rooms/lobby/events", &[]).await;
    assert_eq!(stream.status, 200);
    let id = alice.say("lobby", "hello from nowhere").await;
    let seen = stream.messages_until(id, WAIT).await;
    assert_eq!(seen.last().unwrap()["text"], "hello from nowhere");
    assert_eq!(seen.last().unwrap()["user"], "alice");

    let log = std::fs::read_to_string(logs.path().join("log")).unwrap();
    assert!(log.contains(r#"user "alice" from 127.0.0.1"#), "the socket's address, not X-Real-IP: {log}");
    assert!(!log.contains("10.9.9.9"), "a client-sent X-Real-IP is not trusted: {log}");
    assert!(empty.path().join("data/chat.db").exists(), "the database is under ./data");
}

/// A login form body with the CSRF token the form page gives.
async fn login_form(browser: &mut Browser, name: &str, password: &str) -> String {
    let page = browser.get("/login").await;
    let token = page.body.split(r#"name="csrf" value=""#).nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    crate::helpers::encode_form(&[("username", name), ("password", password), ("csrf", token)])
}

/// Runs the binary to its exit (it must exit within 60 s).
fn exit_of(cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut child = binary(cwd, env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the server kept running with {env:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Exactly one line on standard error, `chat: ...` with every `names`
/// in it; a non-zero exit; no panic, no backtrace anywhere.
fn assert_one_clear_line(output: &Output, names: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("chat: "), "{stderr}");
    for name in names {
        assert!(lines[0].contains(name), "{name:?} in {stderr}");
    }
    for text in [&stderr, &stdout] {
        assert!(!text.contains("panicked") && !text.contains("backtrace"), "{text}");
    }
}

#[test]
fn a_bad_setting_value_is_one_line_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    assert_one_clear_line(&exit_of(dir.path(), &[("ROCKET_PORT", "eighty")]), &["PORT", "eighty"]);
    assert_one_clear_line(&exit_of(dir.path(), &[("ROCKET_HEARTBEAT_SECS", "soon")]), &["HEARTBEAT_SECS"]);
    assert_one_clear_line(&exit_of(dir.path(), &[("ROCKET_ADDRESS", "not-an-ip")]), &["ADDRESS"]);
}

#[test]
fn an_unusable_data_directory_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("occupied"), "a file, not a directory").unwrap();
    let output = exit_of(dir.path(), &[("ROCKET_DATA_DIR", "occupied")]);
    assert_one_clear_line(&output, &["data directory", "occupied", "not a directory"]);
    let output = exit_of(dir.path(), &[("ROCKET_DATA_DIR", "/proc/chat-data")]);
    assert_one_clear_line(&output, &["data directory", "/proc/chat-data"]);
}

#[test]
fn a_database_that_cannot_be_opened_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    // Not writable even by root: /proc takes no new files.
    let output = exit_of(dir.path(), &[("ROCKET_PORT", &port), ("ROCKET_DATABASE_URL", "sqlite:///proc/chat.db")]);
    assert_one_clear_line(&output, &["database", "sqlite:///proc/chat.db"]);
    // Nothing listens on port 1; the password is not shown.
    let url = "postgres://chat:hunter2@127.0.0.1:1/chat";
    let output = exit_of(dir.path(), &[("ROCKET_PORT", &port), ("ROCKET_DATABASE_URL", url)]);
    assert_one_clear_line(&output, &["database", "postgres://chat:***@127.0.0.1:1/chat"]);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("hunter2"));
}

#[test]
fn a_taken_port_is_one_line_naming_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = exit_of(dir.path(), &[("ROCKET_PORT", &port)]);
    assert_one_clear_line(&output, &[&format!("127.0.0.1:{port}"), "in use"]);
}

#[test]
fn a_missing_template_or_static_directory_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    assert_one_clear_line(&exit_of(dir.path(), &[("ROCKET_STATIC_DIR", "nowhere")]), &["static_dir", "nowhere"]);
    assert_one_clear_line(&exit_of(dir.path(), &[("ROCKET_TEMPLATE_DIR", "nowhere")]), &["template_dir", "nowhere"]);
}

#[test]
fn version_and_serve_help_list_every_setting_with_its_variable_and_default() {
    let dir = tempfile::tempdir().unwrap();
    let version = binary(dir.path(), &[]).arg("--version").output().unwrap();
    assert!(version.status.success());
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("chat {}", env!("CARGO_PKG_VERSION")));
    let help = binary(dir.path(), &[]).args(["serve", "--help"]).output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for line in [
        "port  [env: ROCKET_PORT] [default: 8000]",
        "address  [env: ROCKET_ADDRESS] [default: 127.0.0.1]",
        "data_dir  [env: ROCKET_DATA_DIR] [default: data]",
        "ip_header  [env: ROCKET_IP_HEADER] [default: false]",
        "allow_guests  [env: ROCKET_ALLOW_GUESTS] [default: true]",
    ] {
        assert!(help.contains(line), "{line:?} in {help}");
    }
}

/// An SSE stream whose response head arrived within a second, or `None`
/// when the server did not accept the connection in that time.
async fn stream_within_a_second(addr: SocketAddr, room: &str) -> Option<crate::http::EventStream> {
    tokio::time::timeout(Duration::from_secs(1), Browser::new(addr).events(&format!("/rooms/{room}/events"), &[]))
        .await
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_it_keeps_serving_open_connections_and_accepts_again_when_some_close() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let data_dir = dir.path().join("data");
    let env = [
        ("ROCKET_PORT", port.to_string()),
        ("ROCKET_DATA_DIR", data_dir.display().to_string()),
        ("ROCKET_RATE_LIMITS", "false".to_owned()),
    ];
    // `ulimit -n` sets the hard limit too, so the server cannot raise it.
    let mut command = Command::new("sh");
    command.arg("-c").arg(format!("ulimit -n 200 && exec {}", env!("CARGO_BIN_EXE_chat")));
    command.current_dir(dir.path()).envs(env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
    let log = dir.path().join("log");
    let _server = serving(command, addr, &log).await;

    // A WebSocket opened first, to post once the server accepts no more.
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/rooms/fd/ws")).await.unwrap();
    let mut streams = Vec::new();
    loop {
        match stream_within_a_second(addr, "fd").await {
            Some(stream) => {
                assert_eq!(stream.status, 200);
                streams.push(stream);
            }
            None => break,
        }
        assert!(streams.len() < 400, "the limit of 200 descriptors was never reached");
    }
    assert!(streams.len() > 100, "only {} streams before the limit", streams.len());

    // Out of descriptors: the open connections are still served.
    socket.send(Message::text(json!({ "type": "send", "text": "still here" }).to_string())).await.unwrap();
    for stream in streams.iter_mut().step_by(10) {
        let seen = stream.messages_until(1, WAIT).await;
        assert_eq!(seen.last().expect("the message arrives")["text"], "still here");
    }

    // Some close; new connections are accepted again.
    streams.truncate(streams.len() - 20);
    let deadline = Instant::now() + WAIT;
    let reopened = loop {
        if let Some(stream) = stream_within_a_second(addr, "fd").await {
            break stream;
        }
        assert!(Instant::now() < deadline, "no connection accepted after 20 closed");
    };
    assert_eq!(reopened.status, 200);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("Too many open files"), "the limit was reached: {log}");
    assert!(log.contains("open-file limit 200"), "the limit is logged: {log}");
    assert!(!log.contains("panicked"), "{log}");
}
