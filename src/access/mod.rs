//! Who may get in: the registration mode (open, invite, closed), invites,
//! one-time password-reset links, accounts that admins create, and what the
//! admin page shows.
//!
//! [`Access`] is the service the routes ask; it decides who may act (admins,
//! and moderators for invites when `moderators_invite` is on) and records
//! every admin action in the audit log, beside moderation's own entries.
//! [`Invites`] and [`ResetLinks`] do the work without checks, for the
//! command line (whose actor is the operator). Bans, roles, locks and allow
//! lists stay moderation's (`moderation::Moderation`); this module knows
//! nothing of HTTP.

mod codes;
mod invites;
mod mode;
mod overview;
mod reset;
mod signup;

pub use invites::{InviteRefusal, InviteSpec, InviteView, Invites, NewInvite};
pub use mode::{RegistrationMode, UnknownMode};
pub use overview::Overview;
pub use reset::{RESET_LINK_SECS, ResetLinks};

use thiserror::Error;

use crate::auth::{
    AccountError, Accounts, AuditAction, LoginError, Logins, PasswordError, PasswordHasher, Role, Sessions, Visitor,
};
use crate::clock::Clock;
use crate::config::Settings;
use crate::moderation::Moderation;
use crate::store::{AuditEntry, Store, StoreError};

/// The `site_settings` key of the registration mode.
const MODE_KEY: &str = "registration";

#[derive(Debug, Error)]
pub enum AccessError {
    #[error("only admins may do this")]
    NotAnAdmin,
    #[error("only admins (and moderators, when moderators_invite is on) may create invites")]
    MayNotInvite,
    #[error("registration is closed: an admin creates accounts")]
    Closed,
    #[error("registration needs an invite: ask an admin for a link")]
    InviteRequired,
    #[error(transparent)]
    Invite(InviteRefusal),
    #[error("this password reset link is not valid, was used already, or has expired: ask an admin for a new one")]
    BadResetLink,
    #[error("this account is banned")]
    Banned,
    #[error("{0}")]
    BadInvite(String),
    #[error("too many open invites: revoke some first")]
    TooManyInvites,
    #[error("no such invite")]
    NoSuchInvite,
    #[error("no account named {0:?}")]
    NoSuchAccount(String),
    #[error(transparent)]
    BadMode(#[from] UnknownMode),
    /// Registering or creating an account: the name, the password, the
    /// registration limit.
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccountError> for AccessError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Store(e) => AccessError::Store(e),
            other => AccessError::Login(LoginError::Account(other)),
        }
    }
}

impl From<PasswordError> for AccessError {
    fn from(error: PasswordError) -> Self {
        AccessError::from(AccountError::Password(error))
    }
}

/// The access service. Clones share everything.
#[derive(Clone)]
pub struct Access {
    store: Store,
    clock: Clock,
    invites: Invites,
    resets: ResetLinks,
    accounts: Accounts,
    logins: Logins,
    hasher: PasswordHasher,
    sessions: Sessions,
    moderation: Moderation,
    /// The mode until an admin picks one (the `registration` setting).
    default_mode: RegistrationMode,
    moderators_invite: bool,
}

/// The services [`Access`] works with.
pub struct AccessParts {
    pub store: Store,
    pub clock: Clock,
    pub accounts: Accounts,
    pub logins: Logins,
    pub hasher: PasswordHasher,
    pub sessions: Sessions,
    pub moderation: Moderation,
}

impl Access {
    pub fn new(parts: AccessParts, settings: &Settings) -> Self {
        let AccessParts { store, clock, accounts, logins, hasher, sessions, moderation } = parts;
        Self {
            invites: Invites::new(store.clone(), clock.clone()),
            resets: ResetLinks::new(store.clone(), clock.clone()),
            store,
            clock,
            accounts,
            logins,
            hasher,
            sessions,
            moderation,
            default_mode: settings.registration,
            moderators_invite: settings.moderators_invite,
        }
    }

