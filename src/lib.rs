//! A self-hosted web chat room server.
//!
//! [`build`] assembles the whole app from a configuration figment, so the
//! binary and the tests run the very same thing. The modules, by concept:
//! `config` (settings and the secret key), `auth` (accounts, passwords,
//! sessions, guests), `rooms` (names, texts, messages), `store` (SQLite or
//! PostgreSQL, and the message writer), `bus` (Redis between instances),
//! `stream` (per-room queues and gap-free feeds), `limits` (abuse limits),
//! `messages` (the chat service the routes call) and `web` (routes).

pub mod auth;
pub mod bus;
pub mod cli;
pub mod clock;
pub mod config;
pub mod limits;
pub mod logging;
pub mod messages;
pub mod metrics;
pub mod moderation;
pub mod presence;
pub mod rooms;
pub mod store;
pub mod stream;
pub mod web;

use std::sync::Arc;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::fs::FileServer;
use rocket::shield::{Frame, NoSniff, Permission, Shield};
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;

pub use clock::Clock;
pub use config::{ConfigError, Settings};
use limits::{LimitSettings, Limits};

/// The default figment: `Rocket.toml`, then `ROCKET_*` environment variables.
pub fn figment() -> Figment {
    rocket::Config::figment()
}

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
    let limit_settings: LimitSettings = figment.extract().map_err(|e| ConfigError::Invalid(Box::new(e)))?;
    let static_dir = settings.static_dir.clone();
    let presence = presence::Presence::configured(&figment)?;
    // Shield's default Permissions-Policy only opts out of FLoC, which no
    // browser ships any more: one header less on every open stream.
    let shield = Shield::default().enable(Frame::Deny).enable(NoSniff::Enable).disable::<Permission>();
    let metrics = metrics::Metrics::new();
    Ok(rocket::custom(figment)
        .attach(logging::AccessLog::new())
        .attach(metrics::RequestTimer(metrics.clone()))
        .manage(Limits::new(&limit_settings, clock.clone(), metrics.clone()))
        .manage(metrics)
        .manage(clock)
        .manage(presence)
        .manage(settings.clone())
        .attach(shield)
        .attach(web::SecurityHeaders { hsts: settings.secure_cookies })
        .attach(Template::fairing())
        .attach(web::CrossOriginGuard)
        .attach(AdHoc::try_on_ignite("Open the store", open_store))
        .mount("/", web::routes())
        .mount("/static", FileServer::from(static_dir))
        .register("/", web::catchers()))
}

async fn open_store(rocket: Rocket<Build>) -> Result<Rocket<Build>, Rocket<Build>> {
    let settings = rocket.state::<Settings>().expect("settings are managed").clone();
    let metrics = rocket.state::<Arc<metrics::Metrics>>().expect("metrics are managed").clone();
    let hub = stream::Hub::with_metrics(settings.room_queue_capacity, metrics.clone());
    // With Redis, moderation announcements travel too: these are the two
    // ends the moderation service is given once it exists.
    let mut peers = None;
    let (publish, bus, fanout): (Arc<dyn store::Publish>, _, _) = match &settings.redis_url {
        None => (Arc::new(hub.clone()), bus::Bus::InProcess, None),
        Some(url) => {
            let health = Arc::new(bus::BusHealth::connecting());
            let (outbox, outgoing) = tokio::sync::mpsc::channel(BUS_OUTBOX);
            let (controls_out, controls_outgoing) = tokio::sync::mpsc::channel(BUS_OUTBOX);
            let (controls_in, controls_incoming) = tokio::sync::mpsc::unbounded_channel();
            peers = Some((controls_out, controls_incoming));
            let (fanout, starter) = bus::Fanout::new(hub.clone(), Some(outbox));
            let links = bus::BusLinks {
                channel: settings.redis_channel.clone(),
                fanout: fanout.clone(),
                outbox: outgoing,
                controls_out: controls_outgoing,
                controls_in,
                health: health.clone(),
            };
            if let Err(e) = bus::RedisBus::start(url, links) {
                tracing::error!("invalid redis_url: {e}");
                return Err(rocket);
            }
            (Arc::new(fanout), bus::Bus::Redis(health), Some(starter))
        }
    };
    let store = match store::Store::open_with_metrics(&settings.database_url(), publish, metrics.clone()).await {
        Ok(store) => store,
        Err(e) => {
            tracing::error!("cannot open the database: {e}");
            return Err(rocket);
        }
    };
    if let Some(starter) = fanout {
        starter.start(store.clone());
    }
    let hasher = match auth::PasswordHasher::new(settings.hash_concurrency).await {
        Ok(hasher) => hasher,
        Err(e) => {
            tracing::error!("cannot start password hashing: {e}");
            return Err(rocket);
        }
    };
    let clock = rocket.state::<Clock>().expect("the clock is managed").clone();
    let sessions = auth::Sessions::new(store.clone(), clock.clone(), settings.session_policy());
    let mut moderation = moderation::Moderation::new(store.clone(), clock.clone(), sessions.clone());
    if let Some((outgoing, incoming)) = peers {
        moderation = moderation.with_peers(outgoing);
        moderation.follow_peers(incoming);
    }
    let chat = messages::Chat::new(store.clone(), hub.clone(), moderation, settings.allow_guests);
    let accounts = auth::Accounts::new(store, hasher, sessions.clone()).counting(metrics);
    Ok(rocket.manage(chat).manage(sessions).manage(accounts).manage(bus).manage(hub))
}

/// Commits waiting to go out on Redis; beyond this (Redis away for long)
/// the other instances catch up from the store instead.
const BUS_OUTBOX: usize = 10_000;
