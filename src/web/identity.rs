//! The cookies that carry identity, and the request guards that read them.
//!
//! These cookies are Rocket *private* cookies (encrypted and authenticated
//! with the secret key): `session` holds only a random session id naming a
//! row in the sessions table, `guest` holds the browser's guest name, and
//! `device` names the user this browser last logged in as, with a random
//! device id (`auth::DeviceCookie`: it spares the owner the name's login
//! lockout). Logging out removes only the session cookie by name, but its
//! `Clear-Site-Data: "cache", "cookies", "storage"` makes browsers that honour it drop the
//! device cookie too. A cookie that fails to decrypt counts as absent,
//! never as an error. [`Visitor`] is for pages and posts (activity, and a
//! guest name is made if missing); `live::Viewer` is for streams (no
//! activity, no new cookie, and a dead session is reported so the stream
//! can answer 401). A request with `Authorization: Bearer` is a bot's and
//! is judged by its token alone (`web::bearer`), before any cookie.

use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::time::{Duration, OffsetDateTime};

use super::bearer::{self, Bearer};
use crate::auth::{Activity, DeviceCookie, GuestName, SessionUser, Sessions, Visitor};
use crate::config::Settings;
use crate::i18n::Preferences;
use crate::live::Viewer;
use crate::store::StoreError;

pub const SESSION_COOKIE: &str = "session";
pub const GUEST_COOKIE: &str = "guest";
pub const DEVICE_COOKIE: &str = "device";

/// How long a browser keeps the session cookie (the server ends the session
/// itself on its own lifetimes).
const SESSION_COOKIE_AGE: Duration = Duration::days(30);
/// How long a browser keeps its guest name.
const GUEST_COOKIE_AGE: Duration = Duration::days(365);
/// How long a browser stays trusted for the user it last logged in as
/// (each login renews it).
const DEVICE_COOKIE_AGE: Duration = Duration::days(365);

/// The browser's cookies, with whether they must be marked `Secure`.
pub struct Jar<'r> {
    pub cookies: &'r CookieJar<'r>,
    pub secure: bool,
}

impl<'r> Jar<'r> {
    pub fn of(request: &'r Request<'_>) -> Self {
        let secure = request.rocket().state::<Settings>().is_some_and(|s| s.secure_cookies);
        Jar { cookies: request.cookies(), secure }
    }

    /// Adds a private cookie with the flags every identity cookie carries.
    pub fn add_private(&self, name: &'static str, value: String, max_age: Duration) {
        self.cookies.add_private(private_cookie(name, value, max_age, self.secure));
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Jar<'r> {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        Outcome::Success(Jar::of(request))
    }
}

/// A private cookie: HttpOnly, SameSite=Lax, Path=/, and `Secure` when TLS
/// is in front (`secure_cookies`).
pub fn private_cookie(name: &'static str, value: String, max_age: Duration, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(max_age)
        .expires(OffsetDateTime::now_utc() + max_age)
        .build()
}

/// Starts a logged-in session in this browser.
pub fn set_session(jar: &Jar<'_>, session_id: String) {
    jar.add_private(SESSION_COOKIE, session_id, SESSION_COOKIE_AGE);
}

/// The session id this browser presents, if its cookie decrypts.
pub fn session_id(cookies: &CookieJar<'_>) -> Option<String> {
    cookies.get_private(SESSION_COOKIE).map(|c| c.value().to_owned())
}

/// Trusts this browser for the user it has just logged in as, with a new
/// device id (replacing any earlier device cookie).
pub fn set_device(jar: &Jar<'_>, name: &str) {
    jar.add_private(DEVICE_COOKIE, DeviceCookie::issue(name).value(), DEVICE_COOKIE_AGE);
}

/// The device cookie this browser presents, if it decrypts and parses.
pub fn device(cookies: &CookieJar<'_>) -> Option<DeviceCookie> {
    cookies.get_private(DEVICE_COOKIE).and_then(|c| DeviceCookie::parse(c.value()))
}

pub fn clear_session(cookies: &CookieJar<'_>) {
    cookies.remove_private(Cookie::build(SESSION_COOKIE).path("/").build());
}

