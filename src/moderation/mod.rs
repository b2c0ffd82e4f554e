//! Moderation: who may read and post where, and the actions moderators
//! take (delete, mute, kick, ban, lock, members-only, roles), each recorded
//! in the audit log.
//!
//! Access checks run on every post and stream, so room policies and bans
//! are cached in memory (re-read at least every [`POLICY_TTL_MS`], so other
//! instances' changes show within that time); the policy and kick caches
//! hold at most [`POLICY_CAPACITY`] and [`KICK_CAPACITY`] entries, however
//! many rooms clients name (see `cache.rs`). Names are compared as
//! [`NameKey`]s, roles and audit actions are enums. Actions that affect open
//! streams are announced through [`control`], to this instance's streams
//! and to the other instances', which apply them to their own caches first
//! ([`Moderation::follow_peers`]). Who may act on whom (ranks, the last
//! admin) is in `ranks`. This module knows nothing of HTTP.

mod cache;
mod control;
mod ranks;

pub use cache::{KICK_CAPACITY, KICK_MS, POLICY_CAPACITY, POLICY_TTL_MS};
pub use control::{Announcer, Control};
pub use ranks::OPERATOR;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{broadcast, mpsc};

use crate::auth::{AuditAction, NameKey, Role, Sessions, Visitor};
use crate::clock::Clock;
use crate::rooms::RoomName;
use crate::store::{AuditEntry, Change, ChangeError, Changed, RoomFlag, RoomPolicy, Store, StoreError};
use crate::tasks::Tasks;

/// How long an author may delete their own message.
const AUTHOR_DELETE_WINDOW_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Error)]
pub enum ModerationError {
    /// Members-only rooms do not exist for outsiders.
    #[error("no such room")]
    NoSuchRoom,
    #[error("no such message")]
    NoSuchMessage,
    #[error("only moderators may do this")]
    NotAModerator,
    #[error("only admins may do this")]
    NotAnAdmin,
    #[error("you may delete your own messages only within 5 minutes; moderators may delete any")]
    NotYours,
    /// Ranks run admin > moderator > member > guest (see [`Role::may_act_on`]).
    #[error("moderators act only on members and guests: {name} is a {role}")]
    Outranked { name: String, role: Role },
    #[error("you cannot {0} yourself")]
    OnYourself(AuditAction),
    #[error("{0} is the last admin: make another admin first (chat user set-role)")]
    LastAdmin(String),
    #[error("{0}")]
    Refused(String),
    /// A bot asking for a room it was not given (one it could see).
    #[error("this bot may only use its own rooms")]
    NotTheBotsRoom,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ChangeError> for ModerationError {
    fn from(error: ChangeError) -> Self {
        match error {
            ChangeError::Store(e) => Self::Store(e),
            ChangeError::NoSuchMessage => Self::NoSuchMessage,
            refused => Self::Refused(refused.to_string()),
        }
    }
}

/// The moderation service. Clones share caches and the control channel.
#[derive(Clone)]
pub struct Moderation {
    store: Store,
    clock: Clock,
    sessions: Sessions,
    caches: Arc<cache::Caches>,
    controls: Announcer,
}

impl Moderation {
    pub fn new(store: Store, clock: Clock, sessions: Sessions) -> Self {
        Self {
            store,
            sessions,
            caches: Arc::new(cache::Caches::new(clock.clone())),
            clock,
            controls: Announcer::local_only(),
        }
    }

    /// Announcements for open streams.
    pub fn controls(&self) -> broadcast::Receiver<Control> {
        self.controls.subscribe()
    }

    /// Also announces this instance's actions to the other instances.
    pub fn with_peers(self, peers: mpsc::Sender<Control>) -> Self {
        Self { controls: self.controls.with_peers(peers), ..self }
    }

    /// Applies the other instances' announcements here, as they arrive: the
    /// caches they make stale are dropped before this instance's streams
    /// hear of them (so a stream re-checking its viewer sees the change).
    pub fn follow_peers(&self, mut peers: mpsc::Receiver<Control>, tasks: &Tasks) {
        let moderation = self.clone();
        tasks.spawn("moderation from peers", async move {
            while let Some(control) = peers.recv().await {
                moderation.apply_from_peer(&control).await;
                moderation.controls.tell_streams(control);
            }
        });
    }

