//! Changing a message over HTTP: `POST .../messages/<id>/edit`,
//! `POST .../messages/<id>/reactions` and `GET .../messages/<id>/versions`.
//! Rules are `messages::Chat`'s; these routes read the body, apply the post
//! rate limit and shape the answer.

use std::net::IpAddr;

use rocket::response::content::RawJson;
use rocket::serde::json::{self, Json, Value, json};
use rocket::{State, get, post};

use super::error::ApiError;
use super::rooms::{JsonObject, json_error, message_text};
use crate::auth::Visitor;
use crate::limits::Limits;
use crate::messages::Chat;
use crate::rooms::RoomName;
use crate::store::Changed;

/// `{"text": "..."}`: the author's new text. Answers the whole updated
/// message, with `edited_at` (and, if it changed, its `seq`).
#[post("/rooms/<room>/messages/<id>/edit", format = "json", data = "<body>")]
pub async fn edit(
    room: &str,
    id: i64,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    body: Result<Json<JsonObject>, json::Error<'_>>,
    chat: &State<Chat>,
    limits: &State<Limits>,
) -> Result<RawJson<String>, ApiError> {
    let room = RoomName::parse(room)?;
    limits.posts.check(&visitor, client_ip).map_err(ApiError::RateLimited)?;
    let text = message_text(body.map_err(json_error)?.into_inner())?;
    Ok(RawJson(match chat.edit(&room, &visitor, id, &text).await? {
        Changed::Published(delivery) => delivery.json.to_string(),
        Changed::Unchanged(message) => serde_json::to_string(&message).expect("a message always serializes"),
    }))
}

/// `{"emoji": "👍", "on": true|false}` (`on` defaults to true). Answers
/// `{"room", "id", "reactions"}` as they are after the change.
#[post("/rooms/<room>/messages/<id>/reactions", format = "json", data = "<body>")]
#[allow(clippy::too_many_arguments)] // a route's guards, each one thing
pub async fn react(
    room: &str,
    id: i64,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    body: Result<Json<JsonObject>, json::Error<'_>>,
    chat: &State<Chat>,
    limits: &State<Limits>,
) -> Result<Json<Value>, ApiError> {
    let room = RoomName::parse(room)?;
    limits.posts.check(&visitor, client_ip).map_err(ApiError::RateLimited)?;
    let body = body.map_err(json_error)?.into_inner();
    let Some(Value::String(emoji)) = body.get("emoji") else {
        return Err(ApiError::BadJson("emoji must be a string holding one emoji".into()));
    };
    let on = match body.get("on") {
        None => true,
        Some(Value::Bool(on)) => *on,
        Some(_) => return Err(ApiError::BadJson("on must be true or false".into())),
    };
    let changed = chat.react(&room, &visitor, id, emoji, on).await?;
    let message = changed.message();
    Ok(Json(json!({ "room": message.room, "id": message.id, "reactions": message.reactions })))
}

/// Every text the message has had, oldest first, for its author and
/// moderators: `{"room", "id", "versions": [{"text", "at"}]}`.
#[get("/rooms/<room>/messages/<id>/versions")]
pub async fn versions(room: &str, id: i64, visitor: Visitor, chat: &State<Chat>) -> Result<Json<Value>, ApiError> {
    let room = RoomName::parse(room)?;
    let versions = chat.versions(&room, &visitor, id).await?;
    Ok(Json(json!({ "room": room, "id": id, "versions": versions })))
}
