//! Rooms and messages as plain values: the names people type, the text they
//! send, and the message the server stores and delivers.
//!
//! Everything here is validated on construction (`RoomName::parse`,
//! `MessageText::parse`), so the rest of the program only ever handles valid
//! values. This module owns no I/O and knows nothing of HTTP or storage.

use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::Serialize;
use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// The room `GET /` shows.
pub const LOBBY: &str = "lobby";

/// Longest message, in Unicode scalar values after trimming.
pub const MAX_TEXT_CHARS: usize = 2000;

/// Longest room name, in bytes (names are ASCII).
pub const MAX_ROOM_LEN: usize = 64;

/// Why a room name or a message text was refused; the text is shown to the
/// user as the reason of a 422.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InvalidInput {
    #[error("room names are 1-64 characters of a-z, 0-9, '_' and '-'")]
    RoomName,
    #[error("the message is empty")]
    EmptyText,
    #[error("the message is longer than 2000 characters")]
    TextTooLong,
}

/// A room's name: 1-64 of `[a-z0-9_-]`. Rooms exist as soon as they are used.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName(Arc<str>);

impl RoomName {
    pub fn parse(name: &str) -> Result<Self, InvalidInput> {
        let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
        if name.is_empty() || name.len() > MAX_ROOM_LEN || !name.chars().all(valid_char) {
            return Err(InvalidInput::RoomName);
        }
        Ok(Self(name.into()))
    }

    pub fn lobby() -> Self {
        Self(LOBBY.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RoomName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Only valid names deserialize: a name from another instance is checked too.
impl<'de> serde::Deserialize<'de> for RoomName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        RoomName::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// The text of a message: trimmed, 1-2000 Unicode scalar values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(InvalidInput::EmptyText);
        }
        // `chars()` counts Unicode scalar values, which is what the limit is
        // stated in; bytes would punish non-Latin scripts.
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(InvalidInput::TextTooLong);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Who wrote a message, as the server saw it when it was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    pub guest: bool,
    /// The account's row id; `None` for guests.
    pub user_id: Option<i64>,
}

/// A stored message, exactly as clients see it.
///
/// `id` strictly increases within a room; `user`, `guest` and `at` are always
/// set by the server, never taken from the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub id: i64,
    pub room: RoomName,
    pub user: String,
    pub guest: bool,
    pub text: String,
    #[serde(serialize_with = "serialize_at")]
    pub at: OffsetDateTime,
    /// Set when a moderator (or the author) deleted the message: the text
    /// is then empty, in the store as on the wire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Tombstone>,
}

/// Who deleted a message, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tombstone {
    pub by: String,
    #[serde(serialize_with = "serialize_at")]
    pub at: OffsetDateTime,
}

/// RFC 3339 in UTC with exactly three fractional digits, e.g.
/// `2026-11-22T04:33:34.120Z`: fixed width, so clients can sort it as text.
const AT_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Formats a timestamp the way every message carries it.
pub fn format_at(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC).format(AT_FORMAT).expect("a UTC timestamp always formats")
}

fn serialize_at<S: serde::Serializer>(at: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_at(*at))
}

/// Milliseconds since the Unix epoch: how timestamps are stored.
pub fn to_millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The inverse of [`to_millis`]; out-of-range values clamp to the epoch
/// rather than fail, since they can only come from a hand-edited database.
pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The server's clock, truncated to the millisecond precision it is stored in
/// (so a message reads back exactly as it was first delivered).
pub fn now() -> OffsetDateTime {
    from_millis(to_millis(OffsetDateTime::now_utc()))
}

/// A message serialized once, shared by every subscriber that delivers it.
#[derive(Debug)]
pub struct Delivery {
    pub message: Message,
    /// The message's JSON, made once when it was committed.
    pub json: Arc<str>,
    /// Its Server-Sent Events frame, made by the first stream that sends it.
    sse: OnceLock<Bytes>,
}

