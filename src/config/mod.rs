//! The app's own settings, read once from the same figment as Rocket's (so
//! `Rocket.toml` and `ROCKET_*` variables set both) into one typed
//! [`Settings`], and the secret key that private cookies need (and that the
//! Redis bus's key is derived from).
//!
//! This module prepares configuration before Rocket starts; it owns no
//! runtime state and never logs a secret.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use rand::RngCore;
use rand::rngs::OsRng;
use rocket::config::SecretKey;
use rocket::figment::Figment;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::auth::SecretBox;
use crate::bus::BusKey;
use crate::limits::LimitSettings;

mod help;
mod sources;

pub use help::settings_help;
pub use sources::{BodyLimits, SafeDefaults, figment, figment_with_file};

/// Name of the generated key file inside `data_dir`.
pub const SECRET_KEY_FILE: &str = "secret_key";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<rocket::figment::Error>),
    #[error("cannot use data directory {path}: {source}")]
    DataDir { path: PathBuf, source: io::Error },
    #[error(
        "secret_key must be a 256-bit or 512-bit key, base64 or hex encoded \
         (make one with: head -c64 /dev/urandom | base64 -w0)"
    )]
    WeakSecretKey,
    #[error("cannot read or create the secret key file {path}: {source}")]
    SecretKeyFile { path: PathBuf, source: io::Error },
    #[error("{setting} {path} is not a readable directory: {source}")]
    AssetDir { setting: &'static str, path: PathBuf, source: io::Error },
}

