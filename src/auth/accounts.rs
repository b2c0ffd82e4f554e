//! Registering, logging in and out, as plain async functions over the store.

use thiserror::Error;

use super::{InvalidCredentials, Password, PasswordError, PasswordHasher, UserName, new_session_id};
use crate::store::{Store, StoreError};

#[derive(Debug, Error)]
pub enum AccountError {
    #[error(transparent)]
    Invalid(#[from] InvalidCredentials),
    #[error("that username is taken")]
    NameTaken,
    /// One message for unknown user and wrong password alike.
    #[error("wrong username or password")]
    WrongCredentials,
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

/// A session that was just started: the id goes into the private cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub session_id: String,
    pub user_id: i64,
    pub name: String,
}

/// Accounts and sessions, for the routes and for tests.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    hasher: PasswordHasher,
}

impl Accounts {
    pub fn new(store: Store, hasher: PasswordHasher) -> Self {
        Self { store, hasher }
    }

    /// Creates an account and logs it in.
    pub async fn register(&self, name: &str, password: &str) -> Result<NewSession, AccountError> {
        let name = UserName::parse(name)?;
        let password = Password::parse(password)?;
        // Checked before hashing only to spare the work; the unique index is
        // what decides a race between two registrations.
        if self.store.find_user(name.as_str()).await?.is_some() {
            return Err(AccountError::NameTaken);
        }
        let hash = self.hasher.hash(password).await?;
        let user_id = self.store.create_user(name.as_str(), &hash).await?;
        self.start_session(user_id, name.as_str().to_owned()).await
    }

    /// Checks a name and password and starts a session. An unknown name costs
    /// one argon2 verification too, and fails exactly like a wrong password.
    pub async fn login(&self, name: &str, password: &str) -> Result<NewSession, AccountError> {
        let user = self.store.find_user(name).await?;
        let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
        let valid = self.hasher.verify(Password::for_login(password), stored_hash).await?;
        match user {
            Some(user) if valid => self.start_session(user.id, user.name).await,
            _ => Err(AccountError::WrongCredentials),
        }
    }

    /// Ends a session: its id stops authenticating at once.
    pub async fn logout(&self, session_id: &str) -> Result<(), AccountError> {
        Ok(self.store.delete_session(session_id).await?)
    }

    async fn start_session(&self, user_id: i64, name: String) -> Result<NewSession, AccountError> {
        let session_id = new_session_id();
        self.store.create_session(&session_id, user_id).await?;
        Ok(NewSession { session_id, user_id, name })
    }
}
