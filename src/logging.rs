//! Logs through `tracing`: text or JSON lines (`log_format`), with every
//! request's access line carrying its request id (also sent back as
//! `X-Request-Id`).
//!
//! Our own code logs through `tracing` only; Rocket logs through the `log`
//! facade, whose records are bridged into `tracing` (Rocket then leaves its
//! own logger out). Nothing
//! secret is logged at info level: no passwords, cookies, keys or message
//! texts; the access line records the path without its query string.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rocket::config::LogLevel;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Data, Request, Response};
use tracing_subscriber::EnvFilter;

use crate::config::Settings;

/// Installs the subscriber for the server, from `log_format` and Rocket's
/// `log_level`. Call once, before Rocket starts.
pub fn init(settings: &Settings) {
    let base = match settings.log_level {
        LogLevel::Off => "off",
        LogLevel::Critical => "warn",
        LogLevel::Debug => "debug",
        LogLevel::Normal => "info",
    };
    // Per-query and per-connection chatter stays out unless asked for.
    let filter = if base == "off" {
        EnvFilter::new("off")
    } else {
        // The startup lines (descriptors) show at every level but off.
        EnvFilter::new(format!("{base},sqlx=warn,hyper=warn,rocket::server=warn,chat::process=info"))
    };
    // Colour only for a person at a terminal, not in a log file or journal.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true).with_ansi(ansi);
    let installed = if settings.log_format == "json" { builder.json().try_init() } else { builder.try_init() };
    if let Err(e) = installed {
        eprintln!("chat: logging was already set up: {e}");
    }
}

/// The id of one request, for its log lines and its `X-Request-Id`.
#[derive(Debug, Clone, Copy)]
pub struct RequestId {
    pub id: u64,
    started: Instant,
}

/// Numbers requests (per process, prefixed by the start time so ids from
/// restarts or other instances rarely collide) and writes the access line.
pub struct AccessLog {
    next: AtomicU64,
    prefix: u64,
}

impl AccessLog {
    pub fn new() -> Self {
        let prefix = crate::Clock::system().now_ms() as u64 % 1_000_000;
        Self { next: AtomicU64::new(1), prefix }
    }
}

impl Default for AccessLog {
    fn default() -> Self {
        Self::new()
    }
}

#[rocket::async_trait]
impl Fairing for AccessLog {
    fn info(&self) -> Info {
        Info { name: "Request ids and access log", kind: Kind::Request | Kind::Response }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        let id = self.prefix * 1_000_000_000 + self.next.fetch_add(1, Ordering::Relaxed);
        request.local_cache(|| RequestId { id, started: Instant::now() });
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let Some(id) = request_id(request) else { return };
        response.set_header(Header::new("X-Request-Id", format!("{:016x}", id.id)));
        tracing::info!(
            target: "chat::access",
            request_id = format!("{:016x}", id.id),
            method = %request.method(),
            path = %request.uri().path(),
            status = response.status().code,
            ms = id.started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
    }
}

/// This request's id, once the access log has numbered it.
pub fn request_id(request: &Request<'_>) -> Option<RequestId> {
    let id = *request.local_cache(|| RequestId { id: 0, started: Instant::now() });
    (id.id != 0).then_some(id)
}
