//! One subscriber's view of a room's sequence (its messages and the changes
//! to them, see `rooms::Delivery`): replay, then live, without gap or repeat.
//!
//! The seam between replay and live is closed by subscribing to the room's
//! queue *before* reading the store: a message committed in between shows up
//! in both and is dropped the second time by the cursor (`last`). A jump in
//! ids on the queue, or a `Lagged` receiver, is filled from the store, so a
//! slow subscriber is caught up instead of skipped.
//!
//! A replay is read from the store a page ([`REPLAY_PAGE`]) at a time, as
//! the subscriber takes it: a stream of 50 rooms resuming 1000 messages
//! each holds 50 pages, not 50,000 messages, while its client reads slowly
//! (or not at all). Feeds resuming from the same cursor at once (a
//! reconnect storm) share each page's read: see `shared_reads`.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::shared_reads::PageKey;
use super::{Hub, RoomSubscription};
use crate::rooms::{Delivery, RoomName};
use crate::store::{Store, StoreError};

/// Messages shown when a subscriber starts without a cursor, and after a reset.
pub const LATEST: u32 = 50;

/// Largest replay for a resuming subscriber; beyond it the subscriber gets a
/// reset and the latest messages instead of an unbounded backlog.
pub const REPLAY_CAP: u32 = 1000;

/// Most messages of a replay read from the store, and held, at once.
pub const REPLAY_PAGE: u32 = 100;

/// Most messages read from the store in one catch-up step.
const CATCH_UP_BATCH: u32 = 500;

/// Where a feed begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The latest messages, then live.
    Latest,
    /// Every message with a greater id (a resume, e.g. `Last-Event-ID`).
    After(i64),
}

/// What a feed yields.
#[derive(Debug, Clone)]
pub enum FeedItem {
    Message(Arc<Delivery>),
    /// The cursor could not be honoured (too far behind, or from another
    /// history): the client should drop what it shows; latest messages follow.
    Reset,
}

/// A subscriber's ordered, gap-free sequence of a room's messages.
pub struct Feed {
    store: Store,
    /// For counting catch-ups.
    hub: Hub,
    subscription: RoomSubscription,
    /// Id of the last message handed out (or known to the client).
    last: i64,
    /// The room's newest id when a replay began, while pages of it are
    /// still to be read from the store.
    replay_to: Option<i64>,
    pending: VecDeque<FeedItem>,
}

impl Feed {
    pub async fn open(store: Store, hub: &Hub, room: RoomName, start: Start) -> Result<Self, StoreError> {
        // Subscribe first: see the module comment.
        let subscription = hub.subscribe(&room);
        let mut feed =
            Self { store, hub: hub.clone(), subscription, last: 0, replay_to: None, pending: VecDeque::new() };
        let replay_size = match start {
            Start::Latest => feed.queue_latest().await?,
            // The client has the last message this queue delivered, and
            // anything later reaches the queue: nothing to read (a long poll
            // re-opened after each message costs no store read).
            Start::After(cursor) if hub.last_delivered(&room) == Some(cursor) => {
                feed.last = cursor;
                0
            }
            Start::After(cursor) => {
                // Numbers in a room are consecutive, so the newest says how
                // much is missed without reading it.
                let newest = feed.store.last_id(&room).await?;
                if cursor > newest || newest - cursor > i64::from(REPLAY_CAP) {
                    feed.pending.push_back(FeedItem::Reset);
                    feed.queue_latest().await?
                } else {
                    feed.last = cursor;
                    feed.replay_to = Some(newest);
                    feed.next_page().await?;
                    (newest - cursor) as usize
                }
            }
        };
        hub.metrics().replay_size.observe(replay_size as f64);
        Ok(feed)
    }

    /// Items read from the store and not yet handed out.
    #[doc(hidden)]
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }

    pub fn room(&self) -> &RoomName {
        self.subscription.room()
    }

    /// The id of the last message this feed has produced or replayed.
    pub fn cursor(&self) -> i64 {
        self.last
    }

    /// The next item; `Ok(None)` when the room's queue has closed.
    ///
    /// Cancel-safe between items: dropping the future loses nothing that the
    /// next call would not produce again.
    pub async fn next(&mut self) -> Result<Option<FeedItem>, StoreError> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Ok(Some(item));
            }
            if self.replay_to.is_some() {
                // Boxed for the same reason as a catch-up.
                Box::pin(self.next_page()).await?;
                continue;
            }
            match self.subscription.recv().await {
                Ok(delivery) if delivery.seq() <= self.last => continue,
                Ok(delivery) if delivery.seq() == self.last + 1 => {
                    self.last = delivery.seq();
                    return Ok(Some(FeedItem::Message(delivery)));
                }
                // A jump in ids, or messages dropped from under us: everything
                // published is already committed, so the store has the rest.
                // (Boxed: a store read is a large future that an idle
                // subscriber should not carry while it waits.)
                Ok(_) => Box::pin(self.catch_up()).await?,
                Err(RecvError::Lagged(_)) => {
                    self.hub.metrics().lagged_catch_ups.inc();
                    Box::pin(self.catch_up()).await?
                }
                Err(RecvError::Closed) => return Ok(None),
            }
        }
    }

    async fn catch_up(&mut self) -> Result<(), StoreError> {
        // Unbounded: never shared (its answer depends on when it runs).
        let missed = self.store.sequence_after(self.room(), self.last, None, CATCH_UP_BATCH).await?;
        self.queue(missed);
        Ok(())
    }

    /// Queues the next page of a replay; the replay is over once it has
    /// reached the newest id it began with (or the store has no more).
    async fn next_page(&mut self) -> Result<(), StoreError> {
        let Some(to) = self.replay_to else { return Ok(()) };
        if self.last >= to {
            self.replay_to = None;
            return Ok(());
        }
        // Bounded by `to`, read before asking: feeds resuming from the same
        // place at once share this read (see `shared_reads`).
        let (store, room, after) = (&self.store, self.subscription.room(), self.last);
        let key = PageKey { room: room.clone(), after, before: to + 1, limit: REPLAY_PAGE };
        let page =
            self.hub.replays().page(key, || store.sequence_after(room, after, Some(to + 1), REPLAY_PAGE)).await?;
        if page.last().is_none_or(|d| d.seq() >= to) {
            self.replay_to = None;
        }
        self.queue(page.iter().cloned());
        Ok(())
    }

    /// Queues the latest messages, as they are now; answers how many. The
    /// position is the room's newest number read before them, so changes
    /// made since (and shown in them already) are not replayed, and any
    /// made after the read arrive live.
    async fn queue_latest(&mut self) -> Result<usize, StoreError> {
        let newest = self.store.last_id(self.room()).await?;
        let latest = self.store.latest(self.room(), LATEST).await?;
        self.last = latest.last().map_or(newest, |m| m.id.max(newest));
        let count = latest.len();
        self.pending.extend(latest.into_iter().map(|m| FeedItem::Message(Delivery::new(m))));
        Ok(count)
    }

    fn queue(&mut self, entries: impl IntoIterator<Item = Arc<Delivery>>) {
        for entry in entries {
            self.last = entry.seq();
            self.pending.push_back(FeedItem::Message(entry));
        }
    }
}
