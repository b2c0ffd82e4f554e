//! Two-factor authentication over HTTP: the login's code step, and the
//! account's security page (TOTP set-up with its QR code, its recovery
//! codes shown once, turning it off with the password).
//!
//! The half-logged-in state is a short-lived private cookie
//! ([`PENDING_COOKIE`]) naming whose password was right; it never counts as
//! a session. Handlers only read forms and cookies, ask `Logins` and
//! `SecondFactors`, and render the answer; statuses come from
//! `web::error::second_factor_status`.

use std::net::IpAddr;

use rocket::http::{ContentType, Cookie, CookieJar, Header, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::response::Redirect;
use rocket::serde::json::json;
use rocket::time::Duration;
use rocket::{State, get, post};

use super::account::{Answer, TokenOnly, safe_next};
use super::csrf::{self, CsrfForm, CsrfProtected, CsrfToken};
use super::error::second_factor_status;
use super::identity::{self, Jar};
use super::pages::Template;
use crate::auth::Passkeys;
use crate::auth::{
    AccountError, LoginError, Logins, PENDING_LOGIN_SECS, PendingLogin, SecondFactorError, SecondFactors, SessionUser,
    TotpState, Visitor,
};

/// The cookie of a login waiting for its code.
pub const PENDING_COOKIE: &str = "login_pending";

// ---- the login's second step ---------------------------------------------

/// The answer to a right password when the account has a second factor:
/// the pending cookie and the code form; no session.
pub fn code_needed(jar: &Jar<'_>, pending: PendingLogin, next: Option<&str>, csrf: &str) -> Answer {
    jar.add_private(PENDING_COOKIE, pending.value(), Duration::seconds(PENDING_LOGIN_SECS));
    code_page(Status::Ok, None, next, csrf)
}

fn code_page(status: Status, error: Option<String>, next: Option<&str>, csrf: &str) -> Answer {
    let context = json!({ "error": error, "next": next.and_then(safe_next), "csrf": csrf });
    Answer::Page((status, Template::render("login_code", context)))
}

fn pending(cookies: &CookieJar<'_>) -> Option<PendingLogin> {
    cookies.get_private(PENDING_COOKIE).and_then(|c| PendingLogin::parse(c.value()))
}

fn clear_pending(cookies: &CookieJar<'_>) {
    cookies.remove_private(Cookie::build(PENDING_COOKIE).path("/").build());
}

#[get("/login/code?<next>")]
pub fn code_form(jar: Jar<'_>, next: Option<&str>, csrf: CsrfToken) -> Answer {
    match pending(jar.cookies) {
        Some(_) => code_page(Status::Ok, None, next, &csrf.0),
        None => Answer::Redirect(Redirect::to("/login")),
    }
}

#[derive(rocket::FromForm)]
pub struct CodeForm {
    #[field(default = String::new())]
    code: String,
    next: Option<String>,
    #[field(default = String::new())]
    csrf: String,
}

impl CsrfProtected for CodeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/login/code", data = "<form>")]
pub async fn submit_code(
    jar: Jar<'_>,
    client_ip: Option<IpAddr>,
    form: CsrfForm<CodeForm>,
    logins: &State<Logins>,
) -> Answer {
    let next = form.next.as_deref();
    let Some(pending) = pending(jar.cookies) else {
        let error = SecondFactorError::LoginExpired;
        return code_page(second_factor_status(&error), Some(error.to_string()), next, &form.csrf);
    };
    let device = identity::device(jar.cookies);
    match logins.finish_with_code(&pending, &form.code, client_ip, device.as_ref()).await {
        Ok(session) => {
            clear_pending(jar.cookies);
            identity::set_device(&jar, &session.name);
            identity::set_session(&jar, session.session_id);
            csrf::issue(&jar);
            Answer::Redirect(Redirect::to(next.and_then(safe_next).unwrap_or("/").to_owned()))
        }
        Err(error) => {
            if matches!(error, SecondFactorError::LoginExpired) {
                clear_pending(jar.cookies);
            }
            refused_code(error, next, &form.csrf)
        }
    }
}

fn refused_code(error: SecondFactorError, next: Option<&str>, csrf: &str) -> Answer {
    let status = second_factor_status(&error);
    if let SecondFactorError::Store(cause) = &error {
        tracing::error!("a login code could not be checked: {cause}");
        let reason = "the server could not answer; try again shortly".to_owned();
        return code_page(status, Some(reason), next, csrf);
    }
    if let SecondFactorError::Throttled(wait) = &error {
        let context = json!({ "error": error.to_string(), "next": next.and_then(safe_next), "csrf": csrf });
        let retry = Header::new("Retry-After", wait.secs().to_string());
        return Answer::Throttled(Template::render("login_code", context), retry);
    }
    code_page(status, Some(error.to_string()), next, csrf)
}

// ---- the account's security page -----------------------------------------

/// What the security page shows besides the account's state.
#[derive(Default)]
pub(super) struct Shown<'a> {
    pub notice: Option<&'a str>,
    pub error: Option<String>,
    /// Fresh recovery codes, shown this once.
    pub recovery_codes: Vec<String>,
}

