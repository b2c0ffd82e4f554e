//! A small W3C WebDriver client: chromedriver started on a free port, and
//! browser sessions driven over plain HTTP/1.1 and JSON.
//!
//! Only what the browser tests need (navigate, find, type, run a script,
//! screenshots, tabs, a DevTools command); every failure panics with
//! chromedriver's own message, which is what a test wants. Each session
//! gets a fresh Chromium profile, so two sessions are two cookie jars.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The WebDriver key code of Enter.
pub const ENTER: &str = "\u{E007}";
/// Shift down, Enter, then every modifier up again.
pub const SHIFT_ENTER: &str = "\u{E008}\u{E007}\u{E000}";

/// A chromedriver process, killed on drop.
pub struct Driver {
    process: Child,
    addr: SocketAddr,
    chromium: PathBuf,
}

impl Driver {
    pub async fn start(chromedriver: &Path, chromium: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let process = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--log-level=OFF")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, with the browsers it starts: a failed
            // test that never quit its browsers still takes them down.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let driver = Driver { process, addr: SocketAddr::from(([127, 0, 0, 1], port)), chromium: chromium.to_owned() };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok((200, status)) = request(driver.addr, "GET", "/status", None).await
                && status["value"]["ready"] == true
            {
                return driver;
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready within 10 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new browser: desktop-sized, or a 360 px wide phone.
    pub async fn session(&self, phone: bool) -> Session {
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = json!({ "binary": self.chromium, "args": [] });
        if phone {
            // Headless windows cannot be narrower than ~500 px: emulate.
            options["mobileEmulation"] = json!({ "deviceMetrics": { "width": 360, "height": 740, "pixelRatio": 1.0 } });
        } else {
            args.push("--window-size=1280,800".to_owned());
        }
        options["args"] = json!(args);
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "timeouts": { "script": 10_000, "pageLoad": 15_000 },
        }}});
        let value = call(self.addr, "POST", "/session", Some(capabilities)).await;
        let id = value["sessionId"].as_str().expect("a session id").to_owned();
        Session { addr: self.addr, id, _profile: profile }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.process.id());
        let killed = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        if !killed.is_ok_and(|status| status.success()) {
            let _ = self.process.kill();
        }
        let _ = self.process.wait();
    }
}

/// One browser (one profile, so one cookie jar). Call [`Session::quit`] to
/// close it; a session a failing test leaves behind dies with chromedriver.
pub struct Session {
    addr: SocketAddr,
    id: String,
    _profile: TempDir,
}

/// A found element, by its WebDriver reference.
#[derive(Clone)]
pub struct Element(Value);

impl Session {
    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        call(self.addr, method, &format!("/session/{}{path}", self.id), body).await
    }

    pub async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn refresh(&self) {
        self.cmd("POST", "/refresh", Some(json!({}))).await;
    }

    pub async fn find(&self, css: &str) -> Element {
        let found = self.cmd("POST", "/element", Some(json!({ "using": "css selector", "value": css }))).await;
        Element(found)
    }

    pub async fn click(&self, element: &Element) {
        self.cmd("POST", &format!("/element/{}/click", element.id()), Some(json!({}))).await;
    }

    pub async fn clear(&self, element: &Element) {
        self.cmd("POST", &format!("/element/{}/clear", element.id()), Some(json!({}))).await;
    }

    pub async fn type_into(&self, element: &Element, text: &str) {
        self.cmd("POST", &format!("/element/{}/value", element.id()), Some(json!({ "text": text }))).await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({ "script": script, "args": args }))).await
    }

    /// Polls `script` until it returns something truthy, and returns that.
    pub async fn wait_for(&self, what: &str, within: Duration, script: &str) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let value = self.js(script, json!([])).await;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value.as_str() != Some("")
                && value.as_i64() != Some(0);
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                let page =
                    self.js("return location.href + '\\n' + document.body.innerText.slice(0, 2000)", json!([])).await;
                panic!("{what}: not within {within:?} (last: {value}) on {}", page.as_str().unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The text of an open `alert()`, if one is open.
    pub async fn alert_text(&self) -> Option<String> {
        let (status, body) =
            request(self.addr, "GET", &format!("/session/{}/alert/text", self.id), None).await.expect("chromedriver");
        (status == 200).then(|| body["value"].as_str().unwrap_or_default().to_owned())
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.cmd("GET", "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD.decode(encoded.as_str().expect("base64")).expect("a PNG")
    }

    /// Opens a new tab and switches to it.
    pub async fn new_tab(&self) {
        let handle = self.cmd("POST", "/window/new", Some(json!({ "type": "tab" }))).await;
        self.switch_to(handle["handle"].as_str().expect("a handle")).await;
    }

    pub async fn tabs(&self) -> Vec<String> {
        let handles = self.cmd("GET", "/window/handles", None).await;
        handles.as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_owned()).collect()
    }

    pub async fn switch_to(&self, handle: &str) {
        self.cmd("POST", "/window", Some(json!({ "handle": handle }))).await;
    }

    /// Closes the current tab (switch to another one afterwards).
    pub async fn close_tab(&self) {
        self.cmd("DELETE", "/window", None).await;
    }

    /// A Chrome DevTools Protocol command.
    pub async fn devtools(&self, command: &str, params: Value) -> Value {
        self.cmd("POST", "/goog/cdp/execute", Some(json!({ "cmd": command, "params": params }))).await
    }

    /// Closes the browser.
    pub async fn quit(self) {
        self.cmd("DELETE", "", None).await;
    }
}

impl Element {
    /// The element as a script argument (`arguments[i]` in [`Session::js`]).
    pub fn reference(&self) -> Value {
        self.0.clone()
    }

    fn id(&self) -> &str {
        self.0.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).expect("an element reference")
    }
}

/// A WebDriver command's `value`; panics with the driver's message on error.
async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, mut answer) = request(addr, method, path, body).await.expect("chromedriver answers");
    let value = answer["value"].take();
    if status != 200 {
        panic!("WebDriver {method} {path}: {status} {}: {}", value["error"], value["message"]);
    }
    value
}

/// One HTTP/1.1 request with a JSON body. chromedriver keeps connections
/// open whatever the request says, so the body is read by its length.
async fn request(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> std::io::Result<(u16, Value)> {
    let mut socket = TcpStream::connect(addr).await?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(std::io::ErrorKind::InvalidData)?;
            if raw.len() >= split + 4 + length {
                let status =
                    head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or(std::io::ErrorKind::InvalidData)?;
                let body = &raw[split + 4..split + 4 + length];
                return Ok((status, serde_json::from_slice(body).unwrap_or(Value::Null)));
            }
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.extend_from_slice(&chunk[..n]);
    }
}
