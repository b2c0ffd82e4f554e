//! The store's side of who may sign up: the registration mode kept in the
//! database, invites (their uses counted atomically with the account they
//! create), one-time password-reset tokens, and the lists the admin page
//! shows (accounts, rooms with their access rules).
//!
//! Codes and tokens arrive here already hashed (`access::codes`); this file
//! never sees one in the clear, and decides nothing about who may act.

use sqlx::Row;

use super::{Store, StoreError};
use crate::auth::NameKey;

/// An invite as stored (its code only as a hash, never kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRow {
    pub id: i64,
    pub created_by: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub uses: i64,
    pub used: i64,
    pub revoked_at_ms: Option<i64>,
    /// The rooms its registrations join.
    pub rooms: Vec<String>,
}

/// What an attempt to register through an invite did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvitedSignup {
    /// The account exists, one use was taken, and it is on these rooms'
    /// allow lists.
    Joined { user_id: i64, rooms: Vec<String> },
    /// No use was left to take (the row as it is now; `None`: no such code).
    Refused(Option<InviteRow>),
}

/// An account as the admin page lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountRow {
    pub name: String,
    pub role: String,
    pub created_at_ms: i64,
    pub banned: bool,
}

/// A room with rules of its own (locked or members-only), for the admin page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoomRules {
    pub name: String,
    pub locked: bool,
    pub members_only: bool,
    pub members: Vec<String>,
}

const INVITE_COLUMNS: &str = "id, created_by, created_at_ms, expires_at_ms, uses, used, revoked_at_ms, rooms";

fn invite_row(r: &sqlx::any::AnyRow) -> InviteRow {
    let rooms: String = r.get(7);
    InviteRow {
        id: r.get(0),
        created_by: r.get(1),
        created_at_ms: r.get(2),
        expires_at_ms: r.get(3),
        uses: r.get(4),
        used: r.get(5),
        revoked_at_ms: r.get(6),
        rooms: rooms.split_whitespace().map(str::to_owned).collect(),
    }
}

impl Store {
    /// A value kept in `site_settings` (`None`: never set at run time).
    pub async fn site_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let value = sqlx::query_scalar("SELECT value FROM site_settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(value)
    }

    pub async fn set_site_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO site_settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a new invite; answers its id.
    pub async fn create_invite(
        &self,
        code_hash: &str,
        created_by: &str,
        now_ms: i64,
        expires_at_ms: i64,
        uses: i64,
        rooms: &[String],
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO invites (code_hash, created_by, created_at_ms, expires_at_ms, uses, rooms) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(code_hash)
        .bind(created_by)
        .bind(now_ms)
        .bind(expires_at_ms)
        .bind(uses)
        .bind(rooms.join(" "))
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Invites that could still be used at `now_ms`.
    pub async fn open_invites(&self, now_ms: i64) -> Result<i64, StoreError> {
        let count = sqlx::query_scalar(
            "SELECT count(*) FROM invites WHERE revoked_at_ms IS NULL AND expires_at_ms > $1 AND used < uses",
        )
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }

    /// The newest invites first.
    pub async fn invites(&self, limit: u32) -> Result<Vec<InviteRow>, StoreError> {
        let sql = format!("SELECT {INVITE_COLUMNS} FROM invites ORDER BY id DESC LIMIT $1");
        let rows = sqlx::query(&sql).bind(i64::from(limit)).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(invite_row).collect())
    }

