//! `GET /rooms/<room>/ws`: a room over WebSocket, for networks where
//! Server-Sent Events do not get through. Admission, the live loop and
//! posting are `live`'s; this module reads frames and encodes items.
//!
//! Server to client: the same message JSON as SSE with `"type":"message"`
//! added, the online list as `{"type":"presence",...}` (on connect and on
//! change; the socket counts its visitor as online), `{"type":"reset",...}`, `{"type":"ack","id":..}` for a sent
//! message, and `{"type":"error","code":422,"reason":"..."}` for a refused
//! one (the socket stays open). Client to server: `{"type":"send","text":..}`
//! (with an optional `"reply_to"`) posts as the session's user (the same
//! rules, limits and reasons as a POST), `{"type":"typing"}` tells the room
//! (like `POST .../typing`) and `{"type":"resume","after":<id>}` replays
//! what was missed. The room's changes arrive as `edit`, `reaction` and
//! `delete` frames with their `seq`; `typing` and `read` frames have none. The
//! handshake is refused (403) from another origin and (401) for an ended
//! session; a slow client is caught up from the store like a slow SSE one.
//! A socket the server ends for good closes with code 4403 (kicked, banned,
//! no access) or 4401 (session ended); any other close invites a reconnect.
//!
//! What a client may send is bounded: a message over `ws_max_message_bytes`
//! (16 KiB by default, far above the longest post; the library's own
//! default is 64 MiB) closes the socket with 1009, a binary frame with 1003
//! (this protocol is JSON text), and sends and resumes draw on the same
//! post-rate buckets (a refusal is an error frame with code 429).

use std::net::IpAddr;
use std::time::Duration;

use rocket::futures::{SinkExt, StreamExt};
use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::serde::json::Value;
use rocket::{Shutdown, State, get};
use rocket_ws::frame::{CloseCode, CloseFrame};
use rocket_ws::result::Error as WsError;
use rocket_ws::stream::DuplexStream;
use rocket_ws::{Channel, Config as WsConfig, Message, WebSocket};
use serde::Serialize;

use super::error::{ApiError, RefusalReason};
use super::identity::{Jar, give_guest_name};
use crate::config::Settings;
use crate::live::{Ending, Item, StreamRequest, StreamSession, Streams, Transport, Viewer};
use crate::rooms::{self, RoomName};

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
#[allow(clippy::too_many_arguments)] // a route's guards, each one thing
pub async fn room_ws(
    room: &str,
    after: Option<&str>,
    handshake: Handshake,
    viewer: Viewer,
    client_ip: Option<IpAddr>,
    jar: Jar<'_>,
    streams: &State<Streams>,
    settings: &State<Settings>,
    shutdown: Shutdown,
) -> Result<Channel<'static>, ApiError> {
    let room = RoomName::parse(room)?;
    // `?after=<id>` resumes from the first frame, like `Last-Event-ID`.
    let start = super::events::start_from(None, after)?;
    // A socket posts, so a browser without a guest name gets one now.
    let viewer = match viewer {
        Viewer::Guest(None) => Viewer::Guest(Some(give_guest_name(&jar))),
        viewer => viewer,
    };
    let request =
        StreamRequest { viewer, client_ip, rooms: vec![(room.clone(), start)], transport: Transport::WebSocket };
    let session = streams.open(request, shutdown).await?;
    let ws = handshake.0.config(limits(settings.ws_max_message_bytes));
    let stall = Duration::from_secs(settings.stream_stall_secs);
    Ok(ws.channel(move |stream| Box::pin(run(session, room, Socket { stream, stall }))))
}

/// The library's limits for one socket: no message (nor frame) over `max`
/// bytes is buffered; the read that would exceed it fails instead.
fn limits(max: usize) -> WsConfig {
    WsConfig { max_message_size: Some(max), max_frame_size: Some(max), ..WsConfig::default() }
}

/// The socket's life: items out, client frames in, until either side ends.
async fn run(mut session: StreamSession, room: RoomName, mut socket: Socket) -> rocket_ws::result::Result<()> {
    let why = loop {
        tokio::select! {
            item = session.next() => match item {
                Item::End(ending) => break Close::Ended(ending),
                item => socket.send(encode(item)).await?,
            },
            incoming = socket.stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if let Some(reply) = answer(&mut session, &room, &text).await {
                        socket.send(reply).await?;
                    }
                }
                Some(Ok(Message::Close(_))) | None => break Close::Ended(Ending::Interrupted),
                Some(Ok(Message::Binary(_))) => break Close::Binary,
                Some(Ok(_)) => {} // pongs, pings (answered by the library)
                // Over the size limit: the library read no further.
                Some(Err(WsError::Capacity(_))) => break Close::TooBig,
                Some(Err(e)) => return Err(e),
            },
        }
    };
    socket.close(close_frame(why)).await;
    Ok(())
}

/// The connection, and how long a send may wait for the client to take it.
struct Socket {
    stream: DuplexStream,
    stall: Duration,
}

impl Socket {
    /// Sends `message`; a client that has taken nothing for `stall` (its
    /// buffers full, the send still waiting) ends the socket, freeing the
    /// session and its replay.
    async fn send(&mut self, message: Message) -> rocket_ws::result::Result<()> {
        match tokio::time::timeout(self.stall, self.stream.send(message)).await {
            Ok(sent) => sent,
            Err(_) => {
                tracing::info!("dropping a WebSocket: its client took nothing for {} s", self.stall.as_secs());
                Err(WsError::Io(std::io::ErrorKind::TimedOut.into()))
            }
        }
    }

