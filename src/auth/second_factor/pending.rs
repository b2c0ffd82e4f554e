//! The half-logged-in state: the password was right, the code is still
//! to come. It lives only in a short-lived private cookie (encrypted and
//! authenticated by Rocket, so it cannot be forged or edited) and grants
//! nothing by itself: no session exists until the code is right. This
//! module says what the cookie holds and how long it counts; the web layer
//! sets and reads it.

/// How long after the password the code may come (seconds).
pub const PENDING_LOGIN_SECS: i64 = 5 * 60;

/// Whose password was right, and when (by the server's clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    user_id: i64,
    name: String,
    issued_ms: i64,
}

impl PendingLogin {
    pub fn new(user_id: i64, name: String, now_ms: i64) -> Self {
        Self { user_id, name, issued_ms: now_ms }
    }

    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cookie's value: `<issued>:<user id>:<name>`.
    pub fn value(&self) -> String {
        format!("{}:{}:{}", self.issued_ms, self.user_id, self.name)
    }

    /// Reads a cookie's (already decrypted) value.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.splitn(3, ':');
        let issued_ms = parts.next()?.parse().ok()?;
        let user_id = parts.next()?.parse().ok()?;
        let name = parts.next().filter(|name| !name.is_empty())?.to_owned();
        Some(Self { user_id, name, issued_ms })
    }

    /// Whether the code may still come at `now_ms`.
    pub fn is_fresh(&self, now_ms: i64) -> bool {
        (0..PENDING_LOGIN_SECS * 1000).contains(&(now_ms - self.issued_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_login_reads_back_and_lasts_five_minutes() {
        let pending = PendingLogin::new(7, "alice".to_owned(), 1_000_000);
        let read = PendingLogin::parse(&pending.value()).expect("its own value parses");
        assert_eq!(read, pending);
        assert!(read.is_fresh(1_000_000));
        assert!(read.is_fresh(1_000_000 + 299_999));
        assert!(!read.is_fresh(1_000_000 + 300_000), "expired");
        assert!(!read.is_fresh(999_999), "issued in the future");
        for bad in ["", "1:2", "1:2:", "x:2:alice", "1:y:alice"] {
            assert_eq!(PendingLogin::parse(bad), None, "{bad}");
        }
    }
}
