//! Which database engine a `database_url` names, and how to connect to it.
//!
//! Both engines go through sqlx's `Any` driver with one set of SQL (written
//! with `$1`-style parameters, which SQLite and PostgreSQL both accept), so
//! the store has one code path; only connecting and the migrations differ.

use std::path::Path;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Connection, Executor};

use super::StoreError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The engines the store runs on, chosen by the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `sqlite://<path>`: one file, the embedded default.
    Sqlite,
    /// `postgres://...`: shared by several instances.
    Postgres,
}

impl Engine {
    pub fn of(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Engine::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    fn migrations(self) -> &'static Migrator {
        match self {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// Set on every SQLite connection.
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
];

/// Opens a pool of at most `max` connections to `url`.
pub async fn connect(engine: Engine, url: &str, max: u32) -> Result<AnyPool, StoreError> {
    sqlx::any::install_default_drivers();
    let options = AnyPoolOptions::new().max_connections(max).acquire_timeout(Duration::from_secs(10));
    let pool = match engine {
        Engine::Sqlite => {
            create_parent_dir(url)?;
            // WAL lets readers go on while the writer commits; FULL makes
            // every commit durable before a 201 is sent.
            options
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        for pragma in SQLITE_PRAGMAS {
                            connection.execute(pragma).await?;
                        }
                        Ok(())
                    })
                })
                .connect(&with_create_mode(url))
                .await?
        }
        Engine::Postgres => {
            // One plain connection first: the pool retries until its
            // timeout and then reports only that, where this reports why
            // (refused, unknown database, password) at once.
            sqlx::AnyConnection::connect(url).await?.close().await?;
            options.connect(url).await?
        }
    };
    Ok(pool)
}

/// Applies the engine's embedded migrations (already applied ones are
/// skipped; concurrent instances take turns through the migrator's lock).
pub async fn migrate(engine: Engine, pool: &AnyPool) -> Result<(), StoreError> {
    engine.migrations().run(pool).await?;
    Ok(())
}

/// `mode=rwc`: create the database file on first start.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The file of a `sqlite://<path>?<options>` URL.
pub fn sqlite_path(url: &str) -> &str {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    path.split('?').next().unwrap_or_default()
}

fn create_parent_dir(url: &str) -> Result<(), StoreError> {
    let path = sqlite_path(url);
    if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
    }
    owner_only(Path::new(path)).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))
}

/// The database file, created if missing, readable by its owner only
/// whatever the umask; SQLite gives its `-wal` and `-shm` files the
/// database's mode, and those already there are set the same.
fn owner_only(database: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if database.as_os_str().is_empty() || database.to_str().is_some_and(|p| p.starts_with(':')) {
        return Ok(()); // in memory
    }
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(database)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = database.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_chooses_the_engine() {
        assert_eq!(Engine::of("sqlite://data/chat.db").unwrap(), Engine::Sqlite);
        assert_eq!(Engine::of("postgres://localhost/test").unwrap(), Engine::Postgres);
        assert_eq!(Engine::of("postgresql://localhost/test").unwrap(), Engine::Postgres);
        assert!(Engine::of("mysql://localhost/test").is_err());
    }

    #[test]
    fn a_sqlite_url_names_its_file() {
        assert_eq!(sqlite_path("sqlite://data/chat.db?mode=rwc"), "data/chat.db");
        assert_eq!(sqlite_path("sqlite:/tmp/x.db"), "/tmp/x.db");
        assert_eq!(sqlite_path("sqlite::memory:"), ":memory:");
    }

    #[test]
    fn sqlite_files_are_created_on_first_start() {
        assert_eq!(with_create_mode("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(with_create_mode("sqlite://a.db?cache=shared"), "sqlite://a.db?cache=shared&mode=rwc");
        assert_eq!(with_create_mode("sqlite://a.db?mode=ro"), "sqlite://a.db?mode=ro");
    }
}
