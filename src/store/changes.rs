//! Changes to stored messages: edits (keeping every earlier text),
//! deletions and reactions.
//!
//! Each change is one transaction that takes the room's next number (the
//! counter new messages take their ids from), applies the change, notes it
//! in `changes`, and, once committed, is handed to the publisher like a new
//! message. Its first statement is that counter bump, a write: SQLite then
//! holds the file's write lock for the whole transaction (a transaction that
//! read first would have to upgrade, which fails instead of waiting), and
//! PostgreSQL holds the room's row lock, so a change and the writer's next
//! batch of the room take turns and their numbers commit in order. A change
//! can still be published after a later message of its room; subscribers
//! fill such a gap from the store (see `stream`).
//!
//! Who may change what is decided by the callers (`messages`,
//! `moderation`); what only the row can tell (the author, the time, a
//! deletion, the emoji already there) is checked here, inside the
//! transaction.

use std::sync::Arc;

use sqlx::Row;
use thiserror::Error;

use super::{Store, StoreError};
use crate::rooms::{self, Author, Delivery, Emoji, Kind, MAX_REACTION_KINDS, Message, MessageText, RoomName};

/// A change to one message.
#[derive(Debug, Clone)]
pub enum Change {
    /// New text (and its HTML, rendered beforehand) from its author, within
    /// `window_ms` of posting.
    Edit { editor: Author, text: MessageText, html: String, window_ms: i64 },
    /// A tombstone in place of the text, signed by `by`.
    Delete { by: String },
    /// `name` adds (`on`) or takes back a reaction.
    React { name: String, emoji: Emoji, on: bool },
}

#[derive(Debug, Error)]
pub enum ChangeError {
    #[error("no such message")]
    NoSuchMessage,
    #[error("only the author may edit a message")]
    NotYours,
    #[error("messages may be edited only within {0} s of posting")]
    TooLate(i64),
    #[error("a message carries at most 20 different reactions")]
    TooManyReactions,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ChangeError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}

/// What a change did.
#[derive(Debug)]
pub enum Changed {
    /// Committed and published.
    Published(Arc<Delivery>),
    /// Nothing to do (the same text, a reaction already there or not there,
    /// a message already deleted): the message as it is.
    Unchanged(Box<Message>),
}

impl Changed {
    pub fn message(&self) -> &Message {
        match self {
            Changed::Published(delivery) => &delivery.message,
            Changed::Unchanged(message) => message,
        }
    }
}

/// One text a message has had, and since when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Version {
    pub text: String,
    #[serde(with = "rooms::timestamp")]
    pub at: time::OffsetDateTime,
}

/// The stored row a change is judged by.
struct Current {
    user_id: Option<i64>,
    user_name: String,
    guest: bool,
    text: String,
    at_ms: i64,
    edited_at_ms: Option<i64>,
    deleted: bool,
}

