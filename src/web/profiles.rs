//! Profiles over HTTP: the account page's form for the display name
//! (`POST /account/display`). The rule is `auth::DisplayName`'s, storing
//! it `auth::Accounts`'; the JSON way is `POST /api/settings`
//! (`web::people`).

use std::net::IpAddr;

use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{State, post};

use super::account::{Answer, account_page, member};
use super::csrf::{CsrfForm, CsrfProtected};
use crate::auth::{Accounts, DisplayName, Visitor};
use crate::limits::Limits;

/// The account page's notice after `?done=<what>` of a form here.
pub(super) fn notice(done: &str) -> Option<&'static str> {
    match done {
        "display" => Some("Your display name is changed; messages you already sent keep the old one."),
        "avatar" => Some("Your picture is removed; people see the one drawn from your name."),
        _ => None,
    }
}

#[derive(rocket::FromForm)]
pub struct DisplayForm {
    #[field(default = String::new())]
    display: String,
    #[field(default = String::new())]
    csrf: String,
}

impl CsrfProtected for DisplayForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Changes the display name: 303 back to the account page, or the page
/// again with the reason (422).
#[post("/account/display", data = "<form>")]
pub async fn change_display(
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    form: CsrfForm<DisplayForm>,
    accounts: &State<Accounts>,
    limits: &State<Limits>,
) -> Result<Answer, Status> {
    let user = match member(visitor.clone()) {
        Ok(user) => user,
        Err(to_login) => return Ok(*to_login),
    };
    if limits.posts.check(&visitor, client_ip).is_err() {
        return Ok(account_page(
            &user,
            Status::TooManyRequests,
            None,
            Some("too many changes: wait a moment".into()),
            &form.csrf,
        ));
    }
    let display = match DisplayName::parse(&form.display) {
        Ok(display) => display,
        Err(reason) => {
            return Ok(account_page(&user, Status::UnprocessableEntity, None, Some(reason.to_string()), &form.csrf));
        }
    };
    accounts.set_display(&user, &display).await.map_err(|e| {
        tracing::error!("changing a display name failed: {e}");
        Status::ServiceUnavailable
    })?;
    Ok(Answer::Redirect(Redirect::to("/account?done=display")))
}
