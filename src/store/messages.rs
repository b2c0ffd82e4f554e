//! The `messages` table, mapped onto [`Message`] in one place each way: the
//! columns a read selects beside the function that reads a row of them, and
//! the columns an insert fills beside the function that gives their values.
//!
//! A column that new messages leave NULL (set later, like a deletion) is
//! added to the read side only; the insert names its columns, so it stays as
//! it is.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{NewMessage, Store, StoreError};
use crate::rooms::{self, Delivery, Kind, Message, Quote, Reaction, RoomName, Tombstone, format};

/// What every message read selects, with the author and text of the
/// message it replies to; [`from_row`] reads them by name.
pub(super) const COLUMNS: &str = "m.id, m.user_name, COALESCE(m.display, m.user_name) AS display, m.guest, m.bot, m.text, m.html, m.at_ms, m.deleted_by, m.deleted_at_ms, \
     m.edited_at_ms, m.reply_to, q.user_name AS quote_user, q.text AS quote_text, q.deleted_by AS quote_deleted, \
     COALESCE(q.display, q.user_name) AS quote_display";

/// The tables every message read selects from.
pub(super) const FROM: &str = "messages m LEFT JOIN messages q ON q.room = m.room AND q.id = m.reply_to";

/// A row of [`COLUMNS`] as the message clients see (reactions are read
/// apart, see [`Store::with_reactions`]). Rows are read one room at a time,
/// so the room is the one asked for rather than a column.
pub(super) fn from_row(room: &RoomName, row: &AnyRow) -> Message {
    let reply_to = row.get::<Option<i64>, _>("reply_to").map(|id| {
        let user = row.get::<Option<String>, _>("quote_user").unwrap_or_default();
        let deleted = row.get::<Option<String>, _>("quote_deleted").is_some();
        let text = row.get::<Option<String>, _>("quote_text").filter(|_| !deleted);
        let display = row.get::<Option<String>, _>("quote_display").unwrap_or_default();
        Quote::of(id, user, text.as_deref()).displayed(display)
    });
    Message {
        id: row.get("id"),
        room: room.clone(),
        user: row.get("user_name"),
        display: row.get("display"),
        guest: row.get::<i64, _>("guest") != 0,
        bot: row.get::<i64, _>("bot") != 0,
        text: row.get("text"),
        // NULL in rows from before HTML was stored: see `with_html`.
        html: row.get::<Option<String>, _>("html").unwrap_or_default(),
        at: rooms::from_millis(row.get("at_ms")),
        deleted: row.get::<Option<String>, _>("deleted_by").map(|by| Tombstone {
            by,
            at: rooms::from_millis(row.get::<Option<i64>, _>("deleted_at_ms").unwrap_or_default()),
        }),
        edited_at: row.get::<Option<i64>, _>("edited_at_ms").map(rooms::from_millis),
        reply_to,
        reactions: Vec::new(),
        attachments: Vec::new(),
    }
}

/// Renders the messages that have text but no HTML: rows written before
/// the `html` column existed. Every message posted since has its HTML from
/// posting (a deleted one has neither), so this costs nothing for them.
async fn with_html(mut messages: Vec<Message>) -> Vec<Message> {
    let missing: Vec<usize> =
        (0..messages.len()).filter(|&i| messages[i].html.is_empty() && !messages[i].text.is_empty()).collect();
    if missing.is_empty() {
        return messages;
    }
    let texts = missing.iter().map(|&i| messages[i].text.clone()).collect();
    for (i, html) in missing.into_iter().zip(format::render_apart(texts).await) {
        messages[i].html = html;
    }
    messages
}

