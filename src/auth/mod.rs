//! Who is talking: accounts, passwords, sessions and guest names.
//!
//! This module owns the rules for names and passwords, argon2id hashing
//! (always off the async executor), session lifetimes, and the session,
//! guest and device identifiers that the web layer keeps in private
//! cookies. It does not touch HTTP or SQL itself: the cookie plumbing lives
//! in `web::identity`, the rows in `store`.

mod accounts;
mod devices;
mod login;
mod names;
mod passkeys;
mod password;
mod roles;
mod second_factor;
mod sessions;

pub use accounts::{AccountError, Accounts};
pub use devices::DeviceCookie;
pub use login::{FirstStep, LoginError, Logins};
pub use names::{GuestName, InvalidCredentials, NameKey, Password, UserName};
pub use passkeys::{CEREMONY_SECS, MAX_CEREMONIES, MAX_PASSKEYS, PasskeyError, PasskeyInfo, Passkeys};
pub use password::{PasswordError, PasswordHasher, Verdict};
pub use roles::{AuditAction, Role, UnknownAuditAction, UnknownRole};
pub use second_factor::{
    PENDING_LOGIN_SECS, PendingLogin, RECOVERY_CODES, RecoveryCode, STEP_SECS, SecondFactorError, SecondFactors,
    SecretBox, TotpSecret, TotpState, step_of, totp_issuer,
};
pub use sessions::{Activity, SessionPolicy, SessionUser, Sessions};

use rand::RngCore;
use rand::rngs::OsRng;

/// The person behind a request, as the server knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visitor {
    /// Logged in through a session row.
    User(SessionUser),
    /// Not logged in: chats under a per-browser guest name.
    Guest { name: GuestName },
}

impl Visitor {
    pub fn name(&self) -> &str {
        match self {
            Visitor::User(user) => &user.name,
            Visitor::Guest { name } => name.as_str(),
        }
    }

    pub fn is_guest(&self) -> bool {
        matches!(self, Visitor::Guest { .. })
    }

    /// The key that per-visitor limits count under: the session for members
    /// (a user with two sessions has two budgets), the name for guests.
    pub fn limit_key(&self) -> String {
        match self {
            Visitor::User(user) => format!("s:{}", user.session_id),
            Visitor::Guest { name } => format!("g:{}", name.as_str()),
        }
    }

    /// The author stamp the server puts on this visitor's messages.
    pub fn author(&self) -> crate::rooms::Author {
        match self {
            Visitor::User(user) => {
                crate::rooms::Author { name: user.name.clone(), guest: false, user_id: Some(user.user_id) }
            }
            Visitor::Guest { name } => {
                crate::rooms::Author { name: name.as_str().to_owned(), guest: true, user_id: None }
            }
        }
    }
}

/// A new session id: 256 random bits from the OS, URL-safe base64.
///
/// The id only names a row in the sessions table; deleting the row revokes it
/// even though the browser still holds the (encrypted) cookie.
pub fn new_session_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_long_and_distinct() {
        let a = new_session_id();
        let b = new_session_id();
        assert_eq!(a.len(), 43, "256 bits in unpadded base64");
        assert_ne!(a, b);
    }
}
