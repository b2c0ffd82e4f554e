//! The store's side of profiles: an account's display name (NULL in
//! `users.display` means its handle), and its avatar (a row of `avatars`:
//! the small square picture itself, made at upload). Messages keep the
//! display name they were posted under in a column of their own
//! (`messages.display`, written with the message, see `messages`), so
//! changing it here never rewrites history.

use sqlx::Row;

use super::{Store, StoreError};

/// An account's uploaded avatar, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAvatar {
    /// Changes with every upload: what the answer's ETag says.
    pub version: i64,
    pub content_type: String,
    pub image: Vec<u8>,
}

impl Store {
    /// Sets the display name of account `user_id`.
    pub async fn set_display(&self, user_id: i64, display: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET display = $1 WHERE id = $2")
            .bind(display)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces the avatar of account `user_id`.
    pub async fn set_avatar(&self, user_id: i64, avatar: &StoredAvatar) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO avatars (user_id, version, content_type, image) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, \
             content_type = excluded.content_type, image = excluded.image",
        )
        .bind(user_id)
        .bind(avatar.version)
        .bind(&avatar.content_type)
        .bind(&avatar.image)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes the avatar of account `user_id` (its handle's picture is
    /// shown again); answers whether there was one.
    pub async fn remove_avatar(&self, user_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM avatars WHERE user_id = $1").bind(user_id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    /// The uploaded avatar of the account named `handle` (any case), if it
    /// has one.
    pub async fn avatar(&self, handle: &str) -> Result<Option<StoredAvatar>, StoreError> {
        let row = sqlx::query(
            "SELECT a.version, a.content_type, a.image FROM avatars a JOIN users u ON u.id = a.user_id \
             WHERE lower(u.name) = lower($1)",
        )
        .bind(handle)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| StoredAvatar { version: r.get(0), content_type: r.get(1), image: r.get(2) }))
    }
}
