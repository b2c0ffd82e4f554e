//! The room page and the message routes: post, history, long poll.

use std::net::IpAddr;

use super::pages::Template;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::response::content::RawJson;
use rocket::response::status::Created;
use rocket::serde::json::{self, Json, json};
use rocket::{Either, Shutdown, State, get, post};

use super::csrf::{CsrfForm, CsrfProtected, CsrfToken};
use super::error::ApiError;
use crate::auth::{Role, Visitor};
use crate::limits::Limits;
use crate::live::{self, PollAnswer, Streams};
use crate::messages::{Chat, HistoryQuery, PostError, RoomView};
use crate::rooms::{Message, RoomName};

/// A page answered with its status (200, or the 4xx of a refused form post).
type Page = (Status, Template);

#[get("/")]
pub async fn lobby(visitor: Visitor, csrf: CsrfToken, chat: &State<Chat>) -> Result<Page, ApiError> {
    room_page(chat, &visitor, &csrf, RoomName::lobby(), Shown::fresh(None)).await
}

/// A room's page; `?at=<id>` (a permalink) opens it at that message, with
/// the history around it (a malformed `at` opens the latest).
#[get("/rooms/<room>?<at>")]
pub async fn room(
    room: &str,
    at: Option<i64>,
    visitor: Visitor,
    csrf: CsrfToken,
    chat: &State<Chat>,
) -> Result<Page, Status> {
    let Ok(room) = RoomName::parse(room) else {
        return Err(Status::NotFound);
    };
    room_page(chat, &visitor, &csrf, room, Shown::fresh(at)).await.map_err(|e| e.status())
}

/// The no-JavaScript way to open a room: `GET /rooms?name=general`.
#[get("/rooms?<name>")]
pub fn open_room(name: &str) -> Result<Redirect, ApiError> {
    let room = RoomName::parse(name.trim())?;
    Ok(Redirect::to(format!("/rooms/{room}")))
}

/// How a room page is shown: fresh, or again after a refused form post
/// (its status, the reason and the draft kept).
struct Shown<'a> {
    status: Status,
    error: Option<String>,
    draft: &'a str,
    /// The message a permalink opens the page at.
    at: Option<i64>,
}

impl Shown<'_> {
    fn fresh(at: Option<i64>) -> Self {
        Self { status: Status::Ok, error: None, draft: "", at }
    }
}

async fn room_page(
    chat: &Chat,
    visitor: &Visitor,
    csrf: &CsrfToken,
    room: RoomName,
    shown: Shown<'_>,
) -> Result<Page, ApiError> {
    if let Visitor::Bot(_) = visitor {
        return Err(ApiError::NotForBots);
    }
    let Shown { status, error, draft, at } = shown;
    let RoomView { messages, position, rooms, read, role, locked } = chat.room_view(visitor, &room, at).await?;
    let label = rooms.iter().find(|r| r.name == room.as_str()).map_or_else(|| format!("#{room}"), |r| r.label.clone());
    let me = json!({ "name": visitor.name(), "guest": visitor.is_guest(), "role": role.map_or("guest", Role::as_str) });
    let csrf = &csrf.0;
    let context = json!({ "room": room.as_str(), "me": me, "messages": messages, "position": position, "read": read, "label": label, "dm": room.is_dm(), "rooms": rooms, "error": error, "draft": draft, "csrf": csrf, "locked": locked, "at": at });
    Ok((status, Template::render("room", context)))
}

#[post("/rooms/<room>/messages", format = "json", data = "<body>")]
pub async fn post_json(
    room: &str,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    body: Result<Json<JsonObject>, json::Error<'_>>,
    chat: &State<Chat>,
    limits: &State<Limits>,
) -> Result<Created<RawJson<String>>, ApiError> {
    let room = RoomName::parse(room)?;
    limits.posts.check(&visitor, client_ip).map_err(ApiError::RateLimited)?;
    let mut body = body.map_err(json_error)?.into_inner();
    let reply_to = reply_to(&mut body)?;
    let text = message_text(body)?;
    let delivery = chat.post(room, &visitor, &text, reply_to).await?;
    let message = &delivery.message;
    let location = format!("/rooms/{}/messages?after={}&limit=1", message.room, message.id - 1);
    Ok(Created::new(location).body(RawJson(delivery.json.to_string())))
}

/// The body of a JSON post: an object whose `text` is a string. Any other
/// field (`user`, `at`, ...) is ignored: the server decides who wrote a
/// message and when.
pub(super) type JsonObject = serde_json::Map<String, serde_json::Value>;

