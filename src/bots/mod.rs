//! Bots and incoming webhooks: accounts that act through the JSON API with
//! a bearer token instead of a session, each kept to the rooms it was given,
//! and webhooks that post to one room as one bot.
//!
//! A bot is an account (its name a handle like any other, unique with
//! people's) with no password, so the login form never lets it in; what it
//! may do is decided by its token, looked up by digest ([`token`]) on each
//! request, so revoking it works at the next request on every instance.
//! Inside the chat a bot is [`crate::auth::Visitor::Bot`]: the same rules
//! as a member (moderation, members-only allow lists by name), never a
//! moderator, and [`BotUser::may_use`] its rooms only. This module makes
//! and finds bots and hooks; it knows nothing of HTTP (the `Authorization`
//! header is `web::bearer`'s, `POST /hooks/<token>` is `web::hooks`') and
//! leaves rows to `store::bots`.

mod commands;
mod token;

pub use commands::{BotCommand, HookCommand, run_bot, run_hook};
pub use token::{Token, TokenDigest, TokenKind};

use std::sync::Arc;

use thiserror::Error;

use crate::auth::{InvalidCredentials, UserName};
use crate::rooms::{InvalidInput, RoomName};
use crate::store::{BotListing, BotRecord, HookListing, Store, StoreError};

/// Most rooms one bot may be given.
pub const MAX_BOT_ROOMS: usize = 50;

/// A live bot, as its token found it: what a request made with the token
/// acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotUser {
    /// Its account's row id.
    pub user_id: i64,
    pub name: String,
    /// The only rooms it may read and post in.
    rooms: Arc<[RoomName]>,
}

impl BotUser {
    /// Whether the bot may read and post in `room`.
    pub fn may_use(&self, room: &RoomName) -> bool {
        self.rooms.contains(room)
    }

    pub fn rooms(&self) -> &[RoomName] {
        &self.rooms
    }

    fn from_record(record: BotRecord) -> Self {
        // Rooms were checked when the bot was made; a damaged row grants nothing.
        let rooms = record.rooms.iter().filter_map(|room| RoomName::parse(room).ok()).collect();
        Self { user_id: record.user_id, name: record.name, rooms }
    }
}

/// A live webhook: it posts to `room` as `bot`.
#[derive(Debug, Clone)]
pub struct Hook {
    pub id: i64,
    pub room: RoomName,
    pub bot: BotUser,
}

/// Why making, revoking or finding a bot or a webhook was refused (the
/// command line prints the reason).
#[derive(Debug, Error)]
pub enum BotError {
    #[error(transparent)]
    Name(#[from] InvalidCredentials),
    #[error("that name is taken")]
    NameTaken,
    #[error("a bot needs 1 to 50 rooms, comma separated: --rooms lobby,alerts")]
    Rooms,
    #[error(transparent)]
    Room(#[from] InvalidInput),
    #[error("a bot cannot be given a conversation (dm-...): conversations are for their members")]
    Conversation,
    #[error("no live bot named {0:?}")]
    NoSuchBot(String),
    #[error("{bot} may not post in #{room}: its rooms are {rooms}")]
    NotTheBotsRoom { bot: String, room: RoomName, rooms: String },
    #[error("no live webhook numbered {0}")]
    NoSuchHook(i64),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for BotError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::UsernameTaken => BotError::NameTaken,
            other => BotError::Store(other),
        }
    }
}

/// The rooms of `chat bot add --rooms a,b`: 1 to [`MAX_BOT_ROOMS`] valid
/// room names (repeats ignored), none a conversation.
pub fn parse_rooms(raw: &str) -> Result<Vec<RoomName>, BotError> {
    let mut rooms: Vec<RoomName> = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|name| !name.is_empty()) {
        let room = RoomName::parse(name)?;
        if room.is_dm() {
            return Err(BotError::Conversation);
        }
        if !rooms.contains(&room) {
            rooms.push(room);
        }
    }
    if rooms.is_empty() || rooms.len() > MAX_BOT_ROOMS {
        return Err(BotError::Rooms);
    }
    Ok(rooms)
}

/// The bot and webhook service. Clones share the store handle.
#[derive(Clone)]
pub struct Bots {
    store: Store,
}

impl Bots {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Makes a bot named `name` for `rooms` (see [`parse_rooms`]) and
    /// answers its token, the only time it is ever seen.
    pub async fn add(&self, name: &str, rooms: &str) -> Result<(BotUser, Token), BotError> {
        let name = UserName::parse(name)?;
        let rooms = parse_rooms(rooms)?;
        let token = Token::generate(TokenKind::Bot);
        let names: Vec<String> = rooms.iter().map(|room| room.as_str().to_owned()).collect();
        let user_id = self.store.create_bot(name.as_str(), token.digest().as_str(), &names).await?;
        Ok((BotUser { user_id, name: name.as_str().to_owned(), rooms: rooms.into() }, token))
    }

