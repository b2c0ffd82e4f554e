//! Invite codes and reset tokens: 256 random bits each, handed out once
//! in the clear and kept only as their SHA-256. A code is long enough that
//! a fast hash is enough (nobody can try 2^256 codes); what must not happen
//! is that a copy of the database lets someone use one.

use sha2::{Digest, Sha256};

/// A new code: 256 random bits from the OS, URL-safe base64 (43
/// characters), so it fits in a path (`/join/<code>`, `/reset/<token>`).
pub fn new_code() -> String {
    crate::auth::new_session_id()
}

/// What the database keeps of a code: its SHA-256, hex.
pub fn hashed(code: &str) -> String {
    Sha256::digest(code.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `code` could be one of ours (43 URL-safe base64 characters):
/// anything else is refused before the database is asked.
pub fn well_formed(code: &str) -> bool {
    code.len() == 43 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_well_formed_and_kept_only_hashed() {
        let (a, b) = (new_code(), new_code());
        assert_ne!(a, b);
        assert!(well_formed(&a) && well_formed(&b));
        assert_eq!(hashed(&a).len(), 64);
        assert_ne!(hashed(&a), hashed(&b));
        assert!(!hashed(&a).contains(&a));
        assert!(!well_formed("short") && !well_formed(&format!("{}/", &a[..42])));
    }
}