/// The optional `reply_to` of a post: a message id, or null.
fn reply_to(body: &mut JsonObject) -> Result<Option<i64>, ApiError> {
    match body.remove("reply_to") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) if n.as_i64().is_some_and(|id| id > 0) => Ok(n.as_i64()),
        Some(_) => Err(ApiError::BadJson("reply_to must be a message id".into())),
    }
}

pub(super) fn message_text(mut body: JsonObject) -> Result<String, ApiError> {
    match body.remove("text") {
        Some(serde_json::Value::String(text)) => Ok(text),
        Some(_) => Err(ApiError::BadJson("text must be a string".into())),
        None => Err(ApiError::BadJson("the field text is missing".into())),
    }
}

pub(super) fn json_error(error: json::Error<'_>) -> ApiError {
    match error {
        json::Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => ApiError::TooLarge,
        json::Error::Io(_) => ApiError::BadJson("the request body could not be read".into()),
        json::Error::Parse(_, e) => {
            ApiError::BadJson(format!("expected a JSON object like {{\"text\": \"hello\"}}: {e}"))
        }
    }
}

#[derive(rocket::FromForm)]
pub struct NewMessageForm {
    #[field(default = String::new())]
    text: String,
    /// The id of the message this one answers; empty for none.
    #[field(default = String::new())]
    reply_to: String,
    #[field(default = String::new())]
    csrf: String,
}

impl CsrfProtected for NewMessageForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The page's send box without JavaScript: 303 back to the room, or the
/// page again with the reason and the draft kept.
#[post("/rooms/<room>/messages", format = "form", data = "<form>", rank = 2)]
pub async fn post_form(
    room: &str,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    form: CsrfForm<NewMessageForm>,
    chat: &State<Chat>,
    limits: &State<Limits>,
) -> Result<Redirect, Result<Page, ApiError>> {
    let room = RoomName::parse(room).map_err(|e| Err(e.into()))?;
    limits.posts.check(&visitor, client_ip).map_err(|wait| Err(ApiError::RateLimited(wait)))?;
    let reply_to = match form.reply_to.trim() {
        "" => None,
        id => Some(id.parse::<i64>().map_err(|_| Err(ApiError::BadJson("reply_to must be a message id".into())))?),
    };
    match chat.post(room.clone(), &visitor, &form.text, reply_to).await {
        Ok(_) => Ok(Redirect::to(format!("/rooms/{room}"))),
        Err(PostError::Store(e)) => Err(Err(e.into())),
        Err(refused) => {
            let reason = refused.to_string();
            let status = ApiError::from(refused).status();
            let csrf = CsrfToken(form.csrf.clone());
            let shown = Shown { status, error: Some(reason), draft: &form.text, at: None };
            Err(room_page(chat, &visitor, &csrf, room, shown).await)
        }
    }
}

/// A post in neither JSON nor form encoding.
#[post("/rooms/<_room>/messages", rank = 3)]
pub fn post_unsupported(_room: &str) -> ApiError {
    ApiError::UnsupportedMediaType
}

/// The raw query of a history request, read as text so that every bad
/// value gets its own reason (see `HistoryQuery::parse`).
#[derive(rocket::FromForm)]
pub struct RawHistoryQuery<'r> {
    after: Option<&'r str>,
    before: Option<&'r str>,
    limit: Option<&'r str>,
    wait: Option<&'r str>,
    around: Option<&'r str>,
}

/// History as messages; with `after` and `wait`, a long poll answered with
/// the room's sequence (see `live::PollAnswer`).
#[get("/rooms/<room>/messages?<query..>")]
pub async fn history(
    room: &str,
    query: RawHistoryQuery<'_>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    streams: &State<Streams>,
    shutdown: Shutdown,
) -> Result<Either<Json<Vec<Message>>, RawJson<String>>, ApiError> {
    let room = RoomName::parse(room)?;
    let query = HistoryQuery::parse(query.after, query.before, query.limit, query.wait, query.around)?;
    Ok(match live::long_poll(streams, visitor.into(), client_ip, room, &query, shutdown).await? {
        PollAnswer::History(messages) => Either::Left(Json(messages)),
        PollAnswer::Sequence(entries) => {
            let frames: Vec<_> = entries.iter().map(|entry| entry.ws_frame()).collect();
            Either::Right(RawJson(format!("[{}]", frames.join(","))))
        }
        PollAnswer::Signal(note) => Either::Right(RawJson(format!("[{}]", note.ws_frame()))),
    })
}
