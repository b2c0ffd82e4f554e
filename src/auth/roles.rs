//! What an account may do beyond chatting: its [`Role`], and the
//! [`AuditAction`]s that moderators and admins take.

use std::fmt;
use std::str::FromStr;

/// An account's role; guests have none (they are not accounts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Moderator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    /// Moderators and admins moderate.
    pub fn moderates(self) -> bool {
        self >= Role::Moderator
    }

    /// Whether an account with this role may ban, mute, kick or delete the
    /// messages of someone with role `target` (`None`: a guest, or a name
    /// with no account). Ranks run admin > moderator > member > guest:
    /// admins act on anyone, moderators only on members and guests, so a
    /// moderator can neither silence an admin nor a fellow moderator.
    pub fn may_act_on(self, target: Option<Role>) -> bool {
        match (self, target) {
            (Role::Admin, _) => true,
            (Role::Moderator, None | Some(Role::Member)) => true,
            (Role::Moderator, Some(Role::Moderator | Role::Admin)) | (Role::Member, _) => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of `admin`, `moderator`, `member`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("roles are admin, moderator and member")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        match s {
            "member" => Ok(Role::Member),
            "moderator" => Ok(Role::Moderator),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownRole),
        }
    }
}

/// A moderation action as the audit log records it. An enum so that a new
/// action must get a name here (and nowhere else); its text is what the
/// `audit.action` column and the audit page/JSON have always carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Delete,
    Mute,
    Kick,
    Ban,
    Unban,
    Lock,
    Unlock,
    MembersOnly,
    SetRole,
    InviteCreate,
    InviteRevoke,
    Registration,
    ResetLink,
    CreateAccount,
    /// An account turned its TOTP second factor on, or off.
    TotpOn,
    TotpOff,
    /// An account added a passkey, or removed one (its name is the detail).
    PasskeyAdd,
    PasskeyRemove,
}

impl AuditAction {
    pub const ALL: [AuditAction; 18] = [
        AuditAction::Delete,
        AuditAction::Mute,
        AuditAction::Kick,
        AuditAction::Ban,
        AuditAction::Unban,
        AuditAction::Lock,
        AuditAction::Unlock,
        AuditAction::MembersOnly,
        AuditAction::SetRole,
        AuditAction::InviteCreate,
        AuditAction::InviteRevoke,
        AuditAction::Registration,
        AuditAction::ResetLink,
        AuditAction::CreateAccount,
        AuditAction::TotpOn,
        AuditAction::TotpOff,
        AuditAction::PasskeyAdd,
        AuditAction::PasskeyRemove,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Delete => "delete",
            AuditAction::Mute => "mute",
            AuditAction::Kick => "kick",
            AuditAction::Ban => "ban",
            AuditAction::Unban => "unban",
            AuditAction::Lock => "lock",
            AuditAction::Unlock => "unlock",
            AuditAction::MembersOnly => "members-only",
            AuditAction::SetRole => "set-role",
            AuditAction::InviteCreate => "invite-create",
            AuditAction::InviteRevoke => "invite-revoke",
            AuditAction::Registration => "registration",
            AuditAction::ResetLink => "reset-link",
            AuditAction::CreateAccount => "create-account",
            AuditAction::TotpOn => "totp-on",
            AuditAction::TotpOff => "totp-off",
            AuditAction::PasskeyAdd => "passkey-add",
            AuditAction::PasskeyRemove => "passkey-remove",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialized as its stored text, so the audit JSON and page are unchanged.
impl serde::Serialize for AuditAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Text in the audit log that names no [`AuditAction`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an audit action")]
pub struct UnknownAuditAction(pub String);

impl FromStr for AuditAction {
    type Err = UnknownAuditAction;

    fn from_str(s: &str) -> Result<Self, UnknownAuditAction> {
        Self::ALL.into_iter().find(|action| action.as_str() == s).ok_or_else(|| UnknownAuditAction(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_print_and_order() {
        for role in [Role::Member, Role::Moderator, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
        assert!(Role::Admin.moderates() && Role::Moderator.moderates() && !Role::Member.moderates());
    }

    #[test]
    fn moderators_act_only_on_members_and_guests_and_admins_on_anyone() {
        let targets = [None, Some(Role::Member), Some(Role::Moderator), Some(Role::Admin)];
        let allowed = |actor: Role| targets.iter().map(|t| actor.may_act_on(*t)).collect::<Vec<_>>();
        assert_eq!(allowed(Role::Admin), [true, true, true, true]);
        assert_eq!(allowed(Role::Moderator), [true, true, false, false]);
        assert_eq!(allowed(Role::Member), [false, false, false, false]);
    }

    #[test]
    fn audit_actions_keep_their_stored_text() {
        let texts: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        let stored = [
            "delete",
            "mute",
            "kick",
            "ban",
            "unban",
            "lock",
            "unlock",
            "members-only",
            "set-role",
            "invite-create",
            "invite-revoke",
            "registration",
            "reset-link",
            "create-account",
            "totp-on",
            "totp-off",
            "passkey-add",
            "passkey-remove",
        ];
        assert_eq!(texts, stored);
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(action));
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
        }
        assert!("Ban".parse::<AuditAction>().is_err());
    }
}
