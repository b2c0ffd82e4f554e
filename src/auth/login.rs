//! Every check of a password, under the login throttle: logging in (where
//! a banned account fails like a wrong password) and the account actions
//! that ask for the password again (so a stolen session cannot guess it).
//!
//! A wrong password counts against the name and the address; the web layer
//! only turns the outcome into a page.

use std::net::IpAddr;
use std::sync::Arc;

use thiserror::Error;

use super::{AccountError, Accounts, SessionUser};
use crate::limits::{LoginThrottle, RetryAfter};
use crate::moderation::Moderation;

/// Why a password check did not go through.
#[derive(Debug, Error)]
pub enum LoginError {
    /// Too many wrong passwords for this name or from this address.
    #[error("too many failed attempts: try again in {} minutes", .0.secs().div_ceil(60))]
    Throttled(RetryAfter),
    #[error(transparent)]
    Account(#[from] AccountError),
}

/// Password checks with the throttle and the ban list applied.
#[derive(Clone)]
pub struct Logins {
    accounts: Accounts,
    throttle: Arc<LoginThrottle>,
    moderation: Moderation,
}

impl Logins {
    pub fn new(accounts: Accounts, throttle: Arc<LoginThrottle>, moderation: Moderation) -> Self {
        Self { accounts, throttle, moderation }
    }

    /// Logs in, unless throttled; a banned account fails like a wrong
    /// password, after the same work.
    pub async fn login(&self, name: &str, password: &str, ip: Option<IpAddr>) -> Result<SessionUser, LoginError> {
        let who =
            format!("user {name:?} from {}", ip.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string()));
        if let Err(wait) = self.throttle.check(name, ip) {
            tracing::warn!("login throttled: {who}");
            return Err(LoginError::Throttled(wait));
        }
        let login = match self.accounts.login(name, password).await {
            // A store error while checking the ban list refuses the login.
            Ok(session) if self.moderation.login_refused(&session.name).await.unwrap_or(true) => {
                let _ = self.accounts.logout(&session.session_id).await;
                tracing::info!("login refused (banned): {who}");
                Err(AccountError::WrongCredentials)
            }
            other => other,
        };
        match &login {
            Ok(_) => tracing::info!("login succeeded: {who}"),
            Err(AccountError::WrongCredentials) => tracing::info!("login failed: {who}"),
            Err(_) => {}
        }
        self.counted(name, ip, login)
    }

    /// Changes the password of a logged-in member (the current one first).
    pub async fn change_password(
        &self,
        user: &SessionUser,
        current: &str,
        new: &str,
        ip: Option<IpAddr>,
    ) -> Result<SessionUser, LoginError> {
        self.throttle.check(&user.name, ip).map_err(LoginError::Throttled)?;
        let changed = self.accounts.change_password(user, current, new).await;
        self.counted(&user.name, ip, changed)
    }

    /// Deletes a logged-in member's account (the password first).
    pub async fn delete_account(
        &self,
        user: &SessionUser,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), LoginError> {
        self.throttle.check(&user.name, ip).map_err(LoginError::Throttled)?;
        let deleted = self.accounts.delete_account(user, password).await;
        if let Ok(rooms) = &deleted {
            tracing::info!("account {:?} deleted", user.name);
            // Cached allow lists still name it: whoever registers the name
            // next must not read those rooms from a cache either.
            self.moderation.access_changed(rooms);
        }
        self.counted(&user.name, ip, deleted).map(drop)
    }

    /// Counts a wrong password against the name and the address.
    fn counted<T>(&self, name: &str, ip: Option<IpAddr>, result: Result<T, AccountError>) -> Result<T, LoginError> {
        if matches!(result, Err(AccountError::WrongCredentials | AccountError::WrongCurrentPassword)) {
            self.throttle.record_failure(name, ip);
        }
        Ok(result?)
    }
}