    async fn apply_from_peer(&self, control: &Control) {
        match control {
            Control::Kicked { room, name } => self.caches.kick(room, name),
            Control::Banned { name } => {
                self.forget(None);
                // The sessions are already gone from the store; stop trusting
                // the cached copies now rather than at their next re-read.
                match self.store.find_user(name.as_str()).await {
                    Ok(Some(user)) => self.sessions.forget_user(user.id),
                    Ok(None) => {}
                    Err(e) => tracing::warn!("moderation: cannot look up banned {name:?}: {e}"),
                }
            }
            Control::AccessChanged { room } => self.forget(Some(room)),
        }
    }

    async fn role(&self, visitor: &Visitor) -> Result<Option<Role>, StoreError> {
        let Visitor::User(user) = visitor else { return Ok(None) };
        self.store.role_of(user.user_id).await
    }

    /// What a page offers `visitor` in `room`: their role (`None` for
    /// guests; an account without one is a member) and, for those who may
    /// lock it, whether the room is locked. The server checks every action
    /// again; this only decides which controls to show.
    pub async fn page_controls(&self, visitor: &Visitor, room: &RoomName) -> Result<(Option<Role>, bool), StoreError> {
        if visitor.is_guest() {
            return Ok((None, false));
        }
        let role = self.role(visitor).await?.unwrap_or(Role::Member);
        let locked = role.moderates() && self.policy(room).await?.locked;
        Ok((Some(role), locked))
    }

    /// Whether `visitor` is a moderator or an admin.
    pub async fn is_moderator(&self, visitor: &Visitor) -> Result<bool, StoreError> {
        Ok(self.role(visitor).await?.is_some_and(Role::moderates))
    }

    async fn policy(&self, room: &RoomName) -> Result<RoomPolicy, StoreError> {
        if let Some(policy) = self.caches.policy(room) {
            return Ok(policy);
        }
        let now = self.clock.now_ms();
        let value = self.store.room_policy(room.as_str()).await?;
        self.caches.keep_policy(room, value.clone(), now);
        Ok(value)
    }

    async fn banned(&self, name: &NameKey) -> Result<bool, StoreError> {
        if let Some(banned) = self.caches.banned(name) {
            return Ok(banned);
        }
        let now = self.clock.now_ms();
        let bans: HashSet<NameKey> = self.store.bans().await?.into_iter().collect();
        let banned = bans.contains(name);
        self.caches.keep_bans(bans, now);
        Ok(banned)
    }

    fn forget(&self, room: Option<&RoomName>) {
        match room {
            Some(room) => self.caches.forget_policy(room),
            None => self.caches.forget_bans(),
        }
    }

    /// Rooms whose access rules changed outside moderation (an account
    /// deleted with its memberships): every instance forgets their cached
    /// policies and open streams re-check who may read.
    pub fn access_changed(&self, rooms: &[RoomName]) {
        for room in rooms {
            self.forget(Some(room));
            self.controls.announce(Control::AccessChanged { room: room.clone() });
        }
    }

    /// Forgets the kicks that are over and the policies too old to trust,
    /// by the injectable clock (housekeeping calls this on its timer):
    /// (policies, kicks) dropped.
    pub fn purge_expired(&self) -> (u64, u64) {
        self.caches.purge_expired()
    }

    /// Entries in the policy and kick caches now, for tests of their bounds.
    #[doc(hidden)]
    pub fn cache_entries(&self) -> (u64, u64) {
        self.caches.entry_counts()
    }

    // ---- access -----------------------------------------------------------

    /// Whether `visitor` may see `room` at all (members-only rooms are
    /// invisible to everyone else: 404, and no events; a bot sees only its
    /// own rooms).
    pub async fn can_read(&self, visitor: &Visitor, room: &RoomName) -> Result<bool, StoreError> {
        Ok(visitor.may_use(room) && self.visible(visitor, room).await?)
    }

    /// [`Self::can_read`] with the reason: a room that does not exist for
    /// the visitor's account is 404 first, so a bot learns nothing of a
    /// members-only room or a conversation it is not in; a room it could
    /// see but was not given is 403.
    pub async fn check_read(&self, visitor: &Visitor, room: &RoomName) -> Result<(), ModerationError> {
        if !self.visible(visitor, room).await? {
            return Err(ModerationError::NoSuchRoom);
        }
        if !visitor.may_use(room) {
            return Err(ModerationError::NotTheBotsRoom);
        }
        Ok(())
    }

