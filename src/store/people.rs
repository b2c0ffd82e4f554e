//! The store's side of people and their conversations: read positions
//! (and the unread counts they give), direct-message rooms with their fixed
//! members, blocks, and per-account settings.

use std::collections::HashMap;

use sqlx::Row;

use super::{Store, StoreError};
use crate::i18n::Preferences;
use crate::i18n::preferences::DEFAULT_NOTIFY;

/// Most messages an unread count counts; beyond it the page shows "999+".
pub const UNREAD_CAP: i64 = 999;

/// Unread messages of one room for one account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unread {
    /// Messages after the account's position, not its own, not deleted.
    pub unread: i64,
    /// Those of them that mention the account (`@name`).
    pub mentions: i64,
}

impl Store {
    /// Moves the account's position in `room` forward to `id` (never back);
    /// answers whether it moved.
    pub async fn mark_read(&self, user_id: i64, room: &str, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO read_positions (user_id, room, id) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, room) DO UPDATE SET id = excluded.id WHERE read_positions.id < excluded.id",
        )
        .bind(user_id)
        .bind(room)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// How far the account has read `room`, if it ever did.
    pub async fn read_position(&self, user_id: i64, room: &str) -> Result<Option<i64>, StoreError> {
        let id = sqlx::query_scalar("SELECT id FROM read_positions WHERE user_id = $1 AND room = $2")
            .bind(user_id)
            .bind(room)
            .fetch_optional(&self.pool)
            .await?;
        Ok(id)
    }

    /// Unread counts of `rooms` for account `user_id` (named `name`). A
    /// room never read counts from its start only if `from_start` says so
    /// (a direct message); other rooms count only once read.
    pub async fn unread(
        &self,
        user_id: i64,
        name: &str,
        rooms: &[(String, bool)],
    ) -> Result<HashMap<String, Unread>, StoreError> {
        let positions: HashMap<String, i64> = sqlx::query("SELECT room, id FROM read_positions WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mention = format!("%@{}%", escape_like(&name.to_lowercase()));
        let mut counts = HashMap::new();
        for (room, from_start) in rooms {
            let after = match (positions.get(room), from_start) {
                (Some(id), _) => *id,
                (None, true) => 0,
                (None, false) => continue,
            };
            let row = sqlx::query(
                "SELECT count(*), sum(CASE WHEN lower(text) LIKE $4 ESCAPE '\\' THEN 1 ELSE 0 END) FROM \
                 (SELECT text FROM messages WHERE room = $1 AND id > $2 AND deleted_by IS NULL \
                  AND (user_id IS NULL OR user_id <> $3) ORDER BY id LIMIT $5) AS recent",
            )
            .bind(room)
            .bind(after)
            .bind(user_id)
            .bind(&mention)
            .bind(UNREAD_CAP)
            .fetch_one(&self.pool)
            .await?;
            let unread = Unread { unread: row.get(0), mentions: row.get::<Option<i64>, _>(1).unwrap_or(0) };
            counts.insert(room.clone(), unread);
        }
        Ok(counts)
    }

    /// Makes the direct-message room `room` for these accounts, unless it
    /// exists: its room row (so it is listed before its first message) and
    /// its members. Answers whether it is new.
    pub async fn create_dm(&self, room: &str, user_ids: &[i64]) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let created = sqlx::query(
            "INSERT INTO rooms (name, last_id, last_at_ms, members_only) VALUES ($1, 0, $2, 1) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(room)
        .bind(self.clock.now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        for user_id in user_ids {
            sqlx::query("INSERT INTO dm_members (room, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(room)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    /// The members of a direct-message room as (account id, name), by name.
    pub async fn dm_members(&self, room: &str) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT users.id, users.name FROM dm_members JOIN users ON users.id = dm_members.user_id \
             WHERE dm_members.room = $1 ORDER BY lower(users.name)",
        )
        .bind(room)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Whether account `user_id` has blocked account `blocked_id`.
    pub async fn has_blocked(&self, user_id: i64, blocked_id: i64) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM blocks WHERE user_id = $1 AND blocked_id = $2")
            .bind(user_id)
            .bind(blocked_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    pub async fn set_blocked(&self, user_id: i64, blocked_id: i64, blocked: bool) -> Result<(), StoreError> {
        let sql = if blocked {
            "INSERT INTO blocks (user_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM blocks WHERE user_id = $1 AND blocked_id = $2"
        };
        sqlx::query(sql).bind(user_id).bind(blocked_id).execute(&self.pool).await?;
        Ok(())
    }

    /// The names of the accounts `user_id` has blocked, by name.
    pub async fn blocked_names(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        let names = sqlx::query_scalar(
            "SELECT users.name FROM blocks JOIN users ON users.id = blocks.blocked_id \
             WHERE blocks.user_id = $1 ORDER BY lower(users.name)",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(names)
    }

    /// The account's page settings (language, theme, clock, send key)
    /// and notification level, as stored.
    pub async fn preferences(&self, user_id: i64) -> Result<Preferences, StoreError> {
        let row = sqlx::query("SELECT language, theme, clock, send_key, notify FROM user_settings WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map_or_else(Preferences::default, |r| {
            Preferences::from_stored([r.get(0), r.get(1), r.get(2), r.get(3)], r.get(4))
        }))
    }

    /// Stores every page setting of `preferences` (an unset one as NULL)
    /// and its notification level when it has one.
    pub async fn set_preferences(&self, user_id: i64, preferences: &Preferences) -> Result<(), StoreError> {
        let [language, theme, clock, send_key] = preferences.stored();
        sqlx::query(
            "INSERT INTO user_settings (user_id, notify, language, theme, clock, send_key) \
             VALUES ($1, COALESCE($2, $3), $4, $5, $6, $7) \
             ON CONFLICT (user_id) DO UPDATE SET notify = COALESCE($2, user_settings.notify), \
             language = excluded.language, theme = excluded.theme, clock = excluded.clock, send_key = excluded.send_key",
        )
        .bind(user_id)
        .bind(preferences.notify)
        .bind(DEFAULT_NOTIFY)
        .bind(language)
        .bind(theme)
        .bind(clock)
        .bind(send_key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// `text` with LIKE's wildcards (and the escape itself) escaped by `\`.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
