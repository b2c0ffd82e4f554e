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
//! position, and neither do `typing` and `read` signals (never stored,
//! never replayed). Data is JSON made once per message or change; user text can
//! never reach the `id:` or `event:` lines. This module only reads the
//! request and encodes the items of a `live::StreamSession`: who may open a
//! stream, what it holds and what it yields is `live`.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use rocket::futures::Stream;
use rocket::request::{self, FromRequest, Request};
use rocket::response::stream::ByteStream;
use rocket::serde::json::json;
use rocket::{Shutdown, State, get};

use super::error::ApiError;
use super::sse::{self, Batch, Sse};
use crate::config::Settings;
use crate::live::{Item, StreamRequest, StreamSession, Streams, Transport, Viewer};
use crate::rooms::RoomName;
use crate::stream::{Cursor, Start};

/// Most rooms one multi-room stream may carry (its cursor, the event id,
/// grows with them).
pub const MAX_STREAM_ROOMS: usize = crate::stream::MAX_CURSOR_ROOMS;

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
/// names, repeats ignored. Refused as soon as one name too many is read, so
/// a long list costs no more than its first 51 distinct names.
pub fn stream_rooms(raw: Option<&str>) -> Result<Vec<RoomName>, ApiError> {
    let mut rooms: Vec<RoomName> = Vec::new();
    for name in raw.unwrap_or_default().split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let room = RoomName::parse(name)?;
        if !rooms.contains(&room) {
            rooms.push(room);
        }
        if rooms.len() > MAX_STREAM_ROOMS {
            return Err(ApiError::StreamRooms);
        }
    }
    if rooms.is_empty() {
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
#[allow(clippy::too_many_arguments)] // a route's guards, each one thing
pub async fn room_events(
    room: &str,
    last_event_id: Option<&str>,
    header: LastEventId,
    viewer: Viewer,
    client_ip: Option<IpAddr>,
    streams: &State<Streams>,
    settings: &State<Settings>,
    shutdown: Shutdown,
) -> Result<Sse<impl Stream<Item = Bytes> + use<>>, ApiError> {
    let room = RoomName::parse(room)?;
    let start = start_from(header.0.as_deref(), last_event_id)?;
    let request = StreamRequest { viewer, client_ip, rooms: vec![(room, start)], transport: Transport::Sse };
    let session = streams.open(request, shutdown).await?;
    Ok(events(session, EventIds::MessageId, settings))
}

#[get("/events?<rooms>&<last_event_id>")]
#[allow(clippy::too_many_arguments)] // a route's guards, each one thing
pub async fn multi_events(
    rooms: Option<&str>,
    last_event_id: Option<&str>,
    header: LastEventId,
    viewer: Viewer,
    client_ip: Option<IpAddr>,
    streams: &State<Streams>,
    settings: &State<Settings>,
    shutdown: Shutdown,
) -> Result<Sse<impl Stream<Item = Bytes> + use<>>, ApiError> {
    let rooms = stream_rooms(rooms)?;
    let cursor = Cursor::parse(header.0.as_deref().or(last_event_id).unwrap_or_default())?;
    let rooms = rooms.into_iter().map(|room| (room.clone(), cursor.start(&room))).collect();
    let request = StreamRequest { viewer, client_ip, rooms, transport: Transport::Sse };
    let session = streams.open(request, shutdown).await?;
    Ok(events(session, EventIds::Cursor, settings))
}

/// The SSE body of an open session, until it ends (the client then
/// reconnects and resumes from its last id), or until its client has taken
/// nothing for `stream_stall_secs`. Items already waiting when it wakes go
/// out as one chunk.
fn events(mut session: StreamSession, ids: EventIds, settings: &Settings) -> Sse<impl Stream<Item = Bytes> + use<>> {
    let retry_ms = settings.sse_retry_ms;
    let stream = ByteStream! {
        yield sse::retry(retry_ms);
        loop {
            let mut item = session.next().await;
            let mut batch = Batch::default();
            let ended = loop {
                match frame(item, ids, session.cursor()) {
                    Some(frame) => batch.push(frame),
                    None => break true,
                }
                if batch.is_full() {
                    break false;
                }
                match session.ready() {
                    Some(next) => item = next,
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
    Sse(sse::with_stall_limit(stream.0, Duration::from_secs(settings.stream_stall_secs)))
}

/// The frame of one item (`None`: the stream ends); `cursor` is the
/// stream's position after it.
fn frame(item: Item, ids: EventIds, cursor: &Cursor) -> Option<Bytes> {
    Some(match item {
        Item::Message(delivery) => match ids {
            EventIds::MessageId => sse::message_frame(&delivery),
            EventIds::Cursor => sse::message_with_id(&delivery, &cursor.to_string()),
        },
        Item::Reset(room) => sse::named("reset", &json!({ "room": room }).to_string()),
        Item::Presence(online) => sse::named("presence", &online.json),
        Item::Signal(note) => sse::named(note.kind, &note.json),
        Item::Keepalive => Bytes::from_static(sse::HEARTBEAT),
        // A kicked or logged-out viewer's reconnect is refused (204, 401).
        Item::End(_) => return None,
    })
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
