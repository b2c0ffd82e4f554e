//! Who may create an account: [`RegistrationMode`]. The setting
//! `registration` gives the mode a server starts with; an admin's choice on
//! the admin page is kept in the database and wins from then on.

use std::fmt;
use std::str::FromStr;

/// How accounts are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    /// Anyone registers (an invite, if given, still joins its rooms).
    #[default]
    Open,
    /// Registering needs a valid invite code.
    Invite,
    /// Only admins create accounts (the admin page, `chat user add`).
    Closed,
}

impl RegistrationMode {
    pub const ALL: [RegistrationMode; 3] = [RegistrationMode::Open, RegistrationMode::Invite, RegistrationMode::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationMode::Open => "open",
            RegistrationMode::Invite => "invite",
            RegistrationMode::Closed => "closed",
        }
    }
}

impl fmt::Display for RegistrationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of `open`, `invite`, `closed`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("registration is open, invite or closed")]
pub struct UnknownMode;

impl FromStr for RegistrationMode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, UnknownMode> {
        Self::ALL.into_iter().find(|mode| mode.as_str() == s).ok_or(UnknownMode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_print_and_default_to_open() {
        for mode in RegistrationMode::ALL {
            assert_eq!(mode.as_str().parse::<RegistrationMode>(), Ok(mode));
        }
        assert_eq!(RegistrationMode::default(), RegistrationMode::Open);
        assert!("Open".parse::<RegistrationMode>().is_err());
    }
}
