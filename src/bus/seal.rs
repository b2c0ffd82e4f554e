//! What instances publish on Redis is sealed with a key only they hold, so
//! that whoever else can publish on the channel (another client of a shared
//! Redis, a compromised neighbour) cannot post as anyone, announce kicks or
//! bans, or feed a room an id that stalls it.
//!
//! The key is derived from the deployment's `secret_key` (which instances
//! behind one load balancer must share already, for their cookies) under a
//! label of its own, so it is never the cookie key itself. A sealed payload
//! is `v1.<tag>.<body>`: the tag is HMAC-SHA256 over the channel's name and
//! the exact body bytes, so a body sealed for one channel is refused on the
//! other (a message cannot be replayed as an announcement). Tags are
//! compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Separates the bus key from every other use of `secret_key`.
const LABEL: &[u8] = b"chat: redis bus authentication, v1";

/// Marks the version of the sealed form.
const PREFIX: &[u8] = b"v1.";

/// Characters of a tag: 32 bytes in unpadded base64url.
const TAG_CHARS: usize = 43;

/// The key instances seal and check bus payloads with.
#[derive(Clone, PartialEq, Eq)]
pub struct BusKey([u8; 32]);

/// Never printed: `Settings` (which carries it) is.
impl std::fmt::Debug for BusKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BusKey(..)")
    }
}

/// Why a payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsealed {
    /// Not in the sealed form at all.
    Unsigned,
    /// Sealed, but not with our key, or not for this channel.
    BadTag,
}

impl Unsealed {
    /// The metric label.
    pub fn reason(self) -> &'static str {
        match self {
            Unsealed::Unsigned => "unsigned",
            Unsealed::BadTag => "bad_signature",
        }
    }
}

impl BusKey {
    /// The bus key of a deployment whose `secret_key` decodes to `secret`.
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(LABEL);
        Self(mac.finalize().into_bytes().into())
    }

    fn tag(&self, channel: &str, body: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        // The channel's length first: no channel/body split reads as another.
        mac.update(&(channel.len() as u64).to_be_bytes());
        mac.update(channel.as_bytes());
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// `body` sealed for `channel`.
    pub fn seal(&self, channel: &str, body: &str) -> Vec<u8> {
        let tag = URL_SAFE_NO_PAD.encode(self.tag(channel, body.as_bytes()));
        let mut sealed = Vec::with_capacity(PREFIX.len() + TAG_CHARS + 1 + body.len());
        sealed.extend_from_slice(PREFIX);
        sealed.extend_from_slice(tag.as_bytes());
        sealed.push(b'.');
        sealed.extend_from_slice(body.as_bytes());
        sealed
    }

    /// The body of a payload received on `channel`, if we sealed it for
    /// that channel.
    pub fn open<'a>(&self, channel: &str, payload: &'a [u8]) -> Result<&'a [u8], Unsealed> {
        let rest = payload.strip_prefix(PREFIX).ok_or(Unsealed::Unsigned)?;
        if rest.len() <= TAG_CHARS || rest[TAG_CHARS] != b'.' {
            return Err(Unsealed::Unsigned);
        }
        let (tag, body) = (&rest[..TAG_CHARS], &rest[TAG_CHARS + 1..]);
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| Unsealed::BadTag)?;
        let expected = self.tag(channel, body);
        if bool::from(expected.as_slice().ct_eq(&tag)) { Ok(body) } else { Err(Unsealed::BadTag) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> BusKey {
        BusKey::derive(&[byte; 64])
    }

    #[test]
    fn a_sealed_payload_opens_on_its_channel_with_the_same_key_only() {
        let sealed = key(1).seal("chat:messages", r#"{"id":1}"#);
        assert_eq!(key(1).open("chat:messages", &sealed), Ok(&br#"{"id":1}"#[..]));
        assert_eq!(key(2).open("chat:messages", &sealed), Err(Unsealed::BadTag), "another deployment's key");
        assert_eq!(key(1).open("chat:messages:control", &sealed), Err(Unsealed::BadTag), "another channel");
    }

    #[test]
    fn unsigned_altered_and_truncated_payloads_are_refused() {
        let body = r#"{"id":1,"user":"admin"}"#;
        assert_eq!(key(1).open("c", body.as_bytes()), Err(Unsealed::Unsigned));
        let mut altered = key(1).seal("c", body);
        let last = altered.len() - 2;
        altered[last] = b'9';
        assert_eq!(key(1).open("c", &altered), Err(Unsealed::BadTag));
        let sealed = key(1).seal("c", body);
        assert_eq!(key(1).open("c", &sealed[..PREFIX.len() + TAG_CHARS]), Err(Unsealed::Unsigned));
        let mut bad_tag = sealed.clone();
        bad_tag[PREFIX.len()] = b'!';
        assert_eq!(key(1).open("c", &bad_tag), Err(Unsealed::BadTag));
    }

    #[test]
    fn the_bus_key_is_not_the_secret_key_and_never_prints() {
        let secret = [7u8; 32];
        assert_ne!(BusKey::derive(&secret).0, secret);
        assert_eq!(format!("{:?}", BusKey::derive(&secret)), "BusKey(..)");
    }
}
