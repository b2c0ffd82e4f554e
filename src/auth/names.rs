//! Account names, passwords and guest names, each valid by construction.

use std::collections::HashSet;
use std::sync::LazyLock;

use rand::Rng;
use rand::distributions::Alphanumeric;
use thiserror::Error;

/// Why a registration form was refused; each text is shown to the user.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InvalidCredentials {
    #[error("usernames are 3 to 32 characters of letters, digits, '_', '.' and '-'")]
    UserNameShape,
    #[error("usernames may not start with 'guest-': those names belong to guests")]
    UserNameReserved,
    #[error("passwords are 8 to 128 characters")]
    PasswordLength,
    #[error("that password is one of the most common ones; choose another")]
    CommonPassword,
    #[error("display names are 1 to 64 characters")]
    DisplayNameLength,
    #[error("the display name has no visible characters")]
    DisplayNameInvisible,
}

/// The 3,000 most common passwords, lowercase, most common first: the head
/// of the list Django ships as `common-passwords.txt.gz` (BSD-3-Clause).
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common-passwords.txt").lines().collect());

/// An account name: 3-32 of `[A-Za-z0-9_.-]`, never starting with `guest-`
/// (in any case), so an account can never pass for a guest or the reverse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, InvalidCredentials> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if !(3..=32).contains(&raw.len()) || !raw.chars().all(valid_char) {
            return Err(InvalidCredentials::UserNameShape);
        }
        if raw.len() >= 6 && raw[..6].eq_ignore_ascii_case("guest-") {
            return Err(InvalidCredentials::UserNameReserved);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user name folded for comparison: names are case-insensitive, so every
/// check of "is this the same person" (bans, mutes, kicks, allow lists,
/// login budgets) keys on this rather than on the name as typed. Built from
/// any display name (account or guest, valid or not) by Unicode lowercasing,
/// and folded again when read back from the wire, so two keys are equal
/// exactly when their names differ only in case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct NameKey(String);

impl NameKey {
    pub fn new(name: &str) -> Self {
        Self(name.to_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NameKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for NameKey {
    /// Folds what it reads: a peer (or an older peer) can't hand us an
    /// unfolded key that would then never match.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::new(&raw))
    }
}

/// A password as typed: 8-128 Unicode scalar values, spaces and all. It is
/// never trimmed or truncated, so a prefix of a password is a wrong password.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// A new password (registration, change): the length rule and the
    /// common-password list apply.
    pub fn parse(raw: &str) -> Result<Self, InvalidCredentials> {
        if !(8..=128).contains(&raw.chars().count()) {
            return Err(InvalidCredentials::PasswordLength);
        }
        if COMMON_PASSWORDS.contains(raw.to_lowercase().as_str()) {
            return Err(InvalidCredentials::CommonPassword);
        }
        Ok(Self(raw.to_owned()))
    }

    /// Wraps whatever was typed at a login form: only registration enforces the
    /// length rule, so a login with any input costs the same verification.
    pub fn for_login(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A guest's name: `guest-` and 6 random lowercase letters or digits, kept per
/// browser in a private cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestName(String);

impl GuestName {
    const PREFIX: &'static str = "guest-";
    const RANDOM_LEN: usize = 6;

    pub fn generate() -> Self {
        let suffix: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .map(|b| (b as char).to_ascii_lowercase())
            .take(Self::RANDOM_LEN)
            .collect();
        Self(format!("{}{suffix}", Self::PREFIX))
    }

    /// Accepts only what `generate` could have made (4-16 random characters
    /// allow for future changes of length), so a cookie can't smuggle in
    /// another shape of name.
    pub fn parse(raw: &str) -> Option<Self> {
        let suffix = raw.strip_prefix(Self::PREFIX)?;
        let valid =
            (4..=16).contains(&suffix.len()) && suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_the_documented_rules() {
        for good in ["bob", "Alice_1", "a.b-c", &"x".repeat(32)] {
            assert!(UserName::parse(good).is_ok(), "{good:?}");
        }
        for bad in ["ab", "a b", "ali:ce", "élan", &"x".repeat(33), ""] {
            assert_eq!(UserName::parse(bad), Err(InvalidCredentials::UserNameShape), "{bad:?}");
        }
        for reserved in ["guest-1234", "GUEST-bob", "Guest-x"] {
            assert_eq!(UserName::parse(reserved), Err(InvalidCredentials::UserNameReserved));
        }
        assert!(UserName::parse("guest").is_ok());
        assert!(UserName::parse("guestbook").is_ok());
    }

    #[test]
    fn passwords_count_characters_and_keep_spaces() {
        assert!(Password::parse("8 chars!").is_ok());
        assert_eq!(Password::parse("12345678"), Err(InvalidCredentials::CommonPassword));
        assert!(Password::parse("пароль пароль").is_ok());
        assert_eq!(Password::parse("1234567"), Err(InvalidCredentials::PasswordLength));
        assert_eq!(Password::parse(&"é".repeat(129)), Err(InvalidCredentials::PasswordLength));
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        for common in ["password", "PASSWORD1", "iloveyou", "qwertyuiop", "1q2w3e4r5t"] {
            assert_eq!(Password::parse(common), Err(InvalidCredentials::CommonPassword), "{common}");
        }
        assert_eq!(COMMON_PASSWORDS.len(), 3000);
        assert_eq!(Password::parse("  spaced  ").unwrap().expose(), "  spaced  ");
    }

    #[test]
    fn name_keys_ignore_case_in_any_script_and_fold_on_the_way_in() {
        assert_eq!(NameKey::new("Alice"), NameKey::new("aLICE"));
        assert_eq!(NameKey::new("ÉLAN").as_str(), "élan");
        assert_eq!(NameKey::new("ΣΟΦΙΑ"), NameKey::new("σοφια"));
        assert_ne!(NameKey::new("alice"), NameKey::new("alicia"));
        let key = NameKey::new("Bob");
        assert_eq!(serde_json::to_string(&key).unwrap(), r#""bob""#);
        assert_eq!(serde_json::from_str::<NameKey>(r#""BoB""#).unwrap(), key);
    }

    #[test]
    fn generated_guest_names_parse_and_differ() {
        let a = GuestName::generate();
        assert_eq!(GuestName::parse(a.as_str()), Some(a.clone()));
        assert_ne!(a, GuestName::generate());
        assert!(GuestName::parse("guest-AB12").is_none());
        assert!(GuestName::parse("alice").is_none());
        assert!(GuestName::parse("guest-<b>").is_none());
    }
}
