//! Secrets the server must read back (TOTP secrets), encrypted at rest.
//!
//! The key is derived from the deployment's `secret_key` under a label of
//! its own (HMAC-SHA256, like the bus key), so it is never the cookie key
//! itself, and every instance of a deployment derives the same one. A
//! sealed value is `v1.<base64url(nonce ‖ ciphertext ‖ tag)>`, AES-256-GCM
//! with a random 96-bit nonce, and the account it belongs to as associated
//! data: a value copied into another account's row does not open. This
//! module only encrypts; what is sealed, and where it is kept, is the
//! caller's.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;

/// Separates this key from every other use of `secret_key`.
const LABEL: &[u8] = b"chat: second factor secrets at rest, v1";

/// Marks the version of the sealed form.
const PREFIX: &str = "v1.";

const NONCE_BYTES: usize = 12;

/// The key second-factor secrets are sealed with.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBox([u8; 32]);

/// Never printed: `Settings` (which carries it) is.
impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// The key of a deployment whose `secret_key` decodes to `secret`.
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(LABEL);
        Self(mac.finalize().into_bytes().into())
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }

    /// `plaintext` sealed for the owner named by `context`.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: context })
            .expect("AES-GCM encrypts any message shorter than 64 GiB");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// What `sealed` holds, if this key sealed it for `context`; `None`
    /// for anything else (another key, another owner, a damaged value).
    pub fn open(&self, sealed: &str, context: &[u8]) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(PREFIX)?).ok()?;
        if bytes.len() <= NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        self.cipher().decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: context }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_for_its_owner() {
        let key = SecretBox::derive(&[7; 64]);
        let sealed = key.seal(b"the secret", b"user 1");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("the secret"));
        assert_eq!(key.open(&sealed, b"user 1").as_deref(), Some(&b"the secret"[..]));
        assert_eq!(key.open(&sealed, b"user 2"), None, "moved to another account");
        assert_eq!(SecretBox::derive(&[8; 64]).open(&sealed, b"user 1"), None, "another deployment's key");
        assert_ne!(key.seal(b"the secret", b"user 1"), sealed, "a fresh nonce each time");
        let mut damaged = sealed.clone();
        damaged.replace_range(10..11, if &sealed[10..11] == "A" { "B" } else { "A" });
        assert_eq!(key.open(&damaged, b"user 1"), None);
        assert_eq!(key.open("v1.", b"user 1"), None);
        assert_eq!(key.open("garbage", b"user 1"), None);
    }

    #[test]
    fn the_key_is_not_the_secret_key_and_never_prints() {
        let key = SecretBox::derive(&[7; 32]);
        assert_ne!(key.0, [7; 32]);
        assert_eq!(format!("{key:?}"), "SecretBox(..)");
    }
}
