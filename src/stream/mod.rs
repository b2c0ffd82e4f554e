//! Live delivery: one broadcast queue per active room, and the feed that
//! turns "replay from the store, then live" into one gap-free sequence.
//!
//! [`Hub`] owns the queues: a room's queue exists while someone subscribes to
//! it and is dropped when the last subscriber leaves, so publishing costs one
//! map lookup whatever the number of rooms. [`Feed`] is what a subscriber
//! reads; it never skips a message (a lagging subscriber is caught up from the
//! store) and never repeats one (ids at or below its cursor are dropped).
//! Feeds resuming from the same place at once share their replay reads
//! ([`shared_reads`]). This module knows nothing of HTTP: `live` builds
//! stream sessions on feeds.

mod cursor;
mod feed;
mod hub;
mod merge;
mod shared_reads;

pub use cursor::{Cursor, CursorError, MAX_ROOMS as MAX_CURSOR_ROOMS};
pub use feed::{Feed, FeedItem, LATEST, REPLAY_CAP, REPLAY_PAGE, Start};
pub use hub::{Gate, Hub, RoomSubscription, Via};
pub use merge::{LiveItem, RoomsFeed};
