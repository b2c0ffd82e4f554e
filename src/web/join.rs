//! Getting in through a link: `GET /join/<code>` (the registration form
//! carrying an invite), the answer to a registration that the mode or an
//! invite refused, and `GET`/`POST /reset/<token>` (a one-time link that
//! sets a new password). The rules are `access::Access`'s.

use rocket::http::Status;
use rocket::serde::json::json;
use rocket::{State, get, post};

use super::account::{self, Answer};
use super::csrf::{CsrfForm, CsrfProtected, CsrfToken};
use super::error::ApiError;
use super::identity::Jar;
use super::pages::Template;
use crate::access::{Access, AccessError};
use crate::auth::{AccountError, LoginError};

/// The registration form for an invite, or 403 with the reason when the
/// code is unknown, used up, expired or revoked (or registration is closed).
#[get("/join/<code>")]
pub async fn join_page(code: &str, csrf: CsrfToken, access: &State<Access>) -> Result<Answer, ApiError> {
    access.check_invite(code).await?;
    Ok(account::register_form(Status::Ok, None, "", Some(code), &csrf.0))
}

/// The registration form again, with the status and reason of a refusal
/// that is not about the name or the password (the mode, the invite).
pub fn refused_registration(error: AccessError, username: &str, invite: Option<&str>, csrf: &str) -> Answer {
    let error = ApiError::from(error);
    let status = error.status();
    if status.code >= 500 {
        tracing::error!("registering failed: {error:?}");
    }
    account::register_form(status, Some(error.to_string()), username, invite, csrf)
}

fn reset_form(status: Status, token: &str, name: &str, error: Option<String>, csrf: &str) -> Answer {
    let context = json!({ "token": token, "name": name, "error": error, "csrf": csrf });
    Answer::Page((status, Template::render("reset", context)))
}

/// The page of a reset link: a new password for the account it names.
#[get("/reset/<token>")]
pub async fn reset_page(token: &str, csrf: CsrfToken, access: &State<Access>) -> Result<Answer, ApiError> {
    let name = access.reset_account(token).await?;
    Ok(reset_form(Status::Ok, token, &name, None, &csrf.0))
}

#[derive(rocket::FromForm)]
pub struct NewPassword {
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    csrf: String,
}

impl CsrfProtected for NewPassword {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Sets the new password once, ends every other session of the account and
/// logs this browser in (303 to the lobby). The path's segment is the
/// link's token; it is named `<id>` like every other route's one dynamic
/// segment, so the suites that post to every route fill it in.
#[post("/reset/<id>", data = "<form>")]
pub async fn reset(
    id: &str,
    jar: Jar<'_>,
    form: CsrfForm<NewPassword>,
    access: &State<Access>,
) -> Result<Answer, ApiError> {
    let token = id;
    match access.reset_password(token, &form.password).await {
        Ok(session) => Ok(account::logged_in(&jar, session, "/")),
        Err(AccessError::Login(LoginError::Account(error @ AccountError::Invalid(_)))) => {
            let name = access.reset_account(token).await?;
            Ok(reset_form(Status::UnprocessableEntity, token, &name, Some(error.to_string()), &form.csrf))
        }
        Err(error) => Err(error.into()),
    }
}
