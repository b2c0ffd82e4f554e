//! `GET /rooms/<room>/events`: a room as Server-Sent Events.
//!
//! The stream opens with `retry:`, then yields one `event: message` per
//! message with its id as the SSE id, so a reconnecting browser resumes with
//! `Last-Event-ID`. The data is the message JSON, serialized once when the
//! message was committed; user text can never reach the `id:` or `event:`
//! lines. The stream ends when the server shuts down.

use std::time::Duration;

use rocket::futures::Stream;
use rocket::request::{self, FromRequest, Request};
use rocket::response::stream::{Event, EventStream};
use rocket::response::{self, Responder, Response};
use rocket::{Shutdown, State, get};

use super::error::ApiError;
use crate::config::Settings;
use crate::messages::Chat;
use crate::rooms::{Delivery, RoomName};
use crate::stream::{FeedItem, Start};

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

/// An `EventStream` with the header that stops proxies (nginx) from
/// buffering it.
pub struct Sse<S>(EventStream<S>);

impl<'r, S: Stream<Item = Event> + Send + 'r> Responder<'r, 'r> for Sse<S> {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'r> {
        Response::build_from(self.0.respond_to(request)?).raw_header("X-Accel-Buffering", "no").ok()
    }
}

#[get("/rooms/<room>/events?<last_event_id>")]
pub async fn room_events(
    room: &str,
    last_event_id: Option<&str>,
    header: LastEventId,
    chat: &State<Chat>,
    settings: &State<Settings>,
    mut shutdown: Shutdown,
) -> Result<Sse<impl Stream<Item = Event> + use<>>, ApiError> {
    let room = RoomName::parse(room)?;
    let start = start_from(header.0.as_deref(), last_event_id)?;
    let mut feed = chat.feed(room.clone(), start).await?;
    let retry = Duration::from_millis(settings.sse_retry_ms);
    let heartbeat = Duration::from_secs(settings.heartbeat_secs);
    let stream = EventStream! {
        yield Event::retry(retry);
        loop {
            let item = rocket::tokio::select! {
                item = feed.next() => item,
                _ = &mut shutdown => break,
            };
            match item {
                Ok(Some(FeedItem::Message(delivery))) => yield message_event(&delivery),
                Ok(Some(FeedItem::Reset)) => yield reset_event(&room),
                Ok(None) => break,
                // The client reconnects with its Last-Event-ID and resumes.
                Err(e) => {
                    log::warn!("ending a stream of #{room}: {e}");
                    break;
                }
            }
        }
    };
    Ok(Sse(stream.heartbeat(heartbeat)))
}

fn message_event(delivery: &Delivery) -> Event {
    Event::data(delivery.json.to_string()).event("message").id(delivery.id().to_string())
}

fn reset_event(room: &RoomName) -> Event {
    Event::data(rocket::serde::json::json!({ "room": room }).to_string()).event("reset")
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
}
