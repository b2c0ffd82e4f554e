//! Live streams, whatever carries them: who may open one, what an open one
//! holds while it lives, and the transport-neutral items it yields.
//!
//! Server-Sent Events, WebSockets and long polls all go through
//! [`Streams::open`], which applies every rule once and in one order: an
//! ended session is refused, then the stream caps, then room access
//! (members-only rooms do not exist for outsiders), then kicks and bans, and
//! only once a slot is held and its rooms are open does the viewer count in
//! presence. The caps come before anything that names a room: every room
//! checked leaves a policy in the (bounded) cache, so a client at its cap
//! must not be able to fill that cache with 429s. The resulting
//! [`StreamSession`] yields [`Item`]s (the rooms' sequences of messages
//! and changes, resets, online lists, keepalive moments, the end); the web layer only encodes them.
//! Adding an event kind means one variant of [`Item`] and one arm per
//! encoder. This module knows nothing of HTTP, cookies or framing.

mod poll;
mod session;

pub use poll::{PollAnswer, long_poll};
pub use session::{Ending, FrameRefusal, Item, StreamSession};

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::auth::{GuestName, SessionUser, Sessions, Visitor};
use crate::bots::{BotUser, Bots};
use crate::config::Settings;
use crate::limits::{Limits, StreamSlot};
use crate::messages::Chat;
use crate::metrics::Metrics;
use crate::moderation::ModerationError;
use crate::presence::{Member, Presence, PresenceGuard};
use crate::rooms::RoomName;
use crate::signals::Signals;
use crate::store::StoreError;
use crate::stream::Start;

/// The longest a stream that counts in presence stays silent. A closed
/// connection is only noticed at the server's next write, so this bounds how
/// long a closed tab still shows as online (plus the grace period).
pub const PRESENCE_HEARTBEAT: Duration = Duration::from_secs(3);

/// How often a WebSocket is pinged when nothing else is sent (a socket
/// reads its connection, so presence needs no faster beat).
pub const PING_EVERY: Duration = Duration::from_secs(15);

/// What carries a stream; each differs only where stated here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Sse,
    WebSocket,
    /// A held `GET .../messages?after=&wait=`: no presence, no keepalive.
    Poll,
}

impl Transport {
    /// The `transport` label of the `streams_open` gauge.
    pub fn label(self) -> &'static str {
        match self {
            Transport::Sse => "sse",
            Transport::WebSocket => "ws",
            Transport::Poll => "poll",
        }
    }

    /// Whether the stream takes part in presence: its viewer shows as
    /// online while it is open, and it carries the rooms' online lists.
    fn has_presence(self) -> bool {
        !matches!(self, Transport::Poll)
    }
}

/// Who opens a stream. Opening one is not activity and makes no cookie; a
/// replayed cookie of an ended session is [`Viewer::Ended`].
#[derive(Debug, Clone)]
pub enum Viewer {
    Member(SessionUser),
    /// A guest, named once the browser has its guest cookie.
    Guest(Option<GuestName>),
    /// A bot, by its bearer token.
    Bot(BotUser),
    Ended,
}

impl Viewer {
    /// The visitor behind the stream, when it has a name (a member, or a
    /// guest whose browser has its guest cookie).
    pub fn visitor(&self) -> Option<Visitor> {
        match self {
            Viewer::Member(user) => Some(Visitor::User(user.clone())),
            Viewer::Guest(Some(name)) => Some(Visitor::Guest { name: name.clone() }),
            Viewer::Bot(bot) => Some(Visitor::Bot(bot.clone())),
            Viewer::Guest(None) | Viewer::Ended => None,
        }
    }
}

impl From<Visitor> for Viewer {
    fn from(visitor: Visitor) -> Self {
        match visitor {
            Visitor::User(user) => Viewer::Member(user),
            Visitor::Guest { name } => Viewer::Guest(Some(name)),
            Visitor::Bot(bot) => Viewer::Bot(bot),
        }
    }
}

