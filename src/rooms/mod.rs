//! Rooms and messages as plain values: the names people type, the text they
//! send, the files they attach, and the message the server stores and
//! delivers.
//!
//! Everything here is validated on construction (`RoomName::parse`,
//! `MessageText::parse`), so the rest of the program only ever handles valid
//! values. This module owns no I/O and knows nothing of HTTP or storage.

mod attachments;
mod delivery;
pub mod format;
mod reactions;

pub use attachments::{Attachment, FileId, FileName, MAX_NAME_BYTES, THUMB_SIDE, percent_encode, thumb_size};
pub use delivery::{Delivery, Kind, tagged_json};
pub use reactions::{Emoji, MAX_REACTION_KINDS, REACTION_USERS, Reaction};

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
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
    #[error("emoji must be exactly one emoji, like \"👍\"")]
    Emoji,
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

    /// Whether this is a direct-message room (see [`is_dm_name`]).
    pub fn is_dm(&self) -> bool {
        is_dm_name(&self.0)
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

/// Direct-message rooms are named `dm-` and a digest of their members, so
/// the same people always get the same room. Such a name is only ever
/// readable by the members of a conversation the server made; taken by
/// hand, it is a room nobody may read or post in.
pub const DM_PREFIX: &str = "dm-";

pub fn is_dm_name(name: &str) -> bool {
    name.starts_with(DM_PREFIX)
}

/// The text of a message: trimmed, 1-2000 Unicode scalar values (or empty
/// beside an attached file: [`MessageText::caption`]).
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

    /// The text beside an attached file: like [`MessageText::parse`], but
    /// it may be empty (a message with only a file).
    pub fn caption(raw: &str) -> Result<Self, InvalidInput> {
        if raw.trim().is_empty() {
            return Ok(Self(String::new()));
        }
        Self::parse(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who wrote a message, as the server saw it when it was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    /// What the page calls them: the account's display name then (a
    /// guest's is the guest name).
    pub display: String,
    pub guest: bool,
    /// The account's row id; `None` for guests.
    pub user_id: Option<i64>,
    /// Whether the account is a bot (see `bots`).
    pub bot: bool,
}

/// A stored message, exactly as clients see it: the one declaration of its
/// fields. The JSON sent to clients and the bus payload between instances
/// both come from these derives, and the store maps its rows onto it
/// (`store::messages`).
///
/// `id` strictly increases within a room; `user`, `guest` and `at` are always
/// set by the server, never taken from the client. A field added later must
/// be optional, `#[serde(default, skip_serializing_if = ...)]`, so payloads
/// from instances that do not know it yet still parse, and messages without
/// it serialize byte for byte as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub room: RoomName,
    pub user: String,
    /// The author's display name as it was when the message was posted
    /// (edits keep it); for messages stored before display names existed,
    /// the handle. Absent only in a payload from an instance that predates
    /// it: the page then shows `user`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display: String,
    pub guest: bool,
    /// Whether a bot posted it (always sent; a payload from an instance
    /// that predates bots reads as `false`).
    #[serde(default)]
    pub bot: bool,
    pub text: String,
    /// The text as sanitized HTML (see [`format`]), made once when it was
    /// posted or edited; empty exactly when the text is (a deleted
    /// message). Always sent; a payload from an instance that predates it
    /// reads as empty, and the page then shows the text.
    #[serde(default)]
    pub html: String,
    #[serde(with = "timestamp")]
    pub at: OffsetDateTime,
    /// Set when a moderator (or the author) deleted the message: the text
    /// and its HTML are then empty, in the store as on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Tombstone>,
    /// When the author last edited it (earlier texts are kept as versions).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::option")]
    pub edited_at: Option<OffsetDateTime>,
    /// The message this one answers, as it reads now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Quote>,
    /// Reactions in the order they were first made; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// Files posted with it (`POST .../attachments`); absent when none,
    /// and gone with the message once it is deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

impl Message {
    /// A message just committed by the writer, its text rendered as `html`:
    /// nothing is deleted (or set later) yet, so any field added with a
    /// default is left out here.
    pub fn committed(
        id: i64,
        room: RoomName,
        author: &Author,
        text: &MessageText,
        html: &str,
        reply_to: Option<Quote>,
        at: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            room,
            user: author.name.clone(),
            display: author.display.clone(),
            guest: author.guest,
            bot: author.bot,
            text: text.as_str().to_owned(),
            html: html.to_owned(),
            at,
            deleted: None,
            edited_at: None,
            reply_to,
            reactions: Vec::new(),
            attachments: Vec::new(),
        }
    }
}

/// Most characters of the original a reply quotes.
pub const QUOTE_CHARS: usize = 200;

/// What a reply shows of the message it answers: its author and the first
/// [`QUOTE_CHARS`] characters of its text (`None` once it is deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub id: i64,
    pub user: String,
    pub text: Option<String>,
    /// The original's display name, as it was posted under.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display: String,
}

impl Quote {
    /// The quote of message `id` by `user`, whose text is `text` (`None`
    /// when deleted), cut to [`QUOTE_CHARS`].
    pub fn of(id: i64, user: String, text: Option<&str>) -> Self {
        let text = text.map(|t| t.chars().take(QUOTE_CHARS).collect());
        Self { id, user, text, display: String::new() }
    }

    /// The same, naming the original's display name.
    pub fn displayed(self, display: String) -> Self {
        Self { display, ..self }
    }
}

/// Who deleted a message, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    pub by: String,
    #[serde(with = "timestamp")]
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

/// `#[serde(with = "timestamp")]`: a time as [`format_at`] writes it. Any
/// RFC 3339 time is read (the fixed-width form is one), so a payload from
/// another writer is not refused over its precision or offset.
pub mod timestamp {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn serialize<S: Serializer>(at: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_at(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let at = OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)?;
        Ok(at.to_offset(time::UtcOffset::UTC))
    }

    /// The same for an optional time, for fields added later:
    /// `#[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::option")]`.
    pub mod option {
        use serde::{Deserializer, Serializer};
        use time::OffsetDateTime;

        pub fn serialize<S: Serializer>(at: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
            #[derive(serde::Deserialize)]
            struct Present(#[serde(with = "super")] OffsetDateTime);
            let present: Option<Present> = serde::Deserialize::deserialize(d)?;
            Ok(present.map(|Present(at)| at))
        }
    }
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
    fn a_caption_may_be_empty_but_not_too_long() {
        assert_eq!(MessageText::caption(" \n ").unwrap().as_str(), "");
        assert_eq!(MessageText::caption(" look ").unwrap().as_str(), "look");
        assert_eq!(MessageText::caption(&"x".repeat(2001)), Err(InvalidInput::TextTooLong));
    }

    #[test]
    fn timestamps_have_millisecond_precision_in_utc() {
        let at = from_millis(1_795_000_000_123);
        assert_eq!(format_at(at), "2026-11-18T11:06:40.123Z");
        assert_eq!(to_millis(at), 1_795_000_000_123);
    }

    #[test]
    fn optional_times_are_left_out_when_unset_and_read_when_present() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Edited {
            #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::option")]
            edited_at: Option<OffsetDateTime>,
        }
        assert_eq!(serde_json::to_string(&Edited { edited_at: None }).unwrap(), "{}");
        assert_eq!(serde_json::from_str::<Edited>("{}").unwrap(), Edited { edited_at: None });
        let set = Edited { edited_at: Some(from_millis(5)) };
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"{"edited_at":"1970-01-01T00:00:00.005Z"}"#);
        assert_eq!(serde_json::from_str::<Edited>(&json).unwrap(), set);
    }
}
