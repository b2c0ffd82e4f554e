//! Invites: a code that lets a number of people register before it
//! expires, each joining the members-only rooms it lists.
//!
//! [`InviteSpec`] can only be built within bounds; [`Invites`] creates,
//! lists, revokes and checks them, recording creations and revocations in
//! the audit log. Who may create or revoke one is decided by the caller
//! (`Access`, or the operator on the command line), not here.

use serde::Serialize;

use super::{AccessError, audit, codes};
use crate::auth::AuditAction;
use crate::clock::Clock;
use crate::rooms::{self, RoomName};
use crate::store::{InviteRow, Store};

/// Most uses one invite may have.
pub const MAX_USES: i64 = 1000;
/// Longest an invite may live: a year.
pub const MAX_EXPIRES_HOURS: i64 = 24 * 365;
/// Most rooms one invite may join.
pub const MAX_ROOMS: usize = 20;
/// Most invites that may be usable at once (revoke some to make more).
pub const MAX_OPEN_INVITES: i64 = 500;
/// Invites an admin page or `GET /admin/invites` lists, newest first.
pub const LISTED: u32 = 200;

/// What an invite is to be: checked bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteSpec {
    uses: i64,
    expires_hours: i64,
    rooms: Vec<RoomName>,
}

impl InviteSpec {
    /// `uses` 1 to 1000, `expires_hours` 1 to 8760, at most 20 rooms, each
    /// a room name and none a conversation.
    pub fn parse(uses: i64, expires_hours: i64, rooms: &[String]) -> Result<Self, AccessError> {
        if !(1..=MAX_USES).contains(&uses) {
            return Err(AccessError::BadInvite(format!("uses must be between 1 and {MAX_USES}")));
        }
        if !(1..=MAX_EXPIRES_HOURS).contains(&expires_hours) {
            return Err(AccessError::BadInvite(format!("expires_hours must be between 1 and {MAX_EXPIRES_HOURS}")));
        }
        if rooms.len() > MAX_ROOMS {
            return Err(AccessError::BadInvite(format!("an invite joins at most {MAX_ROOMS} rooms")));
        }
        let mut parsed: Vec<RoomName> = Vec::with_capacity(rooms.len());
        for room in rooms {
            let name = RoomName::parse(room.trim().trim_start_matches('#'))
                .map_err(|e| AccessError::BadInvite(format!("{room:?}: {e}")))?;
            if name.is_dm() {
                return Err(AccessError::BadInvite("an invite cannot join a direct conversation".into()));
            }
            if !parsed.contains(&name) {
                parsed.push(name);
            }
        }
        Ok(Self { uses, expires_hours, rooms: parsed })
    }
}

/// A new invite: the code, shown once and never again.
#[derive(Debug, Clone, Serialize)]
pub struct NewInvite {
    pub id: i64,
    pub code: String,
    pub url: String,
}

/// Why an invite code does not let anyone register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InviteRefusal {
    #[error("this invite code is not valid: check the link")]
    Unknown,
    #[error("this invite has been used up: ask for a new one")]
    UsedUp,
    #[error("this invite has expired: ask for a new one")]
    Expired,
    #[error("this invite was revoked")]
    Revoked,
}

/// An invite as listed (the admin page, `GET /admin/invites`).
#[derive(Debug, Clone, Serialize)]
pub struct InviteView {
    pub id: i64,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub uses: i64,
    pub used: i64,
    pub rooms: Vec<String>,
    /// `active`, `used up`, `expired` or `revoked`.
    pub state: &'static str,
}

/// Whether `invite` may be used at `now_ms`.
pub fn usable(invite: &InviteRow, now_ms: i64) -> Result<(), InviteRefusal> {
    if invite.revoked_at_ms.is_some() {
        Err(InviteRefusal::Revoked)
    } else if invite.used >= invite.uses {
        Err(InviteRefusal::UsedUp)
    } else if invite.expires_at_ms <= now_ms {
        Err(InviteRefusal::Expired)
    } else {
        Ok(())
    }
}

/// Invites over the store.
#[derive(Clone)]
pub struct Invites {
    store: Store,
    clock: Clock,
}

impl Invites {
    pub fn new(store: Store, clock: Clock) -> Self {
        Self { store, clock }
    }

