//! Several rooms as one live sequence: each room's gap-free [`Feed`],
//! merged, with the [`Cursor`] of where the client stands.
//!
//! This is what one stream reads, whether it carries one room or many (a
//! browser shares one stream between its tabs); online lists and the rest
//! are added by `live`. Each room keeps its own
//! order; rooms interleave as their messages come. The cursor moves only when
//! an item is handed out, so it always says exactly what the client has. It
//! knows nothing of HTTP; `live` turns items into a stream session.

use std::sync::Arc;

// `rocket::futures` is the `futures` crate (Rocket re-exports it): `SelectAll`
// polls only the rooms that woke, so a quiet room costs nothing per message.
use rocket::futures::stream::{self, BoxStream, SelectAll, StreamExt};

use super::{Cursor, Feed, FeedItem, Start};
use crate::rooms::{Delivery, RoomName};
use crate::store::StoreError;

/// What a merged stream yields.
#[derive(Debug, Clone)]
pub enum LiveItem {
    Message(Arc<Delivery>),
    /// The client's position in this room could not be honoured: it should
    /// drop what it shows of the room; the latest messages follow.
    Reset(RoomName),
}

type Source = BoxStream<'static, Result<LiveItem, StoreError>>;

/// The rooms of one stream, merged.
pub struct RoomsFeed {
    sources: SelectAll<Source>,
    cursor: Cursor,
}

impl RoomsFeed {
    /// `rooms` are open feeds with the start each was opened at.
    pub fn new(rooms: Vec<(Feed, Start)>) -> Self {
        let mut cursor = Cursor::default();
        let mut sources = SelectAll::new();
        for (feed, start) in rooms {
            match start {
                Start::After(id) => cursor.set(feed.room(), id),
                // An empty room: the client has all of it. Otherwise the
                // position is known once its first message is handed out.
                Start::Latest if feed.cursor() == 0 => cursor.set(feed.room(), 0),
                Start::Latest => {}
            }
            sources.push(feed_source(feed));
        }
        Self { sources, cursor }
    }

    /// The next item of any room; `None` once every source has ended.
    ///
    /// Cancel-safe: the sources keep their own state between calls, and the
    /// cursor moves in the same poll that hands an item out.
    pub async fn next(&mut self) -> Option<Result<LiveItem, StoreError>> {
        let item = self.sources.next().await?;
        match &item {
            Ok(LiveItem::Message(delivery)) => self.cursor.set(&delivery.message.room, delivery.seq()),
            Ok(LiveItem::Reset(room)) => self.cursor.forget(room),
            Err(_) => {}
        }
        Some(item)
    }

    /// Where the client stands, after the items handed out so far.
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }
}

/// A room's feed as a stream that ends after an error (the client then
/// reconnects and resumes from its cursor).
fn feed_source(feed: Feed) -> Source {
    stream::unfold(Some(feed), |feed| async move {
        let mut feed = feed?;
        match feed.next().await {
            Ok(Some(FeedItem::Message(delivery))) => Some((Ok(LiveItem::Message(delivery)), Some(feed))),
            Ok(Some(FeedItem::Reset)) => {
                let room = feed.room().clone();
                Some((Ok(LiveItem::Reset(room)), Some(feed)))
            }
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed()
}
