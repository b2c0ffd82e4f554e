//! `POST /hooks/<token>`: an incoming webhook, the shape Slack-style
//! senders use. The body is a JSON object whose `text` is posted to the
//! hook's room as its bot, with every rule of a bot's post (the room must
//! be the bot's, moderation applies, the message carries `"bot": true`).
//!
//! The URL is the credential: no cookie is read and no CSRF token or
//! same-origin `Origin` is asked for (`web::origin` lets `/hooks/` through).
//! A token that is not a live hook's (malformed, unknown, revoked, or its
//! bot revoked) is the same 404 as a path that never was, before the body
//! is looked at; each hook has its own rate limit (429 with `Retry-After`).
//! Fields other than `text` (Slack's `username`, `icon_emoji`, blocks...)
//! are ignored: the hook's bot is who posts.

use rocket::response::content::RawJson;
use rocket::response::status::Created;
use rocket::serde::json::{self, Json};
use rocket::{State, post};

use super::error::ApiError;
use super::rooms::{JsonObject, json_error, message_text};
use crate::auth::Visitor;
use crate::bots::Bots;
use crate::limits::Limits;
use crate::messages::Chat;

/// Any content type is read as JSON: senders that forget the header still
/// post, and anything that is not a JSON object is 422 with the reason.
#[post("/hooks/<token>", data = "<body>")]
pub async fn hook(
    token: &str,
    body: Result<Json<JsonObject>, json::Error<'_>>,
    bots: &State<Bots>,
    chat: &State<Chat>,
    limits: &State<Limits>,
) -> Result<Created<RawJson<String>>, ApiError> {
    let hook = bots.hook(token).await?.ok_or(ApiError::NoSuchHook)?;
    limits.posts.check_hook(hook.id).map_err(ApiError::RateLimited)?;
    let text = message_text(body.map_err(json_error)?.into_inner())?;
    let delivery = chat.post(hook.room, &Visitor::Bot(hook.bot), &text, None).await?;
    let message = &delivery.message;
    let location = format!("/rooms/{}/messages?after={}&limit=1", message.room, message.id - 1);
    Ok(Created::new(location).body(RawJson(delivery.json.to_string())))
}
