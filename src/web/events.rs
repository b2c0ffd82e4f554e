//! The event streams: `GET /rooms/<room>/events` (one room) and
//! `GET /events?rooms=a,b,c` (several rooms on one connection, so a browser's
//! tabs can share one stream instead of one each).
//!
//! A stream opens with `retry:`, then each room's online list
//! (`event: presence`), then `event: message` per message and a new
//! `presence` whenever a room's list changes. The id of a message event is
//! what a reconnecting browser sends back as `Last-Event-ID`: the message id
//! on a one-room stream, the [`Cursor`] of every room on a multi-room one.
//! Presence and reset events carry no id, so they never move the browser's
//! position. Data is JSON made once per message or change; user text can
//! never reach the `id:` or `event:` lines. This module only opens streams
//! and shapes events: merging lives in `stream`, who is online in `presence`.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use rocket::futures::future::try_join_all;
use rocket::futures::stream::{self, BoxStream};
use rocket::futures::{FutureExt, Stream, StreamExt};
use rocket::request::{self, FromRequest, Request};
use rocket::response::stream::ByteStream;
use rocket::serde::json::json;
use rocket::{Shutdown, State, get};
use tokio::sync::broadcast;

use super::error::ApiError;
use super::identity::StreamViewer;
use super::sse::{self, Batch, Sse};
use crate::auth::{Activity, GuestName, Sessions, Visitor};
use crate::config::Settings;
use crate::limits::{Limits, StreamSlot};
use crate::messages::Chat;
use crate::moderation::{Control, Moderation, ModerationError};
use crate::presence::{Member, Presence, PresenceGuard, PresenceWatch};
use crate::rooms::RoomName;
use crate::stream::{Cursor, LiveItem, RoomsFeed, Start};

/// Most rooms one multi-room stream may carry (its cursor, the event id,
/// grows with them).
pub const MAX_STREAM_ROOMS: usize = 50;

/// The longest a stream that counts in presence stays silent. A closed
/// connection is only noticed at the server's next write, so this bounds how
/// long a closed tab still shows as online (plus the grace period).
pub const PRESENCE_HEARTBEAT: Duration = Duration::from_secs(3);

/// The `Last-Event-ID` request header, if sent.
pub struct LastEventId(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for LastEventId {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        request::Outcome::Success(LastEventId(request.headers().get_one("Last-Event-ID").map(str::to_owned)))
    }
}

/// Where a stream starts: the header wins over `?last_event_id=` (which the
/// page uses for its first connection, before the browser has an id).
pub fn start_from(header: Option<&str>, query: Option<&str>) -> Result<Start, ApiError> {
    match header.or(query).map(str::trim) {
        None | Some("") => Ok(Start::Latest),
        Some(id) => id
            .parse::<u64>()
            .ok()
            .and_then(|id| i64::try_from(id).ok())
            .map(Start::After)
            .ok_or(ApiError::BadLastEventId),
    }
}

/// The rooms of `GET /events?rooms=a,b,c`: 1 to [`MAX_STREAM_ROOMS`] valid
/// names, repeats ignored.
pub fn stream_rooms(raw: Option<&str>) -> Result<Vec<RoomName>, ApiError> {
    let mut rooms: Vec<RoomName> = Vec::new();
    for name in raw.unwrap_or_default().split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let room = RoomName::parse(name)?;
        if !rooms.contains(&room) {
            rooms.push(room);
        }
    }
    if rooms.is_empty() || rooms.len() > MAX_STREAM_ROOMS {
        return Err(ApiError::StreamRooms);
    }
    Ok(rooms)
}

/// Who asks for a stream and what governs it, gathered in one guard.
pub struct StreamContext<'r> {
    pub viewer: StreamViewer,
    pub client_ip: Option<IpAddr>,
    pub sessions: &'r Sessions,
    pub limits: &'r Limits,
    pub settings: &'r Settings,
    pub presence: &'r Presence,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for StreamContext<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let viewer = rocket::outcome::try_outcome!(request.guard::<StreamViewer>().await);
        let rocket = request.rocket();
        request::Outcome::Success(StreamContext {
            viewer,
            client_ip: request.client_ip(),
            sessions: rocket.state().expect("Sessions is managed"),
            limits: rocket.state().expect("Limits is managed"),
            settings: rocket.state().expect("Settings is managed"),
            presence: rocket.state().expect("Presence is managed"),
        })
    }
}