/// The services behind the security page.
pub(super) struct Factors<'r> {
    pub second: &'r SecondFactors,
    pub passkeys: &'r Passkeys,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Factors<'r> {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let rocket = request.rocket();
        Outcome::Success(Factors {
            second: rocket.state::<SecondFactors>().expect("SecondFactors is managed"),
            passkeys: rocket.state::<Passkeys>().expect("Passkeys is managed"),
        })
    }
}

pub(super) async fn security_page(
    user: &SessionUser,
    factors: &Factors<'_>,
    status: Status,
    shown: Shown<'_>,
    csrf: &str,
) -> Answer {
    let second_factors = factors.second;
    let state = match second_factors.state(user.user_id).await {
        Ok(state) => state,
        Err(error) => return unavailable_page(user, error, csrf),
    };
    let passkeys = match factors.passkeys.list(user.user_id).await {
        Ok(passkeys) => passkeys,
        Err(error) => return unavailable_page(user, SecondFactorError::Store(error), csrf),
    };
    let passkeys: Vec<_> = passkeys
        .iter()
        .map(|p| {
            let added = crate::rooms::format_at(crate::rooms::from_millis(p.created_ms));
            json!({ "id": p.id, "name": p.name, "added": added })
        })
        .collect();
    let totp = match &state {
        TotpState::Off => json!({ "state": "off" }),
        TotpState::Enrolling(secret) => json!({
            "state": "enrolling",
            "secret": grouped(&secret.base32()),
            "url": second_factors.otpauth_url(secret, user),
        }),
        TotpState::On { recovery_codes_left } => json!({ "state": "on", "codes_left": recovery_codes_left }),
    };
    let context = json!({
        "me": { "name": &user.name, "guest": false },
        "csrf": csrf,
        "notice": shown.notice,
        "error": shown.error,
        "totp": totp,
        "recovery_codes": shown.recovery_codes,
        "passkeys": passkeys,
    });
    Answer::Page((status, Template::render("security", context)))
}

fn unavailable_page(user: &SessionUser, error: SecondFactorError, csrf: &str) -> Answer {
    tracing::error!("the security page of {:?} failed: {error}", user.name);
    let context = json!({
        "me": { "name": &user.name, "guest": false },
        "csrf": csrf,
        "error": "the server could not answer; try again shortly",
        "totp": { "state": "unknown" },
        "recovery_codes": [],
        "passkeys": [],
    });
    Answer::Page((Status::ServiceUnavailable, Template::render("security", context)))
}

