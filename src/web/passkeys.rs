//! Passkeys over HTTP: registering one from the security page and logging
//! in with one, each a ceremony of two JSON requests (start: the options
//! for the browser's WebAuthn call; finish: its answer), and removing one
//! with the password (a form). The page's script is `static/passkeys.js`.
//!
//! The JSON routes need `Content-Type: application/json`, which another
//! site cannot send without a preflight we never grant (so no CSRF token);
//! the ceremony's state stays on the server (`auth::Passkeys`). Starting
//! one draws on the post-rate buckets.

use std::net::IpAddr;

use rocket::http::Status;
use rocket::serde::json::{Json, Value, json};
use rocket::{State, post};
use serde::Deserialize;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::account::{Answer, safe_next};
use super::csrf::{self, CsrfForm, CsrfProtected};
use super::error::{ApiError, passkey_status};
use super::identity::{self, Jar};
use super::second_factor::{Factors, Shown, member_with_password, security_page};
use crate::auth::{Logins, PasskeyError, Passkeys, SessionUser, Visitor};
use crate::limits::Limits;

fn logged_in(visitor: Visitor) -> Result<SessionUser, ApiError> {
    match visitor {
        Visitor::User(user) => Ok(user),
        Visitor::Guest { .. } | Visitor::Bot(_) => Err(PasskeyError::NotLoggedIn.into()),
    }
}

/// Starting a ceremony draws on the post-rate buckets (per visitor and per
/// address), so one client cannot fill the ceremonies' cap for everyone.
fn rate_limited(limits: &Limits, visitor: &Visitor, ip: Option<IpAddr>) -> Result<(), ApiError> {
    limits.posts.check(visitor, ip).map_err(ApiError::RateLimited)
}

#[post("/account/passkeys/start", format = "json", data = "<_body>")]
pub async fn start_registration(
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    _body: Json<Value>,
    limits: &State<Limits>,
    passkeys: &State<Passkeys>,
) -> Result<Json<Value>, ApiError> {
    rate_limited(limits, &visitor, client_ip)?;
    let user = logged_in(visitor)?;
    let (ceremony, options) = passkeys.start_registration(&user).await?;
    Ok(Json(json!({ "ceremony": ceremony, "options": options })))
}

#[derive(Deserialize)]
pub struct Registration {
    ceremony: String,
    #[serde(default)]
    name: String,
    credential: RegisterPublicKeyCredential,
}

#[post("/account/passkeys/finish", format = "json", data = "<body>")]
pub async fn finish_registration(
    visitor: Visitor,
    body: Json<Registration>,
    passkeys: &State<Passkeys>,
) -> Result<(Status, Json<Value>), ApiError> {
    let user = logged_in(visitor)?;
    let added = passkeys.finish_registration(&user, &body.ceremony, &body.name, &body.credential).await?;
    Ok((Status::Created, Json(json!({ "id": added.id, "name": added.name }))))
}

#[post("/login/passkey/start", format = "json", data = "<_body>")]
pub async fn start_login(
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    _body: Json<Value>,
    limits: &State<Limits>,
    passkeys: &State<Passkeys>,
) -> Result<Json<Value>, ApiError> {
    rate_limited(limits, &visitor, client_ip)?;
    let (ceremony, options) = passkeys.start_login().await?;
    Ok(Json(json!({ "ceremony": ceremony, "options": options })))
}

#[derive(Deserialize)]
pub struct Assertion {
    ceremony: String,
    credential: PublicKeyCredential,
    next: Option<String>,
}

/// A passkey is a whole login (something held, unlocked on the device):
/// no password and no TOTP code after it.
#[post("/login/passkey/finish", format = "json", data = "<body>")]
pub async fn finish_login(
    jar: Jar<'_>,
    client_ip: Option<IpAddr>,
    body: Json<Assertion>,
    passkeys: &State<Passkeys>,
) -> Result<Json<Value>, ApiError> {
    let session = passkeys.finish_login(&body.ceremony, &body.credential).await.inspect_err(|e| {
        let from = client_ip.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string());
        tracing::info!("passkey login refused from {from}: {e}");
    })?;
    let name = session.name.clone();
    identity::set_device(&jar, &session.name);
    identity::set_session(&jar, session.session_id);
    csrf::issue(&jar);
    let next = body.next.as_deref().and_then(safe_next).unwrap_or("/");
    Ok(Json(json!({ "user": name, "next": next })))
}

#[derive(rocket::FromForm)]
pub struct Removal {
    #[field(default = String::new())]
    id: String,
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    csrf: String,
}

impl CsrfProtected for Removal {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/account/passkeys/remove", data = "<form>")]
pub async fn remove(
    jar: Jar<'_>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    form: CsrfForm<Removal>,
    logins: &State<Logins>,
    factors: Factors<'_>,
) -> Answer {
    let user = match member_with_password(&jar, visitor, client_ip, &form.password, &form.csrf, logins, &factors).await
    {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let (status, shown) = match factors.passkeys.remove(&user, &form.id).await {
        Ok(()) => (Status::Ok, Shown { notice: Some("The passkey is removed."), ..Shown::default() }),
        Err(error) => {
            if let PasskeyError::Store(cause) = &error {
                tracing::error!("removing a passkey of {:?} failed: {cause}", user.name);
            }
            (passkey_status(&error), Shown { error: Some(error.to_string()), ..Shown::default() })
        }
    };
    security_page(&user, &factors, status, shown, &form.csrf).await
}
