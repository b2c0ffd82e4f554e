//! The browser tests' WebDriver layer: chromedriver started on a port of its
//! own choosing, Chromium's flags and a fresh profile per session, and the
//! few commands the tests use, spoken through the maintained `fantoccini`
//! client.
//!
//! Every failure panics with chromedriver's own message, which is what a
//! test wants. Each session gets a fresh Chromium profile, so two sessions
//! are two cookie jars.
//!
//! # Why fantoccini, and why without TLS
//!
//! This file used to hold its own W3C WebDriver client (HTTP/1.1 over a raw
//! socket, the JSON envelope and error mapping by hand). fantoccini does that
//! job and is maintained, and it covers every command the tests send: tabs
//! are `new_window`/`windows`/`switch_to_window`, an element serialises as
//! the W3C reference a script argument needs, and the one vendor command,
//! Chrome's `goog/cdp/execute`, goes through its `WebDriverCompatibleCommand`
//! hook ([`DevTools`] below).
//!
//! chromedriver listens on 127.0.0.1 only, so it is reached over plain
//! HTTP: fantoccini is built with `default-features = false` and given
//! hyper-util's `HttpConnector` (hyper-util, http and url are named in
//! `[dev-dependencies]` only for their types; all three were already in
//! `Cargo.lock` through Rocket). Measured with Rust 1.95 on this 2-core
//! machine while other builds shared it (so CPU time is the steadier
//! figure), a clean `cargo build` of fantoccini alone:
//!
//! | fantoccini features | new in `Cargo.lock` | CPU (user + sys) | new crates' unit time |
//! |---------------------|---------------------|------------------|-----------------------|
//! | none (chosen)       | 21 packages         | 83 s             | 71 s of 393 s         |
//! | `rustls-tls`        | 50 (14 Windows/mac) | 165 s            | 432 s of 817 s        |
//!
//! Without TLS nothing new has C code; the `webdriver` crate and the ICU
//! segmenter it brings are most of the time. `rustls-tls` adds rustls,
//! ring and aws-lc-sys (C, 250 s of unit time on its own), for TLS that a
//! local chromedriver never uses. In our warm `target/` the first build
//! after adding fantoccini also recompiled `syn` with more features, and so
//! every proc-macro crate and what depends on them, once: 3 min 50 s CPU.
//! That is a cost paid once per `target/`; the hand-written client was
//! code we kept correct ourselves on every change.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand, WindowHandle};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The WebDriver key code of Enter.
pub const ENTER: &str = "\u{E007}";
/// Shift down, Enter, then every modifier up again.
pub const SHIFT_ENTER: &str = "\u{E008}\u{E007}\u{E000}";

/// How long chromedriver may take to start listening.
const STARTUP: Duration = Duration::from_secs(10);

/// A chromedriver process, killed on drop.
pub struct Driver {
    process: Child,
    url: String,
    chromium: PathBuf,
}

impl Driver {
    /// Starts chromedriver on a port it picks (`--port=0`), and returns once
    /// it says it listens: it prints "… started successfully on port N."
    pub async fn start(chromedriver: &Path, chromium: &Path) -> Driver {
        let mut process = Command::new(chromedriver)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group, with the browsers it starts: a failed
            // test that never quit its browsers still takes them down.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let stdout = process.stdout.take().expect("a piped stdout");
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        // Its own thread: it reads the port, then drains the pipe until
        // chromedriver exits, so a chatty driver never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let port = line.strip_prefix("ChromeDriver was started successfully on port ");
                if let Some(port) = port.and_then(|p| p.trim_end_matches('.').parse::<u16>().ok())
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(port);
                }
            }
        });
        let port = tokio::time::timeout(STARTUP, port_rx)
            .await
            .unwrap_or_else(|_| panic!("chromedriver did not start within {STARTUP:?}"))
            .expect("chromedriver exited before it listened");
        Driver { process, url: format!("http://127.0.0.1:{port}"), chromium: chromium.to_owned() }
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
        let capabilities: Capabilities = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "timeouts": { "script": 10_000, "pageLoad": 15_000 },
        }))
        .expect("capabilities are an object");
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("WebDriver new session: {e}"));
        Session { client, _profile: profile }
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
    client: Client,
    _profile: TempDir,
}

/// A found element.
#[derive(Clone)]
pub struct Element(fantoccini::elements::Element);

