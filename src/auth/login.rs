//! Every check of a password, under the login throttle: logging in (where
//! a banned account fails like a wrong password, and an account with a
//! second factor then needs its code, in the same budgets) and the account
//! actions that ask for the password again (so a stolen session cannot
//! guess it); and registering, under its per-address limit.
//!
//! Each check takes its place in the throttle's budgets before the
//! password is verified, and gives it back unless the password was wrong,
//! so concurrent guesses cannot overrun a budget; a browser's device cookie
//! for the name decides which budget that is. The web layer only turns the
//! outcome into a page.

use std::net::IpAddr;
use std::sync::Arc;

use thiserror::Error;

use super::{AccountError, Accounts, DeviceCookie, PendingLogin, SecondFactorError, SecondFactors, SessionUser};
use crate::limits::{Attempt, LoginThrottle, RegistrationLimit, RetryAfter};
use crate::moderation::Moderation;

/// Why a password check or a registration did not go through.
#[derive(Debug, Error)]
pub enum LoginError {
    /// Too many wrong passwords for this name, from this address, or from
    /// this device.
    #[error("too many failed attempts: try again in {} minutes", .0.secs().div_ceil(60))]
    Throttled(RetryAfter),
    /// Too many registrations from this address.
    #[error("too many registrations from your address: try again in {} minutes", .0.secs().div_ceil(60))]
    TooManyRegistrations(RetryAfter),
    #[error(transparent)]
    Account(#[from] AccountError),
}

/// What a right password leads to.
#[derive(Debug)]
pub enum FirstStep {
    /// Logged in: a new session.
    LoggedIn(SessionUser),
    /// The account has a second factor: no session until the code.
    CodeNeeded(PendingLogin),
}

/// Password checks with the throttle and the ban list applied.
#[derive(Clone)]
pub struct Logins {
    accounts: Accounts,
    throttle: Arc<LoginThrottle>,
    registrations: Arc<RegistrationLimit>,
    moderation: Moderation,
    second_factors: SecondFactors,
}

impl Logins {
    pub fn new(
        accounts: Accounts,
        throttle: Arc<LoginThrottle>,
        registrations: Arc<RegistrationLimit>,
        moderation: Moderation,
        second_factors: SecondFactors,
    ) -> Self {
        Self { accounts, throttle, registrations, moderation, second_factors }
    }

