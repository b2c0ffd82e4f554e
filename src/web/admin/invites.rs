//! Invites over HTTP: `POST /admin/invites` (JSON `{"uses", "expires_hours",
//! "rooms"}` → `{"code", "url"}`, or the admin page's form → the page with
//! the new link), `GET /admin/invites` (JSON), and revoking one.

use rocket::http::Status;
use rocket::response::Redirect;
use rocket::serde::json::{Json, Value, json};
use rocket::{State, get, post};
use serde::Deserialize;

use super::{Notice, Shown, page};
use crate::access::{Access, InviteSpec, InviteView};
use crate::auth::Visitor;
use crate::web::csrf::{CsrfForm, CsrfProtected};
use crate::web::error::ApiError;

fn default_uses() -> i64 {
    1
}

fn default_hours() -> i64 {
    24 * 7
}

#[derive(Deserialize)]
pub struct NewInviteJson {
    #[serde(default = "default_uses")]
    uses: i64,
    #[serde(default = "default_hours")]
    expires_hours: i64,
    #[serde(default)]
    rooms: Vec<String>,
}

/// 201 with `{"id", "code", "url": "/join/<code>"}`; the code is never shown
/// again.
#[post("/admin/invites", format = "json", data = "<body>", rank = 2)]
pub async fn create_invite_json(
    body: Json<NewInviteJson>,
    visitor: Visitor,
    access: &State<Access>,
) -> Result<(Status, Json<Value>), ApiError> {
    let spec = InviteSpec::parse(body.uses, body.expires_hours, &body.rooms)?;
    let invite = access.create_invite(&visitor, &spec).await?;
    Ok((Status::Created, Json(json!(invite))))
}

#[derive(rocket::FromForm)]
pub struct NewInviteForm {
    #[field(default = 1)]
    uses: i64,
    #[field(default = 168)]
    expires_hours: i64,
    /// Room names separated by spaces or commas.
    #[field(default = String::new())]
    rooms: String,
    #[field(default = String::new())]
    csrf: String,
}

impl CsrfProtected for NewInviteForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The admin page's form: 201 with the page showing the new link once.
#[post("/admin/invites", format = "form", data = "<form>", rank = 1)]
pub async fn create_invite_form(
    form: CsrfForm<NewInviteForm>,
    visitor: Visitor,
    access: &State<Access>,
) -> Result<Shown, ApiError> {
    let rooms: Vec<String> = form
        .rooms
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    let spec = InviteSpec::parse(form.uses, form.expires_hours, &rooms)?;
    let invite = access.create_invite(&visitor, &spec).await?;
    let notice = Notice {
        text: format!("Invite {} created. Copy its link now: it is not shown again.", invite.id),
        link: Some(invite.url),
    };
    Ok((Status::Created, page(access, &visitor, "", &form.csrf, Some(notice)).await?))
}

/// Every invite (the newest 200), with its state.
#[get("/admin/invites")]
pub async fn list_invites(visitor: Visitor, access: &State<Access>) -> Result<Json<Vec<InviteView>>, ApiError> {
    Ok(Json(access.invites(&visitor).await?))
}

#[post("/admin/invites/<id>/revoke", format = "json", data = "<_body>", rank = 2)]
pub async fn revoke_invite_json(
    id: i64,
    _body: Json<Value>,
    visitor: Visitor,
    access: &State<Access>,
) -> Result<Json<Value>, ApiError> {
    access.revoke_invite(&visitor, id).await?;
    Ok(Json(json!({ "ok": true })))
}

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

#[post("/admin/invites/<id>/revoke", format = "form", data = "<_form>", rank = 1)]
pub async fn revoke_invite_form(
    id: i64,
    _form: CsrfForm<TokenOnly>,
    visitor: Visitor,
    access: &State<Access>,
) -> Result<Redirect, ApiError> {
    access.revoke_invite(&visitor, id).await?;
    Ok(Redirect::to("/admin#invites"))
}
