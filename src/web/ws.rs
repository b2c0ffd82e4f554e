//! `GET /rooms/<room>/ws`: a room over WebSocket, for networks where
//! Server-Sent Events do not get through.
//!
//! Server to client: the same message JSON as SSE with `"type":"message"`
//! added, the online list as `{"type":"presence",...}` (on connect and on
//! change; the socket counts its visitor as online), `{"type":"reset",...}`, `{"type":"ack","id":..}` for a sent
//! message, and `{"type":"error","code":422,"reason":"..."}` for a refused
//! one (the socket stays open). Client to server: `{"type":"send","text":..}`
//! posts as the session's user (the same rules, limits and reasons as a
//! POST) and `{"type":"resume","after":<id>}` replays what was missed. The
//! handshake is refused (403) from another origin and (401) for an ended
//! session; a slow client is caught up from the store like a slow SSE one.
//! A socket the server ends for good closes with code 4403 (kicked, banned,
//! no access) or 4401 (session ended); any other close invites a reconnect.

use std::net::IpAddr;
use std::time::Duration;

use rocket::futures::{SinkExt, StreamExt};
use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::serde::json::{Value, json};
use rocket::{Shutdown, State, get};
use rocket_ws::{Channel, Message, WebSocket};
use tokio::sync::broadcast;

use rocket_ws::frame::{CloseCode, CloseFrame};
use rocket_ws::stream::DuplexStream;

use super::admission::StreamContext;
use super::error::{ApiError, RefusalReason};
use super::identity::{GUEST_COOKIE, Jar, StreamViewer};
use crate::auth::{Activity, GuestName, Sessions, Visitor};
use crate::limits::{Limits, StreamSlot};
use crate::messages::{Chat, PostError};
use crate::metrics::Holding;
use crate::moderation::{Control, ModerationError};
use crate::presence::{Member, PresenceGuard, PresenceWatch};
use crate::rooms::{Delivery, RoomName};
use crate::stream::{Feed, FeedItem, Start};

/// How often the server pings an idle socket (and so notices a dead peer).
const PING_EVERY: Duration = Duration::from_secs(15);

/// A WebSocket handshake from this site: one from another origin is
/// refused (403), like a cross-origin POST.
pub struct Handshake(WebSocket);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Handshake {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        if let Err(reason) = super::origin::check(request) {
            request.local_cache(|| RefusalReason::new(reason));
            return Outcome::Error((Status::Forbidden, ()));
        }
        match request.guard::<WebSocket>().await {
            Outcome::Success(ws) => Outcome::Success(Handshake(ws)),
            Outcome::Forward(status) => Outcome::Forward(status),
            Outcome::Error((status, _)) => Outcome::Error((status, ())),
        }
    }
}

#[get("/rooms/<room>/ws?<after>")]
pub async fn room_ws(
    room: &str,
    after: Option<&str>,
    handshake: Handshake,
    context: StreamContext<'_>,
    jar: Jar<'_>,
    chat: &State<Chat>,
    shutdown: Shutdown,
) -> Result<Channel<'static>, ApiError> {
    let room = RoomName::parse(room)?;
    if matches!(context.viewer, StreamViewer::Ended) {
        return Err(ApiError::SessionEnded);
    }
    // A socket posts, so a browser without a guest name gets one now.
    let visitor = context.viewer.visitor().unwrap_or_else(|| {
        let name = GuestName::generate();
        jar.add_private(GUEST_COOKIE, name.as_str().to_owned(), rocket::time::Duration::days(365));
        Visitor::Guest { name }
    });
    if !chat.can_read(&visitor, &room).await? {
        return Err(ModerationError::NoSuchRoom.into());
    }
    if chat.moderation().shut_out(visitor.name(), &room).await? {
        return Err(ApiError::ShutOut);
    }
    let controls = chat.moderation().controls();
    // A socket counts in presence like an event stream. It needs no
    // heartbeat for that: it reads the connection, so a closed one is
    // noticed at once.
    let online = context.presence.join(&room, Member::new(visitor.name(), visitor.is_guest()));
    let presence = context.presence.watch(&room);
    let slot = context
        .limits
        .streams
        .acquire(context.viewer.limit_key(), context.client_ip)
        .ok_or(ApiError::TooManyStreams)?;
    // `?after=<id>` resumes from the first frame, like `Last-Event-ID`.
    let feed = chat.feed(room.clone(), super::events::start_from(None, after)?).await?;
    let socket = Socket {
        room,
        visitor,
        client_ip: context.client_ip,
        chat: chat.inner().clone(),
        sessions: context.sessions.clone(),
        limits: context.limits.clone(),
        check_every: Duration::from_secs(context.settings.session_check_secs),
        controls,
        presence,
        _online: online,
        _slot: slot,
    };
    let gauge = chat.hub().metrics().streams_open.with_label_values(&["ws"]);
    Ok(handshake.0.channel(move |stream| {
        Box::pin(async move {
            let _open = Holding::new(gauge);
            socket.run(stream, feed, shutdown).await
        })
    }))
}

