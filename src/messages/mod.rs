//! The chat service the routes call: post a message, read history, show a
//! room to a visitor, list the rooms a visitor may see, open a live feed;
//! and change a message (edit, react, see its versions: `changes`); and
//! search the messages a visitor may read (`search`).
//!
//! It applies the rules that involve more than one part (who may post, how a
//! history query is read, which rooms a visitor may even learn of) and
//! leaves storage to `store`, queues to `stream`, streams to `live`. It
//! answers questions rather than handing out its parts, and knows nothing of
//! HTTP, so tests can drive it directly.

mod changes;
mod people;
mod search;

pub use people::{DEFAULT_NOTIFY, MAX_DM_USERS, NOTIFY_LEVELS, PeopleError, RoomListing, dm_room};

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::auth::{Role, Visitor};
use crate::config::Settings;
use crate::moderation::{Moderation, ModerationError};
use crate::rooms::{Attachment, Delivery, InvalidInput, Message, MessageText, RoomName, format};
use crate::store::{ChangeError, NewMessage, RoomSummary, Store, StoreError};
use crate::stream::{Feed, Hub, LATEST, Start};

/// Messages a history request returns when it names no limit.
pub const DEFAULT_LIMIT: u32 = 50;
/// Most messages one history request may ask for.
pub const MAX_LIMIT: u32 = 200;
/// Longest a long poll may wait.
pub const MAX_WAIT_SECS: u64 = 30;

/// Why a post, or a change to a message, was refused.
#[derive(Debug, Error)]
pub enum PostError {
    #[error("guests may not post here: log in or register")]
    GuestsNotAllowed,
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error("reply_to must be the id of a message in this room")]
    NoSuchReply,
    #[error(transparent)]
    Change(ChangeError),
    #[error("only the author and moderators may see earlier versions")]
    VersionsHidden,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Banned, muted, a locked room, or a members-only room (404).
    #[error(transparent)]
    Moderation(#[from] ModerationError),
}

/// Why a history query was refused (a 422 with this text).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("{0} must be a whole number of at least 0")]
    NotANumber(&'static str),
    #[error("limit must be between 1 and 200")]
    Limit,
    #[error("wait must be between 0 and 30 seconds")]
    Wait,
    #[error("wait needs after: a long poll waits for messages after a known id")]
    WaitWithoutAfter,
    #[error("around reads the messages on both sides of one id: it takes no after, before or wait")]
    AroundWithOthers,
}

/// A validated `GET /rooms/<room>/messages` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: u32,
    /// Long-poll time; only with `after`.
    pub wait: Option<Duration>,
    /// The messages on both sides of this id (a permalink's history);
    /// alone, or only with `limit`.
    pub around: Option<i64>,
}

impl HistoryQuery {
    /// Reads the raw query values, naming the first one that is wrong.
    pub fn parse(
        after: Option<&str>,
        before: Option<&str>,
        limit: Option<&str>,
        wait: Option<&str>,
        around: Option<&str>,
    ) -> Result<Self, QueryError> {
        fn number(name: &'static str, raw: Option<&str>) -> Result<Option<u64>, QueryError> {
            raw.map(|v| v.parse::<u64>().map_err(|_| QueryError::NotANumber(name))).transpose()
        }
        let id = |name, raw| {
            number(name, raw)?.map(|v| i64::try_from(v).map_err(|_| QueryError::NotANumber(name))).transpose()
        };
        let after = id("after", after)?;
        let before = id("before", before)?;
        let limit = match number("limit", limit)? {
            None => DEFAULT_LIMIT,
            Some(n @ 1..=200) => n as u32,
            Some(_) => return Err(QueryError::Limit),
        };
        let wait = match number("wait", wait)? {
            None => None,
            Some(s) if s > MAX_WAIT_SECS => return Err(QueryError::Wait),
            Some(_) if after.is_none() => return Err(QueryError::WaitWithoutAfter),
            Some(s) => Some(Duration::from_secs(s)),
        };
        let around = id("around", around)?;
        if around.is_some() && (after.is_some() || before.is_some() || wait.is_some()) {
            return Err(QueryError::AroundWithOthers);
        }
        Ok(Self { after, before, limit, wait, around })
    }
}

/// Rooms a room page lists in its sidebar.
const SIDEBAR_ROOMS: u32 = 30;

/// What a room's page shows one visitor.
#[derive(Debug)]
pub struct RoomView {
    /// The latest messages, oldest first, as they are now.
    pub messages: Vec<Message>,
    /// The room's sequence number those messages show it at: where the
    /// page's stream resumes from, so no change already shown is replayed.
    pub position: i64,
    /// The sidebar: recently active rooms the visitor may read, this room
    /// and the lobby, by name, each with what the page calls it.
    pub rooms: Vec<SidebarRoom>,
    /// How far the visitor's account has read this room (`None` for guests,
    /// and for members who never read it).
    pub read: Option<i64>,
    /// The visitor's role (`None` for guests).
    pub role: Option<Role>,
    /// Whether the room is locked (told only to those who may unlock it).
    pub locked: bool,
}

