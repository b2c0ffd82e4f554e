//! The app's own settings, read from the same figment as Rocket's (so
//! `Rocket.toml` and `ROCKET_*` variables set both), and the secret key that
//! private cookies need.
//!
//! This module prepares configuration before Rocket starts; it owns no
//! runtime state and never logs a secret.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use rand::RngCore;
use rand::rngs::OsRng;
use rocket::config::SecretKey;
use rocket::figment::Figment;
use serde::Deserialize;
use thiserror::Error;

/// Name of the generated key file inside `data_dir`.
pub const SECRET_KEY_FILE: &str = "secret_key";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<rocket::figment::Error>),
    #[error("cannot use data directory {path}: {source}")]
    DataDir { path: PathBuf, source: io::Error },
    #[error("cannot read or create the secret key file {path}: {source}")]
    SecretKeyFile { path: PathBuf, source: io::Error },
}

/// Settings beyond Rocket's own; every key can be set in `Rocket.toml` or as
/// `ROCKET_<KEY>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Where the SQLite file and the generated secret key live.
    pub data_dir: PathBuf,
    /// `sqlite://<path>`; defaults to `<data_dir>/chat.db`.
    pub database_url: Option<String>,
    /// The page's CSS and JavaScript.
    pub static_dir: PathBuf,
    /// Whether visitors who are not logged in may post (as `guest-xxxxxx`).
    pub allow_guests: bool,
    /// Seconds between SSE heartbeat comments (proxies drop silent streams).
    pub heartbeat_secs: u64,
    /// What SSE clients are told to wait before reconnecting, in ms.
    pub sse_retry_ms: u64,
    /// Messages a room's queue holds for a slow subscriber before that
    /// subscriber is caught up from the store instead.
    pub room_queue_capacity: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database_url: None,
            static_dir: PathBuf::from("static"),
            allow_guests: true,
            heartbeat_secs: 15,
            sse_retry_ms: 2000,
            room_queue_capacity: 1024,
        }
    }
}

impl Settings {
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(Box::new)?;
        Ok(Settings { heartbeat_secs: settings.heartbeat_secs.clamp(1, 15), ..settings })
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
    fs::create_dir_all(&settings.data_dir)
        .map_err(|source| ConfigError::DataDir { path: settings.data_dir.clone(), source })?;
    // Rocket's own defaults carry an all-zero key, which means "none".
    let configured = figment.extract_inner::<SecretKey>("secret_key").is_ok_and(|key| !key.is_zero());
    if configured {
        return Ok((figment, settings));
    }
    let key = load_or_create_key(&settings.data_dir.join(SECRET_KEY_FILE))?;
    Ok((figment.merge(("secret_key", key)), settings))
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
    fn a_configured_key_wins_and_no_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let configured = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
        let figment =
            rocket::Config::figment().merge(("data_dir", dir.path())).merge(("secret_key", configured.clone()));
        let (figment, _) = prepare(figment).unwrap();
        assert_eq!(figment.find_value("secret_key").unwrap().into_string().unwrap(), configured);
        assert!(!dir.path().join(SECRET_KEY_FILE).exists());
    }
}