/// The command's result, or a panic that names the command and carries
/// chromedriver's message.
fn done<T>(what: &str, result: Result<T, CmdError>) -> T {
    result.unwrap_or_else(|e| panic!("WebDriver {what}: {e}"))
}

impl Session {
    pub async fn goto(&self, url: &str) {
        done(&format!("goto {url}"), self.client.goto(url).await);
    }

    pub async fn refresh(&self) {
        done("refresh", self.client.refresh().await);
    }

    pub async fn find(&self, css: &str) -> Element {
        Element(done(&format!("find {css}"), self.client.find(Locator::Css(css)).await))
    }

    pub async fn click(&self, element: &Element) {
        done("click", element.0.click().await);
    }

    pub async fn clear(&self, element: &Element) {
        done("clear", element.0.clear().await);
    }

    pub async fn type_into(&self, element: &Element, text: &str) {
        done("send keys", element.0.send_keys(text).await);
    }

    /// Runs `script` (a function body; `arguments` are `args`, a JSON array)
    /// in the page.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        let args = match args {
            Value::Array(args) => args,
            other => panic!("script arguments are an array, not {other}"),
        };
        done("execute script", self.client.execute(script, args).await)
    }

    /// Runs `script` (a function body) as an asynchronous script: it
    /// answers by calling its last argument, the callback WebDriver adds
    /// after `args`, within the session's script timeout (10 s).
    pub async fn js_async(&self, script: &str, args: Value) -> Value {
        let args = match args {
            Value::Array(args) => args,
            other => panic!("script arguments are an array, not {other}"),
        };
        done("execute async script", self.client.execute_async(script, args).await)
    }

    /// Polls `script` until it returns something truthy, and returns that.
    /// (WebDriver has no way to wait on a page's state; polling it is how.)
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
        match self.client.get_alert_text().await {
            Ok(text) => Some(text),
            Err(CmdError::Standard(e)) if e.error == ErrorStatus::NoSuchAlert => None,
            Err(e) => panic!("WebDriver alert text: {e}"),
        }
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        done("screenshot", self.client.screenshot().await)
    }

    /// Opens a new tab and switches to it.
    pub async fn new_tab(&self) {
        let tab = done("new tab", self.client.new_window(true).await);
        done("switch to the new tab", self.client.switch_to_window(tab.handle).await);
    }

    pub async fn tabs(&self) -> Vec<String> {
        done("window handles", self.client.windows().await).into_iter().map(String::from).collect()
    }

    pub async fn switch_to(&self, handle: &str) {
        let handle = WindowHandle::try_from(handle).expect("a window handle");
        done("switch to window", self.client.switch_to_window(handle).await);
    }

    /// Closes the current tab (switch to another one afterwards).
    pub async fn close_tab(&self) {
        done("close window", self.client.close_window().await);
    }

    /// A Chrome DevTools Protocol command.
    pub async fn devtools(&self, command: &str, params: Value) -> Value {
        let cmd = DevTools { command: command.to_owned(), params };
        done(&format!("DevTools {command}"), self.client.issue_cmd(cmd).await)
    }

    /// Closes the browser.
    pub async fn quit(self) {
        done("quit", self.client.close().await);
    }
}

impl Element {
    /// The element as a script argument (`arguments[i]` in [`Session::js`]).
    pub fn reference(&self) -> Value {
        serde_json::to_value(&self.0).expect("an element reference")
    }
}

/// chromedriver's `POST /session/{id}/goog/cdp/execute`: one Chrome DevTools
/// Protocol command, which the W3C command set has no word for.
#[derive(Debug)]
struct DevTools {
    command: String,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        let session = session_id.expect("a DevTools command needs a session");
        base_url.join(&format!("session/{session}/goog/cdp/execute"))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.command, "params": self.params }).to_string()))
    }
}

/// WebDriver's WebAuthn extension (`POST /session/{id}/webauthn/authenticator`):
/// a virtual authenticator in the browser, so passkey ceremonies complete
/// without a person or a device.
#[derive(Debug)]
struct AddVirtualAuthenticator(Value);

impl WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        let session = session_id.expect("an authenticator needs a session");
        base_url.join(&format!("session/{session}/webauthn/authenticator"))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

impl Session {
    /// Adds a virtual authenticator with `options` (WebDriver's
    /// `Authenticator Configuration`); answers its id.
    pub async fn add_virtual_authenticator(&self, options: Value) -> Value {
        done("add a virtual authenticator", self.client.issue_cmd(AddVirtualAuthenticator(options)).await)
    }
}
