//! The store's side of second factors: TOTP rows (the secret as sealed by
//! `auth`, never readable here), recovery code hashes, passkeys and the
//! WebAuthn ceremonies in progress, and the one-time rules that must hold
//! across instances, each one conditional statement: a time step is
//! accepted only if it is newer than the last one, a recovery code only
//! while unused, a ceremony only by the one request that deletes it, so two
//! requests racing with one code cannot both win.

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

/// A stored passkey, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub created_ms: i64,
    pub used_ms: Option<i64>,
}

/// A stored passkey with its owner, as a login needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyOwner {
    pub user_id: i64,
    pub user_name: String,
    /// The owner's WebAuthn user handle.
    pub handle: String,
    /// webauthn-rs's record of the credential, as JSON.
    pub credential: String,
}

impl Store {
    /// The account's WebAuthn user handle, made from `fresh` the first time.
    pub async fn passkey_handle(&self, user_id: i64, fresh: &str) -> Result<String, StoreError> {
        sqlx::query("INSERT INTO passkey_users (user_id, handle) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING")
            .bind(user_id)
            .bind(fresh)
            .execute(&self.pool)
            .await?;
        let handle = sqlx::query_scalar("SELECT handle FROM passkey_users WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(handle)
    }

    /// The account's passkeys, oldest first.
    pub async fn passkeys_of(&self, user_id: i64) -> Result<Vec<PasskeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, created_at_ms, used_at_ms FROM passkeys WHERE user_id = $1 ORDER BY created_at_ms, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| PasskeyRow { id: r.get(0), name: r.get(1), created_ms: r.get(2), used_ms: r.get(3) })
            .collect())
    }

    /// Stores a new passkey; `false` when its credential id is taken.
    pub async fn add_passkey(
        &self,
        id: &str,
        user_id: i64,
        name: &str,
        credential: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let added = sqlx::query(
            "INSERT INTO passkeys (id, user_id, name, credential, created_at_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(user_id)
        .bind(name)
        .bind(credential)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(added.rows_affected() == 1)
    }

    pub async fn passkey_owner(&self, id: &str) -> Result<Option<PasskeyOwner>, StoreError> {
        let row = sqlx::query(
            "SELECT users.id, users.name, passkey_users.handle, passkeys.credential FROM passkeys \
             JOIN users ON users.id = passkeys.user_id \
             JOIN passkey_users ON passkey_users.user_id = passkeys.user_id WHERE passkeys.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| PasskeyOwner { user_id: r.get(0), user_name: r.get(1), handle: r.get(2), credential: r.get(3) }))
    }

    /// Notes a login with the passkey, with its updated record.
    pub async fn passkey_used(&self, id: &str, credential: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE passkeys SET credential = $2, used_at_ms = $3 WHERE id = $1")
            .bind(id)
            .bind(credential)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes one of the account's passkeys; answers its name if it was there.
    pub async fn delete_passkey(&self, user_id: i64, id: &str) -> Result<Option<String>, StoreError> {
        let name = sqlx::query_scalar("DELETE FROM passkeys WHERE user_id = $1 AND id = $2 RETURNING name")
            .bind(user_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(name)
    }

    /// Keeps a WebAuthn ceremony's state until `expires_ms`, unless `cap`
    /// ceremonies are in progress already (those over are deleted first);
    /// answers whether it was kept.
    pub async fn start_ceremony(
        &self,
        id: &str,
        user_id: Option<i64>,
        kind: &str,
        state: &str,
        expires_ms: i64,
        cap: i64,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now_ms();
        sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_ms <= $1").bind(now).execute(&self.pool).await?;
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM passkey_ceremonies").fetch_one(&self.pool).await?;
        if open >= cap {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO passkey_ceremonies (id, user_id, kind, state, expires_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(user_id)
        .bind(kind)
        .bind(state)
        .bind(expires_ms)
        .execute(&self.pool)
        .await?;
        Ok(true)
    }

    /// Takes (deletes) a ceremony of this kind that is not over: its
    /// account and state. A second take of one ceremony finds nothing.
    pub async fn take_ceremony(&self, id: &str, kind: &str) -> Result<Option<(Option<i64>, String)>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM passkey_ceremonies WHERE id = $1 AND kind = $2 RETURNING user_id, state, expires_ms",
        )
        .bind(id)
        .bind(kind)
        .fetch_optional(&self.pool)
        .await?;
        let now = self.clock.now_ms();
        Ok(row.filter(|r| r.get::<i64, _>(2) > now).map(|r| (r.get(0), r.get(1))))
    }
}
