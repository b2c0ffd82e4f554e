//! Register, log in, log out, "who am I", and the account page (change
//! password, log out everywhere, delete the account).

use std::net::IpAddr;

use super::pages::Template;
use rocket::http::{Header, Status};
use rocket::response::Redirect;
use rocket::serde::json::{Json, Value, json};
use rocket::{Responder, State, get, post};

use super::csrf::{self, CsrfForm, CsrfProtected, CsrfToken};
use super::identity::{self, Jar};
use crate::access::{Access, AccessError, RegistrationMode};
use crate::auth::{AccountError, Accounts, FirstStep, LoginError, Logins, SessionUser, Visitor};
use crate::limits::RetryAfter;

/// Every answer of these routes: a page with its status, a redirect, a
/// throttled page, or a redirect that also clears the browser's cookies.
#[derive(Responder)]
pub enum Answer {
    Page((Status, Template)),
    Redirect(Redirect),
    #[response(status = 429)]
    Throttled(Template, Header<'static>),
    Leave(Redirect, Header<'static>),
    /// A bot's token on a page that needs a person.
    NotForBots(super::error::ApiError),
}

/// Leaving (log out, log out everywhere, deleting the account) clears what
/// this browser holds for the site: the cookies, the HTTP cache (files and
/// pictures of rooms it could read), and the storage, which holds what the
/// installed app keeps for offline use (the service worker, its cached room
/// pages, the message snapshots): a members-only room must not stay
/// readable offline after its reader left. `static/offline.js` also drops
/// the pages and snapshots itself, for browsers that ignore this header.
fn clear_site_data() -> Header<'static> {
    Header::new("Clear-Site-Data", "\"cache\", \"cookies\", \"storage\"")
}

#[derive(rocket::FromForm)]
pub struct Credentials {
    #[field(default = String::new())]
    username: String,
    #[field(default = String::new())]
    password: String,
    /// Registration only: the display name (blank: the handle).
    display: Option<String>,
    next: Option<String>,
    #[field(default = String::new())]
    csrf: String,
    /// The invite code a registration form carries (`/join/<code>`).
    invite: Option<String>,
}

impl CsrfProtected for Credentials {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A form with nothing but its token (log out, log out everywhere).
#[derive(rocket::FromForm)]
pub struct TokenOnly {
    #[field(default = String::new())]
    csrf: String,
}

impl CsrfProtected for TokenOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn form_page(
    kind: &str,
    status: Status,
    error: Option<String>,
    username: &str,
    next: Option<&str>,
    csrf: &str,
) -> Answer {
    let context =
        json!({ "kind": kind, "error": error, "username": username, "next": next.and_then(safe_next), "csrf": csrf });
    Answer::Page((status, Template::render("account", context)))
}

/// The registration form, carrying an invite code when there is one.
pub(super) fn register_form(
    status: Status,
    error: Option<String>,
    username: &str,
    invite: Option<&str>,
    csrf: &str,
) -> Answer {
    let context = json!({ "kind": "register", "error": error, "username": username, "invite": invite, "csrf": csrf });
    Answer::Page((status, Template::render("account", context)))
}

/// `next` is honoured only as a path on this site: `/...` but not `//host`
/// or `/\host` (which browsers treat as another host), so a login link can
/// never redirect someone elsewhere.
pub fn safe_next(next: &str) -> Option<&str> {
    let same_site = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && rocket::http::uri::Reference::parse(next).is_ok();
    same_site.then_some(next)
}

/// The registration form; in `invite` or `closed` mode it says so first.
#[get("/register")]
pub async fn register_page(csrf: CsrfToken, access: &State<Access>) -> Answer {
    let note = match access.mode().await {
        Ok(RegistrationMode::Open) => None,
        Ok(RegistrationMode::Invite) => Some(AccessError::InviteRequired.to_string()),
        Ok(RegistrationMode::Closed) => Some(AccessError::Closed.to_string()),
        Err(error) => return super::join::refused_registration(error, "", None, &csrf.0),
    };
    register_form(Status::Ok, note, "", None, &csrf.0)
}

#[post("/register", data = "<form>")]
pub async fn register(
    jar: Jar<'_>,
    client_ip: Option<IpAddr>,
    form: CsrfForm<Credentials>,
    access: &State<Access>,
) -> Answer {
    let invite = form.invite.as_deref().filter(|code| !code.is_empty());
    match access.register(&form.username, &form.password, form.display.as_deref(), invite, client_ip).await {
        Ok(session) => logged_in(&jar, session, "/"),
        Err(AccessError::Login(LoginError::Account(error))) if invite.is_none() => {
            account_error_page("register", error, &form, &form.csrf)
        }
        Err(AccessError::Login(error @ (LoginError::Throttled(wait) | LoginError::TooManyRegistrations(wait)))) => {
            throttled("register", error, wait, None, &form.csrf)
        }
        Err(refused) => super::join::refused_registration(refused, &form.username, invite, &form.csrf),
    }
}

/// A new session in this browser, with a new CSRF token (a privilege
/// change), and a new device cookie: this browser has proved it is the
/// user's.
pub(super) fn logged_in(jar: &Jar<'_>, session: SessionUser, next: &str) -> Answer {
    identity::set_device(jar, &session.name);
    identity::set_session(jar, session.session_id);
    csrf::issue(jar);
    Answer::Redirect(Redirect::to(next.to_owned()))
}

#[get("/login?<next>")]
pub fn login_page(next: Option<&str>, csrf: CsrfToken) -> Answer {
    form_page("login", Status::Ok, None, "", next, &csrf.0)
}

#[post("/login", data = "<form>")]
pub async fn login(
    jar: Jar<'_>,
    client_ip: Option<IpAddr>,
    form: CsrfForm<Credentials>,
    logins: &State<Logins>,
) -> Answer {
    let device = identity::device(jar.cookies);
    match logins.login(&form.username, &form.password, client_ip, device.as_ref()).await {
        Ok(FirstStep::LoggedIn(session)) => {
            let next = form.next.as_deref().and_then(safe_next).unwrap_or("/").to_owned();
            logged_in(&jar, session, &next)
        }
        Ok(FirstStep::CodeNeeded(pending)) => {
            super::second_factor::code_needed(&jar, pending, form.next.as_deref(), &form.csrf)
        }
        Err(LoginError::Account(error)) => account_error_page("login", error, &form, &form.csrf),
        Err(error @ (LoginError::Throttled(wait) | LoginError::TooManyRegistrations(wait))) => {
            throttled("login", error, wait, form.next.as_deref(), &form.csrf)
        }
    }
}

/// The form again, 429 with the reason and `Retry-After`.
fn throttled(kind: &str, error: LoginError, wait: RetryAfter, next: Option<&str>, csrf: &str) -> Answer {
    let context = json!({
        "kind": kind, "error": error.to_string(), "username": "", "next": next.and_then(safe_next), "csrf": csrf
    });
    Answer::Throttled(Template::render("account", context), Header::new("Retry-After", wait.secs().to_string()))
}

fn account_error_page(kind: &str, error: AccountError, form: &Credentials, csrf: &str) -> Answer {
    let status = match &error {
        AccountError::Invalid(_) => Status::UnprocessableEntity,
        AccountError::NameTaken => Status::Conflict,
        AccountError::WrongCredentials | AccountError::WrongCurrentPassword => Status::Unauthorized,
        AccountError::Store(_) | AccountError::Password(_) => {
            tracing::error!("{kind} failed: {error}");
            let reason = "the server could not answer; try again shortly".to_owned();
            return form_page(
                kind,
                Status::ServiceUnavailable,
                Some(reason),
                &form.username,
                form.next.as_deref(),
                csrf,
            );
        }
    };
    // A failed login shows no name at all, so the body is byte-identical for
    // unknown names and wrong passwords.
    let username = if status == Status::Unauthorized { "" } else { form.username.as_str() };
    form_page(kind, status, Some(error.to_string()), username, form.next.as_deref(), csrf)
}

#[post("/logout", data = "<_form>")]
pub async fn logout(jar: Jar<'_>, _form: CsrfForm<TokenOnly>, accounts: &State<Accounts>) -> Result<Answer, Status> {
    if let Some(session_id) = identity::session_id(jar.cookies) {
        accounts.logout(&session_id).await.map_err(unavailable)?;
    }
    identity::clear_session(jar.cookies);
    Ok(Answer::Leave(Redirect::to("/"), clear_site_data()))
}

fn unavailable(error: AccountError) -> Status {
    tracing::error!("an account action failed: {error}");
    Status::ServiceUnavailable
}

#[get("/api/me")]
pub fn me(visitor: Visitor) -> Json<Value> {
    Json(json!({ "user": visitor.name(), "display": visitor.display(), "guest": visitor.is_guest() }))
}

// ---- the account page ---------------------------------------------------

pub(super) fn account_page(
    user: &SessionUser,
    status: Status,
    notice: Option<&str>,
    error: Option<String>,
    csrf: &str,
) -> Answer {
    let me = json!({ "name": &user.name, "display": &user.display, "guest": false });
    let context = json!({ "me": me, "notice": notice, "error": error, "csrf": csrf });
    Answer::Page((status, Template::render("settings", context)))
}

/// The account page is for members; guests are sent to log in first.
pub(super) fn member(visitor: Visitor) -> Result<SessionUser, Box<Answer>> {
    match visitor {
        Visitor::User(user) => Ok(user),
        Visitor::Guest { .. } => Err(Box::new(Answer::Redirect(Redirect::to("/login?next=/account")))),
        Visitor::Bot(_) => Err(Box::new(Answer::NotForBots(super::error::ApiError::NotForBots))),
    }
}

#[get("/account?<done>")]
pub fn account(visitor: Visitor, done: Option<&str>, csrf: CsrfToken) -> Answer {
    let user = match member(visitor) {
        Ok(user) => user,
        Err(to_login) => return *to_login,
    };
    let notice = match done {
        Some("password") => Some("Your password is changed; other sessions were logged out."),
        Some(done) => super::profiles::notice(done),
        None => None,
    };
    account_page(&user, Status::Ok, notice, None, &csrf.0)
}

/// The answer to an account action that asked for the password again.
fn password_refused(user: &SessionUser, error: LoginError, csrf: &str) -> Result<Answer, Status> {
    let (status, reason) = match error {
        LoginError::Throttled(wait) | LoginError::TooManyRegistrations(wait) => (
            Status::TooManyRequests,
            format!("too many wrong passwords: try again in {} minutes", wait.secs().div_ceil(60)),
        ),
        LoginError::Account(error @ AccountError::Invalid(_)) => (Status::UnprocessableEntity, error.to_string()),
        LoginError::Account(error @ AccountError::WrongCurrentPassword) => (Status::Unauthorized, error.to_string()),
        LoginError::Account(error) => return Err(unavailable(error)),
    };
    Ok(account_page(user, status, None, Some(reason), csrf))
}

#[derive(rocket::FromForm)]
pub struct PasswordChange {
    #[field(default = String::new())]
    current: String,
    #[field(default = String::new())]
    new: String,
    #[field(default = String::new())]
    csrf: String,
}

impl CsrfProtected for PasswordChange {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/account/password", data = "<form>")]
pub async fn change_password(
    jar: Jar<'_>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    form: CsrfForm<PasswordChange>,
    logins: &State<Logins>,
) -> Result<Answer, Status> {
    let user = match member(visitor) {
        Ok(user) => user,
        Err(to_login) => return Ok(*to_login),
    };
    let device = identity::device(jar.cookies);
    match logins.change_password(&user, &form.current, &form.new, client_ip, device.as_ref()).await {
        Ok(session) => Ok(logged_in(&jar, session, "/account?done=password")),
        Err(error) => password_refused(&user, error, &form.csrf),
    }
}

#[post("/account/logout-everywhere", data = "<_form>")]
pub async fn logout_everywhere(
    jar: Jar<'_>,
    visitor: Visitor,
    _form: CsrfForm<TokenOnly>,
    accounts: &State<Accounts>,
) -> Result<Answer, Status> {
    let user = match member(visitor) {
        Ok(user) => user,
        Err(to_login) => return Ok(*to_login),
    };
    accounts.logout_everywhere(&user).await.map_err(unavailable)?;
    identity::clear_session(jar.cookies);
    Ok(Answer::Leave(Redirect::to("/"), clear_site_data()))
}

#[derive(rocket::FromForm)]
pub struct DeleteAccount {
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    csrf: String,
}

impl CsrfProtected for DeleteAccount {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/account/delete", data = "<form>")]
pub async fn delete_account(
    jar: Jar<'_>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    form: CsrfForm<DeleteAccount>,
    logins: &State<Logins>,
) -> Result<Answer, Status> {
    let user = match member(visitor) {
        Ok(user) => user,
        Err(to_login) => return Ok(*to_login),
    };
    let device = identity::device(jar.cookies);
    match logins.delete_account(&user, &form.password, client_ip, device.as_ref()).await {
        Ok(()) => {
            identity::clear_session(jar.cookies);
            Ok(Answer::Leave(Redirect::to("/"), clear_site_data()))
        }
        Err(error) => password_refused(&user, error, &form.csrf),
    }
}
