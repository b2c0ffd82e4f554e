//! What a visitor chose in the settings: language, theme, clock, how the
//! message box sends, and how much to be notified of. An account's choices
//! are stored with it (`store::preferences`); a guest's are kept in this
//! browser (a private cookie, [`Preferences::to_cookie`]). Each choice left
//! unset follows the next source: the account's, then the browser's, then
//! the default (for the language, the browser's `Accept-Language`).
//!
//! Parsing is strict for what a form or JSON body sends (a bad value is a
//! 400 with its reason) and lenient for a cookie (a bad pair is ignored).

use serde::Serialize;
use thiserror::Error;

use super::Lang;

/// The notification levels, as `messages::people` stores them.
pub const NOTIFY_LEVELS: [&str; 3] = ["all", "mentions", "none"];
pub const DEFAULT_NOTIFY: &str = "mentions";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Clock {
    #[serde(rename = "12h")]
    Twelve,
    #[serde(rename = "24h")]
    TwentyFour,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SendKey {
    #[default]
    Enter,
    CtrlEnter,
}

/// One source's choices; `None` is "not chosen here".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub language: Option<Lang>,
    pub theme: Option<Theme>,
    pub clock: Option<Clock>,
    pub send_key: Option<SendKey>,
    pub notify: Option<&'static str>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PreferenceError {
    #[error("language must be one of auto, en, zh")]
    Language,
    #[error("theme must be one of system, light, dark")]
    Theme,
    #[error("clock must be one of auto, 12h, 24h")]
    Clock,
    #[error("send_key must be one of enter, ctrl-enter")]
    SendKey,
    #[error("notify must be one of all, mentions, none")]
    Notify,
}

/// The choices in effect for one page, every one decided.
#[derive(Debug, Clone, Serialize)]
pub struct Effective {
    /// `en` or `zh`.
    pub language: &'static str,
    /// The `<html lang>` tag.
    pub tag: &'static str,
    /// What the settings page shows as chosen (`auto` when unset).
    pub language_choice: &'static str,
    pub theme: Theme,
    pub clock: Clock,
    pub clock_choice: &'static str,
    pub send_key: SendKey,
    pub notify: &'static str,
}

impl Preferences {
    /// `self`'s choices, with `fallback`'s where `self` has none.
    pub fn or(self, fallback: &Preferences) -> Preferences {
        Preferences {
            language: self.language.or(fallback.language),
            theme: self.theme.or(fallback.theme),
            clock: self.clock.or(fallback.clock),
            send_key: self.send_key.or(fallback.send_key),
            notify: self.notify.or(fallback.notify),
        }
    }

    /// Every choice decided: the language from `Accept-Language` when
    /// none was made, the clock from the language.
    pub fn effective(&self, accept_language: Option<&str>) -> Effective {
        let lang = self.language.unwrap_or_else(|| Lang::negotiate(accept_language));
        let clock = self.clock.unwrap_or(if lang.uses_24_hours() { Clock::TwentyFour } else { Clock::Twelve });
        Effective {
            language: lang.code(),
            tag: lang.tag(),
            language_choice: self.language.map_or("auto", Lang::code),
            theme: self.theme.unwrap_or_default(),
            clock,
            clock_choice: self.clock.map_or("auto", Clock::code),
            send_key: self.send_key.unwrap_or_default(),
            notify: self.notify.unwrap_or(DEFAULT_NOTIFY),
        }
    }

    /// Sets one choice from its settings name and value (`auto`/`system`
    /// style values unset it, where the choice has one).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), PreferenceError> {
        match name {
            "language" => self.language = parse_language(value)?,
            "theme" => self.theme = Some(Theme::parse(value).ok_or(PreferenceError::Theme)?),
            "clock" => self.clock = parse_clock(value)?,
            "send_key" => self.send_key = Some(SendKey::parse(value).ok_or(PreferenceError::SendKey)?),
            "notify" => {
                self.notify = Some(NOTIFY_LEVELS.into_iter().find(|l| *l == value).ok_or(PreferenceError::Notify)?)
            }
            _ => {}
        }
        Ok(())
    }

    /// The stored form of each choice (`None`: unset), in the order
    /// language, theme, clock, send_key.
    pub fn stored(&self) -> [Option<&'static str>; 4] {
        [
            self.language.map(Lang::code),
            self.theme.map(Theme::code),
            self.clock.map(Clock::code),
            self.send_key.map(SendKey::code),
        ]
    }

    /// Reads the stored form back; a value this version does not know
    /// counts as unset.
    pub fn from_stored(values: [Option<String>; 4], notify: Option<String>) -> Preferences {
        let [language, theme, clock, send_key] = values;
        Preferences {
            language: language.as_deref().and_then(Lang::parse),
            theme: theme.as_deref().and_then(Theme::parse),
            clock: clock.as_deref().and_then(|c| parse_clock(c).ok().flatten()),
            send_key: send_key.as_deref().and_then(SendKey::parse),
            notify: notify.and_then(|n| NOTIFY_LEVELS.into_iter().find(|l| *l == n)),
        }
    }

    /// A browser's choices as a cookie value (`language=zh&theme=dark`).
    pub fn to_cookie(&self) -> String {
        let [language, theme, clock, send_key] = self.stored();
        [("language", language), ("theme", theme), ("clock", clock), ("send_key", send_key), ("notify", self.notify)]
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| format!("{name}={v}")))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// A cookie's choices; anything malformed is ignored.
    pub fn from_cookie(value: &str) -> Preferences {
        let mut preferences = Preferences::default();
        if value.len() > 256 {
            return preferences;
        }
        for pair in value.split('&') {
            if let Some((name, value)) = pair.split_once('=') {
                let _ = preferences.set(name, value);
            }
        }
        preferences
    }
}

