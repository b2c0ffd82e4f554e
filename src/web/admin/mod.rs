//! The admin page (`GET /admin`, admins only; 403 for everyone else, like
//! the audit log) and its forms. Every action is a POST: a
//! form carrying the browser's `csrf` token, or JSON for scripts, refused
//! from other origins by the origin fairing. Moderation's own actions (ban,
//! role, lock) keep their JSON routes; the forms here post to the same
//! paths and ask the same `moderation::Moderation`, so the rules and the
//! audit lines are one. The page is made of small templates, one per
//! section (`admin-*.html.tera`).

mod activity;
mod invites;
mod users;

pub use activity::activity_page;
pub use invites::{create_invite_form, create_invite_json, list_invites, revoke_invite_form, revoke_invite_json};
pub use users::{ban_form, create_account, lock_form, reset_link_form, reset_link_json, role_form, room_rules};

use rocket::http::Status;
use rocket::response::Redirect;
use rocket::serde::json::{Json, Value, json};
use rocket::{State, get, post};
use serde::Deserialize;

use super::csrf::{CsrfForm, CsrfProtected, CsrfToken};
use super::error::ApiError;
use super::pages::Template;
use crate::access::{Access, RegistrationMode};
use crate::auth::Visitor;

/// Something to tell the admin at the top of the page: a link made just
/// now (an invite, a reset link) is shown once and never again.
#[derive(Debug, Default, serde::Serialize)]
pub struct Notice {
    pub text: String,
    pub link: Option<String>,
}

/// The admin page, with `notice` at the top.
pub(super) async fn page(
    access: &Access,
    visitor: &Visitor,
    find: &str,
    csrf: &str,
    notice: Option<Notice>,
) -> Result<Template, ApiError> {
    let overview = access.overview(visitor, find).await?;
    let me = json!({ "name": visitor.name(), "guest": false });
    let modes: Vec<&str> = RegistrationMode::ALL.iter().map(|m| m.as_str()).collect();
    Ok(Template::render(
        "admin",
        json!({ "me": me, "csrf": csrf, "overview": overview, "modes": modes, "roles": ["member", "moderator", "admin"],
                "notice": notice }),
    ))
}

#[get("/admin?<find>")]
pub async fn admin(
    find: Option<&str>,
    visitor: Visitor,
    csrf: CsrfToken,
    access: &State<Access>,
) -> Result<Template, ApiError> {
    page(access, &visitor, find.unwrap_or_default(), &csrf.0, None).await
}

#[derive(rocket::FromForm)]
pub struct ModeForm {
    #[field(default = String::new())]
    mode: String,
    #[field(default = String::new())]
    csrf: String,
}

impl CsrfProtected for ModeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Switches the registration mode (kept in the database; audited).
#[post("/admin/registration", format = "form", data = "<form>", rank = 1)]
pub async fn registration_form(
    form: CsrfForm<ModeForm>,
    visitor: Visitor,
    access: &State<Access>,
) -> Result<Redirect, ApiError> {
    let mode: RegistrationMode = form.mode.parse().map_err(crate::access::AccessError::from)?;
    access.set_mode(&visitor, mode).await?;
    Ok(Redirect::to("/admin#registration"))
}

#[derive(Deserialize)]
pub struct ModeJson {
    mode: String,
}

/// `{"mode": "open" | "invite" | "closed"}` → `{"registration": mode}`.
#[post("/admin/registration", format = "json", data = "<body>", rank = 2)]
pub async fn registration_json(
    body: Json<ModeJson>,
    visitor: Visitor,
    access: &State<Access>,
) -> Result<Json<Value>, ApiError> {
    let mode: RegistrationMode = body.mode.parse().map_err(crate::access::AccessError::from)?;
    access.set_mode(&visitor, mode).await?;
    Ok(Json(json!({ "registration": mode })))
}

/// A page answered with its status (a form that made something shows it).
pub(super) type Shown = (Status, Template);