/// One open socket's state.
struct Socket {
    room: RoomName,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    chat: Chat,
    sessions: Sessions,
    limits: Limits,
    check_every: Duration,
    /// Moderation announcements (deletions, kicks, bans, access changes).
    controls: broadcast::Receiver<Control>,
    /// Who else is online in the room, sent on connect and on each change.
    presence: PresenceWatch,
    /// Counts this socket's visitor as online while it lives.
    _online: PresenceGuard,
    /// This socket's place under the stream caps, freed when it ends.
    _slot: StreamSlot,
}

impl Socket {
    async fn run(
        mut self,
        mut stream: DuplexStream,
        mut feed: Feed,
        mut shutdown: Shutdown,
    ) -> rocket_ws::result::Result<()> {
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let mut session_check =
            tokio::time::interval_at(tokio::time::Instant::now() + self.check_every, self.check_every);
        // A plain close (a restart, the store away) invites a reconnect.
        let mut ending = None;
        stream.send(Message::text(typed_frame("presence", &self.presence.current().json))).await?;
        loop {
            tokio::select! {
                item = feed.next() => match item {
                    Ok(Some(FeedItem::Message(delivery))) => stream.send(Message::text(message_frame(&delivery))).await?,
                    Ok(Some(FeedItem::Reset)) => stream.send(frame(json!({ "type": "reset", "room": self.room }))).await?,
                    // The client resumes with its last id on a new socket.
                    Ok(None) | Err(_) => break,
                },
                incoming = stream.next() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(next) = self.handle(&text, &mut stream).await? {
                            feed = next;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => {} // pongs, pings (answered by the library), binary
                    Some(Err(e)) => return Err(e),
                },
                control = self.controls.recv() => match control {
                    Ok(Control::Deleted { room, id }) if room == self.room => {
                        stream.send(frame(json!({ "type": "delete", "room": room, "id": id }))).await?;
                    }
                    Ok(control) => {
                        if self.chat.moderation().ends_stream(&control, &self.visitor, &self.room).await {
                            ending = Some(Ending::ShutOut);
                            break;
                        }
                    }
                    // Missed announcements: re-check access the slow way.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if !matches!(self.chat.can_read(&self.visitor, &self.room).await, Ok(true)) {
                            ending = Some(Ending::ShutOut);
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                online = self.presence.changed() => {
                    stream.send(Message::text(typed_frame("presence", &online.json))).await?;
                }
                _ = ping.tick() => stream.send(Message::Ping(Vec::new())).await?,
                _ = session_check.tick() => {
                    if !self.session_live(Activity::Passive).await {
                        ending = Some(Ending::SessionEnded);
                        break;
                    }
                }
                _ = &mut shutdown => break,
            }
        }
        let _ = stream.close(ending.map(Ending::frame)).await;
        Ok(())
    }

    /// One client frame; a `resume` answers with the feed to go on with.
    async fn handle(&mut self, text: &str, stream: &mut DuplexStream) -> rocket_ws::result::Result<Option<Feed>> {
        let request: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(_) => {
                stream.send(error_frame(Status::UnprocessableEntity, "frames are JSON objects with a type")).await?;
                return Ok(None);
            }
        };
        match request["type"].as_str() {
            Some("send") => {
                let frame = self.send(request["text"].as_str()).await;
                stream.send(frame).await?;
                Ok(None)
            }
            Some("resume") => match request["after"].as_i64().filter(|after| *after >= 0) {
                Some(after) => match self.chat.feed(self.room.clone(), Start::After(after)).await {
                    Ok(feed) => Ok(Some(feed)),
                    Err(_) => {
                        stream.send(error_frame(Status::ServiceUnavailable, "the store is unavailable")).await?;
                        Ok(None)
                    }
                },
                None => {
                    stream.send(error_frame(Status::UnprocessableEntity, "after must be a message id")).await?;
                    Ok(None)
                }
            },
            _ => {
                stream.send(error_frame(Status::UnprocessableEntity, "type must be send or resume")).await?;
                Ok(None)
            }
        }
    }