    /// The live bot whose token `presented` is; `None` for anything else
    /// (malformed, unknown, revoked).
    pub async fn authenticate(&self, presented: &str) -> Result<Option<BotUser>, StoreError> {
        let Some(digest) = TokenDigest::of(TokenKind::Bot, presented) else { return Ok(None) };
        Ok(self.store.bot_by_token(digest.as_str()).await?.map(BotUser::from_record))
    }

    /// Whether `bot` has not been revoked since its token was checked (an
    /// open stream asks this on its beat).
    pub async fn still_live(&self, bot: &BotUser) -> Result<bool, StoreError> {
        self.store.bot_is_live(bot.user_id).await
    }

    /// Revokes the bot named `name`: its token and its webhooks stop
    /// working at once (401 and 404), its open streams end at their next
    /// beat; its name stays taken and its messages stay.
    pub async fn revoke(&self, name: &str) -> Result<(), BotError> {
        if self.store.revoke_bot(name).await? { Ok(()) } else { Err(BotError::NoSuchBot(name.to_owned())) }
    }

    pub async fn list(&self) -> Result<Vec<BotListing>, StoreError> {
        self.store.list_bots().await
    }

    /// Makes a webhook posting to `room` as the live bot `bot_name`, which
    /// must be one of its rooms; answers its number and its token.
    pub async fn add_hook(&self, bot_name: &str, room: &str) -> Result<(i64, Token), BotError> {
        let room = RoomName::parse(room)?;
        let bot = self.store.live_bot_named(bot_name).await?.ok_or_else(|| BotError::NoSuchBot(bot_name.to_owned()))?;
        if !bot.rooms.iter().any(|r| r == room.as_str()) {
            return Err(BotError::NotTheBotsRoom { bot: bot.name, room, rooms: bot.rooms.join(", ") });
        }
        let token = Token::generate(TokenKind::Hook);
        let id = self.store.create_hook(bot.user_id, room.as_str(), token.digest().as_str()).await?;
        Ok((id, token))
    }

    /// The live webhook whose token `presented` is, with its live bot.
    pub async fn hook(&self, presented: &str) -> Result<Option<Hook>, StoreError> {
        let Some(digest) = TokenDigest::of(TokenKind::Hook, presented) else { return Ok(None) };
        let Some(record) = self.store.hook_by_token(digest.as_str()).await? else { return Ok(None) };
        // A room that no longer parses (a damaged row) posts nowhere.
        let Ok(room) = RoomName::parse(&record.room) else { return Ok(None) };
        Ok(Some(Hook { id: record.id, room, bot: BotUser::from_record(record.bot) }))
    }

    pub async fn list_hooks(&self) -> Result<Vec<HookListing>, StoreError> {
        self.store.list_hooks().await
    }

    pub async fn revoke_hook(&self, id: i64) -> Result<(), BotError> {
        if self.store.revoke_hook(id).await? { Ok(()) } else { Err(BotError::NoSuchHook(id)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bots_rooms_are_1_to_50_valid_names_and_no_conversation() {
        let rooms = parse_rooms(" lobby, alerts ,lobby,").unwrap();
        assert_eq!(rooms, [RoomName::parse("lobby").unwrap(), RoomName::parse("alerts").unwrap()]);
        assert!(matches!(parse_rooms(""), Err(BotError::Rooms)));
        assert!(matches!(parse_rooms(" , "), Err(BotError::Rooms)));
        assert!(matches!(parse_rooms("Bad Room"), Err(BotError::Room(_))));
        assert!(matches!(parse_rooms("lobby,dm-abc"), Err(BotError::Conversation)));
        let many: Vec<String> = (0..51).map(|i| format!("r{i}")).collect();
        assert!(matches!(parse_rooms(&many.join(",")), Err(BotError::Rooms)));
        assert_eq!(parse_rooms(&many[..50].join(",")).unwrap().len(), 50);
    }

    #[test]
    fn a_bot_may_use_its_rooms_only() {
        let record = BotRecord { user_id: 1, name: "ci".into(), rooms: vec!["alerts".into(), "Bad Room".into()] };
        let bot = BotUser::from_record(record);
        assert!(bot.may_use(&RoomName::parse("alerts").unwrap()));
        assert!(!bot.may_use(&RoomName::lobby()));
        assert_eq!(bot.rooms().len(), 1, "a damaged row grants nothing");
    }
}
