//! Full-text search over messages: what a query means (its words, the
//! room it is kept to, its page), what a hit carries (the message as
//! history answers it, with a highlighted snippet: [`snippet`]), and the
//! bounds every query keeps.
//!
//! A message matches when its text contains every word of the query, each
//! as a case-insensitive substring, so text without spaces between words
//! (Chinese, Japanese, Korean) is found by any part of it. How the store
//! finds such messages quickly is its own business (`store::search`, one
//! plan per engine); this module knows nothing of SQL or HTTP, and who may
//! read which room is `moderation`'s.

pub mod snippet;

use serde::Serialize;
use thiserror::Error;

use crate::rooms::{InvalidInput, Message, RoomName};

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words in one query.
pub const MAX_WORDS: usize = 10;
/// Hits a page holds when the query names no limit.
pub const DEFAULT_LIMIT: u32 = 20;
/// Most hits one page may hold.
pub const MAX_LIMIT: u32 = 100;

/// Why a search was refused (a 400 with this text).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SearchError {
    #[error("q is empty: give one or more words to search for")]
    Empty,
    #[error("q is longer than 200 characters")]
    TooLong,
    #[error("q has more than 10 words")]
    TooManyWords,
    /// Control characters (NUL, escapes) are never typed; SQLite's FTS and
    /// PostgreSQL both refuse NUL inside a query, so they stop here.
    #[error("q must not contain control characters")]
    ControlCharacter,
    #[error("limit must be a whole number from 1 to 100")]
    Limit,
    #[error("before must be the next_before of an earlier answer (a whole number of at least 1)")]
    Before,
    #[error(transparent)]
    Room(InvalidInput),
}

/// The words of a query: 1 to [`MAX_WORDS`], split at whitespace, each
/// non-empty and without whitespace, no word twice (ignoring case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words(Vec<String>);

impl Words {
    pub fn parse(q: &str) -> Result<Self, SearchError> {
        let q = q.trim();
        if q.is_empty() {
            return Err(SearchError::Empty);
        }
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchError::TooLong);
        }
        if q.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            return Err(SearchError::ControlCharacter);
        }
        let mut words: Vec<String> = Vec::new();
        for word in q.split_whitespace() {
            if !words.iter().any(|known| snippet::fold_str(known) == snippet::fold_str(word)) {
                words.push(word.to_owned());
            }
        }
        if words.len() > MAX_WORDS {
            return Err(SearchError::TooManyWords);
        }
        Ok(Self(words))
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// A validated `GET /api/search` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub words: Words,
    /// Only this room's messages.
    pub room: Option<RoomName>,
    /// Only hits older than this cursor (the `next_before` of the page
    /// before), so pages never overlap.
    pub before: Option<i64>,
    pub limit: u32,
}

impl SearchQuery {
    /// Reads the raw query values, naming the first one that is wrong. An
    /// empty value counts as absent (an empty form field).
    pub fn parse(
        q: Option<&str>,
        room: Option<&str>,
        before: Option<&str>,
        limit: Option<&str>,
    ) -> Result<Self, SearchError> {
        fn present(raw: Option<&str>) -> Option<&str> {
            raw.map(str::trim).filter(|v| !v.is_empty())
        }
        let words = Words::parse(q.unwrap_or_default())?;
        let room = present(room).map(RoomName::parse).transpose().map_err(SearchError::Room)?;
        let before = match present(before) {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().ok().filter(|n| *n >= 1).ok_or(SearchError::Before)?),
        };
        let limit = match present(limit) {
            None => DEFAULT_LIMIT,
            Some(raw) => raw.parse::<u32>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or(SearchError::Limit)?,
        };
        Ok(Self { words, room, before, limit })
    }
}

/// One hit: the message as history answers it, and its snippet.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    #[serde(flatten)]
    pub message: Message,
    /// A short window of the text around its first match, HTML-escaped,
    /// each matched word in `<mark>`: safe to show as HTML.
    pub snippet: String,
}

/// A page of hits, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub results: Vec<Hit>,
    /// The `before` of the next page; `null` when this is the last.
    pub next_before: Option<i64>,
}

impl Page {
    pub fn empty() -> Self {
        Self { results: Vec::new(), next_before: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(q: &str) -> Vec<String> {
        Words::parse(q).unwrap().iter().map(str::to_owned).collect()
    }

    #[test]
    fn a_query_is_its_distinct_words_split_at_any_whitespace() {
        assert_eq!(words("  hello   world "), ["hello", "world"]);
        assert_eq!(words("你好\u{3000}世界"), ["你好", "世界"]);
        assert_eq!(words("Rust rust RUST"), ["Rust"]);
        assert_eq!(words("100%\tsnake_case"), ["100%", "snake_case"]);
    }

    #[test]
    fn a_bad_query_says_what_is_wrong() {
        assert_eq!(Words::parse("   "), Err(SearchError::Empty));
        assert_eq!(Words::parse(&"x".repeat(201)), Err(SearchError::TooLong));
        assert!(Words::parse(&"好".repeat(200)).is_ok());
        assert_eq!(Words::parse("a b c d e f g h i j k"), Err(SearchError::TooManyWords));
        assert!(Words::parse("a b c d e f g h i j").is_ok());
        for q in ["\0", "a\0b", "\u{19}x", "x\u{1b}[0m"] {
            assert_eq!(Words::parse(q), Err(SearchError::ControlCharacter), "{q:?}");
        }
        assert!(Words::parse("a\tb\nc").is_ok(), "whitespace controls separate words");
    }

    #[test]
    fn the_page_defaults_to_twenty_and_refuses_what_it_cannot_read() {
        let q = SearchQuery::parse(Some("hi"), None, None, None).unwrap();
        assert_eq!((q.room, q.before, q.limit), (None, None, 20));
        let q = SearchQuery::parse(Some("hi"), Some("lobby"), Some("12"), Some("100")).unwrap();
        assert_eq!((q.room.unwrap().as_str(), q.before, q.limit), ("lobby", Some(12), 100));
        let q = SearchQuery::parse(Some("hi"), Some(""), Some(""), Some("")).unwrap();
        assert_eq!((q.room, q.before, q.limit), (None, None, 20));
        assert_eq!(SearchQuery::parse(None, None, None, None), Err(SearchError::Empty));
        for bad in ["0", "101", "-1", "x"] {
            assert_eq!(SearchQuery::parse(Some("hi"), None, None, Some(bad)), Err(SearchError::Limit), "{bad}");
        }
        for bad in ["0", "-5", "x", "99999999999999999999"] {
            assert_eq!(SearchQuery::parse(Some("hi"), None, Some(bad), None), Err(SearchError::Before), "{bad}");
        }
        assert_eq!(
            SearchQuery::parse(Some("hi"), Some("No Such"), None, None),
            Err(SearchError::Room(InvalidInput::RoomName))
        );
    }
}
