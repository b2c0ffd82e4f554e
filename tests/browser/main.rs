//! The page as people use it, in a real headless Chromium driven over
//! WebDriver (chromedriver), against the app on an ephemeral port.
//!
//! These tests need Debian's `chromium` and `chromium-driver`. Without them
//! plain `cargo test` prints "skipping browser tests: <reason>" and passes;
//! with `CHAT_BROWSER_TESTS=require`, or `CI` set to a true value, a missing
//! browser fails the run instead (`.ci/run` installs them). `CHROMIUM` and
//! `CHROMEDRIVER` name other binaries. The tests run one at a time (a
//! browser wants the machine's cores to itself); `CHAT_UPDATE_SCREENSHOTS=1`
//! also writes the README's screenshots to `docs/`.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/http.rs"]
mod http;
mod proxy;
mod webdriver;

mod a11y;
mod access;
mod activity;
mod chat;
mod conversation;
mod formatting;
mod languages;
mod moderation;
mod offline;
mod page;
mod passkeys;
mod people;
mod permalinks;
mod profiles;
mod search;
mod showcase;
mod tabs;
mod transports;
mod uploads;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Mutex, MutexGuard};

use helpers::{LiveApp, spawn_server_with};
use webdriver::{Driver, Session};

/// How long a live message may take to show on another page.
pub const LIVE: Duration = Duration::from_secs(2);
/// How long page loads and presence changes may take.
pub const SLOW: Duration = Duration::from_secs(10);

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// The app and a chromedriver, for one test.
pub struct Rig {
    pub app: LiveApp,
    pub driver: Driver,
    _turn: MutexGuard<'static, ()>,
}

/// The rig, or `None` (after saying why) when the browser is not installed
/// and not required.
pub async fn rig() -> Option<Rig> {
    let (chromium, chromedriver) = match browser_binaries() {
        Ok(found) => found,
        Err(reason) if required() => panic!("browser tests are required here, but {reason}"),
        Err(reason) => {
            static SAID: Once = Once::new();
            // Straight to stderr: the test harness captures `eprintln!`.
            SAID.call_once(|| {
                let _ = writeln!(std::io::stderr(), "skipping browser tests: {reason}");
            });
            return None;
        }
    };
    let turn = ONE_AT_A_TIME.lock().await;
    // A short grace period and a heartbeat every second: a closed page
    // leaves the online list within about two seconds.
    let app = spawn_server_with(|f| f.merge(("presence_grace_ms", 1000)).merge(("heartbeat_secs", 1))).await;
    let driver = Driver::start(&chromedriver, &chromium).await;
    Some(Rig { app, driver, _turn: turn })
}

impl Rig {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.app.addr)
    }

    /// A desktop browser with its own cookies.
    pub async fn desktop(&self) -> Session {
        self.driver.session(false).await
    }

    /// A 360 px wide phone with its own cookies.
    pub async fn phone(&self) -> Session {
        self.driver.session(true).await
    }

    /// A client that posts straight to the API (seeding, a third person).
    pub fn api(&self) -> http::Browser {
        self.app.browser()
    }
}

fn required() -> bool {
    let truthy =
        |name| std::env::var(name).is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"));
    std::env::var("CHAT_BROWSER_TESTS").is_ok_and(|v| v == "require") || truthy("CI")
}

fn browser_binaries() -> Result<(PathBuf, PathBuf), String> {
    let find = |variable: &str, default: &str| {
        let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{} is missing (install Debian's chromium and chromium-driver, or set {variable})",
                path.display()
            ))
        }
    };
    Ok((find("CHROMIUM", "/usr/bin/chromium")?, find("CHROMEDRIVER", "/usr/bin/chromedriver")?))
}

/// An API client for `name`, registered (password "correct horse
/// battery") and made an admin in the database.
pub async fn api_admin(rig: &Rig, name: &str) -> http::Browser {
    let browser = rig.app.member(name).await;
    let mut db = helpers::connect_db(rig.app.dir()).await;
    sqlx::query("UPDATE users SET role = 'admin' WHERE name = $1").bind(name).execute(&mut db).await.unwrap();
    browser
}

/// Registers `name` through the real form, leaving the browser on the lobby.
pub async fn register(rig: &Rig, browser: &Session, name: &str) {
    browser.goto(&rig.url("/register")).await;
    browser.type_into(&browser.find("input[name=username]").await, name).await;
    browser.type_into(&browser.find("input[name=password]").await, "correct horse battery").await;
    browser.click(&browser.find("form[action='/register'] button").await).await;
    browser
        .wait_for(
            "the lobby after registering",
            SLOW,
            &format!("return document.querySelector('a.name')?.textContent === {}", json!(name)),
        )
        .await;
}

/// Logs `name` in through the real form (password "correct horse
/// battery"), leaving the browser on the lobby.
pub async fn log_in(rig: &Rig, browser: &Session, name: &str) {
    browser.goto(&rig.url("/login")).await;
    browser.type_into(&browser.find("input[name=username]").await, name).await;
    let password = format!("correct horse battery{}", webdriver::ENTER);
    browser.type_into(&browser.find("input[name=password]").await, &password).await;
    browser
        .wait_for(
            "the lobby after logging in",
            SLOW,
            &format!("return document.querySelector('a.name')?.textContent === {}", json!(name)),
        )
        .await;
}

/// Opens a room page and waits for its stream.
pub async fn open_room(rig: &Rig, browser: &Session, room: &str) {
    browser.goto(&rig.url(&format!("/rooms/{room}"))).await;
    wait_connected(browser).await;
}

pub async fn wait_connected(browser: &Session) {
    browser
        // The state's class, whatever language its words are in.
        .wait_for(
            "the stream to connect",
            SLOW,
            "return document.getElementById('state').classList.contains('connected')",
        )
        .await;
}

/// Waits for the page's fades to end (after a change of colour scheme, so
/// colours are read or pictured as they settle, not halfway).
pub async fn settled(browser: &Session) {
    browser
        .wait_for("transitions to end", SLOW, "return document.getAnimations().every(a => a.playState !== 'running')")
        .await;
}

/// The texts of the messages a page shows, in order.
pub async fn texts(browser: &Session) -> Vec<String> {
    let texts = browser
        .js("return [...document.querySelectorAll('#messages li.msg .text')].map(e => e.textContent)", json!([]))
        .await;
    serde_json::from_value(texts).unwrap()
}

/// The message ids a page shows, in order.
pub async fn ids(browser: &Session) -> Vec<i64> {
    let ids = browser
        .js("return [...document.querySelectorAll('#messages li.msg')].map(e => Number(e.dataset.id))", json!([]))
        .await;
    serde_json::from_value(ids).unwrap()
}
