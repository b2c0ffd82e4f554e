//! The chat service the routes call: post a message, read history, wait for
//! new messages, open a live feed.
//!
//! It applies the rules that involve more than one part (who may post, how a
//! history query is read) and leaves storage to `store`, queues to `stream`.
//! It knows nothing of HTTP, so tests can drive it directly.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::auth::Visitor;
use crate::metrics::Holding;
use crate::moderation::{Moderation, ModerationError};
use crate::rooms::{Delivery, InvalidInput, Message, MessageText, RoomName};
use crate::store::{NewMessage, Store, StoreError};
use crate::stream::{Feed, Hub, RoomSubscription, Start};

/// Messages a history request returns when it names no limit.
pub const DEFAULT_LIMIT: u32 = 50;
/// Most messages one history request may ask for.
pub const MAX_LIMIT: u32 = 200;
/// Longest a long poll may wait.
pub const MAX_WAIT_SECS: u64 = 30;

#[derive(Debug, Error)]
pub enum PostError {
    #[error("guests may not post here: log in or register")]
    GuestsNotAllowed,
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Banned, muted, a locked room, or a members-only room (404).
    #[error(transparent)]
    Moderation(#[from] ModerationError),
}

/// Why a history query was refused (a 422 with this text).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("{0} must be a whole number of at least 0")]
    NotANumber(&'static str),
    #[error("limit must be between 1 and 200")]
    Limit,
    #[error("wait must be between 0 and 30 seconds")]
    Wait,
    #[error("wait needs after: a long poll waits for messages after a known id")]
    WaitWithoutAfter,
}

/// A validated `GET /rooms/<room>/messages` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: u32,
    /// Long-poll time; only with `after`.
    pub wait: Option<Duration>,
}

impl HistoryQuery {
    /// Reads the raw query values, naming the first one that is wrong.
    pub fn parse(
        after: Option<&str>,
        before: Option<&str>,
        limit: Option<&str>,
        wait: Option<&str>,
    ) -> Result<Self, QueryError> {
        fn number(name: &'static str, raw: Option<&str>) -> Result<Option<u64>, QueryError> {
            raw.map(|v| v.parse::<u64>().map_err(|_| QueryError::NotANumber(name))).transpose()
        }
        let id = |name, raw| {
            number(name, raw)?.map(|v| i64::try_from(v).map_err(|_| QueryError::NotANumber(name))).transpose()
        };
        let after = id("after", after)?;
        let before = id("before", before)?;
        let limit = match number("limit", limit)? {
            None => DEFAULT_LIMIT,
            Some(n @ 1..=200) => n as u32,
            Some(_) => return Err(QueryError::Limit),
        };
        let wait = match number("wait", wait)? {
            None => None,
            Some(s) if s > MAX_WAIT_SECS => return Err(QueryError::Wait),
            Some(_) if after.is_none() => return Err(QueryError::WaitWithoutAfter),
            Some(s) => Some(Duration::from_secs(s)),
        };
        Ok(Self { after, before, limit, wait })
    }
}

/// The chat service: one per server, shared by every route.
#[derive(Clone)]
pub struct Chat {
    store: Store,
    hub: Hub,
    moderation: Moderation,
    allow_guests: bool,
}

impl Chat {
    pub fn new(store: Store, hub: Hub, moderation: Moderation, allow_guests: bool) -> Self {
        Self { store, hub, moderation, allow_guests }
    }

    pub fn moderation(&self) -> &Moderation {
        &self.moderation
    }

