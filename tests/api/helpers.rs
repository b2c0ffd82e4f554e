//! Spawning the app for a test: in-process (`TestApp`, Rocket's local
//! client) or on a real ephemeral port (`LiveApp`), each on its own database
//! in a temporary directory.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chat::Clock;
use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::serde::json::Value;
use rocket::{Ignite, Rocket, Shutdown};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The figment every test starts from: the real defaults, a private data
/// directory, an ephemeral port, quiet logs, and rate limits off (every test
/// client is 127.0.0.1; the limits' own tests switch them back on).
pub fn test_figment(data_dir: &Path) -> Figment {
    chat::figment()
        .merge(("data_dir", data_dir))
        .merge(("database_url", database_url(data_dir)))
        .merge(("rate_limits", false))
        .merge(("port", 0))
        .merge(("log_level", "off"))
        .merge(("cli_colors", false))
}

/// Which store the suite runs on: SQLite unless `CHAT_TEST_STORE=postgres`
/// (with `CHAT_TEST_POSTGRES_URL`), so the same tests cover both engines.
pub fn postgres_base_url() -> Option<String> {
    if std::env::var("CHAT_TEST_STORE").as_deref() != Ok("postgres") {
        return None;
    }
    Some(std::env::var("CHAT_TEST_POSTGRES_URL").expect("CHAT_TEST_STORE=postgres needs CHAT_TEST_POSTGRES_URL"))
}

/// The database of the app whose data directory is `dir`: a SQLite file in
/// it, or a PostgreSQL schema of its own named after it (so a restart on the
/// same directory finds the same data, and tests never collide).
pub fn database_url(dir: &Path) -> String {
    match postgres_base_url() {
        None => format!("sqlite://{}", dir.join("chat.db").display()),
        Some(base) => {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            dir.hash(&mut hasher);
            postgres_schema(&base, &format!("chat_t_{:016x}", hasher.finish()))
        }
    }
}

/// Creates `schema` (if needed) and returns a URL whose connections use it.
pub fn postgres_schema(base: &str, schema: &str) -> String {
    let (base_owned, schema_owned) = (base.to_owned(), schema.to_owned());
    // Its own thread and runtime: callers may already be inside one.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            use sqlx::{Connection, Executor};
            let mut connection = sqlx::PgConnection::connect(&base_owned).await.expect("PostgreSQL answers");
            connection.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema_owned}").as_str()).await.unwrap();
        })
    })
    .join()
    .unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

/// A direct connection to an app's database, for tests that look behind it.
pub async fn connect_db(dir: &Path) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&database_url(dir)).await.expect("the database answers")
}

/// The app behind Rocket's local client, which keeps cookies like a browser.
pub struct TestApp {
    pub client: Client,
    pub dir: TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|f| f).await
}

pub async fn spawn_app_with(configure: impl FnOnce(Figment) -> Figment) -> TestApp {
    spawn_app_with_clock(Clock::system(), configure).await
}

/// The app on a clock the test moves (session lifetimes, throttling).
pub async fn spawn_app_with_clock(clock: Clock, configure: impl FnOnce(Figment) -> Figment) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let rocket = chat::build_with_clock(configure(test_figment(dir.path())), clock).expect("config is valid");
    let client = Client::tracked(rocket).await.expect("app ignites");
    TestApp { client, dir }
}

/// A tracked client on an existing data directory (to test restarts, or a
/// second browser on the same database).
pub async fn client_on(dir: &Path, configure: impl FnOnce(Figment) -> Figment) -> Client {
    let rocket = chat::build(configure(test_figment(dir))).expect("config is valid");
    Client::tracked(rocket).await.expect("app ignites")
}

impl TestApp {
    pub async fn post_json(&self, room: &str, body: &str) -> LocalResponse<'_> {
        self.client.post(format!("/rooms/{room}/messages")).header(ContentType::JSON).body(body).dispatch().await
    }

    /// Posts `text` as JSON and returns the stored message.
    pub async fn say(&self, room: &str, text: &str) -> Value {
        let body = serde_json::json!({ "text": text }).to_string();
        let response = self.post_json(room, &body).await;
        assert_eq!(response.status(), Status::Created, "posting {text:?}");
        response.into_json().await.expect("message JSON")
    }

    /// This browser's CSRF token (fetching a page that issues one if needed).
    pub async fn csrf(&self) -> String {
        if self.client.cookies().get_private("csrf").is_none() {
            self.client.get("/login").dispatch().await;
        }
        self.client.cookies().get_private("csrf").expect("a csrf cookie").value().to_owned()
    }

    /// Posts a form the way the page does: with this browser's CSRF token.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> LocalResponse<'_> {
        let token = self.csrf().await;
        let mut fields = form.to_vec();
        fields.push(("csrf", &token));
        self.post_form_raw(path, &fields).await
    }

    /// Posts a form exactly as given (no token added).
    pub async fn post_form_raw(&self, path: &str, form: &[(&str, &str)]) -> LocalResponse<'_> {
        self.client.post(path.to_owned()).header(ContentType::Form).body(encode_form(form)).dispatch().await
    }

    pub async fn logout(&self) -> LocalResponse<'_> {
        self.post_form("/logout", &[]).await
    }

    pub async fn register(&self, username: &str, password: &str) -> LocalResponse<'_> {
        self.post_form("/register", &[("username", username), ("password", password)]).await
    }

    pub async fn login(&self, username: &str, password: &str) -> LocalResponse<'_> {
        self.post_form("/login", &[("username", username), ("password", password)]).await
    }

    pub async fn me(&self) -> Value {
        self.client.get("/api/me").dispatch().await.into_json().await.expect("me JSON")
    }

    /// `GET /rooms/<room>/messages?<query>` as (status, JSON).
    pub async fn history(&self, room: &str, query: &str) -> (Status, Value) {
        let response = self.client.get(format!("/rooms/{room}/messages?{query}")).dispatch().await;
        let status = response.status();
        (status, response.into_json().await.unwrap_or(Value::Null))
    }

    /// The ids a history query returns.
    pub async fn history_ids(&self, room: &str, query: &str) -> Vec<i64> {
        let (status, body) = self.history(room, query).await;
        assert_eq!(status, Status::Ok, "{body}");
        ids(&body)
    }
}

