//! The store's side of moderation: tombstones, room policies, mutes, bans,
//! roles and the audit log.
//!
//! Names in the moderation tables are stored folded ([`NameKey`]), and roles
//! and audit actions as the text of their enums; both are parsed here, so
//! callers only see types. A stored role or action that parses as nothing
//! we know is a broken row, not an absent one: it comes back as a decode
//! error ([`StoreError::Database`]), never as `None`, so a damaged role can
//! neither grant nor silently drop a privilege.

use sqlx::Row;

use super::{Store, StoreError};
use crate::auth::{AuditAction, NameKey, Role};

/// A room's access rules as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomPolicy {
    pub locked: bool,
    pub members_only: bool,
    /// Names on the allow list.
    pub members: Vec<NameKey>,
    /// Names muted here, with the end of their mute (ms).
    pub mutes: Vec<(NameKey, i64)>,
    /// For a direct-message room, its members' account ids (empty when no
    /// such conversation exists); `None` for every other room.
    pub dm: Option<Vec<i64>>,
}

/// One audit line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub actor: String,
    pub action: AuditAction,
    pub target: String,
    pub room: Option<String>,
    pub detail: Option<String>,
}

/// The author of a stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorship {
    pub user_id: Option<i64>,
    pub name: String,
    pub at_ms: i64,
    pub deleted: bool,
}

impl Store {
    /// An account's role; `None` when there is no such account.
    pub async fn role_of(&self, user_id: i64) -> Result<Option<Role>, StoreError> {
        let stored: Option<String> =
            sqlx::query_scalar("SELECT role FROM users WHERE id = $1").bind(user_id).fetch_optional(&self.pool).await?;
        stored.map(|text| text.parse().map_err(|e| decode_error(Box::new(e)))).transpose()
    }

    /// The role of the account named `name`; `None` when there is none
    /// (a guest name, or nobody).
    pub async fn role_of_name(&self, name: &NameKey) -> Result<Option<Role>, StoreError> {
        let stored: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE lower(name) = lower($1)")
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?;
        stored.map(|text| text.parse().map_err(|e| decode_error(Box::new(e)))).transpose()
    }

