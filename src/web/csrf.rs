//! CSRF tokens for HTML forms.
//!
//! Each browser has a random token in a private cookie (so a page on another
//! site can neither read nor forge it); every form carries it in a hidden
//! `csrf` field, and a form POST whose field does not match the cookie, in
//! constant time, is refused with 403 before anything changes. The token is
//! replaced on every privilege change (login, logout, password change), and
//! the login and register forms carry one bound to the pre-login browser.
//! JSON posts need no token: they must be `application/json`, which a page
//! on another site cannot send without a CORS preflight we never grant.
//! Uploads are `multipart/form-data`, which any page can send with no
//! preflight, so they carry the token too, in an `X-CSRF-Token` header
//! ([`CsrfHeader`]), checked before any of the body is read.

use rocket::data::{self, Data, FromData};
use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::time::Duration;
use subtle::ConstantTimeEq;

use super::error::RefusalReason;
use super::identity::Jar;

pub const CSRF_COOKIE: &str = "csrf";

/// How long a browser keeps its token (it is replaced at every login).
const CSRF_COOKIE_AGE: Duration = Duration::days(30);

/// This browser's token, created if missing: for pages that render forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CsrfToken {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let token = request.local_cache(|| match request.cookies().get_private(CSRF_COOKIE) {
            Some(cookie) if !cookie.value().is_empty() => cookie.value().to_owned(),
            _ => issue(&Jar::of(request)),
        });
        Outcome::Success(CsrfToken(token.clone()))
    }
}

/// Gives the browser a new token and returns it.
pub fn issue(jar: &Jar<'_>) -> String {
    let token = crate::auth::new_session_id();
    jar.add_private(CSRF_COOKIE, token.clone(), CSRF_COOKIE_AGE);
    token
}

/// A form that carries a `csrf` field.
pub trait CsrfProtected {
    fn csrf(&self) -> &str;
}

/// A form whose `csrf` field matched this browser's token.
pub struct CsrfForm<T>(pub T);

impl<T> std::ops::Deref for CsrfForm<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Why a form's token did not match. With `secure_cookies` on, a browser on
/// plain HTTP never sends the cookies back, and every form would fail with
/// a reason that sends people reloading in circles: when there is no token
/// cookie at all and no proxy says the request came over HTTPS, say so.
fn refusal_reason(request: &Request<'_>) -> &'static str {
    let secure_cookies = request.rocket().state::<crate::Settings>().is_some_and(|s| s.secure_cookies);
    let over_https = request.headers().get_one("X-Forwarded-Proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
    if secure_cookies && !over_https && request.cookies().get(CSRF_COOKIE).is_none() {
        return "this browser sent no cookies back: the server marks them Secure, so they only return over \
                HTTPS. Open the site over HTTPS (or set secure_cookies = false for plain HTTP on a trusted network)";
    }
    "the form has expired or came from another site: reload the page and try again"
}

fn token_matches(request: &Request<'_>, submitted: &str) -> bool {
    let Some(cookie) = request.cookies().get_private(CSRF_COOKIE) else {
        return false;
    };
    let expected = cookie.value().as_bytes();
    !expected.is_empty() && bool::from(expected.ct_eq(submitted.as_bytes()))
}

/// The name of the header a script's POST carries the token in.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// A request whose `X-CSRF-Token` header matched this browser's token;
/// refused with 403 otherwise (the body is never read).
pub struct CsrfHeader;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CsrfHeader {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let submitted = request.headers().get_one(CSRF_HEADER).unwrap_or_default();
        if token_matches(request, submitted) {
            return Outcome::Success(CsrfHeader);
        }
        request.local_cache(|| RefusalReason::new(refusal_reason(request)));
        Outcome::Error((Status::Forbidden, ()))
    }
}

#[rocket::async_trait]
impl<'r, T: FromForm<'r> + CsrfProtected + Send + 'r> FromData<'r> for CsrfForm<T> {
    type Error = Option<rocket::form::Errors<'r>>;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        match Form::<T>::from_data(request, data).await {
            Outcome::Success(form) if token_matches(request, form.csrf()) => {
                Outcome::Success(CsrfForm(form.into_inner()))
            }
            Outcome::Success(_) => {
                request.local_cache(|| RefusalReason::new(refusal_reason(request)));
                Outcome::Error((Status::Forbidden, None))
            }
            Outcome::Error((status, errors)) => Outcome::Error((status, Some(errors))),
            Outcome::Forward(forward) => Outcome::Forward(forward),
        }
    }
}
