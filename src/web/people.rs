//! People and conversations over HTTP: direct messages (`POST /api/dm`,
//! `GET /dm/<user>`), blocks, read positions, typing, and the account's
//! settings. Rules are `messages::Chat`'s; these routes read bodies and
//! shape answers, and hand typing and read positions to `signals`. Every
//! POST here writes (or tells every stream of a room), so each draws on
//! the same rate-limit buckets as posting.

use rocket::http::Status;
use rocket::response::Redirect;
use rocket::serde::json::{Json, Value, json};
use rocket::{State, get, post};
use serde::Deserialize;

use std::net::IpAddr;

use super::error::ApiError;
use crate::auth::{Accounts, DisplayName, Visitor};
use crate::i18n::Preferences;
use crate::limits::Limits;
use crate::messages::{Chat, PeopleError};
use crate::rooms::RoomName;
use crate::signals::Signals;

#[derive(Deserialize)]
pub struct NewDm {
    users: Vec<String>,
}

/// `{"users": ["bob"]}` → `{"room": "dm-...", "users": [...]}` (every
/// member, the caller included).
#[post("/api/dm", format = "json", data = "<body>")]
pub async fn open_dm(
    body: Json<NewDm>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    chat: &State<Chat>,
    limits: &State<Limits>,
) -> Result<Json<Value>, ApiError> {
    limits.posts.check(&visitor, client_ip).map_err(ApiError::RateLimited)?;
    let (room, users) = chat.open_dm(&visitor, &body.users).await?;
    Ok(Json(json!({ "room": room, "users": users })))
}

/// The conversation with one person, as a page: 303 to its room.
#[get("/dm/<user>")]
pub async fn dm_page(user: &str, visitor: Visitor, chat: &State<Chat>) -> Result<Redirect, ApiError> {
    let (room, _) = chat.open_dm(&visitor, &[user.to_owned()]).await?;
    Ok(Redirect::to(format!("/rooms/{room}")))
}

#[derive(Deserialize)]
pub struct Block {
    user: String,
    blocked: bool,
}

/// `{"user": "bob", "blocked": true|false}`.
#[post("/api/blocks", format = "json", data = "<body>")]
pub async fn block(
    body: Json<Block>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    chat: &State<Chat>,
    limits: &State<Limits>,
) -> Result<Json<Value>, ApiError> {
    limits.posts.check(&visitor, client_ip).map_err(ApiError::RateLimited)?;
    chat.block(&visitor, &body.user, body.blocked).await?;
    Ok(Json(json!({ "user": body.user.trim(), "blocked": body.blocked })))
}

/// `{"blocked": [names]}`: whom the caller has blocked.
#[get("/api/blocks")]
pub async fn blocks(visitor: Visitor, chat: &State<Chat>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "blocked": chat.blocks(&visitor).await? })))
}

/// The caller is typing in `room` (any JSON body, `{}`): 204; the room's
/// other readers hear of it (at most once per person each two seconds).
#[post("/rooms/<room>/typing", format = "json", data = "<_body>")]
pub async fn typing(
    room: &str,
    _body: Json<Value>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    chat: &State<Chat>,
    signals: &State<Signals>,
    limits: &State<Limits>,
) -> Result<Status, ApiError> {
    let room = RoomName::parse(room)?;
    limits.posts.check(&visitor, client_ip).map_err(ApiError::RateLimited)?;
    chat.may_post(&visitor, &room).await?;
    signals.typing(&room, visitor.name(), visitor.display());
    Ok(Status::NoContent)
}

#[derive(Deserialize)]
pub struct ReadUpTo {
    id: i64,
}

/// `{"id": N}`: the caller's account has read `room` up to `N` (only ever
/// forward): 204, and its other streams hear of it.
#[post("/rooms/<room>/read", format = "json", data = "<body>")]
pub async fn read(
    room: &str,
    body: Json<ReadUpTo>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    chat: &State<Chat>,
    signals: &State<Signals>,
    limits: &State<Limits>,
) -> Result<Status, ApiError> {
    let room = RoomName::parse(room)?;
    limits.posts.check(&visitor, client_ip).map_err(ApiError::RateLimited)?;
    if let Some(user_id) = chat.mark_read(&visitor, &room, body.id).await? {
        signals.read(user_id, &room, body.id);
    }
    Ok(Status::NoContent)
}

/// `{"notify": "all" | "mentions" | "none", "display": "...", "language":
/// "auto" | "en" | "zh", "theme": "system" | "light" | "dark", "clock":
/// "auto" | "12h" | "24h", "send_key": "enter" | "ctrl-enter"}`: the
/// account's choices (`auto`: the browser's language, the language's clock).
#[get("/api/settings")]
pub async fn settings(visitor: Visitor, chat: &State<Chat>) -> Result<Json<Value>, ApiError> {
    let Visitor::User(user) = &visitor else { return Err(PeopleError::MembersOnly.into()) };
    let preferences = chat.preferences(user).await?;
    Ok(Json(settings_json(&preferences, visitor.display())))
}

fn settings_json(preferences: &Preferences, display: &str) -> Value {
    let chosen = preferences.effective(None);
    json!({
        "notify": chosen.notify,
        "display": display,
        "language": chosen.language_choice,
        "theme": chosen.theme,
        "clock": chosen.clock_choice,
        "send_key": chosen.send_key,
    })
}

/// Each setting is optional: only those given change.
#[derive(Deserialize)]
pub struct NewSettings {
    notify: Option<String>,
    display: Option<String>,
    language: Option<String>,
    theme: Option<String>,
    clock: Option<String>,
    send_key: Option<String>,
}

/// Changes the given settings (every one checked before any is stored)
/// and answers them all as they now are.
#[post("/api/settings", format = "json", data = "<body>")]
pub async fn change_settings(
    body: Json<NewSettings>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    chat: &State<Chat>,
    accounts: &State<Accounts>,
    limits: &State<Limits>,
) -> Result<Json<Value>, ApiError> {
    limits.posts.check(&visitor, client_ip).map_err(ApiError::RateLimited)?;
    let Visitor::User(user) = &visitor else { return Err(PeopleError::MembersOnly.into()) };
    let display = body.display.as_deref().map(DisplayName::parse).transpose()?;
    let mut preferences = chat.preferences(user).await?;
    let chosen = [
        ("notify", &body.notify),
        ("language", &body.language),
        ("theme", &body.theme),
        ("clock", &body.clock),
        ("send_key", &body.send_key),
    ];
    for (name, value) in chosen {
        if let Some(value) = value {
            preferences.set(name, value)?;
        }
    }
    accounts.set_preferences(user, &preferences, display.as_ref()).await?;
    let display = display.as_ref().map_or(visitor.display(), DisplayName::as_str);
    Ok(Json(settings_json(&preferences, display)))
}