/// What the session cookie says, once per request.
#[derive(Debug, Clone)]
enum SessionCookie {
    Absent,
    Live(SessionUser),
    /// A cookie that decrypts but names an ended session (logged out,
    /// expired, revoked): a replay.
    Dead,
}

async fn session_cookie(request: &Request<'_>, activity: Activity) -> Result<SessionCookie, StoreError> {
    let Some(id) = session_id(request.cookies()) else {
        return Ok(SessionCookie::Absent);
    };
    let sessions = request.rocket().state::<Sessions>().expect("Sessions is managed");
    Ok(match sessions.authenticate(&id, activity).await? {
        Some(user) => SessionCookie::Live(user),
        None => SessionCookie::Dead,
    })
}

fn guest_name(cookies: &CookieJar<'_>) -> Option<GuestName> {
    cookies.get_private(GUEST_COOKIE).and_then(|c| GuestName::parse(c.value()))
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visitor {
    type Error = ();

    /// Resolves once per request (cached), so several guards can ask. A
    /// bearer token decides alone (`web::bearer`): no cookie is read or made.
    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        match bearer::bearer(request).await {
            Ok(Bearer::Absent) => {}
            Ok(Bearer::Bot(bot)) => return Outcome::Success(Visitor::Bot(bot)),
            Ok(Bearer::Invalid) => return bearer::refusal(false, request),
            Err(()) => return bearer::refusal(true, request),
        }
        let resolved = request.local_cache_async(resolve_visitor(request)).await;
        match resolved {
            Ok(visitor) => {
                if let Visitor::User(user) = visitor {
                    // For the page this request renders (`web::settings`).
                    request.local_cache(|| AccountPreferences(Some(user.preferences.clone())));
                }
                Outcome::Success(visitor.clone())
            }
            Err(e) => {
                tracing::error!("resolving the visitor failed: {e}");
                Outcome::Error((Status::ServiceUnavailable, ()))
            }
        }
    }
}

async fn resolve_visitor(request: &Request<'_>) -> Result<Visitor, StoreError> {
    let cookies = request.cookies();
    match session_cookie(request, Activity::Active).await? {
        SessionCookie::Live(user) => return Ok(Visitor::User(user)),
        // Forget it and fall back to the guest name.
        SessionCookie::Dead => clear_session(cookies),
        SessionCookie::Absent => {}
    }
    if let Some(name) = guest_name(cookies) {
        return Ok(Visitor::Guest { name });
    }
    Ok(Visitor::Guest { name: give_guest_name(&Jar::of(request)) })
}

/// The settings of the account a request's [`Visitor`] guard found, kept in
/// the request's local cache for the page it renders.
#[derive(Default)]
pub struct AccountPreferences(pub Option<Preferences>);

/// Names a browser that has no guest name yet, for a year.
pub fn give_guest_name(jar: &Jar<'_>) -> GuestName {
    let name = GuestName::generate();
    jar.add_private(GUEST_COOKIE, name.as_str().to_owned(), GUEST_COOKIE_AGE);
    name
}

/// Who opens a stream ([`Viewer`]): opening one is not activity and
/// makes no cookie; a replayed cookie of an ended session is
/// [`Viewer::Ended`].
#[rocket::async_trait]
impl<'r> FromRequest<'r> for Viewer {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        match bearer::bearer(request).await {
            Ok(Bearer::Absent) => {}
            Ok(Bearer::Bot(bot)) => return Outcome::Success(Viewer::Bot(bot)),
            Ok(Bearer::Invalid) => return bearer::refusal(false, request),
            Err(()) => return bearer::refusal(true, request),
        }
        match session_cookie(request, Activity::Passive).await {
            Ok(SessionCookie::Live(user)) => Outcome::Success(Viewer::Member(user)),
            Ok(SessionCookie::Dead) => Outcome::Success(Viewer::Ended),
            Ok(SessionCookie::Absent) => Outcome::Success(Viewer::Guest(guest_name(request.cookies()))),
            Err(e) => {
                tracing::error!("resolving a stream's viewer failed: {e}");
                Outcome::Error((Status::ServiceUnavailable, ()))
            }
        }
    }
}