    async fn role(&self, visitor: &Visitor) -> Result<Option<Role>, StoreError> {
        let Visitor::User(user) = visitor else { return Ok(None) };
        self.store.role_of(user.user_id).await
    }

    /// Fails unless `visitor` is an admin.
    pub async fn require_admin(&self, visitor: &Visitor) -> Result<(), AccessError> {
        match self.role(visitor).await? {
            Some(Role::Admin) => Ok(()),
            _ => Err(AccessError::NotAnAdmin),
        }
    }

    /// The registration mode now: an admin's choice, else the setting.
    pub async fn mode(&self) -> Result<RegistrationMode, AccessError> {
        match self.store.site_setting(MODE_KEY).await? {
            // A value we cannot read is a broken row, not "the default".
            Some(stored) => Ok(stored.parse().map_err(|e| {
                StoreError::Database(sqlx::Error::Decode(Box::new(e) as Box<dyn std::error::Error + Send + Sync>))
            })?),
            None => Ok(self.default_mode),
        }
    }

    /// An admin switches the registration mode (audited).
    pub async fn set_mode(&self, visitor: &Visitor, mode: RegistrationMode) -> Result<(), AccessError> {
        self.require_admin(visitor).await?;
        self.store.set_site_setting(MODE_KEY, mode.as_str()).await?;
        audit(&self.store, &self.clock, visitor.name(), AuditAction::Registration, mode.as_str(), None).await?;
        Ok(())
    }

    /// Makes an invite: admins, and moderators when `moderators_invite`.
    pub async fn create_invite(&self, visitor: &Visitor, spec: &InviteSpec) -> Result<NewInvite, AccessError> {
        match self.role(visitor).await? {
            Some(Role::Admin) => {}
            Some(Role::Moderator) if self.moderators_invite => {}
            _ => return Err(AccessError::MayNotInvite),
        }
        self.invites.create(visitor.name(), spec).await
    }

    pub async fn invites(&self, visitor: &Visitor) -> Result<Vec<InviteView>, AccessError> {
        self.require_admin(visitor).await?;
        self.invites.list().await
    }

    pub async fn revoke_invite(&self, visitor: &Visitor, id: i64) -> Result<(), AccessError> {
        self.require_admin(visitor).await?;
        self.invites.revoke(visitor.name(), id).await
    }

    /// Whether `code` lets someone register now (for `GET /join/<code>`):
    /// never in closed mode.
    pub async fn check_invite(&self, code: &str) -> Result<(), AccessError> {
        if self.mode().await? == RegistrationMode::Closed {
            return Err(AccessError::Closed);
        }
        self.invites.check(code).await
    }

    /// A one-time link that sets `name`'s password, for an admin (audited).
    pub async fn reset_link(&self, visitor: &Visitor, name: &str) -> Result<String, AccessError> {
        self.require_admin(visitor).await?;
        self.resets.issue(visitor.name(), name).await
    }

    /// An admin creates an account (whatever the mode), audited.
    pub async fn create_account(&self, visitor: &Visitor, name: &str, password: &str) -> Result<(), AccessError> {
        self.require_admin(visitor).await?;
        let user = self.accounts.register(name, password).await?;
        // The account is for someone else: no session of it stays open here.
        self.sessions.end(&user.session_id).await?;
        audit(&self.store, &self.clock, visitor.name(), AuditAction::CreateAccount, &user.name, None).await?;
        Ok(())
    }
}

/// Writes one audit line.
pub(crate) async fn audit(
    store: &Store,
    clock: &Clock,
    actor: &str,
    action: AuditAction,
    target: &str,
    detail: Option<String>,
) -> Result<(), StoreError> {
    tracing::info!("access: {actor:?} {action} {target:?}");
    let entry = AuditEntry {
        at_ms: clock.now_ms(),
        actor: actor.to_owned(),
        action,
        target: target.to_owned(),
        room: None,
        detail,
    };
    store.audit(&entry).await
}
