//! Who may open an event stream, and what an open stream holds while it
//! lives: its viewer and the limits that apply ([`StreamContext`]), its
//! place under the stream caps and in presence ([`Admitted`]), what
//! moderation asks of it ([`Moderated`]), and its session re-check
//! ([`SessionCheck`]). Each piece is dropped with the stream, which is what
//! frees it. Framing and the stream loop live in `events`; rules live in
//! `moderation`, `limits` and `presence`.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use rocket::futures::StreamExt;
use rocket::futures::stream::{self, BoxStream};
use rocket::request::{self, FromRequest, Request};
use rocket::serde::json::json;
use tokio::sync::broadcast;

use super::error::ApiError;
use super::identity::StreamViewer;
use super::sse;
use crate::auth::{Activity, GuestName, Sessions, Visitor};
use crate::config::Settings;
use crate::limits::{Limits, StreamSlot};
use crate::messages::Chat;
use crate::metrics::Holding;
use crate::moderation::{Control, Moderation, ModerationError};
use crate::presence::{Member, Presence, PresenceGuard, PresenceWatch};
use crate::rooms::RoomName;

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

/// What moderation asks of an open stream: its rooms, its viewer, and the
/// announcements (deletions to pass on; kicks, bans and access changes
/// that end it).
pub(super) struct Moderated {
    /// Counts this stream in `streams_open{transport="sse"}` while it lives.
    _open: Holding,
    moderation: Moderation,
    viewer: Visitor,
    rooms: Vec<RoomName>,
    controls: broadcast::Receiver<Control>,
}

impl Moderated {
    /// Refuses a stream to a room the viewer may not see (404, as if it did
    /// not exist) or has been kicked from or banned (204: EventSource
    /// stops reconnecting).
    pub(super) async fn admit(chat: &Chat, viewer: &StreamViewer, rooms: &[RoomName]) -> Result<Self, ApiError> {
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
        let open = Holding::new(chat.hub().metrics().streams_open.with_label_values(&["sse"]));
        Ok(Self { _open: open, moderation, viewer: visitor, rooms: rooms.to_vec(), controls })
    }

    /// The announcements for this stream as frames to send; it ends when
    /// the stream must. One future lives across polls, so waiting costs
    /// nothing per message.
    pub(super) fn into_frames(self) -> BoxStream<'static, Bytes> {
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
pub(super) struct Admitted {
    /// Held, never read: dropping it frees the stream's place in the caps.
    _slot: StreamSlot,
    pub(super) member: Option<Member>,
    pub(super) session_id: Option<String>,
    presence: Vec<PresenceGuard>,
}

impl Admitted {
    pub(super) fn check(context: &StreamContext<'_>) -> Result<Self, ApiError> {
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
    pub(super) fn join(&mut self, context: &StreamContext<'_>, rooms: &[RoomName]) -> Vec<PresenceWatch> {
        if let Some(member) = &self.member {
            self.presence.extend(rooms.iter().map(|room| context.presence.join(room, member.clone())));
        }
        rooms.iter().map(|room| context.presence.watch(room)).collect()
    }
}

/// Re-checks a member stream's session every few seconds, so a stream of
/// an ended session (logout, expiry, password change, deletion, also on
/// another instance) closes within that time. It has no timer of its own:
/// the stream asks at each heartbeat whether a check is due.
pub struct SessionCheck {
    sessions: Sessions,
    session_id: String,
    pub(super) every: Duration,
    last: tokio::time::Instant,
}

impl SessionCheck {
    pub(super) fn new(sessions: Sessions, session_id: String, every_secs: u64) -> Self {
        Self { sessions, session_id, every: Duration::from_secs(every_secs), last: tokio::time::Instant::now() }
    }

    /// Whether the session is still live, if a check is due; `true` if not
    /// (and for guests, `None`). A store error keeps the stream open: the
    /// next check decides.
    pub(super) async fn still_live(check: &mut Option<Self>) -> bool {
        let Some(check) = check.as_mut().filter(|c| c.last.elapsed() >= c.every) else { return true };
        check.last = tokio::time::Instant::now();
        // Boxed: a store read is a large future, and a rare one; the
        // stream's own state stays small for the many idle streams.
        match Box::pin(check.sessions.authenticate(&check.session_id, Activity::Passive)).await {
            Ok(session) => session.is_some(),
            Err(e) => {
                tracing::warn!("checking a stream's session failed: {e}");
                true
            }
        }
    }
}