/// `text` as the HTML stored and sent beside it: rendered once here, when a
/// message is posted or edited, never per subscriber or per page.
async fn rendered(text: &MessageText) -> String {
    let mut html = format::render_apart(vec![text.as_str().to_owned()]).await;
    html.pop().unwrap_or_default()
}

impl From<ChangeError> for PostError {
    fn from(error: ChangeError) -> Self {
        match error {
            ChangeError::Store(e) => PostError::Store(e),
            other => PostError::Change(other),
        }
    }
}

/// The settings the chat service applies.
#[derive(Debug, Clone, Copy)]
pub struct ChatRules {
    /// Whether visitors who are not logged in may post and react.
    pub allow_guests: bool,
    /// How long after posting its author may edit a message.
    pub edit_window: Duration,
}

impl From<&Settings> for ChatRules {
    fn from(settings: &Settings) -> Self {
        Self { allow_guests: settings.allow_guests, edit_window: Duration::from_secs(settings.edit_window_secs) }
    }
}

/// A room as the sidebar names it.
#[derive(Debug, serde::Serialize)]
pub struct SidebarRoom {
    pub name: String,
    /// `#name`, or for a direct message `@` and the other members' names.
    pub label: String,
}

/// The chat service: one per server, shared by every route.
#[derive(Clone)]
pub struct Chat {
    store: Store,
    hub: Hub,
    moderation: Moderation,
    rules: ChatRules,
}

impl Chat {
    pub fn new(store: Store, hub: Hub, moderation: Moderation, rules: ChatRules) -> Self {
        Self { store, hub, moderation, rules }
    }

    /// For the live-stream service, which checks access per stream.
    pub(crate) fn moderation(&self) -> &Moderation {
        &self.moderation
    }

    /// Whether `visitor` may see `room` (members-only rooms are invisible to
    /// outsiders: every route answers 404 and no event reaches them).
    pub async fn can_read(&self, visitor: &Visitor, room: &RoomName) -> Result<bool, StoreError> {
        self.moderation.can_read(visitor, room).await
    }