/// How a stream names its message events.
#[derive(Clone, Copy)]
enum EventIds {
    /// The message id (a one-room stream).
    MessageId,
    /// The cursor of every room (a multi-room stream).
    Cursor,
}

#[get("/rooms/<room>/events?<last_event_id>")]
pub async fn room_events(
    room: &str,
    last_event_id: Option<&str>,
    header: LastEventId,
    context: StreamContext<'_>,
    chat: &State<Chat>,
    shutdown: Shutdown,
) -> Result<Sse<impl Stream<Item = Bytes> + use<>>, ApiError> {
    let room = RoomName::parse(room)?;
    let start = start_from(header.0.as_deref(), last_event_id)?;
    let watch = Moderated::admit(chat, &context.viewer, std::slice::from_ref(&room)).await?;
    let mut admitted = Admitted::check(&context)?;
    let feed = chat.feed(room.clone(), start).await?;
    let watches = admitted.join(&context, std::slice::from_ref(&room));
    let feed = RoomsFeed::new(vec![(feed, start)], watches);
    Ok(live_events(feed, EventIds::MessageId, admitted, watch, &context, shutdown))
}

#[get("/events?<rooms>&<last_event_id>")]
pub async fn multi_events(
    rooms: Option<&str>,
    last_event_id: Option<&str>,
    header: LastEventId,
    context: StreamContext<'_>,
    chat: &State<Chat>,
    shutdown: Shutdown,
) -> Result<Sse<impl Stream<Item = Bytes> + use<>>, ApiError> {
    let rooms = stream_rooms(rooms)?;
    let cursor = Cursor::parse(header.0.as_deref().or(last_event_id).unwrap_or_default())?;
    let watch = Moderated::admit(chat, &context.viewer, &rooms).await?;
    let mut admitted = Admitted::check(&context)?;
    let feeds = try_join_all(rooms.iter().map(|room| {
        let start = cursor.start(room);
        async move { chat.feed(room.clone(), start).await.map(|feed| (feed, start)) }
    }))
    .await?;
    let watches = admitted.join(&context, &rooms);
    let feed = RoomsFeed::new(feeds, watches);
    Ok(live_events(feed, EventIds::Cursor, admitted, watch, &context, shutdown))
}

/// One open stream in a gauge, for exactly as long as it lives.
struct OpenStream(prometheus::IntGauge);