    /// The room rules alone (members-only rooms, conversations), for any
    /// visitor; a bot's own list of rooms is not looked at here.
    async fn visible(&self, visitor: &Visitor, room: &RoomName) -> Result<bool, StoreError> {
        let policy = self.policy(room).await?;
        // A conversation's members only: not even admins see another's.
        if let Some(members) = &policy.dm {
            return Ok(matches!(visitor, Visitor::User(user) if members.contains(&user.user_id)));
        }
        if !policy.members_only {
            return Ok(true);
        }
        if visitor.is_guest() {
            return Ok(false);
        }
        let name = NameKey::new(visitor.name());
        if policy.members.contains(&name) {
            return Ok(true);
        }
        self.is_moderator(visitor).await
    }

    /// The conversations and members-only rooms `visitor` may read, all at
    /// once, for a search over every room: the rule of [`Self::can_read`]
    /// (a conversation for its members alone, not even admins; a
    /// members-only room for its allow list and moderators; nothing of
    /// either for guests). Every other room is open to everyone.
    pub async fn restricted_rooms_readable(&self, visitor: &Visitor) -> Result<Vec<RoomName>, StoreError> {
        let Visitor::User(user) = visitor else { return Ok(Vec::new()) };
        let moderator = self.is_moderator(visitor).await?;
        let names = self.store.restricted_rooms_open_to(user.user_id, &NameKey::new(&user.name), moderator).await?;
        Ok(names.iter().filter_map(|name| RoomName::parse(name).ok()).collect())
    }

    /// Whether `visitor` may post in `room` now, with the reason if not.
    pub async fn check_post(&self, visitor: &Visitor, room: &RoomName) -> Result<(), ModerationError> {
        self.check_read(visitor, room).await?;
        let name = NameKey::new(visitor.name());
        if self.banned(&name).await? {
            return Err(ModerationError::Refused("you are banned from this server".into()));
        }
        let policy = self.policy(room).await?;
        let now = self.clock.now_ms();
        if let Some((_, until)) = policy.mutes.iter().find(|(m, until)| *m == name && *until > now) {
            let minutes = (until - now + 59_999) / 60_000;
            return Err(ModerationError::Refused(format!("you are muted in #{room} for {minutes} more minute(s)")));
        }
        if policy.locked && !self.is_moderator(visitor).await? {
            return Err(ModerationError::Refused(format!("#{room} is locked: only moderators may post")));
        }
        Ok(())
    }

    /// Whether a visitor's stream to `room` must be refused for now (kicked
    /// or banned): answered with 204 so browsers stop reconnecting.
    pub async fn shut_out(&self, visitor_name: &str, room: &RoomName) -> Result<bool, StoreError> {
        let name = NameKey::new(visitor_name);
        Ok(self.caches.kicked(room, &name) || self.banned(&name).await?)
    }

    /// Whether a login for `name` must fail (a banned account).
    pub async fn login_refused(&self, name: &str) -> Result<bool, StoreError> {
        self.banned(&NameKey::new(name)).await
    }

    // ---- actions ------------------------------------------------------------

    async fn record(
        &self,
        actor: &str,
        action: AuditAction,
        target: &str,
        room: Option<&RoomName>,
        detail: Option<String>,
    ) -> Result<(), StoreError> {
        let entry = AuditEntry {
            at_ms: self.clock.now_ms(),
            actor: actor.to_owned(),
            action,
            target: target.to_owned(),
            room: room.map(|r| r.as_str().to_owned()),
            detail,
        };
        tracing::info!("moderation: {actor:?} {action} {target:?}");
        self.store.audit(&entry).await
    }

    async fn require_moderator(&self, actor: &Visitor) -> Result<(), ModerationError> {
        if self.is_moderator(actor).await? { Ok(()) } else { Err(ModerationError::NotAModerator) }
    }

    /// Room-wide actions (mute, kick, lock, members-only) have no place in
    /// a direct-message room: refused for its members, and the room does
    /// not exist for anyone else.
    async fn require_room_moderable(&self, actor: &Visitor, room: &RoomName) -> Result<(), ModerationError> {
        if !room.is_dm() {
            return Ok(());
        }
        if self.can_read(actor, room).await? {
            Err(ModerationError::Refused("direct messages are not moderated: block the person instead".into()))
        } else {
            Err(ModerationError::NoSuchRoom)
        }
    }

