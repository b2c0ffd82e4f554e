//! Passkeys (WebAuthn): a member registers one from the account's security
//! page and then logs in with it alone, no name and no password (a
//! discoverable credential: the authenticator says whose it is).
//!
//! `webauthn-rs` does the protocol: challenges, the checks of what the
//! authenticator signed, the relying party (the host of `public_origin`;
//! unset, `localhost` on any port). This module keeps each ceremony's state
//! in the store between its two requests (bounded: it expires after
//! [`CEREMONY_SECS`], at most [`MAX_CEREMONIES`] at once, and only the one
//! request that finishes it can take it), the passkeys and their owners,
//! and the audit lines. It does not check passwords (removing a passkey
//! asks for one through `Logins`) and touches no HTTP or SQL.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use thiserror::Error;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use super::{AuditAction, SessionUser, Sessions};
use crate::clock::Clock;
use crate::moderation::Moderation;
use crate::store::{AuditEntry, PasskeyRow, Store, StoreError};

/// How long a ceremony may take between its two requests (seconds).
pub const CEREMONY_SECS: i64 = 5 * 60;
/// Ceremonies in progress at once, across every account and visitor.
pub const MAX_CEREMONIES: i64 = 10_000;
/// Passkeys one account may have.
pub const MAX_PASSKEYS: usize = 20;
/// Longest name of a passkey, in characters.
const MAX_NAME_CHARS: usize = 64;

const REGISTER: &str = "register";
const LOGIN: &str = "login";

#[derive(Debug, Error)]
pub enum PasskeyError {
    #[error("log in first")]
    NotLoggedIn,
    #[error("public_origin must be an http(s) URL with a host name, such as https://chat.example.com")]
    BadOrigin,
    #[error("that passkey request is unknown or over: start again")]
    NoCeremony,
    #[error("too many passkey requests are in progress: try again in a few minutes")]
    Busy,
    #[error("an account has at most {MAX_PASSKEYS} passkeys: remove one first")]
    TooMany,
    #[error("a passkey's name is 1 to {MAX_NAME_CHARS} characters, without control characters")]
    BadName,
    #[error("that passkey is registered already")]
    Duplicate,
    #[error("the passkey's answer could not be verified")]
    Rejected,
    #[error("that passkey is not registered here")]
    Unknown,
    #[error("there is no such passkey")]
    NoSuchPasskey,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One of an account's passkeys, as the page lists it.
pub type PasskeyInfo = PasskeyRow;

/// Passkey registration and login.
#[derive(Clone)]
pub struct Passkeys {
    webauthn: Arc<Webauthn>,
    store: Store,
    clock: Clock,
    sessions: Sessions,
    moderation: Moderation,
}

/// The relying party of `public_origin`: its host and origin, and whether
/// any port goes (only when unset: `http://localhost`, for development and
/// tests on ephemeral ports).
fn relying_party(public_origin: Option<&str>) -> Result<(String, Url, bool), PasskeyError> {
    let Some(origin) = public_origin else {
        return Ok(("localhost".to_owned(), Url::parse("http://localhost").expect("a valid URL"), true));
    };
    let url = Url::parse(origin).map_err(|_| PasskeyError::BadOrigin)?;
    let host = url.host_str().filter(|_| matches!(url.scheme(), "http" | "https")).ok_or(PasskeyError::BadOrigin)?;
    Ok((host.to_owned(), url.clone(), false))
}

impl Passkeys {
    pub fn new(
        public_origin: Option<&str>,
        store: Store,
        clock: Clock,
        sessions: Sessions,
        moderation: Moderation,
    ) -> Result<Self, PasskeyError> {
        let (rp_id, origin, any_port) = relying_party(public_origin)?;
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .map_err(|_| PasskeyError::BadOrigin)?
            .rp_name("chat")
            .allow_any_port(any_port)
            .build()
            .map_err(|_| PasskeyError::BadOrigin)?;
        Ok(Self { webauthn: Arc::new(webauthn), store, clock, sessions, moderation })
    }

    pub async fn list(&self, user_id: i64) -> Result<Vec<PasskeyInfo>, StoreError> {
        self.store.passkeys_of(user_id).await
    }

