//! One open stream: its rooms' feeds merged, their online lists, the
//! moderation announcements that concern it, and its keepalive beat with
//! the session re-check, yielded as [`Item`]s in one loop.
//!
//! Every source is a stream that keeps its own state between polls, so
//! [`StreamSession::next`] is cancel-safe: a WebSocket can race it against
//! the client's frames and lose nothing.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rocket::futures::future::{BoxFuture, try_join_all};
use rocket::futures::stream::{self, BoxStream, SelectAll};
use rocket::futures::{FutureExt, StreamExt};
use thiserror::Error;
use tokio::sync::broadcast;

use super::{Admitted, Refusal, StreamRequest, Streams};
use crate::auth::{Activity, Sessions, Visitor};
use crate::limits::{Limits, RetryAfter};
use crate::messages::{Chat, PostError};
use crate::metrics::Holding;
use crate::moderation::{Control, Moderation};
use crate::presence::Online;
use crate::rooms::{Delivery, RoomName};
use crate::stream::{Cursor, LiveItem, RoomsFeed, Start};

/// What a stream yields, for the transport to encode.
#[derive(Debug, Clone)]
pub enum Item {
    Message(Arc<Delivery>),
    /// The client's position in this room could not be honoured: it drops
    /// what it shows of the room; the latest messages follow.
    Reset(RoomName),
    /// A room's online list: once per room when the stream opens, then at
    /// each change.
    Presence(Arc<Online>),
    /// A message became a tombstone.
    Deleted {
        room: RoomName,
        id: i64,
    },
    /// Nothing else to say for a while: SSE sends a comment, a WebSocket a
    /// ping (and the server notices a closed connection at that write).
    Keepalive,
    /// The stream is over; nothing follows.
    End(Ending),
}

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The server is stopping, the store failed or the room's queue closed:
    /// the client should reconnect and resume.
    Interrupted,
    /// Kicked, banned, or no longer allowed in a members-only room.
    ShutOut,
    /// The viewer's session ended (logout, expiry, password change).
    SessionEnded,
}

/// Why a post over an open stream was refused.
#[derive(Debug, Error)]
pub enum PostRefusal {
    #[error("your session has ended: log in again")]
    SessionEnded,
    #[error("too many requests: try again in {} s", .0.secs())]
    RateLimited(RetryAfter),
    #[error(transparent)]
    Post(#[from] PostError),
}

/// An open stream. Dropping it frees everything it holds.
pub struct StreamSession {
    feed: RoomsFeed,
    /// The online lists sent before anything else, then their changes.
    first_presence: VecDeque<Arc<Online>>,
    presence: SelectAll<BoxStream<'static, Arc<Online>>>,
    controls: BoxStream<'static, Item>,
    beats: BoxStream<'static, Item>,
    shutdown: Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ended: bool,
    visitor: Visitor,
    client_ip: Option<std::net::IpAddr>,
    chat: Chat,
    sessions: Sessions,
    limits: Limits,
    _admitted: Admitted,
    /// Counts this stream in `streams_open{transport=...}` while it lives.
    _open: Holding,
}

impl StreamSession {
    pub(super) async fn open(
        streams: &Streams,
        request: StreamRequest,
        admitted: Admitted,
        shutdown: Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ) -> Result<Self, Refusal> {
        let chat = &streams.chat;
        let feeds = try_join_all(request.rooms.iter().map(|(room, start)| {
            let (room, start) = (room.clone(), *start);
            async move { chat.feed(room, start).await.map(|feed| (feed, start)) }
        }))
        .await?;
        let rooms: Vec<RoomName> = request.rooms.iter().map(|(room, _)| room.clone()).collect();
        let mut first_presence = VecDeque::new();
        let mut presence = SelectAll::new();
        if request.transport.carries_presence() {
            for room in &rooms {
                let mut watch = streams.presence.watch(room);
                first_presence.push_back(watch.current());
                presence.push(
                    stream::unfold(watch, |mut watch| async move { Some((watch.changed().await, watch)) }).boxed(),
                );
            }
        }
        let member = matches!(admitted.visitor, Visitor::User(_));
        let named = request.viewer.visitor().is_some();
        let every = streams.keepalive(request.transport, member, named && request.transport.counts_in_presence());
        let checked = match &admitted.visitor {
            Visitor::User(user) => Some(SessionCheck {
                sessions: streams.sessions.clone(),
                session_id: user.session_id.clone(),
                every: streams.session_check,
                last: tokio::time::Instant::now(),
            }),
            Visitor::Guest { .. } => None,
        };
        let moderated = Moderated {
            moderation: chat.moderation().clone(),
            viewer: admitted.visitor.clone(),
            rooms,
            controls: chat.moderation().controls(),
        };
        let gauge = streams.metrics.streams_open.with_label_values(&[request.transport.label()]);
        Ok(Self {
            feed: RoomsFeed::new(feeds),
            first_presence,
            presence,
            controls: moderated.into_items(),
            beats: beats(every, checked),
            shutdown,
            ended: false,
            visitor: admitted.visitor.clone(),
            client_ip: request.client_ip,
            chat: chat.clone(),
            sessions: streams.sessions.clone(),
            limits: streams.limits.clone(),
            _admitted: admitted,
            _open: Holding::new(gauge),
        })
    }

