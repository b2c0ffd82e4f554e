//! One open stream: its rooms' feeds merged, their online lists, the
//! moderation announcements that concern it, and its keepalive beat with
//! the session re-check, yielded as [`Item`]s in one loop.
//!
//! Every source keeps its own state between polls, so
//! [`StreamSession::next`] is cancel-safe: a WebSocket can race it against
//! the client's frames and lose nothing (at worst one session re-check is
//! skipped until the next beat).

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
use crate::limits::RetryAfter;
use crate::messages::PostError;
use crate::metrics::Holding;
use crate::moderation::Control;
use crate::presence::Online;
use crate::rooms::{Delivery, RoomName};
use crate::signals::Note;
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
    /// Someone typing in one of the rooms, or the viewer's account having
    /// read further (another device): never stored, never replayed.
    Signal(Arc<Note>),
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

/// Why a client's request over an open stream (a post, or a resume that
/// replays from the store) was refused.
#[derive(Debug, Error)]
pub enum FrameRefusal {
    #[error("your session has ended: log in again")]
    SessionEnded,
    #[error("too many requests: try again in {} s", .0.secs())]
    RateLimited(RetryAfter),
    #[error(transparent)]
    Post(#[from] PostError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// An open stream. Dropping it frees everything it holds. Kept small: an
/// idle server holds thousands of these.
pub struct StreamSession {
    feed: RoomsFeed,
    /// The rooms' online lists, for transports that carry them.
    online: Option<Box<OnlineLists>>,
    controls: BoxStream<'static, Item>,
    /// Typing in the rooms and the account's read positions.
    signals: SelectAll<BoxStream<'static, Arc<Note>>>,
    /// The keepalive beat; the session re-check rides on it (one timer per
    /// stream does both).
    beat: tokio::time::Interval,
    check: Option<SessionCheck>,
    shutdown: Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ended: bool,
    client_ip: Option<std::net::IpAddr>,
    streams: Streams,
    /// The viewer, the stream slot and the presence guards.
    admitted: Admitted,
    /// Counts this stream in `streams_open{transport=...}` while it lives.
    _open: Holding,
}

/// The online lists sent before anything else, then their changes.
struct OnlineLists {
    first: VecDeque<Arc<Online>>,
    changes: SelectAll<BoxStream<'static, Arc<Online>>>,
}

impl StreamSession {
    pub(super) async fn open(
        streams: &Streams,
        request: StreamRequest,
        mut admitted: Admitted,
        shutdown: Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ) -> Result<Self, Refusal> {
        let shared = &streams.shared;
        let feeds = try_join_all(request.rooms.iter().map(|(room, start)| {
            let (room, start) = (room.clone(), *start);
            async move { shared.chat.feed(room, start).await.map(|feed| (feed, start)) }
        }))
        .await?;
        let rooms: Vec<RoomName> = request.rooms.iter().map(|(room, _)| room.clone()).collect();
        // Joining first, so the first list a stream sends includes its viewer.
        admitted.join(&shared.presence, &rooms, request.transport);
        let online = request.transport.has_presence().then(|| {
            let mut lists = OnlineLists { first: VecDeque::new(), changes: SelectAll::new() };
            for room in &rooms {
                let mut watch = shared.presence.watch(room);
                lists.first.push_back(watch.current());
                lists.changes.push(
                    stream::unfold(watch, |mut watch| async move { Some((watch.changed().await, watch)) }).boxed(),
                );
            }
            Box::new(lists)
        });
        let member = matches!(admitted.visitor, Visitor::User(_) | Visitor::Bot(_));
        let in_presence = admitted.named && request.transport.has_presence();
        let every = streams.keepalive(request.transport, member, in_presence);
        let checked = match &admitted.visitor {
            Visitor::User(user) => Some(SessionCheck {
                credential: Credential::Session(shared.sessions.clone(), user.session_id.clone()),
                every: shared.session_check,
                last: tokio::time::Instant::now(),
            }),
            Visitor::Bot(bot) => Some(SessionCheck {
                credential: Credential::Bot(shared.bots.clone(), bot.clone()),
                every: shared.session_check,
                last: tokio::time::Instant::now(),
            }),
            Visitor::Guest { .. } => None,
        };
        let moderated = Moderated {
            streams: streams.clone(),
            viewer: admitted.visitor.clone(),
            rooms,
            controls: shared.chat.moderation().controls(),
        };
        let signals = match &admitted.visitor {
            Visitor::User(user) => shared.signals.listen(&moderated.rooms, Some(user.user_id)),
            Visitor::Guest { .. } | Visitor::Bot(_) => shared.signals.listen(&moderated.rooms, None),
        };
        let gauge = shared.metrics.streams_open.with_label_values(&[request.transport.label()]);
        Ok(Self {
            feed: RoomsFeed::new(feeds),
            online,
            controls: moderated.into_items(),
            signals,
            beat: keepalive_timer(every),
            check: checked,
            shutdown,
            ended: false,
            client_ip: request.client_ip,
            streams: streams.clone(),
            admitted,
            _open: Holding::new(gauge),
        })
    }

    /// The next item. Cancel-safe; after [`Item::End`] it ends again.
    pub async fn next(&mut self) -> Item {
        if self.ended {
            return Item::End(Ending::Interrupted);
        }
        if let Some(online) = self.online.as_mut().and_then(|lists| lists.first.pop_front()) {
            return Item::Presence(online);
        }
        let item = loop {
            let item = tokio::select! {
                item = self.feed.next() => feed_item(item),
                Some(online) = next_online(&mut self.online) => Item::Presence(online),
                Some(item) = self.controls.next() => item,
                Some(note) = self.signals.next() => Item::Signal(note),
                _ = self.beat.tick() => self.keepalive().await,
                _ = &mut self.shutdown => Item::End(Ending::Interrupted),
            };
            // Nobody is told that they themselves are typing.
            match &item {
                Item::Signal(note) if note.user.as_deref() == Some(self.admitted.visitor.name()) => continue,
                _ => break item,
            }
        };
        if matches!(item, Item::End(_)) {
            self.ended = true;
        }
        item
    }

    /// At each beat: a keepalive, unless the session ended. Cancelling this
    /// (a WebSocket frame came in) only skips one re-check.
    async fn keepalive(&mut self) -> Item {
        if let Some(check) = self.check.as_mut()
            && !check.still_live().await
        {
            return Item::End(Ending::SessionEnded);
        }
        Item::Keepalive
    }

    /// A message or reset already waiting, without waiting for one: a
    /// transport that woke for one item sends what is ready with it.
    pub fn ready(&mut self) -> Option<Item> {
        if self.ended || self.online.as_ref().is_some_and(|lists| !lists.first.is_empty()) {
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

    /// Starts `room` over after `after` (a WebSocket's `resume`): what was
    /// missed is replayed, then live. Each resume reads up to
    /// [`crate::stream::REPLAY_CAP`] rows, so resumes draw on the same
    /// buckets as posts: a client cannot make the server read the store
    /// faster than it could make it write.
    pub async fn resume(&mut self, room: &RoomName, after: i64) -> Result<(), FrameRefusal> {
        let shared = &self.streams.shared;
        shared.limits.posts.check(&self.admitted.visitor, self.client_ip).map_err(FrameRefusal::RateLimited)?;
        let start = Start::After(after);
        let feed = self.streams.shared.chat.feed(room.clone(), start).await?;
        self.feed = RoomsFeed::new(vec![(feed, start)]);
        Ok(())
    }

    /// Tells `room` the viewer is typing, with the same checks as
    /// `POST /rooms/<room>/typing`.
    pub async fn typing(&mut self, room: &RoomName) -> Result<(), FrameRefusal> {
        let shared = &self.streams.shared;
        shared.chat.may_post(&self.admitted.visitor, room).await?;
        shared.signals.typing(room, self.admitted.visitor.name(), self.admitted.visitor.display());
        Ok(())
    }

    /// Posts to `room` as the stream's viewer, with the same checks and
    /// reasons as an HTTP post (the session must still live).
    pub async fn post(
        &mut self,
        room: &RoomName,
        text: &str,
        reply_to: Option<i64>,
    ) -> Result<Arc<Delivery>, FrameRefusal> {
        let shared = &self.streams.shared;
        let visitor = &self.admitted.visitor;
        if let Visitor::User(user) = visitor
            && matches!(shared.sessions.authenticate(&user.session_id, Activity::Active).await, Ok(None))
        {
            return Err(FrameRefusal::SessionEnded);
        }
        if let Visitor::Bot(bot) = visitor
            && matches!(shared.bots.still_live(bot).await, Ok(false))
        {
            return Err(FrameRefusal::SessionEnded);
        }
        shared.limits.posts.check(visitor, self.client_ip).map_err(FrameRefusal::RateLimited)?;
        Ok(shared.chat.post(room.clone(), visitor, text, reply_to).await?)
    }
}

/// The next change of any room's online list; never, without lists.
async fn next_online(online: &mut Option<Box<OnlineLists>>) -> Option<Arc<Online>> {
    match online {
        Some(lists) => lists.changes.next().await,
        None => std::future::pending().await,
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

/// Re-checks a member stream's session (or a bot stream's token) every few
/// seconds, so a stream of an ended session (logout, expiry, password
/// change, deletion, also on another instance) or of a revoked bot closes
/// within that time.
struct SessionCheck {
    credential: Credential,
    every: Duration,
    last: tokio::time::Instant,
}

/// What a stream's viewer holds that can end.
enum Credential {
    /// A member's session, by id.
    Session(Sessions, String),
    /// A bot's token (it ends when the bot is revoked).
    Bot(crate::bots::Bots, crate::bots::BotUser),
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
        let live: BoxFuture<'_, Result<bool, crate::store::StoreError>> = match &self.credential {
            Credential::Session(sessions, session_id) => {
                Box::pin(async move { Ok(sessions.authenticate(session_id, Activity::Passive).await?.is_some()) })
            }
            Credential::Bot(bots, bot) => Box::pin(bots.still_live(bot)),
        };
        match live.await {
            Ok(live) => live,
            Err(e) => {
                tracing::warn!("checking a stream's session failed: {e}");
                true
            }
        }
    }
}

/// A timer whose first tick is one period away.
fn keepalive_timer(every: Duration) -> tokio::time::Interval {
    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer
}

/// What moderation asks of an open stream: kicks, bans and access changes
/// that end it.
struct Moderated {
    streams: Streams,
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
                // Boxed, like every rare store read here: the waiting state
                // of the many idle streams stays small.
                Ok(control) => {
                    for room in &self.rooms {
                        if Box::pin(self.streams.shared.chat.moderation().ends_stream(&control, &self.viewer, room))
                            .await
                        {
                            return Item::End(Ending::ShutOut);
                        }
                    }
                }
                // Missed announcements: re-check access the slow way.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    for room in &self.rooms {
                        if !matches!(
                            Box::pin(self.streams.shared.chat.moderation().can_read(&self.viewer, room)).await,
                            Ok(true)
                        ) {
                            return Item::End(Ending::ShutOut);
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return Item::End(Ending::Interrupted),
            }
        }
    }
}