/// The base32 secret in groups of four, easier to type.
fn grouped(secret: &str) -> String {
    secret.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// The security page is for members; guests are sent to log in first.
pub(super) fn member(visitor: Visitor) -> Result<SessionUser, Box<Answer>> {
    match visitor {
        Visitor::User(user) => Ok(user),
        Visitor::Guest { .. } => Err(Box::new(Answer::Redirect(Redirect::to("/login?next=/account/security")))),
        Visitor::Bot(_) => Err(Box::new(Answer::NotForBots(super::error::ApiError::NotForBots))),
    }
}

#[get("/account/security")]
pub async fn security(visitor: Visitor, csrf: CsrfToken, factors: Factors<'_>) -> Answer {
    match member(visitor) {
        Ok(user) => security_page(&user, &factors, Status::Ok, Shown::default(), &csrf.0).await,
        Err(to_login) => *to_login,
    }
}

/// The answer to a refused TOTP action: the page with the reason.
async fn refused(user: &SessionUser, factors: &Factors<'_>, error: SecondFactorError, csrf: &str) -> Answer {
    if let SecondFactorError::Store(_) = error {
        return unavailable_page(user, error, csrf);
    }
    let shown = Shown { error: Some(error.to_string()), ..Shown::default() };
    security_page(user, factors, second_factor_status(&error), shown, csrf).await
}

#[post("/account/totp/start", data = "<form>")]
pub async fn start_totp(visitor: Visitor, form: CsrfForm<TokenOnly>, factors: Factors<'_>) -> Answer {
    let user = match member(visitor) {
        Ok(user) => user,
        Err(to_login) => return *to_login,
    };
    match factors.second.start(&user).await {
        Ok(()) => Answer::Redirect(Redirect::to("/account/security")),
        Err(error) => refused(&user, &factors, error, form.csrf()).await,
    }
}

/// An SVG document that no cache keeps (it draws a secret).
#[derive(rocket::Responder)]
pub struct Svg(String, ContentType, Header<'static>);

/// The enrolment's QR code, an SVG drawn here (an `<img>` of the page:
/// the page's CSP allows images from this origin only).
#[get("/account/totp/qr.svg")]
pub async fn qr_code(visitor: Visitor, second_factors: &State<SecondFactors>) -> Result<Svg, Status> {
    let Visitor::User(user) = visitor else { return Err(Status::NotFound) };
    match second_factors.enrolment_qr(&user).await {
        Ok(Some(svg)) => Ok(Svg(svg, ContentType::SVG, Header::new("Cache-Control", "no-store"))),
        Ok(None) => Err(Status::NotFound),
        Err(error) => {
            tracing::error!("the QR code of {:?} failed: {error}", user.name);
            Err(Status::ServiceUnavailable)
        }
    }
}

#[derive(rocket::FromForm)]
pub struct ConfirmForm {
    #[field(default = String::new())]
    code: String,
    #[field(default = String::new())]
    csrf: String,
}

impl CsrfProtected for ConfirmForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/account/totp/confirm", data = "<form>")]
pub async fn confirm_totp(visitor: Visitor, form: CsrfForm<ConfirmForm>, factors: Factors<'_>) -> Answer {
    let user = match member(visitor) {
        Ok(user) => user,
        Err(to_login) => return *to_login,
    };
    match factors.second.confirm(&user, &form.code).await {
        Ok(codes) => {
            let shown = Shown {
                notice: Some(
                    "Two-factor authentication is on. Keep these recovery codes somewhere safe: they are shown only now.",
                ),
                error: None,
                recovery_codes: codes.iter().map(|code| code.shown()).collect(),
            };
            security_page(&user, &factors, Status::Ok, shown, &form.csrf).await
        }
        Err(error) => refused(&user, &factors, error, &form.csrf).await,
    }
}

#[derive(rocket::FromForm)]
pub struct PasswordForm {
    #[field(default = String::new())]
    pub(super) password: String,
    #[field(default = String::new())]
    pub(super) csrf: String,
}

impl CsrfProtected for PasswordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/account/totp/off", data = "<form>")]
pub async fn turn_off_totp(
    jar: Jar<'_>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    form: CsrfForm<PasswordForm>,
    logins: &State<Logins>,
    factors: Factors<'_>,
) -> Answer {
    let user = match member_with_password(&jar, visitor, client_ip, &form.password, &form.csrf, logins, &factors).await
    {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    match factors.second.turn_off(&user).await {
        Ok(()) => {
            let shown = Shown { notice: Some("Two-factor authentication is off."), ..Shown::default() };
            security_page(&user, &factors, Status::Ok, shown, &form.csrf).await
        }
        Err(error) => refused(&user, &factors, error, &form.csrf).await,
    }
}

/// The page again when the password asked for was not accepted.
/// The member behind a form that asks for their password again (turning
/// a factor off, removing a passkey), once the password is right; else the
/// answer to give: to the login page, or the page with the refusal.
pub(super) async fn member_with_password(
    jar: &Jar<'_>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    password: &str,
    csrf: &str,
    logins: &Logins,
    factors: &Factors<'_>,
) -> Result<SessionUser, Box<Answer>> {
    let user = member(visitor)?;
    let device = identity::device(jar.cookies);
    if let Err(error) = logins.confirm_password(&user, password, client_ip, device.as_ref()).await {
        return Err(Box::new(password_refused(&user, factors, error, csrf).await));
    }
    Ok(user)
}

pub(super) async fn password_refused(
    user: &SessionUser,
    factors: &Factors<'_>,
    error: LoginError,
    csrf: &str,
) -> Answer {
    let (status, reason) = match error {
        LoginError::Throttled(wait) | LoginError::TooManyRegistrations(wait) => (
            Status::TooManyRequests,
            format!("too many wrong passwords: try again in {} minutes", wait.secs().div_ceil(60)),
        ),
        LoginError::Account(error @ AccountError::Invalid(_)) => (Status::UnprocessableEntity, error.to_string()),
        LoginError::Account(error @ (AccountError::WrongCurrentPassword | AccountError::WrongCredentials)) => {
            (Status::Unauthorized, error.to_string())
        }
        LoginError::Account(error @ (AccountError::NameTaken | AccountError::Store(_) | AccountError::Password(_))) => {
            tracing::error!("checking the password of {:?} failed: {error}", user.name);
            (Status::ServiceUnavailable, "the server could not answer; try again shortly".to_owned())
        }
    };
    let shown = Shown { error: Some(reason), ..Shown::default() };
    security_page(user, factors, status, shown, csrf).await
}
