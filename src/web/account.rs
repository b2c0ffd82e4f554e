//! Register, log in, log out, and "who am I".

use std::net::IpAddr;

use rocket::form::Form;
use rocket::http::{CookieJar, Status};
use rocket::response::Redirect;
use rocket::serde::json::{Json, Value, json};
use rocket::{State, get, post};
use rocket_dyn_templates::{Template, context};

use super::identity;
use crate::auth::{AccountError, Accounts, Visitor};

#[derive(rocket::FromForm)]
pub struct Credentials {
    #[field(default = String::new())]
    username: String,
    #[field(default = String::new())]
    password: String,
    next: Option<String>,
}

/// A form page answered with its status: the same form again, with a reason.
type FormPage = (Status, Template);

fn form_page(kind: &str, status: Status, error: Option<String>, username: &str, next: Option<&str>) -> FormPage {
    let context = context! { kind, error, username, next: next.and_then(safe_next) };
    (status, Template::render("account", context))
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

#[get("/register")]
pub fn register_page() -> FormPage {
    form_page("register", Status::Ok, None, "", None)
}

#[post("/register", data = "<form>")]
pub async fn register(
    form: Form<Credentials>,
    accounts: &State<Accounts>,
    cookies: &CookieJar<'_>,
) -> Result<Redirect, FormPage> {
    match accounts.register(&form.username, &form.password).await {
        Ok(session) => {
            identity::set_session(cookies, session.session_id);
            Ok(Redirect::to("/"))
        }
        Err(error) => Err(account_error_page("register", error, &form)),
    }
}

#[get("/login?<next>")]
pub fn login_page(next: Option<&str>) -> FormPage {
    form_page("login", Status::Ok, None, "", next)
}

#[post("/login", data = "<form>")]
pub async fn login(
    client_ip: Option<IpAddr>,
    form: Form<Credentials>,
    accounts: &State<Accounts>,
    cookies: &CookieJar<'_>,
) -> Result<Redirect, FormPage> {
    match accounts.login(&form.username, &form.password).await {
        Ok(session) => {
            log::info!("login succeeded: user {:?} from {}", session.name, show_ip(client_ip));
            identity::set_session(cookies, session.session_id);
            let next = form.next.as_deref().and_then(safe_next).unwrap_or("/");
            Ok(Redirect::to(next.to_owned()))
        }
        Err(error) => {
            if matches!(error, AccountError::WrongCredentials) {
                log::info!("login failed: user {:?} from {}", form.username, show_ip(client_ip));
            }
            Err(account_error_page("login", error, &form))
        }
    }
}

fn show_ip(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string())
}

fn account_error_page(kind: &str, error: AccountError, form: &Credentials) -> FormPage {
    let status = match &error {
        AccountError::Invalid(_) => Status::UnprocessableEntity,
        AccountError::NameTaken => Status::Conflict,
        AccountError::WrongCredentials => Status::Unauthorized,
        AccountError::Store(_) | AccountError::Password(_) => {
            log::error!("{kind} failed: {error}");
            return form_page(
                kind,
                Status::ServiceUnavailable,
                Some("the server could not answer; try again shortly".into()),
                &form.username,
                form.next.as_deref(),
            );
        }
    };
    if status == Status::Unauthorized {
        // The same body whatever the name: no echo of it, so an unknown and a
        // known name cannot be told apart.
        return form_page(kind, status, Some(error.to_string()), "", form.next.as_deref());
    }
    form_page(kind, status, Some(error.to_string()), &form.username, form.next.as_deref())
}

#[post("/logout")]
pub async fn logout(accounts: &State<Accounts>, cookies: &CookieJar<'_>) -> Result<Redirect, Status> {
    if let Some(session_id) = identity::session_id(cookies) {
        accounts.logout(&session_id).await.map_err(|e| {
            log::error!("logout failed: {e}");
            Status::ServiceUnavailable
        })?;
    }
    identity::clear_session(cookies);
    Ok(Redirect::to("/"))
}

#[get("/api/me")]
pub fn me(visitor: Visitor) -> Json<Value> {
    Json(json!({ "user": visitor.name(), "guest": visitor.is_guest() }))
}
