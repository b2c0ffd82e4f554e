//! Moderation: who may read and post where, and the actions moderators
//! take (delete, mute, kick, ban, lock, members-only, roles), each recorded
//! in the audit log.
//!
//! Access checks run on every post and stream, so room policies and bans
//! are cached in memory (re-read at least every `POLICY_TTL_MS`, so other
//! instances' changes show within that time). Actions that affect open
//! streams are announced through [`control`], to this instance's streams
//! and to the other instances', which apply them to their own caches first
//! ([`Moderation::follow_peers`]). This module knows nothing of HTTP.

mod control;

pub use control::{Announcer, Control};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{broadcast, mpsc};

use crate::auth::{Role, Sessions, Visitor};
use crate::clock::Clock;
use crate::rooms::RoomName;
use crate::store::{AuditEntry, RoomFlag, RoomPolicy, Store, StoreError};
use crate::tasks::Tasks;

/// Longest a cached policy or ban list is trusted.
const POLICY_TTL_MS: i64 = 2_000;
/// How long an author may delete their own message.
const AUTHOR_DELETE_WINDOW_MS: i64 = 5 * 60 * 1000;
/// How long a kicked visitor's reconnects to the room are refused.
pub const KICK_MS: i64 = 60 * 1000;

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
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
struct Cached<T> {
    value: T,
    loaded_ms: i64,
}

/// The moderation service. Clones share caches and the control channel.
#[derive(Clone)]
pub struct Moderation {
    store: Store,
    clock: Clock,
    sessions: Sessions,
    policies: Arc<Mutex<HashMap<RoomName, Cached<RoomPolicy>>>>,
    bans: Arc<Mutex<Option<Cached<HashSet<String>>>>>,
    kicks: Arc<Mutex<HashMap<(RoomName, String), i64>>>,
    controls: Announcer,
}

