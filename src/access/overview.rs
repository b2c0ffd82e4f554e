//! What the admin page shows, gathered for an admin in one call: the
//! registration mode, accounts (found by a part of their name), invites,
//! rooms with rules of their own, and the newest audit lines.

use serde::Serialize;

use super::{Access, AccessError, InviteView, RegistrationMode};
use crate::rooms;
use crate::store::{AccountRow, RoomRules};

/// Accounts the page lists at most (narrow them with "find").
pub const USERS_SHOWN: u32 = 50;
/// Rooms with rules of their own the page lists at most.
pub const ROOMS_SHOWN: u32 = 100;
/// Audit lines the page shows (the whole log is `/admin/audit`).
pub const AUDIT_SHOWN: u32 = 20;
/// Longest "find" text: a user name is at most 32 characters.
pub const FIND_MAX: usize = 32;

/// The admin page's content.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub mode: RegistrationMode,
    pub find: String,
    pub users: Vec<AccountRow>,
    pub invites: Vec<InviteView>,
    pub rooms: Vec<RoomRules>,
    pub audit: Vec<serde_json::Value>,
}

impl Access {
    /// The admin page for `visitor` (admins only), accounts narrowed to
    /// names containing `find` (cut to 32 characters).
    pub async fn overview(&self, visitor: &crate::auth::Visitor, find: &str) -> Result<Overview, AccessError> {
        self.require_admin(visitor).await?;
        let find: String = find.trim().chars().take(FIND_MAX).collect();
        let audit = self
            .store
            .audit_log(AUDIT_SHOWN)
            .await?
            .into_iter()
            .map(|e| {
                serde_json::json!({ "at": rooms::format_at(rooms::from_millis(e.at_ms)), "actor": e.actor,
                    "action": e.action, "target": e.target, "room": e.room, "detail": e.detail })
            })
            .collect();
        Ok(Overview {
            mode: self.mode().await?,
            users: self.store.find_accounts(&find, USERS_SHOWN).await?,
            invites: self.invites.list().await?,
            rooms: self.store.ruled_rooms(ROOMS_SHOWN).await?,
            audit,
            find,
        })
    }
}