    /// Sets an account's role, unless that would leave no admin.
    ///
    /// Two demotions at once must not both see "another admin is left": the
    /// first statement writes every admin row (changing nothing), which in
    /// PostgreSQL locks them until commit and in SQLite takes the one write
    /// lock, so a second demotion waits, and then counts (PostgreSQL reads
    /// each statement afresh at READ COMMITTED) what the first committed.
    pub async fn set_role(&self, name: &str, role: Role) -> Result<RoleChange, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET role = role WHERE role = $1")
            .bind(Role::Admin.as_str())
            .execute(&mut *tx)
            .await?;
        let current: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE lower(name) = lower($1)")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(current) = current else { return Ok(RoleChange::NoSuchAccount) };
        let current: Role = current.parse().map_err(|e| decode_error(Box::new(e)))?;
        if current == Role::Admin && role != Role::Admin {
            let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE role = $1")
                .bind(Role::Admin.as_str())
                .fetch_one(&mut *tx)
                .await?;
            if admins <= 1 {
                return Ok(RoleChange::LastAdmin);
            }
        }
        sqlx::query("UPDATE users SET role = $1 WHERE lower(name) = lower($2)")
            .bind(role.as_str())
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RoleChange::Changed)
    }

    pub async fn authorship(&self, room: &str, id: i64) -> Result<Option<Authorship>, StoreError> {
        let row = sqlx::query("SELECT user_id, user_name, at_ms, deleted_by FROM messages WHERE room = $1 AND id = $2")
            .bind(room)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| Authorship {
            user_id: r.get(0),
            name: r.get(1),
            at_ms: r.get(2),
            deleted: r.get::<Option<String>, _>(3).is_some(),
        }))
    }

    pub async fn room_policy(&self, room: &str) -> Result<RoomPolicy, StoreError> {
        let flags = sqlx::query("SELECT locked, members_only FROM rooms WHERE name = $1")
            .bind(room)
            .fetch_optional(&self.pool)
            .await?;
        let (locked, members_only) =
            flags.map_or((false, false), |r| (r.get::<i64, _>(0) != 0, r.get::<i64, _>(1) != 0));
        let members: Vec<String> = sqlx::query_scalar("SELECT name FROM room_members WHERE room = $1 ORDER BY name")
            .bind(room)
            .fetch_all(&self.pool)
            .await?;
        let members = members.iter().map(|name| NameKey::new(name)).collect();
        let mutes = sqlx::query("SELECT name, until_ms FROM mutes WHERE room = $1")
            .bind(room)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| (NameKey::new(r.get(0)), r.get(1)))
            .collect();
        let dm = if crate::rooms::is_dm_name(room) {
            Some(self.dm_members(room).await?.into_iter().map(|(id, _)| id).collect())
        } else {
            None
        };
        Ok(RoomPolicy { locked, members_only, members, mutes, dm })
    }

    /// The conversations and members-only rooms open to an account beyond
    /// what everyone may read: its conversations, and the members-only
    /// rooms whose allow list names it (every members-only room, for a
    /// moderator). `Moderation::restricted_rooms_readable` states the rule.
    pub async fn restricted_rooms_open_to(
        &self,
        user_id: i64,
        name: &NameKey,
        moderator: bool,
    ) -> Result<Vec<String>, StoreError> {
        let mut rooms: Vec<String> = sqlx::query_scalar("SELECT room FROM dm_members WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        let listed: Vec<String> = if moderator {
            sqlx::query_scalar("SELECT name FROM rooms WHERE members_only = 1").fetch_all(&self.pool).await?
        } else {
            sqlx::query_scalar("SELECT room FROM room_members WHERE name = $1")
                .bind(name.as_str())
                .fetch_all(&self.pool)
                .await?
        };
        // A conversation is never opened by an allow list or a role.
        rooms.extend(listed.into_iter().filter(|room| !crate::rooms::is_dm_name(room)));
        rooms.sort();
        rooms.dedup();
        Ok(rooms)
    }

    /// Sets a room flag (`locked` or `members_only`), creating the room row.
    pub async fn set_room_flag(&self, room: &str, flag: RoomFlag, on: bool, now_ms: i64) -> Result<(), StoreError> {
        let column = match flag {
            RoomFlag::Locked => "locked",
            RoomFlag::MembersOnly => "members_only",
        };
        let sql = format!(
            "INSERT INTO rooms (name, last_id, last_at_ms, {column}) VALUES ($1, 0, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET {column} = excluded.{column}"
        );
        sqlx::query(&sql).bind(room).bind(now_ms).bind(i64::from(on)).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn set_member(&self, room: &str, name: &NameKey, member: bool) -> Result<(), StoreError> {
        let sql = if member {
            "INSERT INTO room_members (room, name) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM room_members WHERE room = $1 AND name = $2"
        };
        sqlx::query(sql).bind(room).bind(name.as_str()).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn mute(&self, room: &str, name: &NameKey, until_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mutes (room, name, until_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (room, name) DO UPDATE SET until_ms = excluded.until_ms",
        )
        .bind(room)
        .bind(name.as_str())
        .bind(until_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_banned(&self, name: &NameKey, banned: bool, by: &str, now_ms: i64) -> Result<(), StoreError> {
        if banned {
            sqlx::query("INSERT INTO bans (name, by_name, at_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(name.as_str())
                .bind(by)
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
        } else {
            sqlx::query("DELETE FROM bans WHERE name = $1").bind(name.as_str()).execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Every banned name.
    pub async fn bans(&self) -> Result<Vec<NameKey>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM bans").fetch_all(&self.pool).await?;
        Ok(names.iter().map(|name| NameKey::new(name)).collect())
    }

    pub async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit (at_ms, actor, action, target, room, detail) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(entry.at_ms)
            .bind(&entry.actor)
            .bind(entry.action.as_str())
            .bind(&entry.target)
            .bind(&entry.room)
            .bind(&entry.detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest audit lines first.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows =
            sqlx::query("SELECT at_ms, actor, action, target, room, detail FROM audit ORDER BY id DESC LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let action: String = r.get(2);
                Ok(AuditEntry {
                    at_ms: r.get(0),
                    actor: r.get(1),
                    action: action.parse().map_err(|e| decode_error(Box::new(e)))?,
                    target: r.get(3),
                    room: r.get(4),
                    detail: r.get(5),
                })
            })
            .collect()
    }
}

/// A stored value that names none of our enum's variants.
fn decode_error(error: Box<dyn std::error::Error + Send + Sync>) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(error))
}

/// What [`Store::set_role`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChange {
    Changed,
    NoSuchAccount,
    /// Refused: the account is the last admin.
    LastAdmin,
}

/// The boolean flags a room has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomFlag {
    Locked,
    MembersOnly,
}