    pub async fn invite_by_hash(&self, code_hash: &str) -> Result<Option<InviteRow>, StoreError> {
        let sql = format!("SELECT {INVITE_COLUMNS} FROM invites WHERE code_hash = $1");
        let row = sqlx::query(&sql).bind(code_hash).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(invite_row))
    }

    /// Revokes an invite not revoked yet; `false` when there is no such
    /// invite (or it was revoked already).
    pub async fn revoke_invite(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE invites SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL")
            .bind(now_ms)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Creates an account through an invite, in one transaction: takes one
    /// use (only while one is left, the invite is not revoked and not
    /// expired), inserts the account and puts it on the invite's rooms'
    /// allow lists. The use is taken by an `UPDATE ... WHERE used < uses`,
    /// which holds the invite's row (PostgreSQL) or the one write lock
    /// (SQLite) until commit: of two registrations racing for the last use,
    /// the second finds none left. A taken name rolls the use back.
    pub async fn create_invited_user(
        &self,
        code_hash: &str,
        name: &str,
        display: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<InvitedSignup, StoreError> {
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query(
            "UPDATE invites SET used = used + 1 \
             WHERE code_hash = $1 AND revoked_at_ms IS NULL AND expires_at_ms > $2 AND used < uses RETURNING rooms",
        )
        .bind(code_hash)
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(taken) = taken else {
            drop(tx);
            return Ok(InvitedSignup::Refused(self.invite_by_hash(code_hash).await?));
        };
        let rooms: String = taken.get(0);
        let inserted = sqlx::query_scalar(
            "INSERT INTO users (name, password_hash, created_at_ms, display) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(password_hash)
        .bind(now_ms)
        .bind(display)
        .fetch_one(&mut *tx)
        .await;
        let user_id: i64 = match inserted {
            Ok(id) => id,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(StoreError::UsernameTaken),
            Err(e) => return Err(e.into()),
        };
        let rooms: Vec<String> = rooms.split_whitespace().map(str::to_owned).collect();
        for room in &rooms {
            sqlx::query("INSERT INTO room_members (room, name) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(room)
                .bind(NameKey::new(name).as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(InvitedSignup::Joined { user_id, rooms })
    }

    /// Keeps a new reset token for an account: its earlier tokens, and
    /// every token past its time, are deleted (only the newest link works).
    pub async fn create_reset_token(
        &self,
        token_hash: &str,
        user_id: i64,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM reset_tokens WHERE user_id = $1 OR expires_at_ms <= $2")
            .bind(user_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO reset_tokens (token_hash, user_id, expires_at_ms) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_at_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account a reset token may still reset (unused, not expired).
    pub async fn reset_token_user(&self, token_hash: &str, now_ms: i64) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT users.id, users.name FROM reset_tokens JOIN users ON users.id = reset_tokens.user_id \
             WHERE token_hash = $1 AND used_at_ms IS NULL AND expires_at_ms > $2",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// Uses a reset token once: marks it used and sets the password, in one
    /// transaction (of two uses at once, one finds it used). Answers the
    /// account, or `None` when the token is unknown, used or expired.
    pub async fn use_reset_token(
        &self,
        token_hash: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let user_id: Option<i64> = sqlx::query_scalar(
            "UPDATE reset_tokens SET used_at_ms = $1 \
             WHERE token_hash = $2 AND used_at_ms IS NULL AND expires_at_ms > $1 RETURNING user_id",
        )
        .bind(now_ms)
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(user_id) = user_id else { return Ok(None) };
        let name: Option<String> =
            sqlx::query_scalar("UPDATE users SET password_hash = $1 WHERE id = $2 RETURNING name")
                .bind(password_hash)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(name) = name else { return Ok(None) };
        tx.commit().await?;
        Ok(Some((user_id, name)))
    }

    /// Accounts whose name contains `find` (any case; empty: every one),
    /// by name, at most `limit`.
    pub async fn find_accounts(&self, find: &str, limit: u32) -> Result<Vec<AccountRow>, StoreError> {
        // `find` is a user name fragment: no LIKE wildcards of its own.
        let pattern: String = find.chars().filter(|c| !matches!(c, '%' | '_' | '\\')).collect();
        let rows = sqlx::query(
            "SELECT name, role, created_at_ms, \
                    CASE WHEN EXISTS (SELECT 1 FROM bans WHERE bans.name = lower(users.name)) THEN 1 ELSE 0 END \
             FROM users WHERE lower(name) LIKE $1 ORDER BY lower(name) LIMIT $2",
        )
        .bind(format!("%{}%", pattern.to_lowercase()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AccountRow {
                name: r.get(0),
                role: r.get(1),
                created_at_ms: r.get(2),
                banned: r.get::<i64, _>(3) != 0,
            })
            .collect())
    }

    /// Rooms that are locked or members-only, with their allow lists, by
    /// name, at most `limit` (conversations are never listed).
    pub async fn ruled_rooms(&self, limit: u32) -> Result<Vec<RoomRules>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, locked, members_only FROM rooms WHERE (locked = 1 OR members_only = 1) \
             AND name NOT LIKE 'dm-%' ORDER BY name LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut rooms = Vec::with_capacity(rows.len());
        for r in &rows {
            let name: String = r.get(0);
            let members: Vec<String> =
                sqlx::query_scalar("SELECT name FROM room_members WHERE room = $1 ORDER BY name LIMIT 200")
                    .bind(&name)
                    .fetch_all(&self.pool)
                    .await?;
            rooms.push(RoomRules {
                name,
                locked: r.get::<i64, _>(1) != 0,
                members_only: r.get::<i64, _>(2) != 0,
                members,
            });
        }
        Ok(rooms)
    }
}
