//! `GET /rooms/<room>/events`: a room as Server-Sent Events.
//!
//! The stream opens with `retry:`, then yields one `event: message` per
//! message with its id as the SSE id, so a reconnecting browser resumes with
//! `Last-Event-ID`. The data is the message JSON, serialized once when the
//! message was committed; user text can never reach the `id:` or `event:`
//! lines. The stream ends when the server shuts down.

use std::net::IpAddr;
use std::time::Duration;

use rocket::futures::Stream;
use rocket::request::{self, FromRequest, Request};
use rocket::response::stream::{Event, EventStream};
use rocket::response::{self, Responder, Response};
use rocket::{Shutdown, State, get};

use super::error::ApiError;
use super::identity::StreamViewer;
use crate::auth::{Activity, Sessions};
use crate::config::Settings;
use crate::limits::Limits;
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

/// Who asks for a stream and what governs it, gathered in one guard.
pub struct StreamContext<'r> {
    pub viewer: StreamViewer,
    pub client_ip: Option<IpAddr>,
    pub sessions: &'r Sessions,
    pub limits: &'r Limits,
    pub settings: &'r Settings,
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
        })
    }
}

#[get("/rooms/<room>/events?<last_event_id>")]
pub async fn room_events(
    room: &str,
    last_event_id: Option<&str>,
    header: LastEventId,
    context: StreamContext<'_>,
    chat: &State<Chat>,
    mut shutdown: Shutdown,
) -> Result<Sse<impl Stream<Item = Event> + use<>>, ApiError> {
    let room = RoomName::parse(room)?;
    let start = start_from(header.0.as_deref(), last_event_id)?;
    // A replayed cookie of an ended session gets 401, which stops
    // EventSource from reconnecting (never a 200 that ends at once).
    let session_id = match &context.viewer {
        StreamViewer::Ended => return Err(ApiError::SessionEnded),
        StreamViewer::Member(user) => Some(user.session_id.clone()),
        StreamViewer::Guest(_) => None,
    };
    let StreamContext { sessions, limits, settings, .. } = context;
    let slot = limits.streams.acquire(context.viewer.limit_key(), context.client_ip).ok_or(ApiError::TooManyStreams)?;
    let mut feed = chat.feed(room.clone(), start).await?;
    let retry = Duration::from_millis(settings.sse_retry_ms);
    let heartbeat = Duration::from_secs(settings.heartbeat_secs);
    let mut session_check = session_id.map(|id| SessionCheck::new(sessions.clone(), id, settings.session_check_secs));
    let stream = EventStream! {
        let _slot = slot;
        yield Event::retry(retry);
        loop {
            let item = rocket::tokio::select! {
                item = feed.next() => item,
                _ = &mut shutdown => break,
                live = SessionCheck::next(&mut session_check) => {
                    if live { continue } else { break }
                }
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

/// Re-checks a member stream's session every few seconds, so a stream of
/// an ended session (logout, expiry, password change, deletion, also on
/// another instance) closes within that time.
pub struct SessionCheck {
    sessions: Sessions,
    session_id: String,
    every: rocket::tokio::time::Interval,
}

impl SessionCheck {
    fn new(sessions: Sessions, session_id: String, every_secs: u64) -> Self {
        let period = Duration::from_secs(every_secs);
        let every = rocket::tokio::time::interval_at(rocket::tokio::time::Instant::now() + period, period);
        Self { sessions, session_id, every }
    }

    /// Waits for the next check and answers whether the session is still
    /// live; never resolves for guests (`None`). A store error keeps the
    /// stream open: the next check decides.
    async fn next(check: &mut Option<Self>) -> bool {
        let Some(check) = check else {
            return std::future::pending().await;
        };
        check.every.tick().await;
        match check.sessions.authenticate(&check.session_id, Activity::Passive).await {
            Ok(session) => session.is_some(),
            Err(e) => {
                log::warn!("checking a stream's session failed: {e}");
                true
            }
        }
    }
}

/// The SSE event of one message: its id as the event id, its JSON (which
/// escapes every newline) as the only data line.
pub fn message_event(delivery: &Delivery) -> Event {
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