/// Settings beyond Rocket's own; every key can be set in `Rocket.toml` or as
/// `ROCKET_<KEY>`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Settings {
    /// Where the SQLite file and the generated secret key live.
    pub data_dir: PathBuf,
    /// `sqlite://<path>` or `postgres://...`; defaults to `<data_dir>/chat.db`.
    pub database_url: Option<String>,
    /// `redis://...`: when set, instances share messages over Redis pub/sub
    /// (several instances behind a load balancer, on one PostgreSQL).
    pub redis_url: Option<String>,
    /// The Redis channel the instances share (distinct per deployment).
    pub redis_channel: String,
    /// A directory whose templates (`*.html.tera`) replace the built-in
    /// ones of the same name; unset, the built-in page is used as is.
    pub template_dir: Option<PathBuf>,
    /// A directory whose files are served under `/static/` in place of the
    /// built-in ones of the same name (the rest stay built in).
    pub static_dir: Option<PathBuf>,
    /// Whether visitors who are not logged in may post (as `guest-xxxxxx`).
    pub allow_guests: bool,
    /// How long after posting its author may edit a message (seconds).
    pub edit_window_secs: u64,
    /// Seconds between SSE heartbeat comments (proxies drop silent streams).
    pub heartbeat_secs: u64,
    /// What SSE clients are told to wait before reconnecting, in ms.
    pub sse_retry_ms: u64,
    /// Messages a room's queue holds for a slow subscriber before that
    /// subscriber is caught up from the store instead.
    pub room_queue_capacity: usize,
    /// Largest WebSocket message (and frame) a client may send, in bytes; a
    /// bigger one closes the socket with 1009. The library's default, 64
    /// MiB, would let each socket make the server buffer that much.
    pub ws_max_message_bytes: usize,
    /// A stream whose client has taken none of what was sent for this
    /// many seconds is dropped (its replay, slot and presence freed).
    pub stream_stall_secs: u64,
    /// Mark cookies `Secure` and send HSTS: on when TLS is terminated in
    /// front of the server (the default in release builds).
    pub secure_cookies: bool,
    /// A session unused this long ends (seconds).
    pub session_idle_secs: u64,
    /// A session ends this long after login, however used (seconds).
    pub session_absolute_secs: u64,
    /// How often an open stream re-checks its session (seconds), so that a
    /// stream of an ended session closes within this time.
    pub session_check_secs: u64,
    /// How long a session may be served from memory before its row is read
    /// again (seconds): the delay before a session ended on another
    /// instance, or from the command line, stops working here.
    pub session_cache_secs: u64,
    /// Password hashes computed at once; 0 means one per core.
    pub hash_concurrency: usize,
    /// Serve Prometheus metrics at `GET /metrics` on the main port (keep it
    /// behind the proxy: it is not for the public).
    pub metrics: bool,
    /// `text` or `json` log lines.
    pub log_format: String,
    /// Rocket's own `log_level` key, which our log lines follow too.
    pub log_level: rocket::config::LogLevel,
    /// How long a visitor stays online after their last stream in a room
    /// closes, so a reload never shows as leave-and-join (milliseconds).
    pub presence_grace_ms: u64,
    /// Messages older than this many days are deleted by housekeeping, a
    /// batch at a time (0, the default: kept for ever).
    pub message_retention_days: u32,
    /// Seconds between housekeeping runs: old messages (with a retention),
    /// ended session rows, and in-memory entries that are over.
    pub housekeeping_secs: u64,
    /// Where attached files live; unset, `<data_dir>/files`. Several
    /// instances must share one (a shared volume, NFS).
    pub files_dir: Option<PathBuf>,
    /// Largest file one upload may carry (bytes); refused with 413 as soon
    /// as the body passes it.
    pub upload_max_bytes: u64,
    /// Bytes of files one account (or guest) may have attached at once.
    pub upload_quota_bytes: u64,
    /// Whether guests may attach files (where they may post).
    pub guest_uploads: bool,
    /// How accounts are made until an admin picks a mode on the admin page
    /// (kept in the database, which wins from then on): `open`, `invite`
    /// (a valid invite code needed) or `closed` (only admins create them).
    pub registration: crate::access::RegistrationMode,
    /// Whether moderators may create invites too (admins always may).
    pub moderators_invite: bool,
    /// Where people reach the server (`https://chat.example.com`):
    /// passkeys are bound to its host and authenticator apps list TOTP
    /// under it. Unset: `http://localhost` on any port (development).
    pub public_origin: Option<String>,
    /// The abuse limits (`rate_limits`, `posts_per_sec`, ...).
    #[serde(flatten)]
    pub limits: LimitSettings,
    /// The key the Redis bus is authenticated with, derived from
    /// `secret_key` by [`prepare`] (not a setting of its own: instances of
    /// one deployment share `secret_key` already).
    #[serde(skip)]
    pub bus_key: Option<BusKey>,
    /// The key TOTP secrets are sealed with in the database, derived from
    /// `secret_key` by [`prepare`] like the bus key.
    #[serde(skip)]
    pub second_factor_key: Option<SecretBox>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database_url: None,
            redis_url: None,
            redis_channel: "chat:messages".to_owned(),
            template_dir: None,
            static_dir: None,
            allow_guests: true,
            edit_window_secs: 24 * 60 * 60,
            heartbeat_secs: 15,
            sse_retry_ms: 2000,
            room_queue_capacity: 1024,
            ws_max_message_bytes: 16 * 1024,
            stream_stall_secs: 30,
            secure_cookies: !cfg!(debug_assertions),
            session_idle_secs: 7 * 24 * 60 * 60,
            session_absolute_secs: 30 * 24 * 60 * 60,
            session_check_secs: 10,
            session_cache_secs: 15,
            hash_concurrency: 0,
            metrics: false,
            log_format: "text".to_owned(),
            log_level: rocket::config::LogLevel::Normal,
            presence_grace_ms: 5000,
            message_retention_days: 0,
            housekeeping_secs: 60,
            files_dir: None,
            upload_max_bytes: 10 * 1024 * 1024,
            upload_quota_bytes: 1024 * 1024 * 1024,
            guest_uploads: false,
            registration: crate::access::RegistrationMode::Open,
            moderators_invite: false,
            public_origin: None,
            limits: LimitSettings::default(),
            bus_key: None,
            second_factor_key: None,
        }
    }
}

impl Settings {
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(Box::new)?;
        Ok(Settings {
            heartbeat_secs: settings.heartbeat_secs.clamp(1, 15),
            session_check_secs: settings.session_check_secs.clamp(1, 30),
            stream_stall_secs: settings.stream_stall_secs.max(1),
            ..settings
        })
    }

    pub fn session_policy(&self) -> crate::auth::SessionPolicy {
        crate::auth::SessionPolicy {
            idle: std::time::Duration::from_secs(self.session_idle_secs),
            absolute: std::time::Duration::from_secs(self.session_absolute_secs),
            cache_ttl: std::time::Duration::from_secs(self.session_cache_secs),
        }
    }

    /// Where attached files live.
    pub fn files_dir(&self) -> PathBuf {
        self.files_dir.clone().unwrap_or_else(|| self.data_dir.join("files"))
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("chat.db").display()),
        }
    }
}