fn parse_language(value: &str) -> Result<Option<Lang>, PreferenceError> {
    match value {
        "auto" => Ok(None),
        code => Lang::parse(code).map(Some).ok_or(PreferenceError::Language),
    }
}

fn parse_clock(value: &str) -> Result<Option<Clock>, PreferenceError> {
    match value {
        "auto" => Ok(None),
        "12h" => Ok(Some(Clock::Twelve)),
        "24h" => Ok(Some(Clock::TwentyFour)),
        _ => Err(PreferenceError::Clock),
    }
}

impl Theme {
    pub fn code(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    fn parse(value: &str) -> Option<Theme> {
        [Theme::System, Theme::Light, Theme::Dark].into_iter().find(|t| t.code() == value)
    }
}

impl Clock {
    pub fn code(self) -> &'static str {
        match self {
            Clock::Twelve => "12h",
            Clock::TwentyFour => "24h",
        }
    }
}

impl SendKey {
    pub fn code(self) -> &'static str {
        match self {
            SendKey::Enter => "enter",
            SendKey::CtrlEnter => "ctrl-enter",
        }
    }

    fn parse(value: &str) -> Option<SendKey> {
        [SendKey::Enter, SendKey::CtrlEnter].into_iter().find(|k| k.code() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_choices_follow_the_browser_then_the_defaults() {
        let account = Preferences { theme: Some(Theme::Dark), ..Preferences::default() };
        let browser = Preferences::from_cookie("language=zh&theme=light&send_key=ctrl-enter");
        let page = account.or(&browser).effective(Some("en-US"));
        assert_eq!((page.language, page.tag, page.theme), ("zh", "zh-CN", Theme::Dark));
        assert_eq!((page.clock, page.clock_choice), (Clock::TwentyFour, "auto"), "Chinese reads a 24-hour clock");
        assert_eq!((page.send_key, page.notify), (SendKey::CtrlEnter, "mentions"));
        let nothing = Preferences::default().effective(Some("fr, en;q=0.5"));
        assert_eq!((nothing.language, nothing.language_choice, nothing.clock), ("en", "auto", Clock::Twelve));
    }

    #[test]
    fn a_cookie_round_trips_and_its_bad_pairs_are_ignored() {
        let mut chosen = Preferences::default();
        for (name, value) in [("language", "zh"), ("theme", "dark"), ("clock", "12h"), ("send_key", "enter")] {
            chosen.set(name, value).unwrap();
        }
        chosen.set("notify", "none").unwrap();
        assert_eq!(Preferences::from_cookie(&chosen.to_cookie()), chosen);
        let odd = Preferences::from_cookie("language=fr&theme=&clock=25h&&=&send_key=ctrl-enter&x=y");
        assert_eq!(odd, Preferences { send_key: Some(SendKey::CtrlEnter), ..Preferences::default() });
        assert_eq!(Preferences::from_cookie(&"language=zh&".repeat(40)), Preferences::default(), "oversized");
    }

    #[test]
    fn bad_values_are_refused_with_their_reason_and_auto_unsets() {
        let mut p = Preferences { language: Some(Lang::Zh), clock: Some(Clock::Twelve), ..Preferences::default() };
        assert_eq!(p.set("language", "klingon"), Err(PreferenceError::Language));
        assert_eq!(p.set("theme", "blue"), Err(PreferenceError::Theme));
        assert_eq!(p.set("clock", "13h"), Err(PreferenceError::Clock));
        assert_eq!(p.set("send_key", "shift"), Err(PreferenceError::SendKey));
        assert_eq!(p.set("notify", "loud"), Err(PreferenceError::Notify));
        p.set("language", "auto").unwrap();
        p.set("clock", "auto").unwrap();
        assert_eq!((p.language, p.clock), (None, None));
    }
}