pub fn ids(messages: &Value) -> Vec<i64> {
    messages.as_array().expect("an array").iter().map(|m| m["id"].as_i64().expect("an id")).collect()
}

pub fn encode_form(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn origin(value: &'static str) -> Header<'static> {
    Header::new("Origin", value)
}

/// The app serving on a real ephemeral port.
pub struct LiveApp {
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
    pub stopped: tokio::task::JoinHandle<Result<Rocket<Ignite>, rocket::Error>>,
    /// Kept so the database outlives the server.
    _dir: TempDir,
}

pub async fn spawn_server() -> LiveApp {
    spawn_server_with(|f| f).await
}

pub async fn spawn_server_with(configure: impl FnOnce(Figment) -> Figment) -> LiveApp {
    spawn_server_with_clock(Clock::system(), configure).await
}

pub async fn spawn_server_with_clock(clock: Clock, configure: impl FnOnce(Figment) -> Figment) -> LiveApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let (port_tx, port_rx) = oneshot::channel();
    let port_tx = Mutex::new(Some(port_tx));
    let rocket = chat::build_with_clock(configure(test_figment(dir.path())), clock)
        .expect("config is valid")
        .attach(AdHoc::on_liftoff("Report the port", move |rocket| {
            let port = rocket.config().port;
            if let Some(tx) = port_tx.lock().unwrap().take() {
                let _ = tx.send(port);
            }
            Box::pin(async {})
        }))
        .ignite()
        .await
        .expect("app ignites");
    let shutdown = rocket.shutdown();
    let stopped = tokio::spawn(rocket.launch());
    let port = tokio::time::timeout(Duration::from_secs(10), port_rx)
        .await
        .expect("the server starts within 10 s")
        .expect("liftoff reports the port");
    LiveApp { addr: SocketAddr::from(([127, 0, 0, 1], port)), shutdown, stopped, _dir: dir }
}

impl LiveApp {
    /// A browser that registered `name` through the form (and so is
    /// logged in as that member).
    pub async fn member(&self, name: &str) -> crate::http::Browser {
        let mut browser = self.browser();
        let form = [("username", name), ("password", "correct horse battery")];
        let registered = browser.post_form("/register", &form).await;
        assert_eq!(registered.status, 303, "registering {name}: {}", registered.body);
        browser
    }

    /// The data directory (and so the database) of this server.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// A client with its own cookie jar, like a separate browser.
    pub fn browser(&self) -> crate::http::Browser {
        crate::http::Browser::new(self.addr)
    }
}

/// Awaits `future`, failing the test (instead of hanging) after `secs`.
pub async fn within<T>(secs: u64, what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {secs} s"))
}

/// Writes `per_room` messages into each of `rooms` straight into the
/// database of the app at `dir` (ids from 1, every one stamped `at_ms`), and
/// sets the rooms' id counters: a large history in seconds, for tests of
/// what happens to one (retention, backups).
pub async fn seed_messages(dir: &Path, rooms: &[&str], per_room: i64, at_ms: i64) {
    use sqlx::Connection;
    const ROWS: i64 = 500;
    let mut db = connect_db(dir).await;
    for room in rooms {
        let mut tx = db.begin().await.unwrap();
        for first in (1..=per_room).step_by(ROWS as usize) {
            let last = (first + ROWS - 1).min(per_room);
            let rows: Vec<String> = (0..=last - first)
                .map(|row| {
                    let p = row * 4;
                    format!("(${}, ${}, NULL, 'seed', 0, ${}, ${})", p + 1, p + 2, p + 3, p + 4)
                })
                .collect();
            let sql = format!(
                "INSERT INTO messages (room, id, user_id, user_name, guest, text, at_ms) VALUES {}",
                rows.join(", ")
            );
            let mut insert = sqlx::query(&sql);
            for id in first..=last {
                insert = insert.bind(*room).bind(id).bind(format!("seeded message {id} of {room}")).bind(at_ms);
            }
            insert.execute(&mut *tx).await.unwrap();
        }
        sqlx::query(
            "INSERT INTO rooms (name, last_id, last_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id, last_at_ms = excluded.last_at_ms",
        )
        .bind(*room)
        .bind(per_room)
        .bind(at_ms)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}