/// `$first, $first+1, ...` for `count` values of an `IN (...)` list.
pub(super) fn params_from(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

impl Store {
    /// The newest `limit` messages, oldest first.
    pub async fn latest(&self, room: &RoomName, limit: u32) -> Result<Vec<Message>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE m.room = $1 ORDER BY m.id DESC LIMIT $2");
        let mut rows = sqlx::query(&sql).bind(room.as_str()).bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.reverse();
        self.with_reactions(room, rows.iter().map(|r| from_row(room, r)).collect()).await
    }

    /// Up to `limit` messages with `after < id < before`, oldest first.
    pub async fn after(
        &self,
        room: &RoomName,
        after: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE m.room = $1 AND m.id > $2 AND m.id < $3 ORDER BY m.id ASC LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(room.as_str())
            .bind(after)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        self.with_reactions(room, rows.iter().map(|r| from_row(room, r)).collect()).await
    }

    /// The `limit` messages just before `before`, oldest first.
    pub async fn before(&self, room: &RoomName, before: i64, limit: u32) -> Result<Vec<Message>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE m.room = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3");
        let mut rows =
            sqlx::query(&sql).bind(room.as_str()).bind(before).bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.reverse();
        self.with_reactions(room, rows.iter().map(|r| from_row(room, r)).collect()).await
    }

    /// Up to `limit` messages around `id`, oldest first: `id` itself (if it
    /// exists) with about half of the rest on each side, more on one side
    /// where the other runs out (near the start or the end of the room).
    pub async fn around(&self, room: &RoomName, id: i64, limit: u32) -> Result<Vec<Message>, StoreError> {
        let mut before = self.before(room, id.saturating_add(1), limit).await?;
        let mut after = self.after(room, id, None, limit).await?;
        let limit = limit as usize;
        let from_before = before.len().min(limit.div_ceil(2).max(limit.saturating_sub(after.len())));
        after.truncate(limit - from_before);
        let mut window = before.split_off(before.len() - from_before);
        window.append(&mut after);
        Ok(window)
    }

    /// One message as it is now.
    pub async fn message(&self, room: &RoomName, id: i64) -> Result<Option<Message>, StoreError> {
        Ok(self.messages_by_ids(room, &[id]).await?.pop())
    }

    /// The messages of `room` with these ids (those that exist), by id.
    async fn messages_by_ids(&self, room: &RoomName, ids: &[i64]) -> Result<Vec<Message>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE m.room = $1 AND m.id IN ({}) ORDER BY m.id",
            params_from(2, ids.len())
        );
        let mut query = sqlx::query(&sql).bind(room.as_str());
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        self.with_reactions(room, rows.iter().map(|r| from_row(room, r)).collect()).await
    }

    /// What message `id` of `room` looks like quoted in a reply; `None` when
    /// the room has no such message.
    pub async fn quote(&self, room: &RoomName, id: i64) -> Result<Option<Quote>, StoreError> {
        let sql = "SELECT user_name, text, deleted_by, COALESCE(display, user_name) FROM messages \
                   WHERE room = $1 AND id = $2";
        let row = sqlx::query(sql).bind(room.as_str()).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| {
            let deleted = r.get::<Option<String>, _>(2).is_some();
            let text: String = r.get(1);
            Quote::of(id, r.get(0), (!deleted).then_some(text.as_str())).displayed(r.get(3))
        }))
    }

    /// Fills in the reactions of `messages` (one query for all of them),
    /// and the HTML of those stored before it was (see `with_html`), then
    /// their attachments (one more).
    async fn with_reactions(&self, room: &RoomName, messages: Vec<Message>) -> Result<Vec<Message>, StoreError> {
        let mut messages = with_html(messages).await;
        if messages.is_empty() {
            return Ok(messages);
        }
        let sql = format!(
            "SELECT id, emoji, name FROM reactions WHERE room = $1 AND id IN ({}) ORDER BY id, at_ms, emoji, name",
            params_from(2, messages.len())
        );
        let mut query = sqlx::query(&sql).bind(room.as_str());
        for message in &messages {
            query = query.bind(message.id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        for run in rows.chunk_by(|a, b| a.get::<i64, _>(0) == b.get::<i64, _>(0)) {
            let id: i64 = run[0].get(0);
            if let Some(message) = messages.iter_mut().find(|m| m.id == id) {
                message.reactions = Reaction::tally(run.iter().map(|r| (r.get(1), r.get(2))));
            }
        }
        self.with_attachments(room, messages).await
    }

    /// The room's sequence after `after` (and before `before`, if given):
    /// new messages and changes, up to `limit` of them, in order, each as it
    /// is now. This is what a resuming or lagging subscriber replays.
    pub async fn sequence_after(
        &self,
        room: &RoomName,
        after: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Arc<Delivery>>, StoreError> {
        let messages = self.after(room, after, before, limit).await?;
        let changes: Vec<(i64, String, i64)> = sqlx::query(
            "SELECT seq, kind, message_id FROM changes WHERE room = $1 AND seq > $2 AND seq < $3 ORDER BY seq LIMIT $4",
        )
        .bind(room.as_str())
        .bind(after)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
        if changes.is_empty() {
            return Ok(messages.into_iter().map(Delivery::new).collect());
        }
        let mut targets: Vec<i64> = changes.iter().map(|(_, _, id)| *id).collect();
        targets.sort_unstable();
        targets.dedup();
        let current: HashMap<i64, Message> =
            self.messages_by_ids(room, &targets).await?.into_iter().map(|m| (m.id, m)).collect();
        // Merge by seq (a message's seq is its id). A change whose message
        // is gone (retention) is left out: there is nothing left to change.
        let mut merged = Vec::with_capacity(limit as usize);
        let mut messages = messages.into_iter().peekable();
        let mut changes = changes.into_iter().peekable();
        while merged.len() < limit as usize {
            let take_message = match (messages.peek(), changes.peek()) {
                (Some(m), Some((seq, _, _))) => m.id < *seq,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_message {
                merged.push(Delivery::new(messages.next().expect("peeked")));
                continue;
            }
            let (seq, kind, id) = changes.next().expect("peeked");
            if let (Some(kind), Some(message)) = (Kind::parse_change(&kind), current.get(&id)) {
                merged.push(Delivery::change(kind, seq, message.clone()));
            }
        }
        Ok(merged)
    }
}

/// The columns a new message's insert fills, in the order of
/// [`insert_values`]; the other columns start NULL.
pub(super) const INSERT_COLUMNS: [&str; 11] =
    ["room", "id", "user_id", "user_name", "guest", "text", "html", "at_ms", "reply_to", "bot", "display"];

/// One value of an insert, in a form either engine binds (rusqlite in the
/// SQLite writer, sqlx in the pooled one). It borrows from the batch, so
/// building a row copies no text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InsertValue<'a> {
    Integer(Option<i64>),
    Text(&'a str),
}

/// The values of [`INSERT_COLUMNS`] for a message committed as `id` at `at`.
/// The array's length is the column list's, so the two cannot drift apart.
pub(super) fn insert_values(
    message: &NewMessage,
    id: i64,
    at: OffsetDateTime,
) -> [InsertValue<'_>; INSERT_COLUMNS.len()] {
    use InsertValue::{Integer, Text};
    [
        Text(message.room.as_str()),
        Integer(Some(id)),
        Integer(message.author.user_id),
        Text(&message.author.name),
        Integer(Some(i64::from(message.author.guest))),
        Text(message.text.as_str()),
        Text(&message.html),
        Integer(Some(rooms::to_millis(at))),
        Integer(message.reply_to.as_ref().map(|quote| quote.id)),
        Integer(Some(i64::from(message.author.bot))),
        Text(&message.author.display),
    ]
}

/// `INSERT INTO messages (<INSERT_COLUMNS>) VALUES ($1, ..., $7), ($8, ...)`
/// for `rows` rows, each parameter numbered once. At most `MAX_BATCH` rows
/// (2560 parameters, within both engines' limits).
pub(super) fn insert_messages_sql(rows: usize) -> String {
    let width = INSERT_COLUMNS.len();
    let mut sql = format!("INSERT INTO messages ({}) VALUES ", INSERT_COLUMNS.join(", "));
    for row in 0..rows {
        let first = row * width + 1;
        let params: Vec<String> = (first..first + width).map(|n| format!("${n}")).collect();
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&params.join(", "));
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::{Author, MessageText};

    #[test]
    fn the_insert_numbers_every_parameter_once() {
        assert_eq!(
            insert_messages_sql(2),
            "INSERT INTO messages (room, id, user_id, user_name, guest, text, html, at_ms, reply_to, bot, display) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11), ($12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
        );
    }

    #[test]
    fn an_insert_row_gives_each_column_its_value() {
        let guest =
            Author { name: "guest-1".into(), display: "guest-1".into(), guest: true, user_id: None, bot: false };
        let text = MessageText::parse("hi").unwrap();
        let html = "<p>hi</p>".to_owned();
        let message =
            NewMessage { room: RoomName::lobby(), author: guest, text, html, reply_to: None, attachments: vec![] };
        let values = insert_values(&message, 3, rooms::from_millis(42));
        let named: Vec<_> = INSERT_COLUMNS.into_iter().zip(values).collect();
        use InsertValue::{Integer, Text};
        assert_eq!(
            named,
            [
                ("room", Text("lobby")),
                ("id", Integer(Some(3))),
                ("user_id", Integer(None)),
                ("user_name", Text("guest-1")),
                ("guest", Integer(Some(1))),
                ("text", Text("hi")),
                ("html", Text("<p>hi</p>")),
                ("at_ms", Integer(Some(42))),
                ("reply_to", Integer(None)),
                ("bot", Integer(Some(0))),
                ("display", Text("guest-1")),
            ]
        );
    }
}