    /// The next item. Cancel-safe; after [`Item::End`] it ends again.
    pub async fn next(&mut self) -> Item {
        if self.ended {
            return Item::End(Ending::Interrupted);
        }
        if let Some(online) = self.first_presence.pop_front() {
            return Item::Presence(online);
        }
        let item = tokio::select! {
            item = self.feed.next() => feed_item(item),
            Some(online) = self.presence.next(), if !self.presence.is_empty() => Item::Presence(online),
            Some(item) = self.controls.next() => item,
            Some(item) = self.beats.next() => item,
            _ = &mut self.shutdown => Item::End(Ending::Interrupted),
        };
        if matches!(item, Item::End(_)) {
            self.ended = true;
        }
        item
    }

    /// A message or reset already waiting, without waiting for one: a
    /// transport that woke for one item sends what is ready with it.
    pub fn ready(&mut self) -> Option<Item> {
        if self.ended || !self.first_presence.is_empty() {
            return None;
        }
        let item = feed_item(self.feed.next().now_or_never()?);
        if matches!(item, Item::End(_)) {
            self.ended = true;
        }
        Some(item)
    }

    /// Where the client stands in every room, after the items yielded.
    pub fn cursor(&self) -> &Cursor {
        self.feed.cursor()
    }

    /// The viewer (a stand-in guest for a browser without a name yet).
    pub fn visitor(&self) -> &Visitor {
        &self.visitor
    }

    /// Starts `room` over after `after` (a WebSocket's `resume`): what was
    /// missed is replayed, then live.
    pub async fn resume(&mut self, room: &RoomName, after: i64) -> Result<(), Refusal> {
        let start = Start::After(after);
        let feed = self.chat.feed(room.clone(), start).await?;
        self.feed = RoomsFeed::new(vec![(feed, start)]);
        Ok(())
    }

    /// Posts to `room` as the stream's viewer, with the same checks and
    /// reasons as an HTTP post (the session must still live).
    pub async fn post(&mut self, room: &RoomName, text: &str) -> Result<Arc<Delivery>, PostRefusal> {
        if let Visitor::User(user) = &self.visitor
            && matches!(self.sessions.authenticate(&user.session_id, Activity::Active).await, Ok(None))
        {
            return Err(PostRefusal::SessionEnded);
        }
        self.limits.posts.check(&self.visitor, self.client_ip).map_err(PostRefusal::RateLimited)?;
        Ok(self.chat.post(room.clone(), &self.visitor, text).await?)
    }
}

fn feed_item(item: Option<Result<LiveItem, crate::store::StoreError>>) -> Item {
    match item {
        Some(Ok(LiveItem::Message(delivery))) => Item::Message(delivery),
        Some(Ok(LiveItem::Reset(room))) => Item::Reset(room),
        Some(Err(e)) => {
            tracing::warn!("ending a stream: {e}");
            Item::End(Ending::Interrupted)
        }
        None => Item::End(Ending::Interrupted),
    }
}

/// Re-checks a member stream's session every few seconds, so a stream of
/// an ended session (logout, expiry, password change, deletion, also on
/// another instance) closes within that time.
struct SessionCheck {
    sessions: Sessions,
    session_id: String,
    every: Duration,
    last: tokio::time::Instant,
}

impl SessionCheck {
    /// Whether the session still lives, if a check is due (`true` if not).
    /// A store error keeps the stream open: the next check decides.
    async fn still_live(&mut self) -> bool {
        if self.last.elapsed() < self.every {
            return true;
        }
        self.last = tokio::time::Instant::now();
        // Boxed: a store read is a large future, and a rare one; the
        // stream's own state stays small for the many idle streams.
        let live: BoxFuture<'_, _> = Box::pin(self.sessions.authenticate(&self.session_id, Activity::Passive));
        match live.await {
            Ok(session) => session.is_some(),
            Err(e) => {
                tracing::warn!("checking a stream's session failed: {e}");
                true
            }
        }
    }
}

/// The keepalive beat, with the session re-check riding on it: one timer
/// per stream does both.
fn beats(every: Duration, check: Option<SessionCheck>) -> BoxStream<'static, Item> {
    let start = tokio::time::Instant::now() + every;
    let mut timer = tokio::time::interval_at(start, every);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    stream::unfold((timer, check), |(mut timer, mut check)| async move {
        timer.tick().await;
        if let Some(check) = check.as_mut()
            && !check.still_live().await
        {
            return Some((Item::End(Ending::SessionEnded), (timer, None)));
        }
        Some((Item::Keepalive, (timer, check)))
    })
    .boxed()
}

/// What moderation asks of an open stream: deletions to pass on; kicks,
/// bans and access changes that end it.
struct Moderated {
    moderation: Moderation,
    viewer: Visitor,
    rooms: Vec<RoomName>,
    controls: broadcast::Receiver<Control>,
}

impl Moderated {
    /// One future lives across polls, so waiting costs nothing per message.
    fn into_items(self) -> BoxStream<'static, Item> {
        stream::unfold(self, |mut moderated| async move {
            let item = moderated.next().await;
            Some((item, moderated))
        })
        .boxed()
    }

    async fn next(&mut self) -> Item {
        loop {
            match self.controls.recv().await {
                Ok(Control::Deleted { room, id }) if self.rooms.contains(&room) => {
                    return Item::Deleted { room, id };
                }
                // Boxed, like every rare store read here: the waiting state
                // of the many idle streams stays small.
                Ok(control) => {
                    for room in &self.rooms {
                        if Box::pin(self.moderation.ends_stream(&control, &self.viewer, room)).await {
                            return Item::End(Ending::ShutOut);
                        }
                    }
                }
                // Missed announcements: re-check access the slow way.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    for room in &self.rooms {
                        if !matches!(Box::pin(self.moderation.can_read(&self.viewer, room)).await, Ok(true)) {
                            return Item::End(Ending::ShutOut);
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return Item::End(Ending::Interrupted),
            }
        }
    }
}
