//! `GET /api/search`: the messages matching every word of `q` in the rooms
//! the caller may read, newest first, a page at a time (`before`), each
//! with a highlighted snippet. The rules are `search`'s and
//! `messages::Chat::search`'s; this reads the query and draws on the post
//! rate limits (each search reads the index as a post writes a row).

use std::net::IpAddr;

use rocket::serde::json::Json;
use rocket::{State, get};

use super::error::ApiError;
use crate::auth::Visitor;
use crate::limits::Limits;
use crate::messages::Chat;
use crate::search::{Page, SearchQuery};

/// The raw query, read as text so that every bad value gets its own reason
/// (see `SearchQuery::parse`).
#[derive(rocket::FromForm)]
pub struct RawSearchQuery<'r> {
    q: Option<&'r str>,
    room: Option<&'r str>,
    before: Option<&'r str>,
    limit: Option<&'r str>,
}

#[get("/api/search?<query..>")]
pub async fn search(
    query: RawSearchQuery<'_>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    chat: &State<Chat>,
    limits: &State<Limits>,
) -> Result<Json<Page>, ApiError> {
    let query = SearchQuery::parse(query.q, query.room, query.before, query.limit)?;
    limits.posts.check(&visitor, client_ip).map_err(ApiError::RateLimited)?;
    Ok(Json(chat.search(&visitor, &query).await?))
}
