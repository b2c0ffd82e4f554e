//! The store's side of bots and incoming webhooks: the `bots`, `bot_rooms`
//! and `hooks` tables (migrations `0014_bots.sql` / `0012_bots.sql`).
//!
//! Tokens reach this file only as digests (`bots::TokenDigest` makes them):
//! a lookup is one indexed read by digest. What a token may do, and the
//! rules for names and rooms, are `bots`'; this file only keeps rows.

use sqlx::Row;

use super::{Store, StoreError};

/// A live (not revoked) bot, as its token finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRecord {
    pub user_id: i64,
    pub name: String,
    /// The rooms it may read and post in, by name.
    pub rooms: Vec<String>,
}

/// A bot as `chat bot list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotListing {
    pub name: String,
    pub rooms: Vec<String>,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

/// A live webhook with the live bot it posts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRecord {
    pub id: i64,
    pub room: String,
    pub bot: BotRecord,
}

/// A webhook as `chat hook list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookListing {
    pub id: i64,
    pub bot: String,
    pub room: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

impl Store {
    /// Creates a bot account named `name` (unique with every other
    /// account, in any case) with no password, its token digest and its
    /// rooms, in one transaction; answers its account id.
    pub async fn create_bot(&self, name: &str, token_hash: &str, rooms: &[String]) -> Result<i64, StoreError> {
        let now = self.clock.now_ms();
        let mut tx = self.pool.begin().await?;
        // An empty hash never verifies (see `auth::PasswordHasher::verify`).
        let created = sqlx::query_scalar(
            "INSERT INTO users (name, password_hash, created_at_ms) VALUES ($1, '', $2) RETURNING id",
        )
        .bind(name)
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        let user_id: i64 = match created {
            Ok(id) => id,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(StoreError::UsernameTaken),
            Err(e) => return Err(e.into()),
        };
        sqlx::query("INSERT INTO bots (user_id, token_hash, created_at_ms) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(token_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for room in rooms {
            sqlx::query("INSERT INTO bot_rooms (user_id, room) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(user_id)
                .bind(room)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(user_id)
    }

    /// The live bot whose token has this digest.
    pub async fn bot_by_token(&self, token_hash: &str) -> Result<Option<BotRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT users.id, users.name FROM bots JOIN users ON users.id = bots.user_id \
             WHERE bots.token_hash = $1 AND bots.revoked_at_ms IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user_id: i64 = row.get(0);
        Ok(Some(BotRecord { user_id, name: row.get(1), rooms: self.bot_rooms(user_id).await? }))
    }

    /// The live bot named `name` (any case).
    pub async fn live_bot_named(&self, name: &str) -> Result<Option<BotRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT users.id, users.name FROM bots JOIN users ON users.id = bots.user_id \
             WHERE lower(users.name) = lower($1) AND bots.revoked_at_ms IS NULL",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user_id: i64 = row.get(0);
        Ok(Some(BotRecord { user_id, name: row.get(1), rooms: self.bot_rooms(user_id).await? }))
    }

    /// Whether the bot `user_id` is live (not revoked).
    pub async fn bot_is_live(&self, user_id: i64) -> Result<bool, StoreError> {
        let live: Option<i64> =
            sqlx::query_scalar("SELECT user_id FROM bots WHERE user_id = $1 AND revoked_at_ms IS NULL")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(live.is_some())
    }

    /// Whether account `user_id` is a bot (live or revoked).
    pub async fn is_bot(&self, user_id: i64) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT user_id FROM bots WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn bot_rooms(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT room FROM bot_rooms WHERE user_id = $1 ORDER BY room")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Every bot, oldest first.
    pub async fn list_bots(&self) -> Result<Vec<BotListing>, StoreError> {
        let rows = sqlx::query(
            "SELECT users.id, users.name, bots.created_at_ms, bots.revoked_at_ms \
             FROM bots JOIN users ON users.id = bots.user_id ORDER BY users.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut bots = Vec::with_capacity(rows.len());
        for row in rows {
            let rooms = self.bot_rooms(row.get(0)).await?;
            bots.push(BotListing { name: row.get(1), rooms, created_ms: row.get(2), revoked_ms: row.get(3) });
        }
        Ok(bots)
    }

    /// Revokes the live bot named `name` (any case); its token stops
    /// working at once, and so do its webhooks. Answers whether one was.
    pub async fn revoke_bot(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE bots SET revoked_at_ms = $1 WHERE revoked_at_ms IS NULL \
             AND user_id IN (SELECT id FROM users WHERE lower(name) = lower($2))",
        )
        .bind(self.clock.now_ms())
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds a webhook posting to `room` as the bot `bot_id`; answers its id.
    pub async fn create_hook(&self, bot_id: i64, room: &str, token_hash: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO hooks (token_hash, bot_id, room, created_at_ms) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(token_hash)
        .bind(bot_id)
        .bind(room)
        .bind(self.clock.now_ms())
        .fetch_one(&self.pool)
        .await?)
    }

    /// The live webhook whose token has this digest, if its bot is live too.
    pub async fn hook_by_token(&self, token_hash: &str) -> Result<Option<HookRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT hooks.id, hooks.room, users.id, users.name FROM hooks \
             JOIN bots ON bots.user_id = hooks.bot_id JOIN users ON users.id = bots.user_id \
             WHERE hooks.token_hash = $1 AND hooks.revoked_at_ms IS NULL AND bots.revoked_at_ms IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user_id: i64 = row.get(2);
        let bot = BotRecord { user_id, name: row.get(3), rooms: self.bot_rooms(user_id).await? };
        Ok(Some(HookRecord { id: row.get(0), room: row.get(1), bot }))
    }

    /// Every webhook, oldest first.
    pub async fn list_hooks(&self) -> Result<Vec<HookListing>, StoreError> {
        let rows = sqlx::query(
            "SELECT hooks.id, users.name, hooks.room, hooks.created_at_ms, hooks.revoked_at_ms \
             FROM hooks JOIN users ON users.id = hooks.bot_id ORDER BY hooks.id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| HookListing {
                id: r.get(0),
                bot: r.get(1),
                room: r.get(2),
                created_ms: r.get(3),
                revoked_ms: r.get(4),
            })
            .collect())
    }

    /// Revokes live webhook `id`; answers whether there was one.
    pub async fn revoke_hook(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE hooks SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL")
            .bind(self.clock.now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
