//! Display names: what the page calls a person, beside the login handle
//! that stays as it is. Any script is welcome (`张伟`, `Zoë`, `Σοφία`); a
//! name is NFC-normalized, loses bidirectional controls and invisible
//! characters (so `\u{202E}` cannot turn a name around and a zero-width
//! space cannot make a blank one), has its runs of spaces made one, and is
//! then 1 to [`MAX_DISPLAY_CHARS`] characters with at least one that shows.
//! Names are not unique: the handle (shown on hover) tells people apart.
//!
//! This file owns only the rule; storing a name is `store`'s, sending it
//! is the message's, presence's and typing's.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::names::InvalidCredentials;

/// Longest display name, in Unicode scalar values after normalizing.
pub const MAX_DISPLAY_CHARS: usize = 64;

/// A display name, valid by construction (see the module's rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Normalizes and checks a name as typed.
    pub fn parse(raw: &str) -> Result<Self, InvalidCredentials> {
        // A generous bound before any work: a megabyte of text is refused
        // without being normalized.
        if raw.len() > MAX_DISPLAY_CHARS * 16 {
            return Err(InvalidCredentials::DisplayNameLength);
        }
        let kept: String = raw.chars().filter(|c| !is_stripped(*c)).collect();
        let mut name = String::with_capacity(kept.len());
        for c in kept.nfc() {
            if c.is_whitespace() {
                if !name.is_empty() && !name.ends_with(' ') {
                    name.push(' ');
                }
            } else {
                name.push(c);
            }
        }
        let name = name.trim_end().to_owned();
        if !name.chars().any(shows) {
            return Err(InvalidCredentials::DisplayNameInvisible);
        }
        if name.chars().count() > MAX_DISPLAY_CHARS {
            return Err(InvalidCredentials::DisplayNameLength);
        }
        Ok(Self(name))
    }

    /// The display name a form asked for, or the handle when it left the
    /// field blank.
    pub fn or_handle(raw: Option<&str>, handle: &str) -> Result<Self, InvalidCredentials> {
        match raw.map(str::trim).filter(|raw| !raw.is_empty()) {
            Some(raw) => Self::parse(raw),
            None => Ok(Self(handle.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters a name loses: controls, the bidirectional controls (marks,
/// embeddings, overrides, isolates), and format characters that show
/// nothing (zero-width space, word joiner, BOM, soft hyphen, invisible
/// operators, tag characters) or only blank space (Hangul fillers, the
/// blank Braille pattern), which people use to fake an empty name.
fn is_stripped(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200B}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{FFA0}'
                | '\u{180E}'
                | '\u{2800}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Whether a kept character shows by itself: not a space, not a joiner
/// (ZWJ and ZWNJ stay, for emoji sequences and Persian, but do not count),
/// not a variation selector, not a combining mark.
fn shows(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(c, '\u{200C}' | '\u{200D}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
        && !is_combining_mark(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> String {
        DisplayName::parse(raw).unwrap().as_str().to_owned()
    }

    #[test]
    fn names_in_any_script_are_kept_as_written() {
        for name in ["张伟", "Zoë Ågren", "Σοφία", "محمد", "Дмитрий", "山田 太郎", "👩‍💻 Ada", "O'Brien-Smith Jr."]
        {
            assert_eq!(parsed(name), name, "{name:?}");
        }
    }

    #[test]
    fn names_are_nfc_normalized() {
        let decomposed = "Zoe\u{0308}";
        assert_eq!(parsed(decomposed), "Zo\u{00EB}");
        assert_eq!(parsed("\u{1100}\u{1161}"), "\u{AC00}", "Hangul jamo compose");
    }

    #[test]
    fn bidi_controls_and_invisible_characters_are_removed() {
        assert_eq!(parsed("ali\u{202E}ecila"), "aliecila");
        assert_eq!(parsed("\u{2067}bob\u{2069}"), "bob");
        assert_eq!(parsed("a\u{200B}b\u{FEFF}c\u{2060}d\u{00AD}e"), "abcde");
        assert_eq!(parsed("x\u{0007}y\n z"), "xy z");
        // Stripping first: an accent cut off by a zero-width space composes.
        assert_eq!(parsed("e\u{200B}\u{0301}"), "\u{00E9}");
    }

    #[test]
    fn spaces_are_collapsed_and_trimmed() {
        assert_eq!(parsed("  Ada \t  Lovelace  "), "Ada Lovelace");
        assert_eq!(parsed("山田\u{3000}太郎"), "山田 太郎");
    }

    #[test]
    fn a_name_with_nothing_visible_is_refused_with_its_reason() {
        for blank in ["", "   ", "\u{200B}\u{200B}", "\u{202E}", "\u{3164}", "\u{2800}\u{2800}", "\u{200D}", "\u{0301}"]
        {
            assert_eq!(DisplayName::parse(blank), Err(InvalidCredentials::DisplayNameInvisible), "{blank:?}");
        }
        assert_eq!(InvalidCredentials::DisplayNameInvisible.to_string(), "the display name has no visible characters");
    }

    #[test]
    fn length_is_1_to_64_characters_after_normalizing() {
        assert_eq!(parsed("x"), "x");
        assert_eq!(parsed(&"张".repeat(64)).chars().count(), 64);
        assert_eq!(DisplayName::parse(&"张".repeat(65)), Err(InvalidCredentials::DisplayNameLength));
        // 64 characters once the invisible ones are gone.
        assert_eq!(parsed(&"a\u{200B}".repeat(64)).chars().count(), 64);
        // 64 characters once "e" and its accent are one.
        assert_eq!(parsed(&"e\u{0301}".repeat(64)).chars().count(), 64);
        assert_eq!(DisplayName::parse(&"x".repeat(100_000)), Err(InvalidCredentials::DisplayNameLength));
    }

    #[test]
    fn a_blank_form_field_means_the_handle() {
        assert_eq!(DisplayName::or_handle(None, "alice").unwrap().as_str(), "alice");
        assert_eq!(DisplayName::or_handle(Some("  "), "alice").unwrap().as_str(), "alice");
        assert_eq!(DisplayName::or_handle(Some("Alice L."), "alice").unwrap().as_str(), "Alice L.");
        assert!(DisplayName::or_handle(Some("\u{200B}"), "alice").is_err());
    }
}
