//! How a subscriber receives a room's messages. [`Transport`] names the
//! three the chat server offers (Server-Sent Events, WebSocket, long
//! polling) and [`Subscription`] is one subscriber over any of them: it
//! opens the way a browser would and hands each delivered message's
//! [`Probe`] to the scenario, so `fanout` and `idle` are written once for
//! all three. The SSE client is [`crate::http::EventStream`]; the
//! WebSocket client ([`ws`], on the codec in [`frames`]) and the long
//! poller ([`poll`]) are here.

pub mod frames;
pub mod poll;
pub mod ws;

use std::fmt;
use std::time::Duration;

use anyhow::Result;

use crate::http::EventStream;
use crate::probe::Probe;
use crate::target::Target;
use poll::{POLL_WAIT_SECS, Poller, first_visit};
use ws::WsStream;

/// How subscribers receive messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// `GET /rooms/<room>/events`: one Server-Sent Events stream each.
    #[default]
    Sse,
    /// `GET /rooms/<room>/ws`: one WebSocket each (chat only).
    Ws,
    /// `GET /rooms/<room>/messages?after=..&wait=..`: long polls, one at a
    /// time on a keep-alive connection each (chat only).
    Poll,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Sse => "sse",
            Transport::Ws => "ws",
            Transport::Poll => "poll",
        })
    }
}

/// One subscriber to a room, over one transport.
pub enum Subscription {
    Sse(EventStream),
    Ws(WsStream),
    Poll(Poller),
}

impl Subscription {
    /// Subscribes to `room`. An SSE stream opens cookie-less, as before;
    /// WebSocket and polling subscribers first load the room's history
    /// like a page (a guest cookie, the latest id), then open the socket
    /// after that id, or poll after it. Reads use `read_size` bytes (SSE
    /// and WebSocket); every connect and request must finish within
    /// `timeout` (plus the wait, for a long poll).
    pub async fn open(
        transport: Transport,
        target: &Target,
        room: &str,
        timeout: Duration,
        read_size: usize,
    ) -> Result<Self> {
        match transport {
            Transport::Sse => {
                let path = format!("/rooms/{room}/events");
                Ok(Self::Sse(EventStream::open(target, &path, timeout, read_size).await?))
            }
            Transport::Ws => {
                let (visit, latest) = first_visit(target, room, timeout).await?;
                let path = format!("/rooms/{room}/ws?after={latest}");
                let cookie = visit.cookie_header();
                Ok(Self::Ws(WsStream::open(target, &path, cookie.as_deref(), timeout, read_size).await?))
            }
            Transport::Poll => {
                let (conn, latest) = first_visit(target, room, timeout + Duration::from_secs(POLL_WAIT_SECS)).await?;
                Ok(Self::Poll(Poller::new(conn, room, latest, POLL_WAIT_SECS)))
            }
        }
    }

    /// Waits for the next deliveries (one socket read, or one long poll)
    /// and calls `on_message` for each message or event received, with its
    /// probe (`None` when it carries none: presence, resets, deletions, a
    /// stranger's message). Returns `false` when the server ended it.
    pub async fn read(&mut self, mut on_message: impl FnMut(Option<Probe>)) -> Result<bool> {
        match self {
            Self::Sse(stream) => stream.read_events(|event| on_message(Probe::from_event_data(event.data))).await,
            // The frame is the SSE message JSON with a `type` added.
            Self::Ws(socket) => socket.read_texts(|text| on_message(Probe::from_event_data(text))).await,
            Self::Poll(poller) => poller.poll(|text| on_message(Probe::parse(text))).await,
        }
    }

    /// The transport's keep-alives seen so far: SSE heartbeat comments,
    /// WebSocket pings, or long polls that came back empty.
    pub fn heartbeats(&self) -> u64 {
        match self {
            Self::Sse(stream) => stream.comments(),
            Self::Ws(socket) => socket.pings(),
            Self::Poll(poller) => poller.empty_polls(),
        }
    }
}
