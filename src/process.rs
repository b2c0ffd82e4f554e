//! The server as a process: `chat serve` from prepared settings to a
//! listening socket. It raises the open-file limit, starts the services
//! before Rocket (so a database that cannot be opened is reported as such),
//! and turns every way starting can fail into one [`ServeError`]: a line
//! saying what and where, for `main` to print before exiting non-zero.
//!
//! Nothing here may panic on bad input: a bad setting, an unusable data
//! directory or database and a taken port are all errors, not aborts.

use std::net::IpAddr;

use rocket::figment::Figment;
use thiserror::Error;

use crate::clock::Clock;
use crate::config::{self, ConfigError};
use crate::startup::StartError;

/// Descriptors kept for what is not a client connection: the database
/// pool, the SQLite writer, Redis, log files, the listener itself.
const RESERVED_DESCRIPTORS: u64 = 64;

#[derive(Debug, Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("cannot listen on {address}:{port}: {reason}")]
    Bind { address: IpAddr, port: u16, reason: String },
    #[error("the server stopped: {0}")]
    Launch(String),
}

/// Serves until shut down (Ctrl-C, SIGTERM).
pub async fn serve(figment: Figment, clock: Clock) -> Result<(), ServeError> {
    let (figment, settings) = config::prepare(figment)?;
    crate::logging::init(&settings);
    raise_open_file_limit();
    if let Some(path) = config::exposed_key_file(&settings) {
        tracing::warn!("the secret key file {} can be read by others: chmod 600 it", path.display());
    }
    let rocket_config: rocket::Config = figment.extract().map_err(|e| ConfigError::Invalid(Box::new(e)))?;
    let rocket = crate::start(figment, settings, clock).await?;
    match rocket.launch().await {
        Ok(_) => Ok(()),
        Err(error) => Err(match error.kind() {
            rocket::error::ErrorKind::Bind(source) => ServeError::Bind {
                address: rocket_config.address,
                port: rocket_config.port,
                reason: source.to_string(),
            },
            _ => ServeError::Launch(error.to_string()),
        }),
    }
}

/// Raises the soft open-file limit to the hard one: every open stream is a
/// descriptor, and the usual soft default (1024) would cap the server far
/// below what the machine allows. Logs how many connections that leaves.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(
            "open-file limit {limit}: room for about {} connections",
            limit.saturating_sub(RESERVED_DESCRIPTORS)
        ),
        Err(e) => tracing::warn!("could not raise the open-file limit: {e}"),
    }
}
