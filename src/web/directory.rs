//! Read-only JSON about rooms: `GET /api/rooms` (the room list, for the
//! page's sidebar, with direct messages and unread counts) and `GET /rooms/<room>/presence` (who is online now, the
//! same JSON as the stream's `presence` events).
//!
//! Handlers only validate and shape: the list comes from `Chat` (which
//! leaves out members-only rooms the visitor may not read), the online
//! list from `presence`.

use rocket::response::content::RawJson;
use rocket::serde::json::Json;
use rocket::{State, get};
use serde::Serialize;

use super::error::ApiError;
use crate::auth::Visitor;
use crate::messages::{Chat, MAX_LIMIT, QueryError, RoomListing};
use crate::moderation::ModerationError;
use crate::presence::Presence;
use crate::rooms::{RoomName, format_at, from_millis};

/// Rooms `GET /api/rooms` lists when it names no limit.
pub const DEFAULT_ROOMS: u32 = 50;

/// One row of the room list.
#[derive(Debug, Serialize)]
pub struct RoomEntry {
    pub name: String,
    /// Messages in the room.
    pub messages: i64,
    /// When the last one was posted, as messages carry their `at`.
    pub last_at: String,
    /// A direct-message room: `"dm": true` with its members' names.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dm: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
    /// For members: messages after their read position, not their own
    /// (counted up to 999), and those that mention them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mentions: Option<i64>,
}

impl From<RoomListing> for RoomEntry {
    fn from(listing: RoomListing) -> Self {
        let RoomListing { summary: room, dm_users, unread } = listing;
        Self {
            name: room.name,
            messages: room.messages,
            last_at: format_at(from_millis(room.last_at_ms)),
            dm: dm_users.is_some(),
            users: dm_users,
            unread: unread.map(|u| u.unread),
            mentions: unread.map(|u| u.mentions),
        }
    }
}

/// Reads `limit`: 1 to [`MAX_LIMIT`], [`DEFAULT_ROOMS`] when absent.
pub fn rooms_limit(raw: Option<&str>) -> Result<u32, QueryError> {
    match raw.map(|v| v.parse::<u64>().map_err(|_| QueryError::NotANumber("limit"))).transpose()? {
        None => Ok(DEFAULT_ROOMS),
        Some(n) if (1..=u64::from(MAX_LIMIT)).contains(&n) => Ok(n as u32),
        Some(_) => Err(QueryError::Limit),
    }
}

/// Rooms with messages the visitor may see, most recently active first.
#[get("/api/rooms?<limit>")]
pub async fn rooms(
    limit: Option<&str>,
    visitor: Visitor,
    chat: &State<Chat>,
) -> Result<Json<Vec<RoomEntry>>, ApiError> {
    let limit = rooms_limit(limit)?;
    let rooms = chat.room_list(&visitor, limit).await?;
    Ok(Json(rooms.into_iter().map(RoomEntry::from).collect()))
}

/// `{"room": "lobby", "online": [{"user": "alice", "guest": false}]}`; 404
/// for a members-only room the visitor may not read.
#[get("/rooms/<room>/presence")]
pub async fn presence(
    room: &str,
    visitor: Visitor,
    chat: &State<Chat>,
    presence: &State<Presence>,
) -> Result<RawJson<String>, ApiError> {
    let room = RoomName::parse(room)?;
    if !chat.can_read(&visitor, &room).await? {
        return Err(ModerationError::NoSuchRoom.into());
    }
    Ok(RawJson(presence.online(&room).json.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_defaults_and_names_what_is_wrong() {
        assert_eq!(rooms_limit(None), Ok(50));
        assert_eq!(rooms_limit(Some("200")), Ok(200));
        assert_eq!(rooms_limit(Some("0")), Err(QueryError::Limit));
        assert_eq!(rooms_limit(Some("201")), Err(QueryError::Limit));
        assert_eq!(rooms_limit(Some("x")), Err(QueryError::NotANumber("limit")));
    }
}