impl Store {
    /// Applies `change` to message `id` of `room`, publishing it once
    /// committed.
    pub async fn change(&self, room: &RoomName, id: i64, change: Change) -> Result<Changed, ChangeError> {
        let now = self.clock.now_ms();
        let mut tx = self.pool.begin().await?;
        let seq: Option<i64> =
            sqlx::query_scalar("UPDATE rooms SET last_id = last_id + 1 WHERE name = $1 RETURNING last_id")
                .bind(room.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let Some(seq) = seq else { return Err(ChangeError::NoSuchMessage) };
        let row = sqlx::query(
            "SELECT user_id, user_name, guest, text, at_ms, edited_at_ms, deleted_by FROM messages \
             WHERE room = $1 AND id = $2",
        )
        .bind(room.as_str())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Err(ChangeError::NoSuchMessage) };
        let current = Current {
            user_id: row.get(0),
            user_name: row.get(1),
            guest: row.get::<i64, _>(2) != 0,
            text: row.get(3),
            at_ms: row.get(4),
            edited_at_ms: row.get(5),
            deleted: row.get::<Option<String>, _>(6).is_some(),
        };
        // Files of a deleted message, removed from disk once it commits.
        let mut discarded: Vec<String> = Vec::new();
        let kind = match &change {
            Change::Edit { editor, text, html, window_ms } => {
                if current.deleted {
                    return Err(ChangeError::NoSuchMessage);
                }
                let mine = match editor.user_id {
                    Some(user_id) => current.user_id == Some(user_id),
                    None => current.guest && current.user_name == editor.name,
                };
                if !mine {
                    return Err(ChangeError::NotYours);
                }
                if now - current.at_ms > *window_ms {
                    return Err(ChangeError::TooLate(window_ms / 1000));
                }
                if current.text == text.as_str() {
                    drop(tx);
                    return self.unchanged(room, id).await;
                }
                sqlx::query("INSERT INTO message_versions (room, id, at_ms, text) VALUES ($1, $2, $3, $4)")
                    .bind(room.as_str())
                    .bind(id)
                    .bind(current.edited_at_ms.unwrap_or(current.at_ms))
                    .bind(&current.text)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE messages SET text = $1, html = $2, edited_at_ms = $3 WHERE room = $4 AND id = $5")
                    .bind(text.as_str())
                    .bind(html)
                    .bind(now)
                    .bind(room.as_str())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                Kind::Edit
            }
            Change::Delete { by } => {
                if current.deleted {
                    drop(tx);
                    return self.unchanged(room, id).await;
                }
                sqlx::query(
                    "UPDATE messages SET text = '', html = '', deleted_by = $1, deleted_at_ms = $2 \
                     WHERE room = $3 AND id = $4",
                )
                .bind(by)
                .bind(now)
                .bind(room.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?;
                discarded =
                    sqlx::query_scalar("DELETE FROM attachments WHERE room = $1 AND message_id = $2 RETURNING id")
                        .bind(room.as_str())
                        .bind(id)
                        .fetch_all(&mut *tx)
                        .await?;
                Kind::Delete
            }
            Change::React { name, emoji, on } => {
                if current.deleted {
                    return Err(ChangeError::NoSuchMessage);
                }
                let changed = if *on {
                    react(&mut tx, room, id, emoji, name, now).await?
                } else {
                    sqlx::query("DELETE FROM reactions WHERE room = $1 AND id = $2 AND emoji = $3 AND name = $4")
                        .bind(room.as_str())
                        .bind(id)
                        .bind(emoji.as_str())
                        .bind(name)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                        > 0
                };
                if !changed {
                    drop(tx);
                    return self.unchanged(room, id).await;
                }
                Kind::Reaction
            }
        };
        sqlx::query("INSERT INTO changes (room, seq, kind, message_id, at_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(room.as_str())
            .bind(seq)
            .bind(kind.as_str())
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.discard_files(discarded).await;
        // Read after the commit: a later change may already show in it,
        // which is what that change's own event will say too.
        let message = self.message(room, id).await?.ok_or(ChangeError::NoSuchMessage)?;
        let delivery = Delivery::change(kind, seq, message);
        self.publish.publish(&delivery);
        Ok(Changed::Published(delivery))
    }

    async fn unchanged(&self, room: &RoomName, id: i64) -> Result<Changed, ChangeError> {
        Ok(Changed::Unchanged(Box::new(self.message(room, id).await?.ok_or(ChangeError::NoSuchMessage)?)))
    }

    /// Every text message `id` of `room` has had, oldest first, the current
    /// one last; `None` when there is no such message.
    pub async fn versions(&self, room: &RoomName, id: i64) -> Result<Option<Vec<Version>>, StoreError> {
        let Some(message) = self.message(room, id).await? else { return Ok(None) };
        let rows = sqlx::query("SELECT text, at_ms FROM message_versions WHERE room = $1 AND id = $2 ORDER BY at_ms")
            .bind(room.as_str())
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let mut versions: Vec<Version> =
            rows.iter().map(|r| Version { text: r.get(0), at: rooms::from_millis(r.get(1)) }).collect();
        versions.push(Version { text: message.text, at: message.edited_at.unwrap_or(message.at) });
        Ok(Some(versions))
    }
}

/// Adds `name`'s reaction unless it is there; refuses a new emoji on a
/// message that already has [`MAX_REACTION_KINDS`]. Answers whether it
/// added one.
async fn react(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    room: &RoomName,
    id: i64,
    emoji: &Emoji,
    name: &str,
    now: i64,
) -> Result<bool, ChangeError> {
    let emojis: Vec<String> = sqlx::query_scalar("SELECT DISTINCT emoji FROM reactions WHERE room = $1 AND id = $2")
        .bind(room.as_str())
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
    if !emojis.iter().any(|e| e == emoji.as_str()) && emojis.len() >= MAX_REACTION_KINDS {
        return Err(ChangeError::TooManyReactions);
    }
    let added = sqlx::query(
        "INSERT INTO reactions (room, id, emoji, name, at_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(room.as_str())
    .bind(id)
    .bind(emoji.as_str())
    .bind(name)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(added.rows_affected() > 0)
}