    /// Whether the database answers (readiness).
    pub async fn store_answers(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// Stores a message from `visitor`, answering `reply_to` if given, and
    /// answers once it is committed and on its way to subscribers. The
    /// author and time are the server's.
    pub async fn post(
        &self,
        room: RoomName,
        visitor: &Visitor,
        text: &str,
        reply_to: Option<i64>,
    ) -> Result<Arc<Delivery>, PostError> {
        self.post_with(room, visitor, text, reply_to, Vec::new()).await
    }

    /// [`Chat::post`] with files attached (already in place in the files
    /// directory, see `uploads`): the same checks and the same path to
    /// every subscriber, and the text may be empty when a file is there.
    pub async fn post_with(
        &self,
        room: RoomName,
        visitor: &Visitor,
        text: &str,
        reply_to: Option<i64>,
        attachments: Vec<Attachment>,
    ) -> Result<Arc<Delivery>, PostError> {
        self.may_post(visitor, &room).await?;
        let text = if attachments.is_empty() { MessageText::parse(text)? } else { MessageText::caption(text)? };
        let reply_to = match reply_to {
            Some(id) => Some(self.store.quote(&room, id).await?.ok_or(PostError::NoSuchReply)?),
            None => None,
        };
        let html = rendered(&text).await;
        let message = NewMessage { room, author: visitor.author(), text, html, reply_to, attachments };
        Ok(self.store.append(message).await?)
    }

    /// Whether `visitor` may post (or edit, react, say they are typing) in
    /// `room` now.
    pub async fn may_post(&self, visitor: &Visitor, room: &RoomName) -> Result<(), PostError> {
        if visitor.is_guest() && !self.rules.allow_guests {
            return Err(PostError::GuestsNotAllowed);
        }
        Ok(self.moderation.check_post(visitor, room).await?)
    }

    /// The room's sequence after `after` (new messages and changes, as
    /// they are now): what a long poll answers.
    pub async fn sequence(
        &self,
        room: &RoomName,
        after: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Arc<Delivery>>, StoreError> {
        self.store.sequence_after(room, after, before, limit).await
    }

    /// Reads history as the query asks, without waiting.
    pub async fn history(&self, room: &RoomName, query: &HistoryQuery) -> Result<Vec<Message>, StoreError> {
        if let Some(id) = query.around {
            return self.store.around(room, id, query.limit).await;
        }
        match (query.after, query.before) {
            (None, None) => self.store.latest(room, query.limit).await,
            (None, Some(before)) => self.store.before(room, before, query.limit).await,
            (Some(after), before) => self.store.after(room, after, before, query.limit).await,
        }
    }

    /// Whether this instance has delivered `room` up to `after` and nothing
    /// since: then a long poll needs no store read to know it must wait.
    pub fn delivered_nothing_after(&self, room: &RoomName, after: i64) -> bool {
        self.hub.last_delivered(room).is_some_and(|last| last <= after)
    }

    /// What `room`'s page shows `visitor`: 404 (as if it did not exist)
    /// for a members-only room they may not read.
    ///
    /// With `at` (a permalink), the page shows the messages around that id
    /// instead of the latest, and its stream resumes after the last one
    /// shown, so the newer messages follow in order with none skipped.
    pub async fn room_view(
        &self,
        visitor: &Visitor,
        room: &RoomName,
        at: Option<i64>,
    ) -> Result<RoomView, ModerationError> {
        if !self.can_read(visitor, room).await? {
            return Err(ModerationError::NoSuchRoom);
        }
        let newest = self.store.last_id(room).await?;
        let messages = match at {
            Some(id) => self.store.around(room, id, LATEST).await?,
            None => self.store.latest(room, LATEST).await?,
        };
        let position = match messages.last() {
            Some(last) if at.is_some() && !self.store.after(room, last.id, None, 1).await?.is_empty() => last.id,
            last => last.map_or(newest, |m| m.id.max(newest)),
        };
        let mut names: Vec<String> =
            self.visible_rooms(visitor, SIDEBAR_ROOMS).await?.into_iter().map(|summary| summary.name).collect();
        for must in [room.as_str(), crate::rooms::LOBBY] {
            if !names.iter().any(|r| r == must) {
                names.push(must.to_owned());
            }
        }
        let mut rooms = Vec::with_capacity(names.len());
        for name in names {
            let label = self.room_label(visitor, &name).await?;
            rooms.push(SidebarRoom { name, label });
        }
        rooms.sort_by(|a, b| a.label.cmp(&b.label));
        let (role, locked) = self.moderation.page_controls(visitor, room).await?;
        let read = match visitor {
            Visitor::User(user) => self.store.read_position(user.user_id, room.as_str()).await?,
            Visitor::Guest { .. } | Visitor::Bot(_) => None,
        };
        Ok(RoomView { messages, position, rooms, read, role, locked })
    }

    /// Rooms with messages, most recently active first, among the newest
    /// `limit`: members-only rooms only for those who may read them (so
    /// fewer than `limit` may come back), never even named to others.
    pub async fn visible_rooms(&self, visitor: &Visitor, limit: u32) -> Result<Vec<RoomSummary>, StoreError> {
        let mut visible = Vec::new();
        for summary in self.store.rooms(limit).await? {
            if let Ok(name) = RoomName::parse(&summary.name)
                && self.can_read(visitor, &name).await?
            {
                visible.push(summary);
            }
        }
        Ok(visible)
    }

    /// A live feed of a room for one subscriber.
    pub async fn feed(&self, room: RoomName, start: Start) -> Result<Feed, StoreError> {
        Feed::open(self.store.clone(), &self.hub, room, start).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_queries_default_and_name_what_is_wrong() {
        let q = HistoryQuery::parse(None, None, None, None, None).unwrap();
        assert_eq!(q, HistoryQuery { after: None, before: None, limit: 50, wait: None, around: None });
        let q = HistoryQuery::parse(Some("5"), None, Some("200"), Some("30"), None).unwrap();
        assert_eq!(q.wait, Some(Duration::from_secs(30)));
        assert_eq!(HistoryQuery::parse(Some("x"), None, None, None, None), Err(QueryError::NotANumber("after")));
        assert_eq!(HistoryQuery::parse(None, Some("-1"), None, None, None), Err(QueryError::NotANumber("before")));
        assert_eq!(HistoryQuery::parse(None, None, Some("0"), None, None), Err(QueryError::Limit));
        assert_eq!(HistoryQuery::parse(None, None, Some("201"), None, None), Err(QueryError::Limit));
        assert_eq!(HistoryQuery::parse(Some("1"), None, None, Some("31"), None), Err(QueryError::Wait));
        assert_eq!(HistoryQuery::parse(None, None, None, Some("5"), None), Err(QueryError::WaitWithoutAfter));
        assert_eq!(HistoryQuery::parse(None, None, Some("9"), None, Some("4")).unwrap().around, Some(4));
        assert_eq!(HistoryQuery::parse(None, Some("9"), None, None, Some("4")), Err(QueryError::AroundWithOthers));
        assert_eq!(HistoryQuery::parse(None, None, None, None, Some("x")), Err(QueryError::NotANumber("around")));
    }
}