/// Reads the settings, creates the data directory, and makes sure the
/// figment carries a `secret_key`: a configured one always wins; otherwise
/// the key kept in `<data_dir>/secret_key` is used, generated on first start,
/// so that a restart does not log everyone out.
pub fn prepare(figment: Figment) -> Result<(Figment, Settings), ConfigError> {
    let settings = Settings::from_figment(&figment)?;
    // Rocket's own defaults carry an all-zero key, which means "none"; a
    // key that is there but does not parse (too short, not base64) is refused.
    let configured = match figment.extract_inner::<SecretKey>("secret_key") {
        Ok(key) => !key.is_zero(),
        Err(_) => return Err(ConfigError::WeakSecretKey),
    };
    // Rocket's own keys (port, address, limits, ...) are checked here too:
    // `rocket::custom` would abort the process on a bad one.
    figment.extract::<rocket::Config>().map_err(Box::new)?;
    let data_dir_error = |source| ConfigError::DataDir { path: settings.data_dir.clone(), source };
    if settings.data_dir.exists() && !settings.data_dir.is_dir() {
        return Err(data_dir_error(io::Error::other("not a directory")));
    }
    fs::create_dir_all(&settings.data_dir).map_err(data_dir_error)?;
    // Ours alone whatever the umask: it holds the key and the database.
    fs::set_permissions(&settings.data_dir, fs::Permissions::from_mode(0o700)).map_err(data_dir_error)?;
    fs::read_dir(&settings.data_dir).map_err(data_dir_error)?;
    for (setting, dir) in [("template_dir", &settings.template_dir), ("static_dir", &settings.static_dir)] {
        if let Some(path) = dir {
            fs::read_dir(path).map_err(|source| ConfigError::AssetDir { setting, path: path.clone(), source })?;
        }
    }
    let figment = if configured {
        figment
    } else {
        let key = load_or_create_key(&settings.data_dir.join(SECRET_KEY_FILE))?;
        figment.merge(("secret_key", key))
    };
    let secret = figment.find_value("secret_key").ok().and_then(|value| key_bytes(&value));
    let secret = secret.ok_or(ConfigError::WeakSecretKey)?;
    let bus_key = Some(BusKey::derive(&secret));
    let second_factor_key = Some(SecretBox::derive(&secret));
    Ok((figment, Settings { bus_key, second_factor_key, ..settings }))
}

/// The bytes of a `secret_key` as Rocket reads it: base64 (44 or 88
/// characters), hex (64) or an array of bytes; so two instances given one
/// key in different spellings still derive one bus key.
fn key_bytes(value: &rocket::figment::value::Value) -> Option<Vec<u8>> {
    use rocket::figment::value::Value;
    match value {
        Value::String(_, text) => match text.len() {
            44 | 88 => base64::engine::general_purpose::STANDARD.decode(text).ok(),
            64 => (0..64).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect(),
            _ => None,
        },
        Value::Array(_, items) => items.iter().map(|item| item.to_u128().and_then(|n| u8::try_from(n).ok())).collect(),
        _ => None,
    }
}

/// The secret key file, if others than its owner may read it (a key
/// written by hand, or copied with a loose umask): worth a warning at start.
pub fn exposed_key_file(settings: &Settings) -> Option<PathBuf> {
    let path = settings.data_dir.join(SECRET_KEY_FILE);
    let mode = fs::metadata(&path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then_some(path)
}

/// `url` without the password it may carry, for messages and logs.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((credentials, _)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{}", &rest[credentials.len() + 1..])
        }
        _ => url.to_owned(),
    }
}