    /// Posts like `POST .../messages` does: the same checks and reasons.
    async fn send(&mut self, text: Option<&str>) -> Message {
        let Some(text) = text else {
            return error_frame(Status::UnprocessableEntity, "the field text is missing");
        };
        if !self.session_live(Activity::Active).await {
            return error_frame(Status::Unauthorized, &ApiError::SessionEnded.to_string());
        }
        if let Err(wait) = self.limits.posts.check(&self.visitor, self.client_ip) {
            return error_frame(Status::TooManyRequests, &ApiError::RateLimited(wait).to_string());
        }
        match self.chat.post(self.room.clone(), &self.visitor, text).await {
            Ok(delivery) => frame(json!({ "type": "ack", "id": delivery.id() })),
            Err(PostError::Store(_)) => error_frame(Status::ServiceUnavailable, "the server's storage is unavailable"),
            Err(refused) => {
                let reason = refused.to_string();
                error_frame(ApiError::from(refused).status(), &reason)
            }
        }
    }

    /// Whether a member's session still lives (guests always do).
    async fn session_live(&self, activity: Activity) -> bool {
        match &self.visitor {
            Visitor::User(user) => {
                matches!(self.sessions.authenticate(&user.session_id, activity).await, Ok(Some(_)) | Err(_))
            }
            Visitor::Guest { .. } => true,
        }
    }
}

/// Why the server closed a socket for good: the page stops reconnecting on
/// these codes (the private range 4000-4999 of RFC 6455), as EventSource
/// stops on a 204 or 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Kicked from the room, banned, or no longer allowed in a members-only
    /// room.
    ShutOut,
    /// The session ended (logout, expiry, password change).
    SessionEnded,
}

impl Ending {
    pub const SHUT_OUT: u16 = 4403;
    pub const SESSION_ENDED: u16 = 4401;

    fn frame(self) -> CloseFrame<'static> {
        let (code, reason) = match self {
            Ending::ShutOut => (Self::SHUT_OUT, "you may not read this room now"),
            Ending::SessionEnded => (Self::SESSION_ENDED, "your session has ended"),
        };
        CloseFrame { code: CloseCode::from(code), reason: reason.into() }
    }
}

/// The SSE message JSON with `"type":"message"` in front, made from the
/// shared serialization without parsing it again.
fn message_frame(delivery: &Delivery) -> String {
    typed_frame("message", &delivery.json)
}

/// A JSON object made once for every stream (a message, an online list)
/// with `"type"` put in front. `object` is serde_json's `{...}`.
fn typed_frame(kind: &str, object: &str) -> String {
    format!(r#"{{"type":"{kind}",{}"#, &object[1..])
}

fn frame(value: Value) -> Message {
    Message::text(value.to_string())
}

fn error_frame(status: Status, reason: &str) -> Message {
    frame(json!({ "type": "error", "code": status.code, "reason": reason }))
}
