//! Where each seeded message goes, as a pure function of its number `n`
//! (0 is the oldest): its room, its id in that room, its author, its time
//! and its text. Nothing here keeps state, so any chunk of the history can
//! be made on its own (by several threads at once), and the `history`
//! scenario and the tests can tell what a seeded room holds without asking.
//!
//! The first room, `hist-0000`, takes a fixed share of all messages (so a
//! page millions of messages back exists in one room); the others take the
//! rest in turn. Messages are one second apart, the newest at the seed's
//! start, and numbered in time order across every room, which is the order
//! a server would have stored them in (and so the search index's order).

use std::ops::Range;

use crate::scenario::corpus;

/// The seeded rooms are `hist-0000`, `hist-0001`, ...
pub const ROOM_PREFIX: &str = "hist";

/// The guests who wrote the seeded history (valid guest names: `guest-`
/// and six lowercase letters or digits).
pub const AUTHORS: [&str; 5] = ["guest-ada7x2", "guest-bo4k9m", "guest-cy3p0q", "guest-di8w5r", "guest-ez1n6t"];

/// Milliseconds between two seeded messages.
pub const SPACING_MS: i64 = 1000;

/// Shares are kept in parts per million, so placement is integer arithmetic
/// (exact for any `n`, no drift).
const PPM: u64 = 1_000_000;

/// The name of room `index`.
pub fn room_name(index: u32) -> String {
    format!("{ROOM_PREFIX}-{index:04}")
}

/// The shape of one seeded history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub messages: u64,
    pub rooms: u32,
    /// The big room's share, in parts per million (all of it with one room).
    share_ppm: u64,
    /// The time of the newest message.
    pub end_ms: i64,
}

/// One message as it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub room: u32,
    pub id: i64,
    pub author: &'static str,
    pub text: String,
    /// The text as the server renders it when the message is posted.
    pub html: String,
    pub at_ms: i64,
}

/// Messages `first..` in order, and each room's newest (id, time) among
/// them: what the `rooms` counters must say once the chunk is stored.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    pub first: u64,
    pub rows: Vec<Row>,
    pub last: Vec<(u32, i64, i64)>,
}

impl Layout {
    /// `messages` over `rooms` (at least one), the first taking `share`
    /// (0 < share ≤ 1) of them, the newest at `end_ms`.
    pub fn new(messages: u64, rooms: u32, share: f64, end_ms: i64) -> Self {
        let share_ppm = if rooms <= 1 { PPM } else { ((share * PPM as f64).round() as u64).clamp(1, PPM) };
        Self { messages, rooms: rooms.max(1), share_ppm, end_ms }
    }

    /// How many of messages `0..n` the big room holds.
    fn big_before(&self, n: u64) -> u64 {
        n * self.share_ppm / PPM
    }

    /// The room of message `n` and its id there (ids start at 1).
    pub fn place(&self, n: u64) -> (u32, i64) {
        let big = self.big_before(n);
        if self.big_before(n + 1) > big {
            return (0, big as i64 + 1);
        }
        // The k-th message outside the big room goes to the others in turn.
        let k = n - big;
        let others = u64::from(self.rooms - 1);
        (1 + (k % others) as u32, (k / others) as i64 + 1)
    }

    /// How many messages room `room` holds once seeded.
    pub fn room_size(&self, room: u32) -> u64 {
        let big = self.big_before(self.messages);
        if room == 0 {
            return big;
        }
        if room >= self.rooms {
            return 0;
        }
        let (rest, others) = (self.messages - big, u64::from(self.rooms - 1));
        rest / others + u64::from(u64::from(room - 1) < rest % others)
    }

    /// When message `n` was posted.
    pub fn at_ms(&self, n: u64) -> i64 {
        self.end_ms - (self.messages - 1 - n) as i64 * SPACING_MS
    }