fn load_or_create_key(path: &Path) -> Result<String, ConfigError> {
    let error = |source| ConfigError::SecretKeyFile { path: path.to_owned(), source };
    match fs::read_to_string(path) {
        Ok(key) => return Ok(key.trim().to_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(error(e)),
    }
    let mut bytes = [0u8; 64];
    OsRng.fill_bytes(&mut bytes);
    let key = base64::engine::general_purpose::STANDARD.encode(bytes);
    // create_new: if two processes race to create it, one fails and the
    // next start reads the winner's key.
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(error)?;
    file.write_all(key.as_bytes()).and_then(|_| file.sync_all()).map_err(error)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_generated_key_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let figment = rocket::Config::figment().merge(("data_dir", dir.path()));
        let (first, _) = prepare(figment.clone()).unwrap();
        let path = dir.path().join(SECRET_KEY_FILE);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (second, _) = prepare(figment).unwrap();
        let key = |f: &Figment| f.find_value("secret_key").unwrap().into_string().unwrap();
        assert_eq!(key(&first), key(&second));
        assert_eq!(key(&first).len(), 88, "512 bits in base64");
    }

    #[test]
    fn every_setting_is_read_once_from_the_same_figment() {
        let figment = rocket::Config::figment()
            .merge(("posts_per_sec", 7))
            .merge(("rate_limits", false))
            .merge(("presence_grace_ms", 250))
            .merge(("log_level", "debug"))
            .merge(("log_format", "json"));
        let settings = Settings::from_figment(&figment).unwrap();
        assert_eq!(settings.limits.posts_per_sec, 7);
        assert!(!settings.limits.rate_limits);
        assert_eq!(settings.limits.post_burst, LimitSettings::default().post_burst, "unset keys keep their default");
        assert_eq!(settings.presence_grace_ms, 250);
        assert_eq!(settings.log_level, rocket::config::LogLevel::Debug);
        assert_eq!(settings.log_format, "json");
    }

    #[test]
    fn a_database_url_is_shown_without_its_password() {
        assert_eq!(redacted_url("postgres://chat:s3cret@db:5432/chat"), "postgres://chat:***@db:5432/chat");
        assert_eq!(redacted_url("postgres://chat@db/chat"), "postgres://chat@db/chat");
        assert_eq!(redacted_url("sqlite://data/chat.db"), "sqlite://data/chat.db");
    }

    #[test]
    fn a_bad_value_of_rockets_own_keys_is_an_error_not_an_abort() {
        let figment = rocket::Config::figment().merge(("port", "eighty"));
        let error = prepare(figment).unwrap_err();
        assert!(error.to_string().contains("port"), "{error}");
    }

    #[test]
    fn a_key_shorter_than_256_bits_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        let figment = rocket::Config::figment().merge(("data_dir", dir.path())).merge(("secret_key", short));
        let error = prepare(figment).unwrap_err();
        assert!(matches!(error, ConfigError::WeakSecretKey));
        assert!(error.to_string().contains("256-bit"));
    }

    #[test]
    fn the_bus_key_follows_the_secret_key_however_it_is_spelled() {
        let dir = tempfile::tempdir().unwrap();
        let bus_key = |key: &str| {
            let figment = rocket::Config::figment().merge(("data_dir", dir.path())).merge(("secret_key", key));
            prepare(figment).unwrap().1.bus_key.expect("a bus key")
        };
        let bytes = [9u8; 32];
        let base64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(bus_key(&base64), bus_key(&hex));
        assert_ne!(bus_key(&base64), bus_key(&base64::engine::general_purpose::STANDARD.encode([8u8; 32])));
        let generated = prepare(rocket::Config::figment().merge(("data_dir", dir.path()))).unwrap().1;
        assert!(generated.bus_key.is_some(), "a generated key gives a bus key too");
    }

    #[test]
    fn a_configured_key_wins_and_no_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let configured = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
        let figment =
            rocket::Config::figment().merge(("data_dir", dir.path())).merge(("secret_key", configured.clone()));
        let (figment, _) = prepare(figment).unwrap();
        assert_eq!(figment.find_value("secret_key").unwrap().into_string().unwrap(), configured);
        assert!(!dir.path().join(SECRET_KEY_FILE).exists());
    }

    #[test]
    fn retention_is_off_unless_set_and_housekeeping_runs_every_minute() {
        let settings = Settings::from_figment(&rocket::Config::figment()).unwrap();
        assert_eq!((settings.message_retention_days, settings.housekeeping_secs), (0, 60));
        let figment = rocket::Config::figment().merge(("message_retention_days", 30)).merge(("housekeeping_secs", 5));
        let settings = Settings::from_figment(&figment).unwrap();
        assert_eq!((settings.message_retention_days, settings.housekeeping_secs), (30, 5));
    }
}