    async fn keep(&self, user_id: Option<i64>, kind: &str, state: String) -> Result<String, PasskeyError> {
        let id = super::new_session_id();
        let expires = self.clock.now_ms() + CEREMONY_SECS * 1000;
        match self.store.start_ceremony(&id, user_id, kind, &state, expires, MAX_CEREMONIES).await? {
            true => Ok(id),
            false => Err(PasskeyError::Busy),
        }
    }

    /// Starts registering a passkey for `user`: the ceremony's id and the
    /// options for `navigator.credentials.create`.
    pub async fn start_registration(
        &self,
        user: &SessionUser,
    ) -> Result<(String, CreationChallengeResponse), PasskeyError> {
        let existing = self.list(user.user_id).await?;
        if existing.len() >= MAX_PASSKEYS {
            return Err(PasskeyError::TooMany);
        }
        let handle = self.store.passkey_handle(user.user_id, &Uuid::new_v4().to_string()).await?;
        let handle = Uuid::parse_str(&handle).map_err(|_| PasskeyError::Rejected)?;
        let exclude = existing.iter().filter_map(|p| URL_SAFE_NO_PAD.decode(&p.id).ok()).collect();
        let (mut options, state) = self
            .webauthn
            .start_passkey_registration(handle, &user.name, &user.name, Some(exclude))
            .map_err(|_| PasskeyError::Rejected)?;
        // A discoverable credential, so that logging in needs no name: the
        // authenticator tells whose passkey it is.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Required);
            selection.require_resident_key = true;
        }
        let state = serde_json::to_string(&state).map_err(|_| PasskeyError::Rejected)?;
        Ok((self.keep(Some(user.user_id), REGISTER, state).await?, options))
    }

    /// Finishes a registration that `user` started: checks the
    /// authenticator's answer and stores the passkey under `name`.
    pub async fn finish_registration(
        &self,
        user: &SessionUser,
        ceremony: &str,
        name: &str,
        answer: &RegisterPublicKeyCredential,
    ) -> Result<PasskeyInfo, PasskeyError> {
        let name = passkey_name(name)?;
        let (owner, state) = self.store.take_ceremony(ceremony, REGISTER).await?.ok_or(PasskeyError::NoCeremony)?;
        if owner != Some(user.user_id) {
            return Err(PasskeyError::NoCeremony);
        }
        let state: PasskeyRegistration = serde_json::from_str(&state).map_err(|_| PasskeyError::NoCeremony)?;
        let passkey = self.webauthn.finish_passkey_registration(answer, &state).map_err(|e| {
            tracing::info!("a passkey registration of {:?} was refused: {e}", user.name);
            PasskeyError::Rejected
        })?;
        if self.list(user.user_id).await?.len() >= MAX_PASSKEYS {
            return Err(PasskeyError::TooMany);
        }
        let id = URL_SAFE_NO_PAD.encode(passkey.cred_id());
        let record = serde_json::to_string(&passkey).map_err(|_| PasskeyError::Rejected)?;
        let now = self.clock.now_ms();
        if !self.store.add_passkey(&id, user.user_id, &name, &record, now).await? {
            return Err(PasskeyError::Duplicate);
        }
        self.audit(user, AuditAction::PasskeyAdd, &name).await?;
        tracing::info!("a passkey was added to {:?}", user.name);
        Ok(PasskeyInfo { id, name, created_ms: now, used_ms: None })
    }

    /// Starts a login with a passkey: the ceremony's id and the options for
    /// `navigator.credentials.get` (no credentials listed: the
    /// authenticator offers the ones it holds for this site).
    pub async fn start_login(&self) -> Result<(String, RequestChallengeResponse), PasskeyError> {
        let (options, state) = self.webauthn.start_discoverable_authentication().map_err(|_| PasskeyError::Rejected)?;
        let state = serde_json::to_string(&state).map_err(|_| PasskeyError::Rejected)?;
        Ok((self.keep(None, LOGIN, state).await?, options))
    }

