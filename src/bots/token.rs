//! The secrets bots and webhooks present: 256 random bits from the OS,
//! URL-safe base64 behind a prefix naming their kind (`bot_...`,
//! `hook_...`, so a leaked one is recognisable to a secret scanner and to
//! whoever finds it). A token is shown once, when it is made, and stored
//! only as its SHA-256 digest.
//!
//! A fast hash is the right one here, not argon2: the token is checked on
//! every request, and a 256-bit random value cannot be guessed from its
//! digest however fast the hash (argon2 exists to slow the guessing of
//! low-entropy passwords). It is not keyed with the server's `secret_key`,
//! so rotating that key (which ends every cookie) does not also revoke
//! every bot. A presented value that is not of the token's shape is
//! refused before any database read.

use base64::Engine;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// Characters of 32 bytes in unpadded base64.
const ENCODED_LEN: usize = 43;

/// Which secret a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A bot's bearer token (`Authorization: Bearer bot_...`).
    Bot,
    /// A webhook's, the last segment of its URL (`/hooks/hook_...`).
    Hook,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Bot => "bot_",
            TokenKind::Hook => "hook_",
        }
    }
}

/// A token in the clear: only ever shown once, to whoever made it.
pub struct Token(String);

impl Token {
    pub fn generate(kind: TokenKind) -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(format!("{}{}", kind.prefix(), base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The secret itself, to print once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps of it.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest::hash(&self.0)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The SHA-256 of a token, in hex: how the store finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDigest(String);

impl TokenDigest {
    /// The digest of a presented `kind` token; `None` when the value is
    /// not of a token's shape (the prefix, then 43 base64url characters),
    /// so junk costs no database read.
    pub fn of(kind: TokenKind, presented: &str) -> Option<Self> {
        let encoded = presented.strip_prefix(kind.prefix())?;
        let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        (encoded.len() == ENCODED_LEN && encoded.bytes().all(base64url)).then(|| Self::hash(presented))
    }

    fn hash(token: &str) -> Self {
        let digest = Sha256::digest(token.as_bytes());
        Self(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_256_random_bits_behind_its_prefix_and_only_its_digest_is_kept() {
        let token = Token::generate(TokenKind::Bot);
        assert!(token.expose().starts_with("bot_"));
        assert_eq!(token.expose().len(), 4 + 43);
        assert_ne!(token.expose(), Token::generate(TokenKind::Bot).expose());
        let digest = token.digest();
        assert_eq!(digest.as_str().len(), 64, "SHA-256 in hex");
        assert!(!digest.as_str().contains(&token.expose()[4..]));
        assert_eq!(TokenDigest::of(TokenKind::Bot, token.expose()), Some(digest));
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
    }

    #[test]
    fn a_value_not_shaped_like_a_token_of_its_kind_has_no_digest() {
        let bot = Token::generate(TokenKind::Bot);
        let hook = Token::generate(TokenKind::Hook);
        assert!(TokenDigest::of(TokenKind::Hook, hook.expose()).is_some());
        assert_eq!(TokenDigest::of(TokenKind::Hook, bot.expose()), None, "a bot token is no hook token");
        assert_eq!(TokenDigest::of(TokenKind::Bot, hook.expose()), None);
        assert_eq!(TokenDigest::of(TokenKind::Bot, &bot.expose()[..46]), None, "too short");
        assert_eq!(TokenDigest::of(TokenKind::Bot, &format!("{}x", bot.expose())), None, "too long");
        assert_eq!(TokenDigest::of(TokenKind::Bot, &format!("bot_{}", "+".repeat(43))), None, "not base64url");
        assert_eq!(TokenDigest::of(TokenKind::Bot, ""), None);
    }
}
