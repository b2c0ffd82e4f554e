//! Who is talking: accounts, passwords, sessions and guest names.
//!
//! This module owns the rules for names and passwords, argon2id hashing
//! (always off the async executor), session lifetimes, and the session,
//! guest and device identifiers that the web layer keeps in private
//! cookies. It does not touch HTTP or SQL itself: the cookie plumbing lives
//! in `web::identity`, the rows in `store`.

mod accounts;
mod devices;
mod display;
mod login;
mod names;
mod passkeys;
mod password;
mod roles;
mod second_factor;
mod sessions;

pub use accounts::{AccountError, Accounts};
pub use devices::DeviceCookie;
pub use display::{DisplayName, MAX_DISPLAY_CHARS};
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
    /// A bot, by its bearer token: a member's rules, in its rooms only.
    Bot(crate::bots::BotUser),
}

impl Visitor {
    pub fn name(&self) -> &str {
        match self {
            Visitor::User(user) => &user.name,
            Visitor::Guest { name } => name.as_str(),
            Visitor::Bot(bot) => &bot.name,
        }
    }

    /// What the page calls this visitor: the account's display name, or
    /// a guest's name.
    pub fn display(&self) -> &str {
        match self {
            Visitor::User(user) => &user.display,
            Visitor::Guest { name } => name.as_str(),
            Visitor::Bot(bot) => &bot.name,
        }
    }

    pub fn is_guest(&self) -> bool {
        matches!(self, Visitor::Guest { .. })
    }

    /// The key that per-visitor limits count under: the session for members
    /// (a user with two sessions has two budgets), the name for guests, the
    /// account for bots.
    pub fn limit_key(&self) -> String {
        match self {
            Visitor::User(user) => format!("s:{}", user.session_id),
            Visitor::Guest { name } => format!("g:{}", name.as_str()),
            Visitor::Bot(bot) => format!("b:{}", bot.user_id),
        }
    }

    /// The author stamp the server puts on this visitor's messages.
    pub fn author(&self) -> crate::rooms::Author {
        match self {
            Visitor::User(user) => {
                let (name, display) = (user.name.clone(), user.display.clone());
                crate::rooms::Author { name, display, guest: false, user_id: Some(user.user_id), bot: false }
            }
            Visitor::Guest { name } => {
                let (name, display) = (name.as_str().to_owned(), name.as_str().to_owned());
                crate::rooms::Author { name, display, guest: true, user_id: None, bot: false }
            }
            Visitor::Bot(bot) => {
                let (name, display) = (bot.name.clone(), bot.name.clone());
                crate::rooms::Author { name, display, guest: false, user_id: Some(bot.user_id), bot: true }
            }
        }
    }

    /// Whether the visitor may use `room` at all: a bot only its own rooms
    /// (403 elsewhere), everyone else any room (what moderation allows).
    pub fn may_use(&self, room: &crate::rooms::RoomName) -> bool {
        match self {
            Visitor::Bot(bot) => bot.may_use(room),
            Visitor::User(_) | Visitor::Guest { .. } => true,
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