    /// The closing handshake, under the same limit; the socket ends either
    /// way, so how it went does not matter.
    async fn close(&mut self, frame: Option<CloseFrame<'static>>) {
        let _ = tokio::time::timeout(self.stall, self.stream.close(frame)).await;
    }
}

/// Why the server closes a socket.
enum Close {
    /// The stream ended (kicked, logged out, server stopping...).
    Ended(Ending),
    /// The client sent a message over the size limit (RFC 6455's 1009).
    TooBig,
    /// The client sent a binary message: the protocol is JSON text (1003).
    Binary,
}

/// What the server sends besides messages and online lists (those are
/// their own JSON with `"type"` in front, made once for every socket).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Frame<'a> {
    Reset { room: &'a RoomName },
    Ack { id: i64 },
    Error { code: u16, reason: &'a str },
}

impl Frame<'_> {
    fn message(&self) -> Message {
        Message::text(serde_json::to_string(self).expect("a frame always serializes"))
    }
}

fn error_frame(status: Status, reason: &str) -> Message {
    Frame::Error { code: status.code, reason }.message()
}

fn encode(item: Item) -> Message {
    match item {
        Item::Message(delivery) => Message::text(&*delivery.ws_frame()),
        Item::Presence(online) => Message::text(&*online.ws_frame(|o| rooms::tagged_json("presence", o).into())),
        Item::Signal(note) => Message::text(&*note.ws_frame()),
        Item::Reset(room) => Frame::Reset { room: &room }.message(),
        Item::Keepalive => Message::Ping(Vec::new()),
        Item::End(_) => unreachable!("the loop ends on End"),
    }
}

/// A client frame. Public, with [`ClientFrame::parse`] pure, so a fuzz
/// target can call it.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientFrame {
    /// `{"type":"send","text":"...","reply_to":<id>}` (`reply_to` optional):
    /// post as the socket's viewer.
    Send { text: String, reply_to: Option<i64> },
    /// `{"type":"resume","after":<id>}`: replay what was missed.
    Resume(i64),
    /// `{"type":"typing"}`: the viewer is typing (like `POST .../typing`).
    Typing,
}

impl ClientFrame {
    /// Reads a frame, naming what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let frame = match serde_json::from_str::<Value>(text) {
            Ok(frame @ Value::Object(_)) => frame,
            _ => return Err("frames are JSON objects with a type"),
        };
        match frame["type"].as_str() {
            Some("send") => {
                let text = frame["text"].as_str().ok_or("the field text is missing")?.to_owned();
                let reply_to = match &frame["reply_to"] {
                    Value::Null => None,
                    id => Some(id.as_i64().filter(|id| *id > 0).ok_or("reply_to must be a message id")?),
                };
                Ok(Self::Send { text, reply_to })
            }
            Some("resume") => frame["after"]
                .as_i64()
                .filter(|after| *after >= 0)
                .map(Self::Resume)
                .ok_or("after must be a message id"),
            Some("typing") => Ok(Self::Typing),
            _ => Err("type must be send, resume or typing"),
        }
    }
}

/// The answer to one client frame: an ack, or an error frame (the socket
/// stays open). A `resume` answers nothing but restarts the feed.
async fn answer(session: &mut StreamSession, room: &RoomName, text: &str) -> Option<Message> {
    Some(match ClientFrame::parse(text) {
        Err(reason) => error_frame(Status::UnprocessableEntity, reason),
        Ok(ClientFrame::Send { text, reply_to }) => match session.post(room, &text, reply_to).await {
            Ok(delivery) => Frame::Ack { id: delivery.message.id }.message(),
            Err(refused) => {
                let error = ApiError::from(refused);
                error_frame(error.status(), &error.to_string())
            }
        },
        Ok(ClientFrame::Typing) => match session.typing(room).await {
            Ok(()) => return None,
            Err(refused) => {
                let error = ApiError::from(refused);
                error_frame(error.status(), &error.to_string())
            }
        },
        Ok(ClientFrame::Resume(after)) => match session.resume(room, after).await {
            Ok(()) => return None,
            Err(refused) => {
                let error = ApiError::from(refused);
                error_frame(error.status(), &error.to_string())
            }
        },
    })
}

/// Why the server closed a socket for good: the page stops reconnecting on
/// these codes (the private range 4000-4999 of RFC 6455), as EventSource
/// stops on a 204 or 401. Any other close invites a reconnect.
pub const SHUT_OUT: u16 = 4403;
pub const SESSION_ENDED: u16 = 4401;

fn close_frame(why: Close) -> Option<CloseFrame<'static>> {
    let (code, reason) = match why {
        Close::Ended(Ending::Interrupted) => return None,
        Close::Ended(Ending::ShutOut) => (CloseCode::from(SHUT_OUT), "you may not read this room now"),
        Close::Ended(Ending::SessionEnded) => (CloseCode::from(SESSION_ENDED), "your session has ended"),
        Close::TooBig => (CloseCode::Size, "a message may be at most ws_max_message_bytes long"),
        Close::Binary => (CloseCode::Unsupported, "frames are JSON text"),
    };
    Some(CloseFrame { code, reason: reason.into() })
}