impl Moderation {
    pub fn new(store: Store, clock: Clock, sessions: Sessions) -> Self {
        Self {
            store,
            clock,
            sessions,
            policies: Arc::default(),
            bans: Arc::default(),
            kicks: Arc::default(),
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
            Control::Deleted { .. } => {}
            Control::Kicked { room, name } => {
                lock(&self.kicks).insert((room.clone(), name.clone()), self.clock.now_ms() + KICK_MS);
            }
            Control::Banned { name } => {
                self.forget(None);
                // The sessions are already gone from the store; stop trusting
                // the cached copies now rather than at their next re-read.
                match self.store.find_user(name).await {
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
        Ok(self.store.role_of(user.user_id).await?.and_then(|role| role.parse().ok()))
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

    async fn moderates(&self, visitor: &Visitor) -> Result<bool, StoreError> {
        Ok(self.role(visitor).await?.is_some_and(Role::moderates))
    }

    async fn policy(&self, room: &RoomName) -> Result<RoomPolicy, StoreError> {
        let now = self.clock.now_ms();
        if let Some(cached) = lock(&self.policies).get(room).filter(|c| now - c.loaded_ms < POLICY_TTL_MS) {
            return Ok(cached.value.clone());
        }
        let value = self.store.room_policy(room.as_str()).await?;
        lock(&self.policies).insert(room.clone(), Cached { value: value.clone(), loaded_ms: now });
        Ok(value)
    }

    async fn banned(&self, name: &str) -> Result<bool, StoreError> {
        let now = self.clock.now_ms();
        let fresh = lock(&self.bans).as_ref().filter(|c| now - c.loaded_ms < POLICY_TTL_MS).map(|c| c.value.clone());
        let bans = match fresh {
            Some(bans) => bans,
            None => {
                let value: HashSet<String> = self.store.bans().await?.into_iter().collect();
                *lock(&self.bans) = Some(Cached { value: value.clone(), loaded_ms: now });
                value
            }
        };
        Ok(bans.contains(&name.to_lowercase()))
    }

    fn forget(&self, room: Option<&RoomName>) {
        match room {
            Some(room) => {
                lock(&self.policies).remove(room);
            }
            None => *lock(&self.bans) = None,
        }
    }

    // ---- access -----------------------------------------------------------

    /// Whether `visitor` may see `room` at all (members-only rooms are
    /// invisible to everyone else: 404, and no events).
    pub async fn can_read(&self, visitor: &Visitor, room: &RoomName) -> Result<bool, StoreError> {
        let policy = self.policy(room).await?;
        if !policy.members_only {
            return Ok(true);
        }
        if visitor.is_guest() {
            return Ok(false);
        }
        if policy.members.iter().any(|m| *m == visitor.name().to_lowercase()) {
            return Ok(true);
        }
        self.moderates(visitor).await
    }

    /// Whether `visitor` may post in `room` now, with the reason if not.
    pub async fn check_post(&self, visitor: &Visitor, room: &RoomName) -> Result<(), ModerationError> {
        if !self.can_read(visitor, room).await? {
            return Err(ModerationError::NoSuchRoom);
        }
        if self.banned(visitor.name()).await? {
            return Err(ModerationError::Refused("you are banned from this server".into()));
        }
        let policy = self.policy(room).await?;
        let name = visitor.name().to_lowercase();
        let now = self.clock.now_ms();
        if let Some((_, until)) = policy.mutes.iter().find(|(m, until)| *m == name && *until > now) {
            let minutes = (until - now + 59_999) / 60_000;
            return Err(ModerationError::Refused(format!("you are muted in #{room} for {minutes} more minute(s)")));
        }
        if policy.locked && !self.moderates(visitor).await? {
            return Err(ModerationError::Refused(format!("#{room} is locked: only moderators may post")));
        }
        Ok(())
    }

    /// Whether a visitor's stream to `room` must be refused for now (kicked
    /// or banned): answered with 204 so browsers stop reconnecting.
    pub async fn shut_out(&self, visitor_name: &str, room: &RoomName) -> Result<bool, StoreError> {
        let kicked = lock(&self.kicks)
            .get(&(room.clone(), visitor_name.to_lowercase()))
            .is_some_and(|until| *until > self.clock.now_ms());
        Ok(kicked || self.banned(visitor_name).await?)
    }

    /// Whether a login for `name` must fail (a banned account).
    pub async fn login_refused(&self, name: &str) -> Result<bool, StoreError> {
        self.banned(name).await
    }

    // ---- actions ------------------------------------------------------------

    async fn record(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        room: Option<&RoomName>,
        detail: Option<String>,
    ) -> Result<(), StoreError> {
        let entry = AuditEntry {
            at_ms: self.clock.now_ms(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            room: room.map(|r| r.as_str().to_owned()),
            detail,
        };
        tracing::info!("moderation: {actor:?} {action} {target:?}");
        self.store.audit(&entry).await
    }

    async fn require_moderator(&self, actor: &Visitor) -> Result<(), ModerationError> {
        if self.moderates(actor).await? { Ok(()) } else { Err(ModerationError::NotAModerator) }
    }

    /// Deletes a message: its author within 5 minutes, moderators any time.
    pub async fn delete_message(&self, actor: &Visitor, room: &RoomName, id: i64) -> Result<(), ModerationError> {
        if !self.can_read(actor, room).await? {
            return Err(ModerationError::NoSuchRoom);
        }
        let message = self.store.authorship(room.as_str(), id).await?.ok_or(ModerationError::NoSuchMessage)?;
        let now = self.clock.now_ms();
        let own = match actor {
            Visitor::User(user) => {
                message.user_id == Some(user.user_id) && now - message.at_ms <= AUTHOR_DELETE_WINDOW_MS
            }
            Visitor::Guest { .. } => false,
        };
        if !own && !self.moderates(actor).await? {
            return Err(ModerationError::NotYours);
        }
        if !message.deleted {
            self.store.tombstone(room.as_str(), id, actor.name(), now).await?;
            self.record(actor.name(), "delete", &message.name, Some(room), Some(format!("message {id}"))).await?;
        }
        self.controls.announce(Control::Deleted { room: room.clone(), id });
        Ok(())
    }

    pub async fn mute(
        &self,
        actor: &Visitor,
        room: &RoomName,
        target: &str,
        duration: Duration,
    ) -> Result<(), ModerationError> {
        self.require_moderator(actor).await?;
        let until = self.clock.now_ms() + duration.as_millis() as i64;
        self.store.mute(room.as_str(), target, until).await?;
        self.forget(Some(room));
        self.record(actor.name(), "mute", target, Some(room), Some(format!("{} s", duration.as_secs()))).await?;
        Ok(())
    }

    /// Ends the target's streams to the room; reconnects get 204 for a minute.
    pub async fn kick(&self, actor: &Visitor, room: &RoomName, target: &str) -> Result<(), ModerationError> {
        self.require_moderator(actor).await?;
        let name = target.to_lowercase();
        lock(&self.kicks).insert((room.clone(), name.clone()), self.clock.now_ms() + KICK_MS);
        self.record(actor.name(), "kick", target, Some(room), None).await?;
        self.controls.announce(Control::Kicked { room: room.clone(), name });
        Ok(())
    }

    /// Bans (or unbans) an account or a guest name site-wide: sessions end,
    /// streams close, logins fail like a wrong password.
    pub async fn ban(&self, actor: &Visitor, target: &str, banned: bool) -> Result<(), ModerationError> {
        self.require_moderator(actor).await?;
        self.store.set_banned(target, banned, actor.name(), self.clock.now_ms()).await?;
        self.forget(None);
        if banned && let Some(user) = self.store.find_user(target).await? {
            self.sessions.end_all(user.id).await?;
        }
        self.record(actor.name(), if banned { "ban" } else { "unban" }, target, None, None).await?;
        if banned {
            self.controls.announce(Control::Banned { name: target.to_lowercase() });
        }
        Ok(())
    }

    pub async fn lock_room(&self, actor: &Visitor, room: &RoomName, locked: bool) -> Result<(), ModerationError> {
        self.require_moderator(actor).await?;
        self.store
            .set_room_flag(room.as_str(), RoomFlag::Locked, locked, crate::rooms::to_millis(crate::rooms::now()))
            .await?;
        self.forget(Some(room));
        self.record(actor.name(), if locked { "lock" } else { "unlock" }, room.as_str(), Some(room), None).await?;
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
        self.require_moderator(actor).await?;
        self.store
            .set_room_flag(room.as_str(), RoomFlag::MembersOnly, on, crate::rooms::to_millis(crate::rooms::now()))
            .await?;
        for name in add {
            self.store.set_member(room.as_str(), name, true).await?;
        }
        for name in remove {
            self.store.set_member(room.as_str(), name, false).await?;
        }
        self.forget(Some(room));
        let detail = format!("members-only {on}, added {add:?}, removed {remove:?}");
        self.record(actor.name(), "members-only", room.as_str(), Some(room), Some(detail)).await?;
        self.controls.announce(Control::AccessChanged { room: room.clone() });
        Ok(())
    }

    /// Admins grant and revoke moderator.
    pub async fn set_role(&self, actor: &Visitor, target: &str, role: Role) -> Result<(), ModerationError> {
        if self.role(actor).await? != Some(Role::Admin) {
            return Err(ModerationError::NotAnAdmin);
        }
        if role == Role::Admin {
            return Err(ModerationError::Refused("admins are made from the command line: chat user set-role".into()));
        }
        if !self.store.set_role(target, role.as_str()).await? {
            return Err(ModerationError::Refused(format!("no account named {target:?}")));
        }
        self.record(actor.name(), "set-role", target, None, Some(role.to_string())).await?;
        Ok(())
    }

    pub async fn audit_log(&self, actor: &Visitor, limit: u32) -> Result<Vec<AuditEntry>, ModerationError> {
        if self.role(actor).await? != Some(Role::Admin) {
            return Err(ModerationError::NotAnAdmin);
        }
        Ok(self.store.audit_log(limit).await?)
    }

    /// Whether the viewer of a stream must stop seeing it after `control`.
    pub async fn ends_stream(&self, control: &Control, viewer: &Visitor, room: &RoomName) -> bool {
        let name = viewer.name().to_lowercase();
        match control {
            Control::Deleted { .. } => false,
            Control::Kicked { room: kicked_from, name: kicked } => kicked_from == room && *kicked == name,
            Control::Banned { name: banned } => *banned == name,
            Control::AccessChanged { room: changed } => {
                changed == room && !matches!(self.can_read(viewer, room).await, Ok(true))
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
