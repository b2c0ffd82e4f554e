//! RFC 6238 time-based one-time passwords: the secret, the codes it makes
//! for each 30-second step, the `otpauth://` URL authenticator apps read,
//! and that URL as a QR code drawn here, as SVG (no outside service).
//!
//! Plain values only: time is passed in (from the injectable clock), and
//! whether a step was used already, and where the secret is kept, is
//! decided by the caller (`SecondFactors`). The HMAC and the code's
//! truncation are `totp-rs`'s.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use rand::RngCore;
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

/// Seconds of one time step (RFC 6238's recommended value, and what every
/// authenticator app assumes).
pub const STEP_SECS: u64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Steps either side of now whose codes are accepted too (RFC 6238 §5.2
/// recommends one): a code typed as it turns over, or a phone a little off.
const SKEW: u64 = 1;
/// 160 bits, what RFC 4226 §4 recommends.
const SECRET_BYTES: usize = 20;

/// A TOTP shared secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

/// Never printed.
impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

/// The time step `now_ms` falls in.
pub fn step_of(now_ms: i64) -> u64 {
    u64::try_from(now_ms).unwrap_or(0) / 1000 / STEP_SECS
}

impl TotpSecret {
    /// A new random secret, from the OS.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A secret read back from the store.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as people type it into an app: base32, no padding.
    pub fn base32(&self) -> String {
        base32(&self.0)
    }

    fn totp(&self) -> TOTP {
        // SHA-1, 6 digits, 30 s: the parameters every app supports (some
        // silently use SHA-1 whatever the URL says).
        TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 0, STEP_SECS, self.0.clone())
    }

    /// The code of time step `step`.
    pub fn code_at(&self, step: u64) -> String {
        self.totp().generate(step * STEP_SECS)
    }

    /// The step (now's, or one either side) whose code `code` is, compared
    /// in constant time; `None` when it is none of them.
    pub fn matching_step(&self, code: &str, now_ms: i64) -> Option<u64> {
        let now = step_of(now_ms);
        let totp = self.totp();
        let mut found = None;
        // Every candidate is computed and compared, so the time taken does
        // not say which one matched.
        for step in now.saturating_sub(SKEW)..=now + SKEW {
            let expected = totp.generate(step * STEP_SECS);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                found = found.or(Some(step));
            }
        }
        found
    }

    /// The `otpauth://totp/...` URL authenticator apps take (Google's Key
    /// URI format): `issuer:account`, the secret, and the parameters.
    pub fn otpauth_url(&self, issuer: &str, account: &str) -> String {
        let (issuer, account) = (uri_component(issuer), uri_component(account));
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            self.base32()
        )
    }

    /// The URL as a QR code, an SVG document drawn by the server.
    pub fn qr_svg(&self, issuer: &str, account: &str) -> String {
        let url = self.otpauth_url(issuer, account);
        // A URL of a few hundred bytes always fits a QR code (version 40
        // holds over 2000 at level M), so this cannot fail.
        let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).expect("the URL fits a QR code");
        code.render::<svg::Color<'_>>()
            .min_dimensions(220, 220)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build()
    }
}

/// What authenticator apps list accounts of this server under: the host
/// (and port) of `public_origin`, or `chat` when it is unset.
pub fn totp_issuer(public_origin: Option<&str>) -> String {
    let host = public_origin.map(|origin| {
        let rest = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        rest.split('/').next().unwrap_or_default().to_owned()
    });
    host.filter(|host| !host.is_empty()).unwrap_or_else(|| "chat".to_owned())
}

/// RFC 4648 base32 without padding, as authenticator apps read it.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buffer = [0u8; 5];
        buffer[..chunk.len()].copy_from_slice(chunk);
        let bits = buffer.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(ALPHABET[((bits >> (35 - i * 5)) & 31) as usize] as char);
        }
    }
    out
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn uri_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 secret and its 8-digit codes, whose last
    /// six digits are the 6-digit codes.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        for (time, code) in
            [(59u64, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924"), (2_000_000_000, "69279037")]
        {
            assert_eq!(secret.code_at(time / STEP_SECS), code[2..], "at {time}");
        }
    }

    #[test]
    fn a_code_of_now_or_one_step_either_side_matches_and_no_other() {
        let secret = TotpSecret::generate();
        let now_ms = 1_700_000_000_000;
        let now = step_of(now_ms);
        for step in [now - 1, now, now + 1] {
            assert_eq!(secret.matching_step(&secret.code_at(step), now_ms), Some(step));
        }
        for step in [now - 2, now + 2] {
            let code = secret.code_at(step);
            let elsewhere = [now - 1, now, now + 1].iter().any(|&s| secret.code_at(s) == code);
            assert!(elsewhere || secret.matching_step(&code, now_ms).is_none(), "step {step}");
        }
        assert_eq!(secret.matching_step("", now_ms), None);
        assert_eq!(secret.matching_step("12345", now_ms), None);
    }

    #[test]
    fn secrets_are_160_random_bits_in_base32() {
        let (a, b) = (TotpSecret::generate(), TotpSecret::generate());
        assert_ne!(a, b);
        assert_eq!(a.bytes().len(), 20);
        assert_eq!(a.base32().len(), 32);
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI", "RFC 4648's test vector, unpadded");
        assert_eq!(format!("{a:?}"), "TotpSecret(..)");
    }

    #[test]
    fn the_issuer_is_the_public_hosts_name() {
        assert_eq!(totp_issuer(Some("https://chat.example.com")), "chat.example.com");
        assert_eq!(totp_issuer(Some("https://chat.example.com:8443/")), "chat.example.com:8443");
        assert_eq!(totp_issuer(None), "chat");
        assert_eq!(totp_issuer(Some("")), "chat");
    }

    #[test]
    fn the_url_names_issuer_and_account_and_the_qr_code_is_svg() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        let url = secret.otpauth_url("chat.example:8443", "alice");
        assert_eq!(
            url,
            "otpauth://totp/chat.example%3A8443:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=chat.example%3A8443&algorithm=SHA1&digits=6&period=30"
        );
        let svg = secret.qr_svg("chat", "alice");
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
        assert!(!svg.contains("GEZDGNBV"), "the secret is drawn, not written");
    }
}
