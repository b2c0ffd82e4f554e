//! Who may act on whom, and the actions that depend on it: bans (also from
//! the command line, so an admin can always be let back in) and roles.
//!
//! Ranks run admin > moderator > member > guest ([`Role::may_act_on`]):
//! moderators ban, mute, kick and delete the messages of members and guests
//! only; admins act on anyone but themselves. Only admins change roles, and
//! never so that no admin is left (the store counts them in the same
//! transaction as the change, so two admins demoting each other at once
//! cannot both succeed).

use super::{Control, Moderation, ModerationError};
use crate::auth::{AuditAction, NameKey, Role, Visitor};
use crate::store::{AuditEntry, RoleChange};

/// The actor the audit log names for actions taken on the command line.
pub const OPERATOR: &str = "(command line)";

impl Moderation {
    /// Whether `actor` may take `action` on `target`: a moderator or admin
    /// who outranks them, and not on themselves (an admin who banned
    /// themselves would need the command line to get back in).
    pub(super) async fn require_rank(
        &self,
        actor: &Visitor,
        target: &NameKey,
        action: AuditAction,
    ) -> Result<(), ModerationError> {
        let role = self.role(actor).await?.filter(|role| role.moderates()).ok_or(ModerationError::NotAModerator)?;
        if NameKey::new(actor.name()) == *target {
            return Err(ModerationError::OnYourself(action));
        }
        let theirs = self.store.role_of_name(target).await?;
        if !role.may_act_on(theirs) {
            let role = theirs.unwrap_or(Role::Member);
            return Err(ModerationError::Outranked { name: target.to_string(), role });
        }
        Ok(())
    }

    /// Bans (or unbans) an account or a guest name site-wide: sessions end,
    /// streams close, logins fail like a wrong password.
    pub async fn ban(&self, actor: &Visitor, target: &str, banned: bool) -> Result<(), ModerationError> {
        let action = if banned { AuditAction::Ban } else { AuditAction::Unban };
        self.require_rank(actor, &NameKey::new(target), action).await?;
        self.set_banned(actor.name(), target, banned).await
    }

    /// [`Moderation::ban`] by the operator (`chat user ban` / `unban`): no
    /// rank applies, so a banned admin can always be let back in without SQL.
    pub async fn operator_ban(&self, target: &str, banned: bool) -> Result<(), ModerationError> {
        self.set_banned(OPERATOR, target, banned).await
    }

    async fn set_banned(&self, actor: &str, target: &str, banned: bool) -> Result<(), ModerationError> {
        let name = NameKey::new(target);
        self.store.set_banned(&name, banned, actor, self.clock.now_ms()).await?;
        self.forget(None);
        if banned && let Some(user) = self.store.find_user(target).await? {
            self.sessions.end_all(user.id).await?;
        }
        let action = if banned { AuditAction::Ban } else { AuditAction::Unban };
        self.record(actor, action, target, None, None).await?;
        if banned {
            self.controls.announce(Control::Banned { name });
        }
        Ok(())
    }

    /// Admins grant and revoke moderator, and demote admins (never the last).
    pub async fn set_role(&self, actor: &Visitor, target: &str, role: Role) -> Result<(), ModerationError> {
        if self.role(actor).await? != Some(Role::Admin) {
            return Err(ModerationError::NotAnAdmin);
        }
        if role == Role::Admin {
            return Err(ModerationError::Refused("admins are made from the command line: chat user set-role".into()));
        }
        match self.store.set_role(target, role).await? {
            RoleChange::Changed => {}
            RoleChange::NoSuchAccount => return Err(ModerationError::Refused(format!("no account named {target:?}"))),
            RoleChange::LastAdmin => return Err(ModerationError::LastAdmin(target.to_owned())),
        }
        self.record(actor.name(), AuditAction::SetRole, target, None, Some(role.to_string())).await?;
        Ok(())
    }

    pub async fn audit_log(&self, actor: &Visitor, limit: u32) -> Result<Vec<AuditEntry>, ModerationError> {
        if self.role(actor).await? != Some(Role::Admin) {
            return Err(ModerationError::NotAnAdmin);
        }
        Ok(self.store.audit_log(limit).await?)
    }
}