impl OpenStream {
    fn new(gauge: prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// What moderation asks of an open stream: its rooms, its viewer, and the
/// announcements (deletions to pass on; kicks, bans and access changes
/// that end it).
struct Moderated {
    /// Counts this stream in `streams_open{transport="sse"}` while it lives.
    _open: OpenStream,
    moderation: Moderation,
    viewer: Visitor,
    rooms: Vec<RoomName>,
    controls: broadcast::Receiver<Control>,
}

impl Moderated {
    /// Refuses a stream to a room the viewer may not see (404, as if it did
    /// not exist) or has been kicked from or banned (204: EventSource
    /// stops reconnecting).
    async fn admit(chat: &Chat, viewer: &StreamViewer, rooms: &[RoomName]) -> Result<Self, ApiError> {
        // No name yet: a stand-in that is never on an allow list.
        let visitor = viewer.visitor().unwrap_or_else(|| Visitor::Guest { name: GuestName::generate() });
        let moderation = chat.moderation().clone();
        for room in rooms {
            if !chat.can_read(&visitor, room).await? {
                return Err(ModerationError::NoSuchRoom.into());
            }
            if matches!(viewer, StreamViewer::Member(_) | StreamViewer::Guest(Some(_)))
                && moderation.shut_out(visitor.name(), room).await?
            {
                return Err(ApiError::ShutOut);
            }
        }
        let controls = moderation.controls();
        let open = OpenStream::new(chat.hub().metrics().streams_open.with_label_values(&["sse"]));
        Ok(Self { _open: open, moderation, viewer: visitor, rooms: rooms.to_vec(), controls })
    }

    /// The announcements for this stream as frames to send; it ends when
    /// the stream must. One future lives across polls, so waiting costs
    /// nothing per message.
    fn into_frames(self) -> BoxStream<'static, Bytes> {
        stream::unfold(self, |mut moderated| async move { moderated.next().await.map(|frame| (frame, moderated)) })
            .boxed()
    }

    /// The next announcement for this stream: `Some(frame)` to send,
    /// `None` to end the stream. Others are skipped.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            match self.controls.recv().await {
                Ok(Control::Deleted { room, id }) if self.rooms.contains(&room) => {
                    return Some(sse::named("delete", &json!({ "room": room, "id": id }).to_string()));
                }
                // Boxed, like every rare store read here: the waiting state
                // of the many idle streams stays small.
                Ok(control) => {
                    for room in &self.rooms {
                        if Box::pin(self.moderation.ends_stream(&control, &self.viewer, room)).await {
                            return None;
                        }
                    }
                }
                // Missed announcements: re-check access the slow way.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    for room in &self.rooms {
                        if !matches!(Box::pin(self.moderation.can_read(&self.viewer, room)).await, Ok(true)) {
                            return None;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// A stream that may open: its viewer's session is live and a stream slot
/// is held. Everything here lives exactly as long as the stream.
struct Admitted {
    /// Held, never read: dropping it frees the stream's place in the caps.
    _slot: StreamSlot,
    member: Option<Member>,
    session_id: Option<String>,
    presence: Vec<PresenceGuard>,
}

impl Admitted {
    fn check(context: &StreamContext<'_>) -> Result<Self, ApiError> {
        // A replayed cookie of an ended session gets 401, which stops
        // EventSource from reconnecting (never a 200 that ends at once).
        let (member, session_id) = match &context.viewer {
            StreamViewer::Ended => return Err(ApiError::SessionEnded),
            StreamViewer::Member(user) => (Some(Member::new(user.name.clone(), false)), Some(user.session_id.clone())),
            StreamViewer::Guest(Some(name)) => (Some(Member::new(name.as_str(), true)), None),
            // A browser without a guest cookie yet has no name to show.
            StreamViewer::Guest(None) => (None, None),
        };
        let key = context.viewer.limit_key();
        let slot = context.limits.streams.acquire(key, context.client_ip).ok_or(ApiError::TooManyStreams)?;
        Ok(Self { _slot: slot, member, session_id, presence: Vec::new() })
    }

    /// Counts the viewer as online in `rooms` for as long as the stream
    /// lives, and watches who else is. Joining comes first, so the first
    /// list a stream sends includes its own viewer.
    fn join(&mut self, context: &StreamContext<'_>, rooms: &[RoomName]) -> Vec<PresenceWatch> {
        if let Some(member) = &self.member {
            self.presence.extend(rooms.iter().map(|room| context.presence.join(room, member.clone())));
        }
        rooms.iter().map(|room| context.presence.watch(room)).collect()
    }
}

/// The SSE body of an admitted stream: until the client leaves, the server
/// shuts down, the session ends, or the store fails (the client then
/// reconnects and resumes from its last id). Everything the loop waits on
/// lives across iterations, so a message wakes it without re-registering
/// anything; messages already queued when it wakes go out as one chunk.
fn live_events(
    mut feed: RoomsFeed,
    ids: EventIds,
    admitted: Admitted,
    moderated: Moderated,
    context: &StreamContext<'_>,
    mut shutdown: Shutdown,
) -> Sse<impl Stream<Item = Bytes> + use<>> {
    let settings = context.settings;
    let retry_ms = settings.sse_retry_ms;
    let mut heartbeat = Duration::from_secs(settings.heartbeat_secs);
    if admitted.member.is_some() {
        heartbeat = heartbeat.min(PRESENCE_HEARTBEAT);
    }
    let mut session_check = admitted
        .session_id
        .clone()
        .map(|id| SessionCheck::new(context.sessions.clone(), id, settings.session_check_secs));
    if let Some(check) = &session_check {
        // One timer per stream does both.
        heartbeat = heartbeat.min(check.every);
    }
    let mut controls = moderated.into_frames();
    let stream = ByteStream! {
        let _admitted = admitted;
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        yield sse::retry(retry_ms);
        loop {
            let mut next = rocket::tokio::select! {
                item = feed.next() => item,
                _ = &mut shutdown => break,
                control = controls.next() => match control {
                    Some(frame) => {
                        yield frame;
                        continue;
                    }
                    None => break,
                },
                _ = beat.tick() => {
                    if !SessionCheck::still_live(&mut session_check).await {
                        break;
                    }
                    yield Bytes::from_static(sse::HEARTBEAT);
                    continue;
                }
            };
            let mut batch = Batch::default();
            let ended = loop {
                match next {
                    Some(Ok(item)) => batch.push(frame(item, ids, feed.cursor())),
                    None => break true,
                    Some(Err(e)) => {
                        log::warn!("ending an event stream: {e}");
                        break true;
                    }
                }
                // What is already queued goes in the same chunk; the feed is
                // cancel-safe, so asking without waiting loses nothing.
                if batch.is_full() {
                    break false;
                }
                match feed.next().now_or_never() {
                    Some(item) => next = item,
                    None => break false,
                }
            };
            if let Some(chunk) = batch.take() {
                yield chunk;
            }
            if ended {
                break;
            }
        }
    };
    Sse(stream.0)
}

/// The frame of one item; `cursor` is the stream's position after it.
fn frame(item: LiveItem, ids: EventIds, cursor: &Cursor) -> Bytes {
    match item {
        LiveItem::Message(delivery) => match ids {
            EventIds::MessageId => sse::message_frame(&delivery),
            EventIds::Cursor => sse::message_with_id(&delivery, &cursor.to_string()),
        },
        LiveItem::Reset(room) => sse::named("reset", &json!({ "room": room }).to_string()),
        LiveItem::Presence(online) => sse::named("presence", &online.json),
    }
}

/// Re-checks a member stream's session every few seconds, so a stream of
/// an ended session (logout, expiry, password change, deletion, also on
/// another instance) closes within that time. It has no timer of its own:
/// the stream asks at each heartbeat whether a check is due.
pub struct SessionCheck {
    sessions: Sessions,
    session_id: String,
    every: Duration,
    last: tokio::time::Instant,
}

impl SessionCheck {
    fn new(sessions: Sessions, session_id: String, every_secs: u64) -> Self {
        Self { sessions, session_id, every: Duration::from_secs(every_secs), last: tokio::time::Instant::now() }
    }

    /// Whether the session is still live, if a check is due; `true` if not
    /// (and for guests, `None`). A store error keeps the stream open: the
    /// next check decides.
    async fn still_live(check: &mut Option<Self>) -> bool {
        let Some(check) = check.as_mut().filter(|c| c.last.elapsed() >= c.every) else { return true };
        check.last = tokio::time::Instant::now();
        // Boxed: a store read is a large future, and a rare one; the
        // stream's own state stays small for the many idle streams.
        match Box::pin(check.sessions.authenticate(&check.session_id, Activity::Passive)).await {
            Ok(session) => session.is_some(),
            Err(e) => {
                log::warn!("checking a stream's session failed: {e}");
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_wins_and_garbage_is_refused() {
        assert_eq!(start_from(None, None).unwrap(), Start::Latest);
        assert_eq!(start_from(None, Some("7")).unwrap(), Start::After(7));
        assert_eq!(start_from(Some("9"), Some("7")).unwrap(), Start::After(9));
        assert_eq!(start_from(Some(""), None).unwrap(), Start::Latest);
        assert!(start_from(Some("abc"), None).is_err());
        assert!(start_from(Some("-3"), None).is_err());
    }

    #[test]
    fn stream_rooms_are_one_to_fifty_valid_names() {
        let names = |rooms: Vec<RoomName>| rooms.iter().map(|r| r.to_string()).collect::<Vec<_>>();
        assert_eq!(names(stream_rooms(Some("lobby,rust, go,lobby")).unwrap()), ["lobby", "rust", "go"]);
        assert!(matches!(stream_rooms(None), Err(ApiError::StreamRooms)));
        assert!(matches!(stream_rooms(Some(",")), Err(ApiError::StreamRooms)));
        assert!(matches!(stream_rooms(Some("lobby,Not Valid")), Err(ApiError::Invalid(_))));
        let many = (0..=MAX_STREAM_ROOMS).map(|i| format!("r{i}")).collect::<Vec<_>>().join(",");
        assert!(matches!(stream_rooms(Some(&many)), Err(ApiError::StreamRooms)));
    }
}
