//! The real binary as a process: durability across SIGKILL, graceful
//! SIGTERM with open streams, and what reaches its log.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::Browser;

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Server {
    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub async fn start(data_dir: &Path, extra_env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let log = data_dir.join(format!("server-{port}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_chat"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ROCKET_DATA_DIR", data_dir)
        .env("ROCKET_DATABASE_URL", crate::helpers::database_url(data_dir))
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_CLI_COLORS", "false")
        .env("ROCKET_RATE_LIMITS", "false")
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let child = command.spawn().expect("the server binary starts");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not listen within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, addr, log }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([format!("-{name}"), child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

async fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the server did not exit within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_posts_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[]).await;
    let posters: Vec<_> = (0..4)
        .map(|p| {
            let mut browser = Browser::new(server.addr);
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for i in 0..25 {
                    acknowledged.push((browser.say("durable", &format!("p{p} m{i}")).await, format!("p{p} m{i}")));
                }
                acknowledged
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for poster in posters {
        acknowledged.extend(poster.await.unwrap());
    }
    signal(&server.child, "KILL");
    wait_exit(&mut server.child, Duration::from_secs(5)).await;

    let restarted = start(dir.path(), &[]).await;
    let history = Browser::new(restarted.addr).get("/rooms/durable/messages?limit=200").await.json();
    let stored: Vec<(i64, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_i64().unwrap(), m["text"].as_str().unwrap().to_owned()))
        .collect();
    acknowledged.sort();
    assert_eq!(stored, acknowledged, "every 201 is on disk");
    stop(restarted).await;
}

pub async fn stop(mut server: Server) {
    signal(&server.child, "TERM");
    wait_exit(&mut server.child, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_200_open_streams_exits_cleanly_and_closes_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[]).await;
    let mut streams = Vec::new();
    for i in 0..200 {
        let mut stream = Browser::new(server.addr).events(&format!("/rooms/r{}/events", i % 10), &[]).await;
        assert_eq!(stream.status, 200);
        stream.next_event_within(Duration::from_secs(10)).await.unwrap();
        streams.push(stream);
    }
    let started = Instant::now();
    signal(&server.child, "TERM");
    // Rocket's default grace (2 s) plus mercy (3 s), and a little slack.
    let status = wait_exit(&mut server.child, Duration::from_secs(6)).await;
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(6));
    for stream in &mut streams {
        let closed =
            tokio::time::timeout(Duration::from_secs(2), async { while stream.next_event().await.is_some() {} });
        closed.await.expect("every stream is closed");
    }
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_logged_without_passwords_and_the_key_never_is() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[("ROCKET_LOG_LEVEL", "debug")]).await;
    let mut browser = Browser::new(server.addr);
    let password = "a very particular secret";
    assert_eq!(browser.post_form("/register", &[("username", "alice"), ("password", password)]).await.status, 303);
    assert_eq!(browser.post_form("/logout", &[]).await.status, 303);
    assert_eq!(browser.post_form("/login", &[("username", "alice"), ("password", "wrong guess")]).await.status, 401);
    assert_eq!(browser.post_form("/login", &[("username", "alice"), ("password", password)]).await.status, 303);
    let log_path = server.log.clone();
    stop(server).await;

    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(log.contains(r#"login failed: user "alice" from 127.0.0.1"#), "{log}");
    assert!(log.contains(r#"login succeeded: user "alice" from 127.0.0.1"#), "{log}");
    assert!(!log.contains(password) && !log.contains("wrong guess"), "no password in the log");
    let key = std::fs::read_to_string(dir.path().join("secret_key")).unwrap();
    assert!(!log.contains(key.trim()), "the secret key never reaches the log");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("secret_key")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_secret_key_shorter_than_256_bits_stops_the_server_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_chat"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ROCKET_DATA_DIR", dir.path())
        .env("ROCKET_SECRET_KEY", "c2hvcnQga2V5")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("secret_key must be a 256-bit or 512-bit key"), "{stderr}");
    assert!(!stderr.contains("c2hvcnQga2V5"), "not even a weak key is echoed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_a_request_id_per_request_and_no_message_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[("ROCKET_LOG_FORMAT", "json")]).await;
    let mut browser = Browser::new(server.addr);
    let secret_text = "a message nobody else should read in a log";
    let posted = browser.post_json("/rooms/lobby/messages", &serde_json::json!({ "text": secret_text })).await;
    assert_eq!(posted.status, 201);
    let request_id = posted.header("X-Request-Id").expect("a request id").to_owned();
    let log_path = server.log.clone();
    stop(server).await;

    let log = std::fs::read_to_string(log_path).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let access = lines
        .iter()
        .find(|line| line["fields"]["request_id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("no access line for {request_id} in {log}"));
    assert_eq!(access["fields"]["status"], 201);
    assert_eq!(access["fields"]["path"], "/rooms/lobby/messages");
    assert!(!log.contains(secret_text), "message texts never reach the log");
}
