//! Registering, logging in and out, changing passwords, deleting accounts:
//! plain async functions over the store and the session table.

use std::sync::Arc;

use thiserror::Error;

use super::password::Verdict;
use super::sessions::{SessionUser, Sessions};
use super::{DisplayName, InvalidCredentials, Password, PasswordError, PasswordHasher, UserName};
use crate::i18n::Preferences;
use crate::metrics::Metrics;
use crate::rooms::RoomName;
use crate::store::{Store, StoreError, UserRecord};

#[derive(Debug, Error)]
pub enum AccountError {
    #[error(transparent)]
    Invalid(#[from] InvalidCredentials),
    #[error("that username is taken")]
    NameTaken,
    /// One message for unknown user and wrong password alike.
    #[error("wrong username or password")]
    WrongCredentials,
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

impl From<StoreError> for AccountError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::UsernameTaken => AccountError::NameTaken,
            other => AccountError::Store(other),
        }
    }
}

/// Accounts and their sessions, for the routes and for tests.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    hasher: PasswordHasher,
    sessions: Sessions,
    metrics: Option<Arc<Metrics>>,
}

impl Accounts {
    pub fn new(store: Store, hasher: PasswordHasher, sessions: Sessions) -> Self {
        Self { store, hasher, sessions, metrics: None }
    }

    /// Counts login outcomes into `metrics`.
    pub fn counting(self, metrics: Arc<Metrics>) -> Self {
        for outcome in ["success", "failure"] {
            crate::metrics::zero(&metrics.logins, outcome);
        }
        Self { metrics: Some(metrics), ..self }
    }

    fn count_login(&self, outcome: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.logins.with_label_values(&[outcome]).inc();
        }
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The most password hashes or verifications that have run at once,
    /// registrations and logins together (they share one queue).
    #[doc(hidden)]
    pub fn hashing_peak(&self) -> usize {
        self.hasher.peak_concurrency()
    }

    /// Creates an account and logs it in.
    pub async fn register(&self, name: &str, password: &str) -> Result<SessionUser, AccountError> {
        self.register_displayed(name, password, None).await
    }

    /// Creates an account with a display name (blank or `None`: the
    /// handle) and logs it in.
    pub async fn register_displayed(
        &self,
        name: &str,
        password: &str,
        display: Option<&str>,
    ) -> Result<SessionUser, AccountError> {
        let name = UserName::parse(name)?;
        let password = Password::parse(password)?;
        let display = DisplayName::or_handle(display, name.as_str())?;
        // Checked before hashing only to spare the work; the unique index is
        // what decides a race between two registrations.
        if self.store.find_user(name.as_str()).await?.is_some() {
            return Err(AccountError::NameTaken);
        }
        let hash = self.hasher.hash(password).await?;
        let user_id = self.store.create_account(name.as_str(), Some(display.as_str()), &hash).await?;
        Ok(self.sessions.start(user_id, name.as_str().to_owned(), display.as_str().to_owned()).await?)
    }

    /// Checks a name and password and starts a new session. An unknown name
    /// costs one argon2 verification too, and fails exactly like a wrong
    /// password. A hash made with weaker parameters is upgraded on the way.
    pub async fn login(&self, name: &str, password: &str) -> Result<SessionUser, AccountError> {
        let user = self.check_credentials(name, password).await?;
        Ok(self.sessions.start(user.id, user.name, user.display).await?)
    }

    /// [`Accounts::login`]'s check of a name and password, without the
    /// session: the account, when both are right.
    pub(super) async fn check_credentials(&self, name: &str, password: &str) -> Result<UserRecord, AccountError> {
        let user = self.store.find_user(name).await?;
        let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
        let verdict = self.hasher.verify(Password::for_login(password), stored_hash).await?;
        let (Some(user), Verdict::Right { rehash }) = (user, verdict) else {
            self.count_login("failure");
            return Err(AccountError::WrongCredentials);
        };
        self.count_login("success");
        if rehash {
            let hash = self.hasher.hash(Password::for_login(password)).await?;
            self.store.set_password_hash(user.id, &hash).await?;
            tracing::info!("upgraded the password hash of {:?}", user.name);
        }
        Ok(user)
    }

    /// Changes the account's display name; its sessions here show it at
    /// once (other instances within their session cache's lifetime).
    /// Messages already posted keep the name they were posted under.
    pub async fn set_display(&self, user: &SessionUser, display: &DisplayName) -> Result<(), StoreError> {
        self.store.set_display(user.user_id, display.as_str()).await?;
        self.sessions.forget_user(user.user_id);
        Ok(())
    }

    /// Stores the account's settings, and its display name when given; its
    /// sessions here see them at once.
    pub async fn set_preferences(
        &self,
        user: &SessionUser,
        preferences: &Preferences,
        display: Option<&DisplayName>,
    ) -> Result<(), StoreError> {
        self.store.set_preferences(user.user_id, preferences).await?;
        if let Some(display) = display {
            self.store.set_display(user.user_id, display.as_str()).await?;
        }
        self.sessions.forget_user(user.user_id);
        Ok(())
    }

    /// Ends one session.
    pub async fn logout(&self, session_id: &str) -> Result<(), AccountError> {
        Ok(self.sessions.end(session_id).await?)
    }

    /// Ends every session of the account, this one included.
    pub async fn logout_everywhere(&self, user: &SessionUser) -> Result<(), AccountError> {
        Ok(self.sessions.end_all(user.user_id).await?)
    }

    /// Changes the password (the current one is needed), ends every session
    /// of the account and starts a new one for this browser.
    pub async fn change_password(
        &self,
        user: &SessionUser,
        current: &str,
        new: &str,
    ) -> Result<SessionUser, AccountError> {
        let new = Password::parse(new)?;
        self.check_password(user, current).await?;
        let hash = self.hasher.hash(new).await?;
        self.store.set_password_hash(user.user_id, &hash).await?;
        self.sessions.end_all(user.user_id).await?;
        Ok(self.sessions.start(user.user_id, user.name.clone(), user.display.clone()).await?)
    }

    /// Deletes the account (the password is needed) with its room
    /// memberships and mutes, and ends its sessions; its messages stay,
    /// signed "deleted user". Answers the rooms whose access rules changed.
    pub async fn delete_account(&self, user: &SessionUser, password: &str) -> Result<Vec<RoomName>, AccountError> {
        self.check_password(user, password).await?;
        self.sessions.end_all(user.user_id).await?;
        let rooms = self.store.delete_user(user.user_id).await?;
        Ok(rooms.iter().filter_map(|room| RoomName::parse(room).ok()).collect())
    }

    pub(super) async fn check_password(&self, user: &SessionUser, password: &str) -> Result<(), AccountError> {
        let stored = self.store.find_user_by_id(user.user_id).await?.map(|u| u.password_hash);
        match self.hasher.verify(Password::for_login(password), stored).await? {
            Verdict::Right { .. } => Ok(()),
            Verdict::Wrong => Err(AccountError::WrongCurrentPassword),
        }
    }
}