impl Delivery {
    pub fn new(message: Message) -> Arc<Self> {
        let json = serde_json::to_string(&message).expect("a message always serializes");
        Arc::new(Self { message, json: json.into(), sse: OnceLock::new() })
    }

    /// The message's Server-Sent Events frame: made by `make` the first
    /// time any stream asks, then shared by every other. The web layer
    /// decides its bytes; this only keeps them with the message.
    pub fn sse_frame(&self, make: impl FnOnce(&Self) -> Bytes) -> Bytes {
        self.sse.get_or_init(|| make(self)).clone()
    }

    pub fn id(&self) -> i64 {
        self.message.id
    }

    /// Reads a message another instance serialized, keeping its JSON as is
    /// (it is not serialized again). `None` for anything malformed.
    pub fn from_json(json: &str) -> Option<Arc<Self>> {
        #[derive(serde::Deserialize)]
        struct WireTombstone {
            by: String,
            at: String,
        }
        #[derive(serde::Deserialize)]
        struct Wire {
            id: i64,
            room: String,
            user: String,
            guest: bool,
            text: String,
            at: String,
            #[serde(default)]
            deleted: Option<WireTombstone>,
        }
        let parse_at = |at: &str| OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok();
        let wire: Wire = serde_json::from_str(json).ok()?;
        let deleted = match wire.deleted {
            Some(t) => Some(Tombstone { by: t.by, at: parse_at(&t.at)? }),
            None => None,
        };
        let message = Message {
            id: wire.id,
            room: RoomName::parse(&wire.room).ok()?,
            user: wire.user,
            guest: wire.guest,
            text: wire.text,
            at: parse_at(&wire.at)?,
            deleted,
        };
        Some(Arc::new(Self { message, json: json.into(), sse: OnceLock::new() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_accept_the_documented_alphabet_only() {
        assert!(RoomName::parse("lobby").is_ok());
        assert!(RoomName::parse("a").is_ok());
        assert!(RoomName::parse("rust_lang-2026").is_ok());
        assert!(RoomName::parse(&"x".repeat(64)).is_ok());
        for bad in ["", "Lobby", "a b", "é", "a/b", "..", &"x".repeat(65)] {
            assert_eq!(RoomName::parse(bad), Err(InvalidInput::RoomName), "{bad:?}");
        }
    }

    #[test]
    fn message_text_is_trimmed_and_counted_in_scalar_values() {
        assert_eq!(MessageText::parse("  hi \n").unwrap().as_str(), "hi");
        assert_eq!(MessageText::parse(" \n\t "), Err(InvalidInput::EmptyText));
        assert!(MessageText::parse(&"é".repeat(2000)).is_ok());
        assert_eq!(MessageText::parse(&"é".repeat(2001)), Err(InvalidInput::TextTooLong));
    }

    #[test]
    fn timestamps_have_millisecond_precision_in_utc() {
        let at = from_millis(1_795_000_000_123);
        assert_eq!(format_at(at), "2026-11-18T11:06:40.123Z");
        assert_eq!(to_millis(at), 1_795_000_000_123);
    }

    #[test]
    fn a_delivery_carries_the_message_json() {
        let message = Message {
            id: 7,
            room: RoomName::lobby(),
            user: "alice".into(),
            guest: false,
            text: "a\n\"b\"".into(),
            at: from_millis(0),
            deleted: None,
        };
        let delivery = Delivery::new(message);
        assert_eq!(
            &*delivery.json,
            r#"{"id":7,"room":"lobby","user":"alice","guest":false,"text":"a\n\"b\"","at":"1970-01-01T00:00:00.000Z"}"#
        );
        let read_back = Delivery::from_json(&delivery.json).unwrap();
        assert_eq!(read_back.message, delivery.message);
        assert!(
            Delivery::from_json(r#"{"id":1,"room":"Bad Room","user":"a","guest":true,"text":"","at":"x"}"#).is_none()
        );
    }
}