    /// Creates an account and logs it in, unless this address has tried
    /// too many registrations lately; the hash waits in the same bounded
    /// queue as every login's. `display` is the display name asked for
    /// (blank or `None`: the handle).
    pub async fn register(
        &self,
        name: &str,
        password: &str,
        display: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<SessionUser, LoginError> {
        self.take_registration(ip)?;
        Ok(self.accounts.register_displayed(name, password, display).await?)
    }

    /// Counts one registration attempt from `ip`, or refuses it when the
    /// address has tried too many lately (also for registrations through
    /// an invite, `access::Access::register`).
    pub fn take_registration(&self, ip: Option<IpAddr>) -> Result<(), LoginError> {
        self.registrations.try_take(ip).map_err(|wait| {
            tracing::warn!("registration throttled: from {}", shown(ip));
            LoginError::TooManyRegistrations(wait)
        })
    }

    /// Logs in, unless throttled; a banned account fails like a wrong
    /// password, after the same work. `device` is the browser's device
    /// cookie, if it holds one. An account with a second factor is not
    /// logged in yet: the answer is the pending login that the code
    /// finishes ([`Logins::finish_with_code`]).
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        ip: Option<IpAddr>,
        device: Option<&DeviceCookie>,
    ) -> Result<FirstStep, LoginError> {
        let who = format!("user {name:?} from {}", shown(ip));
        let attempt = self.take(name, ip, device).inspect_err(|_| tracing::warn!("login throttled: {who}"))?;
        let login = match self.accounts.check_credentials(name, password).await {
            // A store error while checking the ban list refuses the login.
            Ok(user) if self.moderation.login_refused(&user.name).await.unwrap_or(true) => {
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
        let user = settle(attempt, login)?;
        if self.second_factors.required(user.id).await.map_err(AccountError::from)? {
            tracing::info!("password right, code needed: {who}");
            let now = self.second_factors.clock().now_ms();
            return Ok(FirstStep::CodeNeeded(PendingLogin::new(user.id, user.name, now)));
        }
        let session =
            self.accounts.sessions().start(user.id, user.name, user.display).await.map_err(AccountError::from)?;
        Ok(FirstStep::LoggedIn(session))
    }

    /// Finishes a login whose password was right with a code from the
    /// app or a recovery code, under the same budgets as passwords: a
    /// wrong code counts like a wrong password. Only now does a session
    /// start.
    pub async fn finish_with_code(
        &self,
        pending: &PendingLogin,
        code: &str,
        ip: Option<IpAddr>,
        device: Option<&DeviceCookie>,
    ) -> Result<SessionUser, SecondFactorError> {
        let who = format!("user {:?} from {}", pending.name(), shown(ip));
        if !pending.is_fresh(self.second_factors.clock().now_ms()) {
            return Err(SecondFactorError::LoginExpired);
        }
        let trusted = device.and_then(|d| d.trusted_for(pending.name()));
        let attempt = self
            .throttle
            .try_take(pending.name(), ip, trusted)
            .map_err(SecondFactorError::Throttled)
            .inspect_err(|_| tracing::warn!("login code throttled: {who}"))?;
        let checked = match self.second_factors.check(pending.user_id(), code).await {
            // Banned since the password was checked: refused like a wrong code.
            Ok(()) if self.moderation.login_refused(pending.name()).await.unwrap_or(true) => {
                Err(SecondFactorError::WrongCode)
            }
            other => other,
        };
        match checked {
            Ok(()) => {
                attempt.give_back();
                tracing::info!("login code accepted: {who}");
                Ok(self.accounts.sessions().start_for(pending.user_id(), pending.name().to_owned()).await?)
            }
            Err(SecondFactorError::WrongCode) => {
                tracing::info!("login code refused: {who}");
                drop(attempt);
                Err(SecondFactorError::WrongCode)
            }
            Err(other) => {
                attempt.give_back();
                Err(other)
            }
        }
    }

    /// Checks a logged-in member's password again (before turning a second
    /// factor off), under the throttle.
    pub async fn confirm_password(
        &self,
        user: &SessionUser,
        password: &str,
        ip: Option<IpAddr>,
        device: Option<&DeviceCookie>,
    ) -> Result<(), LoginError> {
        let attempt = self.take(&user.name, ip, device)?;
        let checked = self.accounts.check_password(user, password).await;
        settle(attempt, checked)
    }

    /// Changes the password of a logged-in member (the current one first).
    pub async fn change_password(
        &self,
        user: &SessionUser,
        current: &str,
        new: &str,
        ip: Option<IpAddr>,
        device: Option<&DeviceCookie>,
    ) -> Result<SessionUser, LoginError> {
        let attempt = self.take(&user.name, ip, device)?;
        let changed = self.accounts.change_password(user, current, new).await;
        settle(attempt, changed)
    }

    /// Deletes a logged-in member's account (the password first).
    pub async fn delete_account(
        &self,
        user: &SessionUser,
        password: &str,
        ip: Option<IpAddr>,
        device: Option<&DeviceCookie>,
    ) -> Result<(), LoginError> {
        let attempt = self.take(&user.name, ip, device)?;
        let deleted = self.accounts.delete_account(user, password).await;
        if let Ok(rooms) = &deleted {
            tracing::info!("account {:?} deleted", user.name);
            // Cached allow lists still name it: whoever registers the name
            // next must not read those rooms from a cache either.
            self.moderation.access_changed(rooms);
        }
        settle(attempt, deleted).map(drop)
    }

    fn take(&self, name: &str, ip: Option<IpAddr>, device: Option<&DeviceCookie>) -> Result<Attempt, LoginError> {
        self.throttle.try_take(name, ip, device.and_then(|d| d.trusted_for(name))).map_err(LoginError::Throttled)
    }
}

/// A wrong password keeps its place in the budgets as a failure; any other
/// outcome (right, or the password never checked) gives it back.
fn settle<T>(attempt: Attempt, result: Result<T, AccountError>) -> Result<T, LoginError> {
    if !matches!(result, Err(AccountError::WrongCredentials | AccountError::WrongCurrentPassword)) {
        attempt.give_back();
    }
    Ok(result?)
}

fn shown(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string())
}
