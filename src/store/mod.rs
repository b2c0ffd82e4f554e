//! Durable state: accounts, sessions and message history, in SQLite (the
//! embedded default) or PostgreSQL (shared by several instances), chosen by
//! the scheme of `database_url`; and the files attached to messages, in the
//! files directory (`files`), whose rows are the database's (`attachments`).
//!
//! `Store` is a cheap handle (clone it freely) around a connection pool that
//! reads and takes the rare account and session writes, and the message
//! writer (`writer`) with a connection of its own, which assigns per-room
//! ids and commits messages in batches. The store knows
//! nothing of HTTP; it never publishes anything itself, but hands each
//! committed batch to a [`Publish`] in commit order.
//!
//! Search has a file of its own (`search`: one plan per engine over the
//! indexes the migrations keep in step with `messages`).
//!
//! The activity page reads the daily rollup the migrations' triggers keep
//! (`activity`).
//!
//! Maintenance has files of its own: `backup` (a consistent copy of a live
//! SQLite file), `export` (messages as JSON lines) and `sweep` (deleting old
//! messages and ended sessions in small batches, for housekeeping).

mod access;
mod activity;
mod attachments;
mod backup;
mod bots;
mod changes;
mod engine;
mod export;
pub mod files;
mod messages;
mod moderation;
mod people;
mod profiles;
mod search;
mod second_factor;
mod sweep;
mod writer;

use std::sync::Arc;

use sqlx::AnyPool;
use sqlx::Row;
use thiserror::Error;

use crate::clock::Clock;
use crate::i18n::Preferences;
use crate::metrics::Metrics;
use crate::rooms::{self, Delivery, RoomName};
pub use access::{AccountRow, InviteRow, InvitedSignup, RoomRules};
pub use activity::{ActivityRows, DM_BUCKET, MessagesOnDay, PeopleOnDay, RoomMessages};
pub use attachments::StoredAttachment;
pub use backup::{BackupError, BackupReport, PG_DUMP, backup};
pub use bots::{BotListing, BotRecord, HookListing, HookRecord};
pub use changes::{Change, ChangeError, Changed, Version};
use engine::Engine;
pub use export::ExportError;
pub use moderation::{AuditEntry, Authorship, RoleChange, RoomFlag, RoomPolicy};
pub use people::{UNREAD_CAP, Unread};
pub use profiles::StoredAvatar;
pub use search::{RECENT_WINDOW, SearchSpec};
pub use second_factor::{PasskeyOwner, PasskeyRow, TotpRecord};
pub use writer::{NewMessage, Publish};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("that username is taken")]
    UsernameTaken,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Native(Arc<rusqlite::Error>),
    #[error("a batch of messages failed to commit: {0}")]
    Batch(Arc<StoreError>),
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the message writer has stopped")]
    WriterStopped,
    #[error("unsupported database_url {0:?}: expected sqlite://<path> or postgres://...")]
    UnsupportedUrl(String),
}

/// An account row, as login needs it.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: i64,
    pub name: String,
    /// The display name (the handle when none was chosen).
    pub display: String,
    pub password_hash: String,
}

/// What an account read selects, for [`user_record`]; a display name left
/// unset (NULL) is the handle.
const USER_COLUMNS: &str = "id, name, password_hash, COALESCE(display, name) AS display";

fn user_record(r: &sqlx::any::AnyRow) -> UserRecord {
    UserRecord {
        id: r.get("id"),
        name: r.get("name"),
        display: r.get("display"),
        password_hash: r.get("password_hash"),
    }
}

/// How messages of a deleted account are signed.
pub const DELETED_USER: &str = "deleted user";

/// A session row joined with its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub user_id: i64,
    pub name: String,
    pub display: String,
    /// The account's settings (`user_settings`).
    pub preferences: Preferences,
    pub created_ms: i64,
    pub last_seen_ms: i64,
}

/// A room with its latest activity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoomSummary {
    pub name: String,
    pub messages: i64,
    #[serde(serialize_with = "serialize_millis")]
    pub last_at_ms: i64,
}

fn serialize_millis<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rooms::format_at(rooms::from_millis(*ms)))
}

/// The handle to the database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    writer: writer::MessageWriter,
    /// Where committed changes go (the writer publishes its own messages).
    publish: Arc<dyn Publish>,
    clock: Clock,
    /// Which engine: the little SQL that differs (search) asks.
    engine: Engine,
    /// Where attached files live, so that deleting a message deletes them
    /// (`None` for a store that serves no files: the command line's).
    files: Option<files::FileDir>,
}

impl Store {
    /// Opens the database at `url` (creating a SQLite file if missing),
    /// applies migrations and starts the message writer, which hands each
    /// commit to `publish`.
    pub async fn open(url: &str, publish: Arc<dyn Publish>) -> Result<Self, StoreError> {
        Self::open_with(url, publish, Metrics::new(), Clock::system()).await
    }

    /// [`Store::open`], counting batches and write times into `metrics`,
    /// with `clock` stamping messages and accounts.
    pub async fn open_with(
        url: &str,
        publish: Arc<dyn Publish>,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> Result<Self, StoreError> {
        let engine = Engine::of(url)?;
        // The writer has a connection of its own: an in-memory database
        // would be a different, empty one for it.
        if engine == Engine::Sqlite && matches!(engine::sqlite_path(url), "" | ":memory:") {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        }
        let pool = engine::connect(engine, url, 8).await?;
        engine::migrate(engine, &pool).await?;
        let outlets = writer::Outlets { publish: publish.clone(), metrics, clock: clock.clone() };
        let writer = match engine {
            Engine::Sqlite => writer::MessageWriter::spawn_sqlite(engine::sqlite_path(url), outlets)?,
            Engine::Postgres => {
                let write_pool = engine::connect(engine, url, 1).await?;
                writer::MessageWriter::spawn_pooled(write_pool, outlets)
            }
        };
        Ok(Self { pool, writer, publish, clock, engine, files: None })
    }

    /// Whether the database answers, with its tables.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1 FROM rooms LIMIT 1").execute(&self.pool).await?;
        Ok(())
    }

