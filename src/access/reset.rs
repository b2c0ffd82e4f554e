//! One-time password-reset links: an admin (or the operator, `chat user
//! reset-link NAME`) gets `/reset/<token>` for an account and hands it over;
//! whoever opens it within an hour sets a new password once, every other
//! session of the account ends, and that browser is logged in. No password
//! is ever handed around. The token is kept only as its hash; a new link
//! for an account replaces its earlier one.

use super::{Access, AccessError, audit, codes};
use crate::auth::{AccountError, AuditAction, Password, SessionUser};
use crate::clock::Clock;
use crate::store::Store;

/// How long a reset link works: an hour.
pub const RESET_LINK_SECS: i64 = 3600;

/// Reset links over the store, without checks of who asks.
#[derive(Clone)]
pub struct ResetLinks {
    store: Store,
    clock: Clock,
}

impl ResetLinks {
    pub fn new(store: Store, clock: Clock) -> Self {
        Self { store, clock }
    }

    /// A link (`/reset/<token>`) that resets `name`'s password once within
    /// the hour, asked for by `by` (audited).
    pub async fn issue(&self, by: &str, name: &str) -> Result<String, AccessError> {
        let user = self.store.find_user(name).await?.ok_or_else(|| AccessError::NoSuchAccount(name.to_owned()))?;
        let token = codes::new_code();
        let now = self.clock.now_ms();
        self.store.create_reset_token(&codes::hashed(&token), user.id, now, now + RESET_LINK_SECS * 1000).await?;
        audit(&self.store, &self.clock, by, AuditAction::ResetLink, &user.name, None).await?;
        Ok(format!("/reset/{token}"))
    }

    /// The account `token` may still reset.
    pub async fn account(&self, token: &str) -> Result<String, AccessError> {
        if !codes::well_formed(token) {
            return Err(AccessError::BadResetLink);
        }
        let found = self.store.reset_token_user(&codes::hashed(token), self.clock.now_ms()).await?;
        found.map(|(_, name)| name).ok_or(AccessError::BadResetLink)
    }
}

impl Access {
    /// The account a reset link is for, if it still works (the page).
    pub async fn reset_account(&self, token: &str) -> Result<String, AccessError> {
        self.resets.account(token).await
    }

    /// Uses a reset link: the new password is set, the link is spent, every
    /// session of the account ends and a new one starts for this browser.
    /// A banned account's link sets nothing.
    pub async fn reset_password(&self, token: &str, password: &str) -> Result<SessionUser, AccessError> {
        let password = Password::parse(password).map_err(AccountError::from)?;
        // Checked first, so a dead link costs no hashing.
        let name = self.resets.account(token).await?;
        if self.moderation.login_refused(&name).await? {
            return Err(AccessError::Banned);
        }
        let hash = self.hasher.hash(password).await?;
        let used = self.store.use_reset_token(&codes::hashed(token), &hash, self.clock.now_ms()).await?;
        let (user_id, name) = used.ok_or(AccessError::BadResetLink)?;
        self.sessions.end_all(user_id).await?;
        tracing::info!("the password of {name:?} was reset through a link");
        Ok(self.sessions.start_for(user_id, name).await?)
    }
}