    /// Finishes a login: the passkey's owner gets a new session, unless the
    /// answer does not verify, the passkey is not ours, or the account is
    /// banned (refused like an unknown passkey).
    pub async fn finish_login(
        &self,
        ceremony: &str,
        answer: &PublicKeyCredential,
    ) -> Result<SessionUser, PasskeyError> {
        let (_, state) = self.store.take_ceremony(ceremony, LOGIN).await?.ok_or(PasskeyError::NoCeremony)?;
        let state: DiscoverableAuthentication = serde_json::from_str(&state).map_err(|_| PasskeyError::NoCeremony)?;
        let (handle, credential_id) =
            self.webauthn.identify_discoverable_authentication(answer).map_err(|_| PasskeyError::Rejected)?;
        let id = URL_SAFE_NO_PAD.encode(credential_id);
        let owner = self.store.passkey_owner(&id).await?.ok_or(PasskeyError::Unknown)?;
        if owner.handle != handle.to_string() {
            return Err(PasskeyError::Unknown);
        }
        let mut passkey: Passkey = serde_json::from_str(&owner.credential).map_err(|_| PasskeyError::Unknown)?;
        let result = self.webauthn.finish_discoverable_authentication_v2(answer, state, &passkey).map_err(|e| {
            tracing::info!("a passkey login as {:?} was refused: {e}", owner.user_name);
            PasskeyError::Rejected
        })?;
        if self.moderation.login_refused(&owner.user_name).await.unwrap_or(true) {
            tracing::info!("passkey login refused (banned): {:?}", owner.user_name);
            return Err(PasskeyError::Unknown);
        }
        passkey.update_credential(&result);
        let record = serde_json::to_string(&passkey).map_err(|_| PasskeyError::Rejected)?;
        self.store.passkey_used(&id, &record, self.clock.now_ms()).await?;
        tracing::info!("login with a passkey succeeded: {:?}", owner.user_name);
        Ok(self.sessions.start_for(owner.user_id, owner.user_name).await?)
    }

    /// Removes one of `user`'s passkeys (the caller has checked the
    /// password again).
    pub async fn remove(&self, user: &SessionUser, id: &str) -> Result<(), PasskeyError> {
        let name = self.store.delete_passkey(user.user_id, id).await?.ok_or(PasskeyError::NoSuchPasskey)?;
        self.audit(user, AuditAction::PasskeyRemove, &name).await?;
        tracing::info!("a passkey was removed from {:?}", user.name);
        Ok(())
    }

    async fn audit(&self, user: &SessionUser, action: AuditAction, name: &str) -> Result<(), StoreError> {
        let entry = AuditEntry {
            at_ms: self.clock.now_ms(),
            actor: user.name.clone(),
            action,
            target: user.name.clone(),
            room: None,
            detail: Some(name.to_owned()),
        };
        self.store.audit(&entry).await
    }
}

/// A passkey's name as given: trimmed, 1 to 64 characters, no control
/// characters.
fn passkey_name(name: &str) -> Result<String, PasskeyError> {
    let name = name.trim();
    let valid = (1..=MAX_NAME_CHARS).contains(&name.chars().count()) && !name.chars().any(char::is_control);
    valid.then(|| name.to_owned()).ok_or(PasskeyError::BadName)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_public_host_or_localhost_on_any_port() {
        let (id, origin, any_port) = relying_party(None).unwrap();
        assert_eq!((id.as_str(), origin.as_str(), any_port), ("localhost", "http://localhost/", true));
        let (id, origin, any_port) = relying_party(Some("https://chat.example.com")).unwrap();
        assert_eq!((id.as_str(), origin.as_str(), any_port), ("chat.example.com", "https://chat.example.com/", false));
        for bad in ["chat.example.com", "ftp://chat.example.com", "not a url", ""] {
            assert!(matches!(relying_party(Some(bad)), Err(PasskeyError::BadOrigin)), "{bad}");
        }
    }

    #[test]
    fn a_passkey_name_is_bounded_and_plain() {
        assert_eq!(passkey_name("  My phone ").unwrap(), "My phone");
        assert_eq!(passkey_name(&"é".repeat(64)).unwrap().chars().count(), 64);
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(65)] {
            assert!(matches!(passkey_name(bad), Err(PasskeyError::BadName)), "{bad:?}");
        }
    }
}