    // ---- accounts -------------------------------------------------------

    pub async fn create_user(&self, name: &str, password_hash: &str) -> Result<i64, StoreError> {
        self.create_account(name, None, password_hash).await
    }

    /// Creates an account with a display name (`None`: its handle).
    pub async fn create_account(
        &self,
        name: &str,
        display: Option<&str>,
        password_hash: &str,
    ) -> Result<i64, StoreError> {
        let result = sqlx::query_scalar(
            "INSERT INTO users (name, password_hash, created_at_ms, display) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(password_hash)
        .bind(self.clock.now_ms())
        .bind(display)
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(id) => Ok(id),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::UsernameTaken),
            Err(e) => Err(e.into()),
        }
    }

    /// Finds an account by name, ignoring case.
    pub async fn find_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE lower(name) = lower($1)");
        let row = sqlx::query(&sql).bind(name).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(user_record))
    }

    pub async fn find_user_by_id(&self, user_id: i64) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(&sql).bind(user_id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(user_record))
    }

    /// Every account as (name, role, created), oldest first.
    pub async fn list_users(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT name, role, created_at_ms FROM users ORDER BY id").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    pub async fn set_password_hash(&self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes an account, in one transaction with what is keyed by its
    /// name: its room memberships and mutes go (so whoever registers the
    /// name next inherits no access), its messages stay, shown as written by
    /// [`DELETED_USER`]. A ban on the name stays: deleting cannot lift it.
    /// Answers the rooms whose access rules changed, for caches to forget.
    pub async fn delete_user(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let name: Option<String> =
            sqlx::query_scalar("SELECT name FROM users WHERE id = $1").bind(user_id).fetch_optional(&mut *tx).await?;
        let Some(name) = name else { return Ok(Vec::new()) };
        let key = crate::auth::NameKey::new(&name);
        let mut rooms: Vec<String> = sqlx::query_scalar("DELETE FROM room_members WHERE name = $1 RETURNING room")
            .bind(key.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let muted: Vec<String> = sqlx::query_scalar("DELETE FROM mutes WHERE name = $1 RETURNING room")
            .bind(key.as_str())
            .fetch_all(&mut *tx)
            .await?;
        rooms.extend(muted);
        // Its conversations lose it (the rows would go with the account
        // anyway; named here so that cached access is forgotten too).
        let conversations: Vec<String> = sqlx::query_scalar("DELETE FROM dm_members WHERE user_id = $1 RETURNING room")
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
        rooms.extend(conversations);
        rooms.sort();
        rooms.dedup();
        sqlx::query("UPDATE messages SET user_name = $1, display = $1 WHERE user_id = $2")
            .bind(DELETED_USER)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(rooms)
    }

    // ---- sessions -------------------------------------------------------

    pub async fn create_session(&self, session_id: &str, user_id: i64, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (id, user_id, created_at_ms, last_seen_at_ms) VALUES ($1, $2, $3, $4)")
            .bind(session_id)
            .bind(user_id)
            .bind(now_ms)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A session row with its account.
    pub async fn session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT users.id, users.name, sessions.created_at_ms, sessions.last_seen_at_ms, \
             COALESCE(users.display, users.name), \
             s.language, s.theme, s.clock, s.send_key, s.notify \
             FROM sessions JOIN users ON users.id = sessions.user_id \
             LEFT JOIN user_settings s ON s.user_id = users.id WHERE sessions.id = $1",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| SessionRecord {
            user_id: r.get(0),
            name: r.get(1),
            created_ms: r.get(2),
            last_seen_ms: r.get(3),
            display: r.get(4),
            preferences: Preferences::from_stored([r.get(5), r.get(6), r.get(7), r.get(8)], r.get(9)),
        }))
    }

    pub async fn touch_session(&self, session_id: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(session_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, session_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(session_id).execute(&self.pool).await?;
        Ok(())
    }

    /// Deletes every session of an account, returning their ids.
    pub async fn delete_sessions_of(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        let ids = sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 RETURNING id")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(ids)
    }

    // ---- messages -------------------------------------------------------

    /// Stores a message and answers once it is committed (and handed to the
    /// publisher): the message then has its id and server time.
    pub async fn append(&self, message: NewMessage) -> Result<Arc<Delivery>, StoreError> {
        self.writer.append(message).await
    }

    // `latest`, `after` and `before` read messages in `messages`, beside
    // the row mapping.

    /// The highest id in a room (0 for a room without messages).
    pub async fn last_id(&self, room: &RoomName) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar("SELECT last_id FROM rooms WHERE name = $1")
            .bind(room.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    /// Rooms with a message at or after `since_ms`, with their last id: what
    /// a periodic sweep compares with what was delivered.
    pub async fn rooms_active_since(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT name, last_id FROM rooms WHERE last_at_ms >= $1")
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Rooms with messages, most recently active first.
    pub async fn rooms(&self, limit: u32) -> Result<Vec<RoomSummary>, StoreError> {
        let rows = sqlx::query("SELECT name, last_id, last_at_ms FROM rooms ORDER BY last_at_ms DESC, name LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| RoomSummary { name: r.get(0), messages: r.get(1), last_at_ms: r.get(2) }).collect())
    }
}
