//! Recovery codes: ten one-time codes, shown once when TOTP is turned on,
//! each usable once instead of a code from the app.
//!
//! A code is 80 random bits, written as 16 characters of lowercase base32
//! in groups of four (`abcd-efgh-ijkl-mnop`); people may type it in any
//! case, with or without the dashes and spaces. Only its SHA-256 is
//! stored: 80 random bits are far beyond guessing, offline as online, so a
//! slow hash (argon2, as for passwords people choose) would buy nothing.

use rand::Rng;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// How many codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const CHARS: usize = 16;

/// One recovery code, in its normal form (16 characters, no dashes).
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

/// Never printed by accident.
impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(..)")
    }
}

impl RecoveryCode {
    /// A new random code, from the OS.
    pub fn generate() -> Self {
        Self((0..CHARS).map(|_| ALPHABET[OsRng.gen_range(0..ALPHABET.len())] as char).collect())
    }

    /// A typed code: 16 characters of the alphabet in any case, dashes and
    /// spaces ignored; `None` for anything else.
    pub fn parse(typed: &str) -> Option<Self> {
        let code: String = typed.chars().filter(|c| *c != '-' && !c.is_whitespace()).collect::<String>().to_lowercase();
        let valid = code.len() == CHARS && code.bytes().all(|b| ALPHABET.contains(&b));
        valid.then_some(Self(code))
    }

    /// The code as it is shown: four groups of four.
    pub fn shown(&self) -> String {
        let groups: Vec<&str> = (0..CHARS / 4).map(|i| &self.0[i * 4..i * 4 + 4]).collect();
        groups.join("-")
    }

    /// What is stored: the SHA-256 of the normal form, in hex.
    pub fn hash(&self) -> String {
        Sha256::digest(self.0.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_back_however_it_is_typed_and_hashes_alike() {
        let code = RecoveryCode::generate();
        let shown = code.shown();
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.matches('-').count(), 3);
        for typed in [shown.clone(), shown.to_uppercase(), shown.replace('-', ""), shown.replace('-', " ")] {
            let read = RecoveryCode::parse(&typed).expect("it parses");
            assert_eq!(read, code, "{typed}");
            assert_eq!(read.hash(), code.hash());
        }
        assert_eq!(code.hash().len(), 64);
        assert!(!code.hash().contains(&code.0));
    }

    #[test]
    fn codes_are_distinct_and_anything_else_is_refused() {
        let codes: std::collections::HashSet<String> = (0..100).map(|_| RecoveryCode::generate().0).collect();
        assert_eq!(codes.len(), 100);
        for bad in
            ["", "123456", "abcd-efgh-ijkl-mno", "abcd-efgh-ijkl-mnopq", "abcd-efgh-ijkl-mn0p", "ab¢d-efgh-ijkl-mnop"]
        {
            assert!(RecoveryCode::parse(bad).is_none(), "{bad}");
        }
    }
}
