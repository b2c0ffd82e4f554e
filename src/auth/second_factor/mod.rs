//! Second factors: TOTP (an authenticator app's codes) with its one-time
//! recovery codes, and the half-logged-in state between a right password
//! and the code.
//!
//! [`SecondFactors`] enrols, confirms, checks and removes TOTP and writes
//! each change to the audit log. It does not check passwords or throttle:
//! `Logins` does both (the code step counts in the same budgets as
//! passwords, and turning TOTP off asks for the password through it). It
//! touches neither HTTP nor SQL: the routes are `web::second_factor`, the
//! rows `store::second_factor`. TOTP secrets are kept sealed
//! ([`SecretBox`]); recovery codes only as hashes.

mod pending;
mod recovery;
mod sealed;
mod totp;

use thiserror::Error;

pub use pending::{PENDING_LOGIN_SECS, PendingLogin};
pub use recovery::{RECOVERY_CODES, RecoveryCode};
pub use sealed::SecretBox;
pub use totp::{STEP_SECS, TotpSecret, step_of, totp_issuer};

use super::{AuditAction, SessionUser};
use crate::clock::Clock;
use crate::limits::RetryAfter;
use crate::store::{AuditEntry, Store, StoreError};

/// Longest code input read at all (a recovery code with spaces is ~20).
const MAX_CODE_CHARS: usize = 64;

#[derive(Debug, Error)]
pub enum SecondFactorError {
    /// Not a 6-digit code nor a recovery code.
    #[error("enter the 6-digit code from your app, or one of your recovery codes")]
    Malformed,
    /// A well-formed code that is not right now (or was used already).
    #[error("that code is wrong or was used already")]
    WrongCode,
    /// The half-logged-in cookie is missing or older than its lifetime.
    #[error("the login has expired: enter your password again")]
    LoginExpired,
    #[error("two-factor authentication is already on")]
    AlreadyOn,
    #[error("there is no two-factor set-up to confirm: start again")]
    NotEnrolling,
    #[error("two-factor authentication is not on")]
    NotOn,
    #[error("too many failed attempts: try again in {} minutes", .0.secs().div_ceil(60))]
    Throttled(RetryAfter),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where an account's TOTP stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TotpState {
    Off,
    /// Started but not confirmed by a first code: the secret to show.
    Enrolling(TotpSecret),
    /// On, with this many unused recovery codes.
    On {
        recovery_codes_left: i64,
    },
}

/// TOTP enrolment and checks, and their audit lines.
#[derive(Clone)]
pub struct SecondFactors {
    store: Store,
    clock: Clock,
    key: SecretBox,
    /// What authenticator apps list the account under (`issuer:name`).
    issuer: String,
}

