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
//! - `moderation`, `presence`, `limits`: access and actions, who is online,
//!   abuse limits;
//! - `web`: routes, guards and the HTTP encodings; `cli`: the command line;
//! - `clock`, `logging`, `metrics`: time, log lines, Prometheus.

pub mod auth;
pub mod bus;
pub mod cli;
pub mod clock;
pub mod config;
pub mod housekeeping;
pub mod limits;
pub mod live;
pub mod logging;
pub mod messages;
pub mod metrics;
pub mod moderation;
pub mod presence;
pub mod rooms;
pub mod startup;
pub mod store;
pub mod stream;
pub mod tasks;
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
use startup::Services;
use tasks::Tasks;

/// The default figment: Rocket's defaults with ours on top ([`SafeDefaults`]),
/// then `Rocket.toml` if there is one (or the file `ROCKET_CONFIG` names),
/// then `ROCKET_*` environment variables; the profile from `ROCKET_PROFILE`.
/// So the binary keeps its security defaults from any working directory,
/// with or without `Rocket.toml`.
pub fn figment() -> Figment {
    figment_with_file(rocket::figment::providers::Env::var_or("ROCKET_CONFIG", "Rocket.toml"))
}

/// [`figment`] with the TOML file named (which need not exist).
pub fn figment_with_file(toml: impl AsRef<std::path::Path>) -> Figment {
    use rocket::figment::Profile;
    use rocket::figment::providers::{Env, Format, Serialized, Toml};
    Figment::from(rocket::Config::default())
        .merge(Serialized::defaults(SafeDefaults::default()))
        .merge(Toml::file(toml).nested())
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .select(Profile::from_env_or("ROCKET_PROFILE", rocket::Config::DEFAULT_PROFILE))
}

/// Where our defaults differ from Rocket's, kept in code rather than only
/// in `Rocket.toml`.
#[derive(Debug, serde::Serialize)]
pub struct SafeDefaults {
    /// `false`: the client address is the socket's; a client-sent
    /// `X-Real-IP` is trusted only when a proxy is named.
    pub ip_header: bool,
    /// `false`: no `Server` header.
    pub ident: bool,
    /// Request bodies (merged into Rocket's other limits).
    pub limits: BodyLimits,
}

/// The body limits [`SafeDefaults`] sets.
#[derive(Debug, serde::Serialize)]
pub struct BodyLimits {
    pub json: &'static str,
    pub form: &'static str,
}

impl Default for SafeDefaults {
    fn default() -> Self {
        Self { ip_header: false, ident: false, limits: BodyLimits { json: "8 KiB", form: "8 KiB" } }
    }
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
    Ok(assemble(figment, settings, clock))
}

/// The app from prepared settings (see [`config::prepare`]), read once.
pub fn assemble(figment: Figment, settings: Settings, clock: Clock) -> Rocket<Build> {
    let static_dir = settings.static_dir.clone();
    // Shield's default Permissions-Policy only opts out of FLoC, which no
    // browser ships any more: one header less on every open stream.
    let shield = Shield::default().enable(Frame::Deny).enable(NoSniff::Enable).disable::<Permission>();
    let metrics = metrics::Metrics::new();
    let hsts = settings.secure_cookies;
    rocket::custom(figment)
        .attach(logging::AccessLog::new())
        .attach(metrics::RequestTimer(metrics.clone()))
        .attach(shield)
        .attach(web::SecurityHeaders { hsts })
        .attach(Template::fairing())
        .attach(web::CrossOriginGuard)
        .attach(AdHoc::try_on_ignite("Start the services", move |rocket| async move {
            let settings = rocket.state::<Settings>().expect("settings are managed");
            match Services::start(settings, clock, metrics.clone()).await {
                Ok(services) => Ok(services.manage(rocket.manage(metrics))),
                Err(e) => {
                    tracing::error!("{e}");
                    Err(rocket)
                }
            }
        }))
        .attach(AdHoc::on_shutdown("Stop the background tasks", |rocket| {
            Box::pin(async move {
                if let Some(tasks) = rocket.state::<Arc<Tasks>>() {
                    tasks.stop().await;
                }
            })
        }))
        .manage(settings)
        .mount("/", web::routes())
        .mount("/static", FileServer::from(static_dir))
        .register("/", web::catchers())
}

#[cfg(test)]
mod tests {
    use rocket::data::ToByteUnit;

    #[test]
    fn the_safe_defaults_hold_without_rocket_toml_and_with_it() {
        for file in ["/nonexistent/Rocket.toml", "Rocket.toml"] {
            let config: rocket::Config = super::figment_with_file(file).extract().unwrap();
            assert_eq!(config.ip_header, None, "{file}: no client-chosen address header");
            assert_eq!(config.ident, rocket::config::Ident::none(), "{file}: no Server header");
            assert_eq!(config.limits.get("json"), Some(8.kibibytes()), "{file}");
            assert_eq!(config.limits.get("form"), Some(8.kibibytes()), "{file}");
            assert!(config.limits.get("file").is_some(), "{file}: Rocket's other limits stay");
        }
    }
}
