//! The page's languages: which one a request gets, and the words of each.
//!
//! A page is in the language its visitor chose in the settings (the
//! account's, then this browser's), or else the first of English and
//! Simplified Chinese that the browser's `Accept-Language` asks for, or
//! else English. The words live in one catalog per language
//! (`locales/<lang>.toml`, built into the binary, see [`catalog`]);
//! templates read them as `t.<table>.<key>` and scripts as `t("key")`.
//!
//! This module knows nothing of HTTP or of storage: `web::pages` hands it
//! the header and the stored choices. The JSON API's `error` strings are
//! not translated here; they stay English and stable for scripts.

pub mod catalog;
pub mod preferences;

pub use catalog::{Catalog, catalog};
pub use preferences::{Clock, Preferences, SendKey, Theme};

/// A language the page is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// The name settings and the catalog files use (`en`, `zh`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The BCP 47 tag for `<html lang>` and the browser's date formats.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// Whether clocks in this language are usually read in 24 hours.
    pub fn uses_24_hours(self) -> bool {
        matches!(self, Lang::Zh)
    }

    /// The language an `Accept-Language` header prefers among ours: the
    /// highest-weighted range that names one (any `zh-*` counts as Chinese,
    /// `*` as English), ties in the header's order. Malformed parts are
    /// skipped; no header, or no match, is English.
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        let Some(header) = accept_language else { return Lang::default() };
        let mut best: Option<(f32, Lang)> = None;
        // Bounded: a header is at most a few kilobytes, and only the
        // first 32 ranges are read.
        for range in header.split(',').take(32) {
            let mut parts = range.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            if !(weight > 0.0 && weight <= 1.0) {
                continue;
            }
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "zh" => Lang::Zh,
                "en" | "*" => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(w, _)| weight > w) {
                best = Some((weight, lang));
            }
        }
        best.map_or(Lang::default(), |(_, lang)| lang)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_weighted_language_we_have() {
        assert_eq!(Lang::negotiate(None), Lang::En);
        assert_eq!(Lang::negotiate(Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::Zh);
        assert_eq!(Lang::negotiate(Some("en-US,en;q=0.9,zh-CN;q=0.8")), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr-FR, zh-TW;q=0.5")), Lang::Zh);
        assert_eq!(Lang::negotiate(Some("fr, de;q=0.7")), Lang::En);
        assert_eq!(Lang::negotiate(Some("en;q=0.2, zh;q=0.8")), Lang::Zh);
        assert_eq!(Lang::negotiate(Some("ZH-hans")), Lang::Zh);
    }

    #[test]
    fn malformed_or_zero_weighted_ranges_are_skipped() {
        assert_eq!(Lang::negotiate(Some("zh;q=0, en")), Lang::En);
        assert_eq!(Lang::negotiate(Some("zh;q=abc")), Lang::Zh);
        assert_eq!(Lang::negotiate(Some(";;;,,,q=")), Lang::En);
        assert_eq!(Lang::negotiate(Some("zh;q=7")), Lang::En);
        assert_eq!(Lang::negotiate(Some("")), Lang::En);
    }
}