impl SecondFactors {
    pub fn new(store: Store, clock: Clock, key: SecretBox, issuer: String) -> Self {
        Self { store, clock, key, issuer }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The associated data a user's secret is sealed with.
    fn owner(user_id: i64) -> Vec<u8> {
        format!("totp:{user_id}").into_bytes()
    }

    pub async fn state(&self, user_id: i64) -> Result<TotpState, SecondFactorError> {
        let Some(row) = self.store.totp(user_id).await? else { return Ok(TotpState::Off) };
        if row.confirmed {
            return Ok(TotpState::On { recovery_codes_left: self.store.recovery_codes_left(user_id).await? });
        }
        // A secret sealed under another secret_key cannot be shown; the
        // person starts again.
        Ok(match self.key.open(&row.sealed_secret, &Self::owner(user_id)) {
            Some(bytes) => TotpState::Enrolling(TotpSecret::from_bytes(bytes)),
            None => TotpState::Off,
        })
    }

    /// Whether logging in as this account needs a code after the password.
    pub async fn required(&self, user_id: i64) -> Result<bool, StoreError> {
        self.store.totp_confirmed(user_id).await
    }

    /// Starts an enrolment with a new secret (replacing an unconfirmed one).
    pub async fn start(&self, user: &SessionUser) -> Result<(), SecondFactorError> {
        let sealed = self.key.seal(TotpSecret::generate().bytes(), &Self::owner(user.user_id));
        if self.store.start_totp(user.user_id, &sealed, self.clock.now_ms()).await? {
            Ok(())
        } else {
            Err(SecondFactorError::AlreadyOn)
        }
    }

    /// The enrolment's QR code (an SVG document), if one is in progress.
    pub async fn enrolment_qr(&self, user: &SessionUser) -> Result<Option<String>, SecondFactorError> {
        Ok(match self.state(user.user_id).await? {
            TotpState::Enrolling(secret) => Some(secret.qr_svg(&self.issuer, &user.name)),
            TotpState::Off | TotpState::On { .. } => None,
        })
    }

    /// The enrolment's `otpauth://` URL, for those who cannot scan.
    pub fn otpauth_url(&self, secret: &TotpSecret, user: &SessionUser) -> String {
        secret.otpauth_url(&self.issuer, &user.name)
    }

    /// Turns TOTP on once the app's first code proves it has the secret;
    /// answers the recovery codes, to be shown this once.
    pub async fn confirm(&self, user: &SessionUser, code: &str) -> Result<Vec<RecoveryCode>, SecondFactorError> {
        let TotpState::Enrolling(secret) = self.state(user.user_id).await? else {
            return Err(match self.store.totp_confirmed(user.user_id).await? {
                true => SecondFactorError::AlreadyOn,
                false => SecondFactorError::NotEnrolling,
            });
        };
        let code = six_digits(code)?;
        let step = secret.matching_step(code, self.clock.now_ms()).ok_or(SecondFactorError::WrongCode)?;
        let codes: Vec<RecoveryCode> = (0..RECOVERY_CODES).map(|_| RecoveryCode::generate()).collect();
        let hashes: Vec<String> = codes.iter().map(RecoveryCode::hash).collect();
        if !self.store.confirm_totp(user.user_id, step as i64, &hashes).await? {
            return Err(SecondFactorError::NotEnrolling);
        }
        self.audit(user, AuditAction::TotpOn).await?;
        tracing::info!("two-factor authentication turned on for {:?}", user.name);
        Ok(codes)
    }

    /// Turns TOTP off (the caller has checked the password again).
    pub async fn turn_off(&self, user: &SessionUser) -> Result<(), SecondFactorError> {
        if !self.store.delete_totp(user.user_id).await? {
            return Err(SecondFactorError::NotOn);
        }
        self.audit(user, AuditAction::TotpOff).await?;
        tracing::info!("two-factor authentication turned off for {:?}", user.name);
        Ok(())
    }

    /// Checks a login's second step: a code of the app (each time step
    /// accepted once) or an unused recovery code (used up by this).
    pub async fn check(&self, user_id: i64, typed: &str) -> Result<(), SecondFactorError> {
        if typed.chars().count() > MAX_CODE_CHARS {
            return Err(SecondFactorError::Malformed);
        }
        if let Some(code) = RecoveryCode::parse(typed) {
            let now = self.clock.now_ms();
            return match self.store.take_recovery_code(user_id, &code.hash(), now).await? {
                true => Ok(()),
                false => Err(SecondFactorError::WrongCode),
            };
        }
        let code = six_digits(typed)?;
        let Some(row) = self.store.totp(user_id).await?.filter(|row| row.confirmed) else {
            return Err(SecondFactorError::NotOn);
        };
        let Some(secret) = self.key.open(&row.sealed_secret, &Self::owner(user_id)) else {
            // Only a changed secret_key does this; recovery codes still work.
            tracing::error!("the TOTP secret of account {user_id} does not open with this secret_key");
            return Err(SecondFactorError::WrongCode);
        };
        let step = TotpSecret::from_bytes(secret).matching_step(code, self.clock.now_ms());
        match step {
            Some(step) if self.store.take_totp_step(user_id, step as i64).await? => Ok(()),
            Some(_) | None => Err(SecondFactorError::WrongCode),
        }
    }

    async fn audit(&self, user: &SessionUser, action: AuditAction) -> Result<(), StoreError> {
        let entry = AuditEntry {
            at_ms: self.clock.now_ms(),
            actor: user.name.clone(),
            action,
            target: user.name.clone(),
            room: None,
            detail: None,
        };
        self.store.audit(&entry).await
    }
}

/// A typed app code: six digits, spaces ignored.
fn six_digits(typed: &str) -> Result<&str, SecondFactorError> {
    let code = typed.trim();
    let valid = code.len() == totp::DIGITS && code.bytes().all(|b| b.is_ascii_digit());
    valid.then_some(code).ok_or(SecondFactorError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_app_code_is_six_digits_and_nothing_else() {
        assert_eq!(six_digits(" 123456 ").unwrap(), "123456");
        for bad in ["12345", "1234567", "12345a", "", "１２３４５６"] {
            assert!(matches!(six_digits(bad), Err(SecondFactorError::Malformed)), "{bad}");
        }
    }
}