    /// Makes an invite for `by` (an account name, or the operator), audited.
    pub async fn create(&self, by: &str, spec: &InviteSpec) -> Result<NewInvite, AccessError> {
        let now = self.clock.now_ms();
        if self.store.open_invites(now).await? >= MAX_OPEN_INVITES {
            return Err(AccessError::TooManyInvites);
        }
        let code = codes::new_code();
        let expires = now + spec.expires_hours * 3_600_000;
        let rooms: Vec<String> = spec.rooms.iter().map(|r| r.as_str().to_owned()).collect();
        let id = self.store.create_invite(&codes::hashed(&code), by, now, expires, spec.uses, &rooms).await?;
        let mut detail = format!("{} uses, {} hours", spec.uses, spec.expires_hours);
        if !rooms.is_empty() {
            detail.push_str(&format!(", rooms {}", rooms.join(" ")));
        }
        audit(&self.store, &self.clock, by, AuditAction::InviteCreate, &format!("invite {id}"), Some(detail)).await?;
        let url = format!("/join/{code}");
        Ok(NewInvite { id, code, url })
    }

    /// The newest invites first, with their state now.
    pub async fn list(&self) -> Result<Vec<InviteView>, AccessError> {
        let now = self.clock.now_ms();
        let shown = |ms| rooms::format_at(rooms::from_millis(ms));
        Ok(self
            .store
            .invites(LISTED)
            .await?
            .into_iter()
            .map(|invite| InviteView {
                state: match usable(&invite, now) {
                    Ok(()) => "active",
                    Err(InviteRefusal::UsedUp) => "used up",
                    Err(InviteRefusal::Expired) => "expired",
                    Err(InviteRefusal::Revoked | InviteRefusal::Unknown) => "revoked",
                },
                id: invite.id,
                created_at: shown(invite.created_at_ms),
                expires_at: shown(invite.expires_at_ms),
                created_by: invite.created_by,
                uses: invite.uses,
                used: invite.used,
                rooms: invite.rooms,
            })
            .collect())
    }

    /// Revokes invite `id` for `by`, audited.
    pub async fn revoke(&self, by: &str, id: i64) -> Result<(), AccessError> {
        if !self.store.revoke_invite(id, self.clock.now_ms()).await? {
            return Err(AccessError::NoSuchInvite);
        }
        audit(&self.store, &self.clock, by, AuditAction::InviteRevoke, &format!("invite {id}"), None).await?;
        Ok(())
    }

    /// Whether `code` lets someone register now.
    pub async fn check(&self, code: &str) -> Result<(), AccessError> {
        if !codes::well_formed(code) {
            return Err(AccessError::Invite(InviteRefusal::Unknown));
        }
        match self.store.invite_by_hash(&codes::hashed(code)).await? {
            None => Err(AccessError::Invite(InviteRefusal::Unknown)),
            Some(invite) => usable(&invite, self.clock.now_ms()).map_err(AccessError::Invite),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_is_bounded_and_names_rooms_only() {
        assert!(InviteSpec::parse(1, 1, &[]).is_ok());
        assert!(InviteSpec::parse(MAX_USES, MAX_EXPIRES_HOURS, &["#staff".into(), "staff".into()]).is_ok());
        for (uses, hours) in [(0, 1), (MAX_USES + 1, 1), (1, 0), (1, MAX_EXPIRES_HOURS + 1), (-1, 5)] {
            assert!(matches!(InviteSpec::parse(uses, hours, &[]), Err(AccessError::BadInvite(_))), "{uses} {hours}");
        }
        let many: Vec<String> = (0..=MAX_ROOMS).map(|i| format!("r{i}")).collect();
        assert!(InviteSpec::parse(1, 1, &many).is_err());
        assert!(InviteSpec::parse(1, 1, &["Not A Room".into()]).is_err());
        assert!(InviteSpec::parse(1, 1, &["dm-abc".into()]).is_err());
        let spec = InviteSpec::parse(1, 1, &["a".into(), "#a".into()]).unwrap();
        assert_eq!(spec.rooms.len(), 1, "a room listed twice joins once");
    }

    #[test]
    fn an_invite_is_refused_for_the_first_reason_that_applies() {
        let invite = InviteRow {
            id: 1,
            created_by: "boss".into(),
            created_at_ms: 0,
            expires_at_ms: 1000,
            uses: 2,
            used: 1,
            revoked_at_ms: None,
            rooms: vec![],
        };
        assert_eq!(usable(&invite, 999), Ok(()));
        assert_eq!(usable(&invite, 1000), Err(InviteRefusal::Expired));
        assert_eq!(usable(&InviteRow { used: 2, ..invite.clone() }, 10), Err(InviteRefusal::UsedUp));
        assert_eq!(usable(&InviteRow { revoked_at_ms: Some(5), ..invite }, 10), Err(InviteRefusal::Revoked));
    }
}