    /// Deletes a message: its author within 5 minutes, moderators any time.
    pub async fn delete_message(&self, actor: &Visitor, room: &RoomName, id: i64) -> Result<(), ModerationError> {
        if !self.can_read(actor, room).await? {
            return Err(ModerationError::NoSuchRoom);
        }
        let message = self.store.authorship(room.as_str(), id).await?.ok_or(ModerationError::NoSuchMessage)?;
        let now = self.clock.now_ms();
        let mine = matches!(actor, Visitor::User(user) if message.user_id == Some(user.user_id));
        if !(mine && now - message.at_ms <= AUTHOR_DELETE_WINDOW_MS) {
            let role = self.role(actor).await?.filter(|role| role.moderates()).ok_or(ModerationError::NotYours)?;
            let author = match message.user_id {
                Some(id) if !mine => self.store.role_of(id).await?,
                // Guests, deleted accounts, and moderators' own messages.
                _ => None,
            };
            if !role.may_act_on(author) {
                return Err(ModerationError::Outranked { name: message.name, role: author.unwrap_or(Role::Member) });
            }
        }
        let change = Change::Delete { by: actor.name().to_owned() };
        if let Changed::Published(_) = self.store.change(room, id, change).await.map_err(ModerationError::from)? {
            self.record(actor.name(), AuditAction::Delete, &message.name, Some(room), Some(format!("message {id}")))
                .await?;
        }
        Ok(())
    }

    pub async fn mute(
        &self,
        actor: &Visitor,
        room: &RoomName,
        target: &str,
        duration: Duration,
    ) -> Result<(), ModerationError> {
        self.require_room_moderable(actor, room).await?;
        let name = NameKey::new(target);
        self.require_rank(actor, &name, AuditAction::Mute).await?;
        let until = self.clock.now_ms() + duration.as_millis() as i64;
        self.store.mute(room.as_str(), &name, until).await?;
        self.forget(Some(room));
        self.record(actor.name(), AuditAction::Mute, target, Some(room), Some(format!("{} s", duration.as_secs())))
            .await?;
        Ok(())
    }

    /// Ends the target's streams to the room; reconnects get 204 for a minute.
    pub async fn kick(&self, actor: &Visitor, room: &RoomName, target: &str) -> Result<(), ModerationError> {
        self.require_room_moderable(actor, room).await?;
        let name = NameKey::new(target);
        self.require_rank(actor, &name, AuditAction::Kick).await?;
        self.caches.kick(room, &name);
        self.record(actor.name(), AuditAction::Kick, target, Some(room), None).await?;
        self.controls.announce(Control::Kicked { room: room.clone(), name });
        Ok(())
    }

    pub async fn lock_room(&self, actor: &Visitor, room: &RoomName, locked: bool) -> Result<(), ModerationError> {
        self.require_room_moderable(actor, room).await?;
        self.require_moderator(actor).await?;
        self.store.set_room_flag(room.as_str(), RoomFlag::Locked, locked, self.clock.now_ms()).await?;
        self.forget(Some(room));
        let action = if locked { AuditAction::Lock } else { AuditAction::Unlock };
        self.record(actor.name(), action, room.as_str(), Some(room), None).await?;
        Ok(())
    }

    /// Makes a room members-only (or open again) and sets its allow list.
    pub async fn members_only(
        &self,
        actor: &Visitor,
        room: &RoomName,
        on: bool,
        add: &[String],
        remove: &[String],
    ) -> Result<(), ModerationError> {
        self.require_room_moderable(actor, room).await?;
        self.require_moderator(actor).await?;
        self.store.set_room_flag(room.as_str(), RoomFlag::MembersOnly, on, self.clock.now_ms()).await?;
        for name in add {
            self.store.set_member(room.as_str(), &NameKey::new(name), true).await?;
        }
        for name in remove {
            self.store.set_member(room.as_str(), &NameKey::new(name), false).await?;
        }
        self.forget(Some(room));
        let detail = format!("members-only {on}, added {add:?}, removed {remove:?}");
        self.record(actor.name(), AuditAction::MembersOnly, room.as_str(), Some(room), Some(detail)).await?;
        self.controls.announce(Control::AccessChanged { room: room.clone() });
        Ok(())
    }

    /// Whether the viewer of a stream must stop seeing it after `control`.
    pub async fn ends_stream(&self, control: &Control, viewer: &Visitor, room: &RoomName) -> bool {
        let name = NameKey::new(viewer.name());
        match control {
            Control::Kicked { room: kicked_from, name: kicked } => kicked_from == room && *kicked == name,
            Control::Banned { name: banned } => *banned == name,
            Control::AccessChanged { room: changed } => {
                changed == room && !matches!(self.can_read(viewer, room).await, Ok(true))
            }
        }
    }
}
