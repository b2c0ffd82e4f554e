//! Where a stream of several rooms stands in each of them, as one string:
//! `lobby:12,rust:40` (rooms in name order, each with the id of the last
//! message the client got from it).
//!
//! It is the SSE event id of a multi-room stream, so a browser's reconnect
//! (`Last-Event-ID`) resumes every room at once. A room the cursor does not
//! name starts with its latest messages. Room names cannot contain `:` or
//! `,`, so the format needs no escaping. This type only parses and formats.
//!
//! Positions are a vector kept in name order, not a map: a stream carries at
//! most 50 rooms, usually one, and every open stream holds a cursor, so its
//! size matters more than its lookup time. A cursor naming more rooms than
//! a stream may carry ([`MAX_ROOMS`]) is refused before any pair is read:
//! the header is the client's, and keeping pairs in order costs a shift per
//! insert, so an unbounded one would cost quadratic time.

use std::fmt;

use thiserror::Error;

use super::Start;
use crate::rooms::RoomName;

/// Most rooms one multi-room stream may carry, and so one cursor may name
/// (its text, the SSE event id, grows with them).
pub const MAX_ROOMS: usize = 50;

/// Why a cursor was refused (a 400 with this text).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CursorError {
    #[error("Last-Event-ID must be a cursor like lobby:12,rust:40 (room:id pairs, comma separated)")]
    Malformed,
    #[error("Last-Event-ID names room {0} twice")]
    Repeated(String),
    #[error("Last-Event-ID names more than {MAX_ROOMS} rooms")]
    TooManyRooms,
}

/// The last message id a client has from each room it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Sorted by room name, each room once.
    positions: Vec<(RoomName, i64)>,
}

impl Cursor {
    /// Reads `room:id,room:id`; an empty string is an empty cursor. Pure
    /// and linear in the input: more than [`MAX_ROOMS`] pairs are refused
    /// by counting commas, before any pair is parsed or stored.
    pub fn parse(raw: &str) -> Result<Self, CursorError> {
        let pairs = || raw.trim().split(',').filter(|p| !p.is_empty());
        if pairs().nth(MAX_ROOMS).is_some() {
            return Err(CursorError::TooManyRooms);
        }
        let mut cursor = Self::default();
        for pair in pairs() {
            let (room, id) = pair.split_once(':').ok_or(CursorError::Malformed)?;
            let room = RoomName::parse(room).map_err(|_| CursorError::Malformed)?;
            let id = id.parse::<u64>().ok().and_then(|id| i64::try_from(id).ok()).ok_or(CursorError::Malformed)?;
            if cursor.get(&room).is_some() {
                return Err(CursorError::Repeated(room.to_string()));
            }
            cursor.set(&room, id);
        }
        Ok(cursor)
    }

    fn find(&self, room: &RoomName) -> Result<usize, usize> {
        self.positions.binary_search_by(|(named, _)| named.cmp(room))
    }

    /// Where a room's feed starts for a client holding this cursor.
    pub fn start(&self, room: &RoomName) -> Start {
        self.get(room).map_or(Start::Latest, Start::After)
    }

    pub fn get(&self, room: &RoomName) -> Option<i64> {
        self.find(room).ok().map(|at| self.positions[at].1)
    }

    /// The client now has every message of `room` up to `id`.
    pub fn set(&mut self, room: &RoomName, id: i64) {
        match self.find(room) {
            Ok(at) => self.positions[at].1 = id,
            Err(at) => {
                self.positions.reserve_exact(1);
                self.positions.insert(at, (room.clone(), id));
            }
        }
    }

    /// The client's position in `room` is unknown (after a reset).
    pub fn forget(&mut self, room: &RoomName) {
        if let Ok(at) = self.find(room) {
            self.positions.remove(at);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (room, id)) in self.positions.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{room}:{id}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    #[test]
    fn a_cursor_round_trips_in_room_order() {
        let cursor = Cursor::parse("rust:40,lobby:12").unwrap();
        assert_eq!(cursor.to_string(), "lobby:12,rust:40");
        assert_eq!(cursor.start(&room("lobby")), Start::After(12));
        assert_eq!(cursor.start(&room("go")), Start::Latest);
        assert_eq!(Cursor::parse("").unwrap(), Cursor::default());
        assert_eq!(Cursor::parse(" lobby:0 ").unwrap().start(&room("lobby")), Start::After(0));
    }

    #[test]
    fn garbage_is_refused_with_the_reason() {
        for bad in ["lobby", "lobby:", "lobby:x", "lobby:-1", "Lobby:1", ":1", "a:1;b:2", "a:99999999999999999999"] {
            assert_eq!(Cursor::parse(bad), Err(CursorError::Malformed), "{bad:?}");
        }
        assert_eq!(Cursor::parse("a:1,a:2"), Err(CursorError::Repeated("a".into())));
    }

    #[test]
    fn a_cursor_naming_more_rooms_than_a_stream_carries_is_refused_at_once() {
        let pairs = |n: usize| (0..n).map(|i| format!("r{i}:{i}")).collect::<Vec<_>>().join(",");
        assert_eq!(Cursor::parse(&pairs(MAX_ROOMS)).unwrap().to_string().split(',').count(), MAX_ROOMS);
        assert_eq!(Cursor::parse(&pairs(MAX_ROOMS + 1)), Err(CursorError::TooManyRooms));
        // Refused by counting, not by reading: 20,000 pairs (the last one
        // not even well formed) cost no more than scanning the text.
        let huge = format!("{},zz", pairs(20_000));
        let started = std::time::Instant::now();
        assert_eq!(Cursor::parse(&huge), Err(CursorError::TooManyRooms));
        assert!(started.elapsed() < std::time::Duration::from_millis(50), "{:?}", started.elapsed());
    }

    #[test]
    fn positions_move_and_can_be_forgotten() {
        let mut cursor = Cursor::default();
        cursor.set(&room("b"), 3);
        cursor.set(&room("a"), 1);
        cursor.set(&room("b"), 4);
        assert_eq!(cursor.to_string(), "a:1,b:4");
        cursor.forget(&room("a"));
        assert_eq!(cursor.to_string(), "b:4");
        assert_eq!(cursor.get(&room("b")), Some(4));
    }
}
