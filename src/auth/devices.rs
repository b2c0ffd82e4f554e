//! Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device
//! Cookies"): a browser that has logged in as a user holds a token naming
//! that user and a random device id, and a login it makes as that user is
//! counted against the device's own budget instead of the name's lockout.
//!
//! The token is only ever handed out after a right password (or a
//! registration) and travels in a private cookie, which Rocket encrypts and
//! authenticates with the secret key, so it cannot be forged or edited:
//! that is the signature OWASP asks for. The web layer does the cookie
//! (`web::identity`); this module says what it holds and whom it trusts.

use super::{NameKey, new_session_id};

/// What a device cookie holds: the user it was earned for and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCookie {
    /// 256 random bits; the key of the device's own failure budget.
    id: String,
    name: NameKey,
}

impl DeviceCookie {
    /// A new device id for a browser that has just logged in as `name`.
    pub fn issue(name: &str) -> Self {
        Self { id: new_session_id(), name: NameKey::new(name) }
    }

    /// Reads a cookie's (already decrypted) value: `<id>:<name>`. The id is
    /// URL-safe base64, so the first `:` ends it whatever the name holds.
    pub fn parse(value: &str) -> Option<Self> {
        let (id, name) = value.split_once(':')?;
        (!id.is_empty() && !name.is_empty()).then(|| Self { id: id.to_owned(), name: NameKey::new(name) })
    }

    /// The cookie's value.
    pub fn value(&self) -> String {
        format!("{}:{}", self.id, self.name)
    }

    /// The device's id, when this cookie was earned as `name` (any case):
    /// a cookie earned as someone else trusts nothing.
    pub fn trusted_for(&self, name: &str) -> Option<&str> {
        (self.name == NameKey::new(name)).then_some(self.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_cookie_trusts_only_its_own_name_in_any_case() {
        let cookie = DeviceCookie::issue("Alice");
        let read = DeviceCookie::parse(&cookie.value()).expect("its own value parses");
        assert_eq!(read, cookie);
        assert_eq!(read.trusted_for("ALICE"), Some(cookie.id.as_str()));
        assert_eq!(read.trusted_for("bob"), None);
    }

    #[test]
    fn each_login_gets_a_new_device_id_and_a_value_without_both_parts_is_none() {
        assert_ne!(DeviceCookie::issue("alice").id, DeviceCookie::issue("alice").id);
        assert_eq!(DeviceCookie::parse("no-separator"), None);
        assert_eq!(DeviceCookie::parse(":alice"), None);
        assert_eq!(DeviceCookie::parse("id:"), None);
    }
}
