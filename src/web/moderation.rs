//! Moderation as JSON endpoints (the page's per-message menu calls them),
//! and the admins' audit page. Every action is a POST with a JSON body: a
//! page on another site cannot send one (no CORS preflight is granted) and
//! the origin check refuses it anyway.

use std::time::Duration;

use super::pages::Template;
use rocket::Either;
use rocket::http::Accept;
use rocket::serde::json::{Json, Value, json};
use rocket::{State, get, post};
use serde::Deserialize;

use super::csrf::CsrfToken;
use super::error::ApiError;
use crate::auth::{Role, Visitor};
use crate::moderation::Moderation;
use crate::rooms::{self, RoomName};

type Done = Result<Json<Value>, ApiError>;

fn done() -> Done {
    Ok(Json(json!({ "ok": true })))
}

fn room_name(room: &str) -> Result<RoomName, ApiError> {
    Ok(RoomName::parse(room)?)
}

/// A target name: an account or a guest name.
fn target(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 {
        return Err(ApiError::BadJson("user must name an account or a guest".into()));
    }
    Ok(name)
}

#[post("/rooms/<room>/messages/<id>/delete", format = "json", data = "<_body>")]
pub async fn delete_message(
    room: &str,
    id: i64,
    _body: Json<Value>,
    visitor: Visitor,
    moderation: &State<Moderation>,
) -> Done {
    moderation.delete_message(&visitor, &room_name(room)?, id).await?;
    done()
}

#[derive(Deserialize)]
pub struct Mute {
    user: String,
    minutes: u64,
}

#[post("/rooms/<room>/mute", format = "json", data = "<body>")]
pub async fn mute(room: &str, body: Json<Mute>, visitor: Visitor, moderation: &State<Moderation>) -> Done {
    if !(1..=60 * 24 * 365).contains(&body.minutes) {
        return Err(ApiError::BadJson("minutes must be between 1 and 525600".into()));
    }
    let duration = Duration::from_secs(body.minutes * 60);
    moderation.mute(&visitor, &room_name(room)?, target(&body.user)?, duration).await?;
    done()
}

#[derive(Deserialize)]
pub struct Target {
    user: String,
}

#[post("/rooms/<room>/kick", format = "json", data = "<body>")]
pub async fn kick(room: &str, body: Json<Target>, visitor: Visitor, moderation: &State<Moderation>) -> Done {
    moderation.kick(&visitor, &room_name(room)?, target(&body.user)?).await?;
    done()
}

#[derive(Deserialize)]
pub struct Lock {
    locked: bool,
}

#[post("/rooms/<room>/lock", format = "json", data = "<body>")]
pub async fn lock(room: &str, body: Json<Lock>, visitor: Visitor, moderation: &State<Moderation>) -> Done {
    moderation.lock_room(&visitor, &room_name(room)?, body.locked).await?;
    done()
}

#[derive(Deserialize)]
pub struct MembersOnly {
    enabled: bool,
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

#[post("/rooms/<room>/members-only", format = "json", data = "<body>")]
pub async fn members_only(
    room: &str,
    body: Json<MembersOnly>,
    visitor: Visitor,
    moderation: &State<Moderation>,
) -> Done {
    for name in body.add.iter().chain(&body.remove) {
        target(name)?;
    }
    moderation.members_only(&visitor, &room_name(room)?, body.enabled, &body.add, &body.remove).await?;
    done()
}

#[derive(Deserialize)]
pub struct Ban {
    user: String,
    #[serde(default = "yes")]
    banned: bool,
}

fn yes() -> bool {
    true
}

#[post("/admin/ban", format = "json", data = "<body>")]
pub async fn ban(body: Json<Ban>, visitor: Visitor, moderation: &State<Moderation>) -> Done {
    moderation.ban(&visitor, target(&body.user)?, body.banned).await?;
    done()
}

#[derive(Deserialize)]
pub struct SetRole {
    user: String,
    role: String,
}

#[post("/admin/role", format = "json", data = "<body>")]
pub async fn set_role(body: Json<SetRole>, visitor: Visitor, moderation: &State<Moderation>) -> Done {
    let role: Role = body.role.parse().map_err(|e: crate::auth::UnknownRole| ApiError::BadJson(e.to_string()))?;
    moderation.set_role(&visitor, target(&body.user)?, role).await?;
    done()
}

/// The audit log, newest first: a page for browsers (`Accept: text/html`),
/// JSON otherwise.
#[get("/admin/audit")]
pub async fn audit(
    accept: Option<&Accept>,
    visitor: Visitor,
    csrf: CsrfToken,
    moderation: &State<Moderation>,
) -> Result<Either<Template, Json<Value>>, ApiError> {
    let entries = moderation.audit_log(&visitor, 500).await?;
    if !accept.is_some_and(|a| a.preferred().is_html()) {
        return Ok(Either::Right(Json(json!(entries))));
    }
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({ "at": rooms::format_at(rooms::from_millis(e.at_ms)), "actor": e.actor, "action": e.action,
                    "target": e.target, "room": e.room, "detail": e.detail })
        })
        .collect();
    let me = json!({ "name": visitor.name(), "guest": false });
    Ok(Either::Left(Template::render("audit", json!({ "me": me, "entries": entries, "csrf": csrf.0 }))))
}
