//! The store's side of second factors: TOTP rows (the secret as sealed by
//! `auth`, never readable here), recovery code hashes, and the one-time
//! rules that must hold across instances, each one conditional `UPDATE`:
//! a time step is accepted only if it is newer than the last one, a
//! recovery code only while unused, so two requests racing with one code
//! cannot both win.

use sqlx::Row;

use super::{Store, StoreError};

/// An account's TOTP row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    /// As `auth::SecretBox::seal` made it.
    pub sealed_secret: String,
    /// Whether a first code proved the app has the secret.
    pub confirmed: bool,
}

impl Store {
    pub async fn totp(&self, user_id: i64) -> Result<Option<TotpRecord>, StoreError> {
        let row = sqlx::query("SELECT secret, confirmed FROM totp WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| TotpRecord { sealed_secret: r.get(0), confirmed: r.get::<i64, _>(1) != 0 }))
    }

    /// Whether the account has confirmed TOTP (so logins ask for a code).
    pub async fn totp_confirmed(&self, user_id: i64) -> Result<bool, StoreError> {
        let confirmed: Option<i64> = sqlx::query_scalar("SELECT confirmed FROM totp WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(confirmed.is_some_and(|c| c != 0))
    }

    /// Starts (or starts again) an enrolment with a new sealed secret;
    /// `false`, changing nothing, when TOTP is already confirmed.
    pub async fn start_totp(&self, user_id: i64, sealed_secret: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO totp (user_id, secret, confirmed, last_step, created_at_ms) VALUES ($1, $2, 0, 0, $3) \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at_ms = excluded.created_at_ms \
             WHERE totp.confirmed = 0",
        )
        .bind(user_id)
        .bind(sealed_secret)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Confirms an enrolment whose first code was of time step `step`, and
    /// stores its recovery codes (replacing any old ones), in one
    /// transaction; `false` when there was no enrolment to confirm.
    pub async fn confirm_totp(&self, user_id: i64, step: i64, code_hashes: &[String]) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let confirmed =
            sqlx::query("UPDATE totp SET confirmed = 1, last_step = $2 WHERE user_id = $1 AND confirmed = 0")
                .bind(user_id)
                .bind(step)
                .execute(&mut *tx)
                .await?;
        if confirmed.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        for hash in code_hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Takes time step `step` for a login: `true` only if it is newer than
    /// every step accepted before (so a code is accepted once).
    pub async fn take_totp_step(&self, user_id: i64, step: i64) -> Result<bool, StoreError> {
        let taken =
            sqlx::query("UPDATE totp SET last_step = $2 WHERE user_id = $1 AND confirmed = 1 AND last_step < $2")
                .bind(user_id)
                .bind(step)
                .execute(&self.pool)
                .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Uses the recovery code with this hash: `true` only the first time.
    pub async fn take_recovery_code(&self, user_id: i64, code_hash: &str, now_ms: i64) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "UPDATE recovery_codes SET used_at_ms = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at_ms IS NULL",
        )
        .bind(user_id)
        .bind(code_hash)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    pub async fn recovery_codes_left(&self, user_id: i64) -> Result<i64, StoreError> {
        let left = sqlx::query_scalar("SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at_ms IS NULL")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(left)
    }

    /// Removes TOTP and the recovery codes; answers whether TOTP was on
    /// (confirmed) before.
    pub async fn delete_totp(&self, user_id: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let confirmed: Vec<i64> = sqlx::query_scalar("DELETE FROM totp WHERE user_id = $1 RETURNING confirmed")
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(confirmed.iter().any(|&c| c != 0))
    }
}