    /// Whether `visitor` may see `room` (members-only rooms are invisible to
    /// outsiders: every route answers 404 and no event reaches them).
    pub async fn can_read(&self, visitor: &Visitor, room: &RoomName) -> Result<bool, StoreError> {
        self.moderation.can_read(visitor, room).await
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Stores a message from `visitor` and answers once it is committed and on
    /// its way to subscribers. The author and time are the server's.
    pub async fn post(&self, room: RoomName, visitor: &Visitor, text: &str) -> Result<Arc<Delivery>, PostError> {
        if visitor.is_guest() && !self.allow_guests {
            return Err(PostError::GuestsNotAllowed);
        }
        self.moderation.check_post(visitor, &room).await?;
        let text = MessageText::parse(text)?;
        let message = NewMessage { room, author: visitor.author(), text };
        Ok(self.store.append(message).await?)
    }

    /// Reads history as the query asks, without waiting.
    pub async fn history(&self, room: &RoomName, query: &HistoryQuery) -> Result<Vec<Message>, StoreError> {
        match (query.after, query.before) {
            (None, None) => self.store.latest(room, query.limit).await,
            (None, Some(before)) => self.store.before(room, before, query.limit).await,
            (Some(after), before) => self.store.after(room, after, before, query.limit).await,
        }
    }

    /// A long poll: history after `query.after`, waiting up to `query.wait`
    /// for the first new message (waking on the room's queue, never polling
    /// the database). Ends early, empty, when `cancel` resolves.
    pub async fn poll(
        &self,
        room: &RoomName,
        query: &HistoryQuery,
        cancel: impl std::future::Future<Output = ()>,
    ) -> Result<Vec<Message>, StoreError> {
        let (Some(after), Some(wait)) = (query.after, query.wait) else {
            return self.history(room, query).await;
        };
        // Subscribe before reading, so a message committed in between wakes us.
        let mut subscription = self.hub.subscribe(room);
        // The queue can answer only for a poll that is not bounded above.
        let open_ended = query.before.is_none();
        // Nothing newer than `after` has been delivered here, and anything
        // committed later reaches the queue: no need to ask the store.
        let known_empty = open_ended && self.hub.last_delivered(room).is_some_and(|last| last <= after);
        if !known_empty {
            let found = self.history(room, query).await?;
            if !found.is_empty() || wait.is_zero() {
                return Ok(found);
            }
        } else if wait.is_zero() {
            return Ok(Vec::new());
        }
        // A held long poll counts as an open stream while it waits.
        let _waiting = Holding::new(self.hub.metrics().streams_open.with_label_values(&["poll"]));
        let woke = async {
            loop {
                match subscription.recv().await {
                    Ok(delivery) if delivery.id() <= after => continue,
                    woke => break woke.ok(),
                }
            }
        };
        tokio::select! {
            first = woke => match first {
                // The next message and whatever follows it already queued,
                // straight from the queue: a message wakes many long polls,
                // and none of them should need the store for it.
                Some(first) if first.id() == after + 1 && open_ended => {
                    Ok(queued_run(first, &mut subscription, query.limit))
                }
                // A jump in ids or a lagged queue: the store has the rest.
                _ => self.history(room, query).await,
            },
            _ = tokio::time::sleep(wait) => Ok(Vec::new()),
            _ = cancel => Ok(Vec::new()),
        }
    }

    /// A live feed of a room for one subscriber.
    pub async fn feed(&self, room: RoomName, start: Start) -> Result<Feed, StoreError> {
        Feed::open(self.store.clone(), &self.hub, room, start).await
    }
}

/// `first` and the consecutive messages queued right behind it, at most
/// `limit` in all.
fn queued_run(first: Arc<Delivery>, subscription: &mut RoomSubscription, limit: u32) -> Vec<Message> {
    let mut run = vec![first.message.clone()];
    while run.len() < limit as usize {
        match subscription.try_recv() {
            Ok(next) if next.id() == run.last().map_or(0, |m| m.id) + 1 => run.push(next.message.clone()),
            _ => break,
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_queries_default_and_name_what_is_wrong() {
        let q = HistoryQuery::parse(None, None, None, None).unwrap();
        assert_eq!(q, HistoryQuery { after: None, before: None, limit: 50, wait: None });
        let q = HistoryQuery::parse(Some("5"), None, Some("200"), Some("30")).unwrap();
        assert_eq!(q.wait, Some(Duration::from_secs(30)));
        assert_eq!(HistoryQuery::parse(Some("x"), None, None, None), Err(QueryError::NotANumber("after")));
        assert_eq!(HistoryQuery::parse(None, Some("-1"), None, None), Err(QueryError::NotANumber("before")));
        assert_eq!(HistoryQuery::parse(None, None, Some("0"), None), Err(QueryError::Limit));
        assert_eq!(HistoryQuery::parse(None, None, Some("201"), None), Err(QueryError::Limit));
        assert_eq!(HistoryQuery::parse(Some("1"), None, None, Some("31")), Err(QueryError::Wait));
        assert_eq!(HistoryQuery::parse(None, None, None, Some("5")), Err(QueryError::WaitWithoutAfter));
    }
}
