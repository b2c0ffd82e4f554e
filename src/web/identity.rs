//! The cookies that carry identity, and the `Visitor` request guard.
//!
//! Both cookies are Rocket *private* cookies (encrypted and authenticated
//! with the secret key): `session` holds only a random session id naming a
//! row in the sessions table, `guest` holds the browser's guest name. A
//! cookie that fails to decrypt, or names no live session, counts as absent,
//! never as an error.

use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::time::Duration;

use crate::auth::{GuestName, Visitor};
use crate::messages::Chat;
use crate::store::StoreError;

pub const SESSION_COOKIE: &str = "session";
pub const GUEST_COOKIE: &str = "guest";

/// How long a browser keeps the session cookie.
const SESSION_COOKIE_AGE: Duration = Duration::days(30);
/// How long a browser keeps its guest name.
const GUEST_COOKIE_AGE: Duration = Duration::days(365);

fn private_cookie(name: &'static str, value: String, max_age: Duration) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(max_age)
        .expires(rocket::time::OffsetDateTime::now_utc() + max_age)
        .build()
}

/// Starts a logged-in session in this browser.
pub fn set_session(cookies: &CookieJar<'_>, session_id: String) {
    cookies.add_private(private_cookie(SESSION_COOKIE, session_id, SESSION_COOKIE_AGE));
}

/// The session id this browser presents, if its cookie decrypts.
pub fn session_id(cookies: &CookieJar<'_>) -> Option<String> {
    cookies.get_private(SESSION_COOKIE).map(|c| c.value().to_owned())
}

pub fn clear_session(cookies: &CookieJar<'_>) {
    cookies.remove_private(Cookie::build(SESSION_COOKIE).path("/").build());
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visitor {
    type Error = ();

    /// Resolves once per request (cached), so several guards can ask.
    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let resolved = request.local_cache_async(resolve(request)).await;
        match resolved {
            Ok(visitor) => Outcome::Success(visitor.clone()),
            Err(e) => {
                log::error!("resolving the visitor failed: {e}");
                Outcome::Error((Status::ServiceUnavailable, ()))
            }
        }
    }
}

async fn resolve(request: &Request<'_>) -> Result<Visitor, StoreError> {
    let cookies = request.cookies();
    let chat = request.rocket().state::<Chat>().expect("Chat is managed");
    if let Some(session_id) = session_id(cookies) {
        match chat.store().session_user(&session_id).await? {
            Some((id, name)) => {
                chat.store().touch_session(&session_id).await?;
                return Ok(Visitor::User { id, name, session_id });
            }
            // Revoked or unknown: forget it, fall back to the guest name.
            None => clear_session(cookies),
        }
    }
    if let Some(name) = cookies.get_private(GUEST_COOKIE).and_then(|c| GuestName::parse(c.value())) {
        return Ok(Visitor::Guest { name });
    }
    let name = GuestName::generate();
    cookies.add_private(private_cookie(GUEST_COOKIE, name.as_str().to_owned(), GUEST_COOKIE_AGE));
    Ok(Visitor::Guest { name })
}
