//! A self-hosted web chat room server.
//!
//! [`build`] assembles the whole app from a configuration figment, so the
//! binary and the tests run the very same thing. The modules, by concept:
//!
//! - `config`: the settings, read once, and the secret key;
//! - `startup`: wires the services; `tasks`: their background tasks;
//!   `housekeeping`: retention and sweeping what is over, on a timer;
//! - `rooms`: room names, message texts, the message and its JSON;
//! - `auth`: accounts, passwords, sessions, guest names;
//! - `store`: SQLite or PostgreSQL, and the message writer;
//! - `bus`: in process or Redis between instances, and the fan-out;
//! - `stream`: per-room queues and gap-free feeds;
//! - `live`: who may open a stream and what it yields, for every transport;
//! - `messages`: the chat service (post, history, what a visitor may see);
//! - `search`: what a search query means and the snippets of its hits;
//! - `uploads`: files attached to messages, their limits, thumbnails and
//!   who may read them;
//! - `moderation`, `presence`, `limits`: access and actions, who is online,
//!   abuse limits;
//! - `web`: routes, guards and the HTTP encodings; `cli`: the command line;
//!   `process`: `chat serve` as a process (limits, startup errors);
//!   `progress`: long command-line work's bar or lines on stderr;
//! - `assets`: the templates and static files built into the binary;
//! - `clock`, `logging`, `metrics`: time, log lines, Prometheus;
//! - `access`: registration modes, invites, reset links, the admin page.

pub mod access;
pub mod activity;
pub mod assets;
pub mod auth;
pub mod bots;
pub mod bus;
pub mod cli;
pub mod clock;
pub mod config;
pub mod housekeeping;
pub mod i18n;
pub mod limits;
pub mod live;
pub mod logging;
pub mod messages;
pub mod metrics;
pub mod moderation;
pub mod presence;
pub mod process;
pub mod progress;
pub mod rooms;
pub mod search;
pub mod signals;
pub mod startup;
pub mod store;
pub mod stream;
pub mod tasks;
pub mod uploads;
pub mod web;

use std::sync::Arc;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::fs::FileServer;
use rocket::shield::{Frame, NoSniff, Permission, Shield};
use rocket::{Build, Rocket};

pub use clock::Clock;
pub use config::{ConfigError, Settings, figment, figment_with_file};
use startup::{Services, StartError};
use tasks::Tasks;

/// Builds the app. Preparing the configuration may create the data
/// directory and the secret key file; opening the database happens at
/// ignition (an ignite fairing), where a failure stops the launch.
pub fn build(figment: Figment) -> Result<Rocket<Build>, ConfigError> {
    build_with_clock(figment, Clock::system())
}

/// [`build`] with a given clock for session lifetimes and throttling (tests
/// pass a manual one to move time instead of sleeping).
pub fn build_with_clock(figment: Figment, clock: Clock) -> Result<Rocket<Build>, ConfigError> {
    let (figment, settings) = config::prepare(figment)?;
    Ok(assemble(figment, settings, clock))
}

/// The app from prepared settings (see [`config::prepare`]), read once; its
/// services start at ignition (a failure there stops the launch).
pub fn assemble(figment: Figment, settings: Settings, clock: Clock) -> Rocket<Build> {
    let metrics = metrics::Metrics::new();
    let starter = metrics.clone();
    frame(figment, settings, metrics).attach(AdHoc::try_on_ignite("Start the services", move |rocket| async move {
        let settings = rocket.state::<Settings>().expect("settings are managed");
        match Services::start(settings, clock, starter).await {
            Ok(services) => Ok(services.manage(rocket)),
            Err(e) => {
                tracing::error!("{e}");
                Err(rocket)
            }
        }
    }))
}

/// The app with its services started first, so that a service that cannot
/// start (the database, Redis, the templates) is one clear error for the
/// caller to print, not a failed launch. The binary starts this way.
pub async fn start(figment: Figment, settings: Settings, clock: Clock) -> Result<Rocket<Build>, StartError> {
    let metrics = metrics::Metrics::new();
    let services = Services::start(&settings, clock, metrics.clone()).await?;
    Ok(services.manage(frame(figment, settings, metrics)))
}

/// Everything but the services: fairings, settings, routes, catchers.
fn frame(figment: Figment, settings: Settings, metrics: Arc<metrics::Metrics>) -> Rocket<Build> {
    let static_dir = settings.static_dir.clone();
    // Shield's default Permissions-Policy only opts out of FLoC, which no
    // browser ships any more: one header less on every open stream.
    let shield = Shield::default().enable(Frame::Deny).enable(NoSniff::Enable).disable::<Permission>();
    let hsts = settings.secure_cookies;
    let rocket = rocket::custom(figment)
        .attach(logging::AccessLog::new())
        .attach(metrics::RequestTimer(metrics.clone()))
        .attach(shield)
        .attach(web::SecurityHeaders { hsts })
        .attach(web::CrossOriginGuard)
        .attach(AdHoc::on_shutdown("Stop the background tasks", |rocket| {
            Box::pin(async move {
                if let Some(tasks) = rocket.state::<Arc<Tasks>>() {
                    tasks.stop().await;
                }
            })
        }))
        .manage(metrics)
        .manage(settings)
        .mount("/", web::routes())
        .register("/", web::catchers());
    // A customised static file wins over the built-in one of the same name
    // (checked to be a directory by `config::prepare`).
    match static_dir {
        Some(dir) => rocket.mount("/static", FileServer::from(dir)),
        None => rocket,
    }
}
