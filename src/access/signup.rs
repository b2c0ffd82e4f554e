//! Registering under the registration mode: open (an invite, if given,
//! still joins its rooms), invite (a valid code needed) or closed (nobody
//! registers; admins create accounts).
//!
//! An invited registration checks the code before the password is hashed
//! (so a bad code costs no hashing), then takes one use, inserts the
//! account and joins the invite's rooms in one transaction
//! (`Store::create_invited_user`): two registrations racing for the last
//! use cannot both win.

use std::net::IpAddr;

use super::{Access, AccessError, InviteRefusal, RegistrationMode, codes, invites};
use crate::auth::{AccountError, DisplayName, LoginError, Password, SessionUser, UserName};
use crate::rooms::RoomName;
use crate::store::{InvitedSignup, StoreError};

impl Access {
    /// Creates an account and logs it in, as the mode allows; `invite` is
    /// the code the form carried (empty counts as none). Every attempt that
    /// the mode lets through counts against the address's registrations.
    pub async fn register(
        &self,
        name: &str,
        password: &str,
        display: Option<&str>,
        invite: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<SessionUser, AccessError> {
        let invite = invite.filter(|code| !code.is_empty());
        match (self.mode().await?, invite) {
            (RegistrationMode::Closed, _) => Err(AccessError::Closed),
            (RegistrationMode::Invite, None) => Err(AccessError::InviteRequired),
            (RegistrationMode::Open, None) => Ok(self.logins.register(name, password, display, ip).await?),
            (RegistrationMode::Open | RegistrationMode::Invite, Some(code)) => {
                self.logins.take_registration(ip)?;
                self.register_invited(name, password, display, code).await
            }
        }
    }

    async fn register_invited(
        &self,
        name: &str,
        password: &str,
        display: Option<&str>,
        code: &str,
    ) -> Result<SessionUser, AccessError> {
        let name = UserName::parse(name).map_err(AccountError::from)?;
        let password = Password::parse(password).map_err(AccountError::from)?;
        let display = DisplayName::or_handle(display, name.as_str()).map_err(AccountError::from)?;
        self.invites.check(code).await?;
        if self.store.find_user(name.as_str()).await?.is_some() {
            return Err(LoginError::Account(AccountError::NameTaken).into());
        }
        let hash = self.hasher.hash(password).await?;
        let now = self.clock.now_ms();
        let signup = match self
            .store
            .create_invited_user(&codes::hashed(code), name.as_str(), display.as_str(), &hash, now)
            .await
        {
            Err(StoreError::UsernameTaken) => return Err(LoginError::Account(AccountError::NameTaken).into()),
            other => other?,
        };
        match signup {
            InvitedSignup::Joined { user_id, rooms } => {
                let rooms: Vec<RoomName> = rooms.iter().filter_map(|room| RoomName::parse(room).ok()).collect();
                // Cached allow lists (here and on other instances) must
                // learn of the new member.
                self.moderation.access_changed(&rooms);
                tracing::info!("{:?} registered through an invite", name.as_str());
                Ok(self.sessions.start(user_id, name.as_str().to_owned(), display.as_str().to_owned()).await?)
            }
            // The last use went to someone else meanwhile (or the invite
            // was revoked or expired between the check and now).
            InvitedSignup::Refused(invite) => {
                let refusal = invite
                    .map_or(Err(InviteRefusal::Unknown), |invite| invites::usable(&invite, now))
                    .err()
                    .unwrap_or(InviteRefusal::UsedUp);
                Err(AccessError::Invite(refusal))
            }
        }
    }
}