/// Why a stream may not open.
#[derive(Debug, Error)]
pub enum Refusal {
    #[error("your session has ended: log in again")]
    SessionEnded,
    /// Members-only rooms do not exist for outsiders.
    #[error(transparent)]
    NoAccess(ModerationError),
    /// Kicked from the room (for a while) or banned.
    #[error("you may not open this room now")]
    ShutOut,
    #[error("too many open streams from this browser or address: close some tabs")]
    TooManyStreams,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one stream asks for.
pub struct StreamRequest {
    pub viewer: Viewer,
    pub client_ip: Option<IpAddr>,
    /// Each room with where its replay starts.
    pub rooms: Vec<(RoomName, Start)>,
    pub transport: Transport,
}

/// The live-stream service: one per server, shared by every transport.
/// One pointer to clone: every open stream keeps a handle.
#[derive(Clone)]
pub struct Streams {
    shared: Arc<Shared>,
}

/// What every stream reaches through its [`Streams`] handle.
struct Shared {
    chat: Chat,
    sessions: Sessions,
    limits: Limits,
    presence: Presence,
    signals: Signals,
    metrics: Arc<Metrics>,
    /// A bot's stream re-checks its token on the beat, as a member's its session.
    bots: Bots,
    heartbeat: Duration,
    session_check: Duration,
}

impl Streams {
    #[allow(clippy::too_many_arguments)] // each a service the streams use, or their settings
    pub fn new(
        chat: Chat,
        sessions: Sessions,
        limits: Limits,
        presence: Presence,
        signals: Signals,
        metrics: Arc<Metrics>,
        bots: Bots,
        settings: &Settings,
    ) -> Self {
        let heartbeat = Duration::from_secs(settings.heartbeat_secs);
        let session_check = Duration::from_secs(settings.session_check_secs);
        let shared = Shared { chat, sessions, limits, presence, signals, metrics, bots, heartbeat, session_check };
        Self { shared: Arc::new(shared) }
    }

    /// Admits a stream and opens its rooms, or says why not. Every piece it
    /// holds (stream slot, presence, gauge) is freed when the session drops.
    pub async fn open(
        &self,
        request: StreamRequest,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<StreamSession, Refusal> {
        let admitted = self.admit(&request).await?;
        session::StreamSession::open(self, request, admitted, Box::pin(shutdown)).await
    }

    /// The checks, in their one order; see the module comment.
    async fn admit(&self, request: &StreamRequest) -> Result<Admitted, Refusal> {
        if matches!(request.viewer, Viewer::Ended) {
            return Err(Refusal::SessionEnded);
        }
        let named = request.viewer.visitor();
        let key = named.as_ref().map(Visitor::limit_key);
        let slot = self.shared.limits.streams.acquire(key, request.client_ip).ok_or(Refusal::TooManyStreams)?;
        // No name yet: a stand-in that is never on an allow list.
        let visitor = named.clone().unwrap_or_else(|| Visitor::Guest { name: GuestName::generate() });
        let moderation = self.shared.chat.moderation();
        for (room, _) in &request.rooms {
            // 404 for a room hidden from the viewer, 403 for a bot's other rooms.
            moderation.check_read(&visitor, room).await.map_err(Refusal::NoAccess)?;
            if named.is_some() && moderation.shut_out(visitor.name(), room).await? {
                return Err(Refusal::ShutOut);
            }
        }
        Ok(Admitted { visitor, named: named.is_some(), _slot: slot, _online: Vec::new() })
    }

    /// How often a stream of `transport` gets a keepalive moment: the
    /// configured heartbeat, faster for streams that count in presence,
    /// never slower than the session re-check.
    fn keepalive(&self, transport: Transport, member: bool, in_presence: bool) -> Duration {
        let mut every = match transport {
            Transport::Sse => self.shared.heartbeat,
            Transport::WebSocket => PING_EVERY,
            Transport::Poll => self.shared.session_check,
        };
        if transport == Transport::Sse && in_presence {
            every = every.min(PRESENCE_HEARTBEAT);
        }
        if member {
            every = every.min(self.shared.session_check);
        }
        every
    }
}

/// A stream past admission: what it holds until it ends.
struct Admitted {
    /// The viewer (a stand-in guest for a browser without a name yet).
    visitor: Visitor,
    /// Whether the viewer has a name (and so can count as online).
    named: bool,
    /// Held, never read: dropping it frees the stream's place in the caps.
    _slot: StreamSlot,
    /// Counts the viewer as online in each room while the stream lives.
    _online: Vec<PresenceGuard>,
}

impl Admitted {
    /// Counts a named viewer as online in `rooms` while the stream lives.
    /// Called last, once the stream holds its slot and its rooms are open:
    /// a refused or failed stream never shows its viewer online.
    fn join(&mut self, presence: &Presence, rooms: &[RoomName], transport: Transport) {
        if self.named && transport.has_presence() {
            let member = Member::displayed(self.visitor.name(), self.visitor.display(), self.visitor.is_guest());
            self._online.extend(rooms.iter().map(|room| presence.join(room, member.clone())));
        }
    }
}
