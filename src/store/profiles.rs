//! The store's side of profiles: an account's display name (NULL in
//! `users.display` means its handle). Messages keep the display name they
//! were posted under in a column of their own (`messages.display`,
//! written with the message, see `messages`), so changing it here never
//! rewrites history.

use super::{Store, StoreError};

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
}
