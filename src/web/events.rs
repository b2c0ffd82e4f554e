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
//! and shapes events: who may open one and what it holds is `admission`,
//! merging lives in `stream`, who is online in `presence`.

use std::time::Duration;

use bytes::Bytes;
use rocket::futures::future::try_join_all;
use rocket::futures::{FutureExt, Stream, StreamExt};
use rocket::request::{self, FromRequest, Request};
use rocket::response::stream::ByteStream;
use rocket::serde::json::json;
use rocket::{Shutdown, State, get};

use super::admission::{Admitted, Moderated, SessionCheck, StreamContext};
use super::error::ApiError;
use super::sse::{self, Batch, Sse};
use crate::messages::Chat;
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
                        tracing::warn!("ending an event stream: {e}");
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