    /// Message `n` as stored: the text is the corpus's message `n` (the
    /// `search` scenario's), its HTML what the server's formatter makes of it.
    pub fn row(&self, n: u64) -> Row {
        let (room, id) = self.place(n);
        let text = corpus::message(n);
        let html = chat::rooms::format::render(&text);
        // Authors take turns in runs of a few messages, like a conversation.
        let author = AUTHORS[((n / 3).wrapping_mul(7) % AUTHORS.len() as u64) as usize];
        Row { room, id, author, text, html, at_ms: self.at_ms(n) }
    }

    /// Messages `range`, with each room's newest among them.
    pub fn chunk(&self, range: Range<u64>) -> Chunk {
        let first = range.start;
        let rows: Vec<Row> = range.map(|n| self.row(n)).collect();
        let mut last = std::collections::BTreeMap::new();
        for row in &rows {
            last.insert(row.room, (row.id, row.at_ms));
        }
        let last = last.into_iter().map(|(room, (id, at))| (room, id, at)).collect();
        Chunk { first, rows, last }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message placed exactly once, ids consecutive from 1 in every
    /// room, and the sizes the layout announces.
    fn placed(layout: &Layout) -> Vec<Vec<i64>> {
        let mut rooms = vec![Vec::new(); layout.rooms as usize];
        for n in 0..layout.messages {
            let (room, id) = layout.place(n);
            rooms[room as usize].push(id);
        }
        for (room, ids) in rooms.iter().enumerate() {
            assert!(ids.iter().copied().eq(1..=ids.len() as i64), "room {room}");
            assert_eq!(ids.len() as u64, layout.room_size(room as u32), "room {room}");
        }
        rooms
    }

    #[test]
    fn the_big_room_takes_its_share_and_the_rest_is_even() {
        let layout = Layout::new(3000, 4, 0.5, 0);
        let rooms = placed(&layout);
        assert_eq!(rooms.iter().map(Vec::len).collect::<Vec<_>>(), [1500, 500, 500, 500]);
        let layout = Layout::new(10_001, 7, 0.6, 0);
        let rooms = placed(&layout);
        assert_eq!(rooms[0].len(), 6000);
        let others: Vec<usize> = rooms[1..].iter().map(Vec::len).collect();
        assert!(others.iter().all(|n| (666..=667).contains(n)), "{others:?}");
        assert_eq!(others.iter().sum::<usize>(), 4001);
    }

    #[test]
    fn one_room_takes_everything() {
        let layout = Layout::new(100, 1, 0.3, 0);
        assert_eq!(placed(&layout)[0].len(), 100);
        assert_eq!(layout.place(99), (0, 100));
    }

    #[test]
    fn the_ten_million_layout_has_its_deep_page() {
        let layout = Layout::new(10_000_000, 1000, 0.6, 0);
        assert_eq!(layout.room_size(0), 6_000_000);
        assert_eq!((1..1000).map(|r| layout.room_size(r)).sum::<u64>(), 4_000_000);
        assert_eq!(layout.room_size(999), 4004);
        assert_eq!(layout.place(9_999_999).0, 0);
    }

    #[test]
    fn times_end_now_one_second_apart_and_rows_are_posts() {
        let layout = Layout::new(10, 2, 0.5, 1_000_000);
        assert_eq!(layout.at_ms(9), 1_000_000);
        assert_eq!(layout.at_ms(0), 1_000_000 - 9 * SPACING_MS);
        let chunk = layout.chunk(4..10);
        assert_eq!(chunk.first, 4);
        assert_eq!(chunk.rows.len(), 6);
        assert_eq!(chunk.rows[0].text, corpus::message(4));
        assert!(chunk.rows.iter().all(|r| r.html.starts_with("<p>") && AUTHORS.contains(&r.author)));
        // Odd messages go to the big room, even ones to the other: each
        // room's newest in the chunk are messages 9 and 8, both fifth.
        assert_eq!(chunk.last, [(0, 5, layout.at_ms(9)), (1, 5, layout.at_ms(8))]);
        assert_eq!(room_name(7), "hist-0007");
    }
}
