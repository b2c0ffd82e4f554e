//! People and their conversations: direct-message rooms, blocks, read
//! positions with the unread counts of the room list, and the account's
//! notification level.
//!
//! A direct-message room is named after its members' account ids (see
//! [`dm_room`]), so the same people always get the same room; it is
//! members-only with fixed membership, and moderation treats it as existing
//! for its members alone (`moderation::Moderation::can_read`).

use sha2::{Digest, Sha256};
use thiserror::Error;

use super::Chat;
use crate::auth::{NameKey, SessionUser, Visitor};
use crate::i18n::Preferences;
use crate::moderation::ModerationError;
use crate::rooms::{DM_PREFIX, RoomName};
use crate::store::{RoomSummary, StoreError, Unread};

/// Most other people in one direct-message room.
pub const MAX_DM_USERS: usize = 8;

/// How notifications are wanted: every message, mentions and direct
/// messages (the default), or none.
pub use crate::i18n::preferences::{DEFAULT_NOTIFY, NOTIFY_LEVELS};

#[derive(Debug, Error)]
pub enum PeopleError {
    #[error("only members have direct messages, blocks and settings: log in or register")]
    MembersOnly,
    #[error("users must name 1 to 8 other accounts")]
    BadUsers,
    #[error("no account is named {0:?}")]
    NoSuchAccount(String),
    #[error("{0} does not take direct messages from you")]
    Blocked(String),
    #[error("you cannot block yourself")]
    BlockYourself,
    #[error("id must be a message id (0 or more)")]
    BadId,
    #[error(transparent)]
    Moderation(#[from] ModerationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One room of a visitor's room list.
#[derive(Debug)]
pub struct RoomListing {
    pub summary: RoomSummary,
    /// For a direct-message room, its members' names.
    pub dm_users: Option<Vec<String>>,
    /// For members: what they have not read yet.
    pub unread: Option<Unread>,
}

/// The room of the conversation between these accounts (any order, repeats
/// ignored).
pub fn dm_room(user_ids: &[i64]) -> RoomName {
    let mut ids = user_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let key = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let digest = Sha256::digest(format!("dm:{key}").as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    RoomName::parse(&format!("{DM_PREFIX}{hex}")).expect("a digest is a valid room name")
}

fn member(visitor: &Visitor) -> Result<&SessionUser, PeopleError> {
    match visitor {
        Visitor::User(user) => Ok(user),
        Visitor::Guest { .. } | Visitor::Bot(_) => Err(PeopleError::MembersOnly),
    }
}

impl Chat {
    /// The conversation between `visitor` and the accounts named `names`,
    /// made if new: its room and its members' names.
    pub async fn open_dm(&self, visitor: &Visitor, names: &[String]) -> Result<(RoomName, Vec<String>), PeopleError> {
        let me = member(visitor)?;
        let mut keys: Vec<NameKey> = names.iter().map(|name| NameKey::new(name.trim())).collect();
        keys.sort();
        keys.dedup();
        keys.retain(|key| *key != NameKey::new(&me.name));
        if keys.is_empty() || keys.len() > MAX_DM_USERS || names.len() > 4 * MAX_DM_USERS {
            return Err(PeopleError::BadUsers);
        }
        let mut ids = vec![me.user_id];
        for key in &keys {
            let other = self.store.find_user(key.as_str()).await?;
            let other = other.ok_or_else(|| PeopleError::NoSuchAccount(key.as_str().to_owned()))?;
            if self.store.has_blocked(other.id, me.user_id).await? {
                return Err(PeopleError::Blocked(other.name));
            }
            ids.push(other.id);
        }
        let room = dm_room(&ids);
        if self.store.create_dm(room.as_str(), &ids).await? {
            // Someone may have named the room before it existed.
            self.moderation.access_changed(std::slice::from_ref(&room));
        }
        let users = self.store.dm_members(room.as_str()).await?.into_iter().map(|(_, name)| name).collect();
        Ok((room, users))
    }

    /// Blocks (or unblocks) the account named `name` for `visitor`.
    pub async fn block(&self, visitor: &Visitor, name: &str, blocked: bool) -> Result<(), PeopleError> {
        let me = member(visitor)?;
        let other = self.store.find_user(name.trim()).await?;
        let other = other.ok_or_else(|| PeopleError::NoSuchAccount(name.trim().to_owned()))?;
        if other.id == me.user_id {
            return Err(PeopleError::BlockYourself);
        }
        Ok(self.store.set_blocked(me.user_id, other.id, blocked).await?)
    }

    /// The names `visitor` has blocked.
    pub async fn blocks(&self, visitor: &Visitor) -> Result<Vec<String>, PeopleError> {
        Ok(self.store.blocked_names(member(visitor)?.user_id).await?)
    }

    /// Records that `visitor` has read `room` up to `id` (clamped to the
    /// room's newest number; positions only move forward). Answers the
    /// account whose streams should hear of it, if it moved; guests keep
    /// their position in the browser, so nothing is stored for them.
    pub async fn mark_read(&self, visitor: &Visitor, room: &RoomName, id: i64) -> Result<Option<i64>, PeopleError> {
        if !self.can_read(visitor, room).await? {
            return Err(ModerationError::NoSuchRoom.into());
        }
        if id < 0 {
            return Err(PeopleError::BadId);
        }
        let Visitor::User(user) = visitor else { return Ok(None) };
        let id = id.min(self.store.last_id(room).await?);
        let moved = self.store.mark_read(user.user_id, room.as_str(), id).await?;
        Ok(moved.then_some(user.user_id))
    }

    /// The rooms `visitor` may see, most recently active first, with the
    /// members of direct messages and, for members, unread counts.
    pub async fn room_list(&self, visitor: &Visitor, limit: u32) -> Result<Vec<RoomListing>, PeopleError> {
        let mut listings = Vec::new();
        for summary in self.visible_rooms(visitor, limit).await? {
            let dm_users = if crate::rooms::is_dm_name(&summary.name) {
                Some(self.store.dm_members(&summary.name).await?.into_iter().map(|(_, name)| name).collect())
            } else {
                None
            };
            listings.push(RoomListing { summary, dm_users, unread: None });
        }
        if let Visitor::User(user) = visitor {
            let rooms: Vec<(String, bool)> =
                listings.iter().map(|l| (l.summary.name.clone(), l.dm_users.is_some())).collect();
            let mut counts = self.store.unread(user.user_id, &user.name, &rooms).await?;
            for listing in &mut listings {
                listing.unread = Some(counts.remove(&listing.summary.name).unwrap_or_default());
            }
        }
        Ok(listings)
    }

    /// What the page calls room `name`: `#name`, or for a direct message
    /// `@` and its other members' names.
    pub(super) async fn room_label(&self, visitor: &Visitor, name: &str) -> Result<String, StoreError> {
        if !crate::rooms::is_dm_name(name) {
            return Ok(format!("#{name}"));
        }
        let others: Vec<String> = self
            .store
            .dm_members(name)
            .await?
            .into_iter()
            .map(|(_, member)| member)
            .filter(|member| !member.eq_ignore_ascii_case(visitor.name()))
            .collect();
        Ok(format!("@{}", others.join(", @")))
    }

    /// The account's settings as stored now (a session's copy may be a
    /// little older).
    pub async fn preferences(&self, user: &SessionUser) -> Result<Preferences, PeopleError> {
        Ok(self.store.preferences(user.user_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_people_always_get_the_same_room() {
        assert_eq!(dm_room(&[3, 1]), dm_room(&[1, 3, 3]));
        assert_ne!(dm_room(&[1, 3]), dm_room(&[1, 2]));
        assert!(dm_room(&[1, 2]).is_dm());
        assert_eq!(dm_room(&[1, 2]).as_str().len(), 27);
    }
}
