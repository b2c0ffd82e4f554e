//! The `messages` table, mapped onto [`Message`] in one place each way: the
//! columns a read selects beside the function that reads a row of them, and
//! the columns an insert fills beside the function that gives their values.
//!
//! A column that new messages leave NULL (set later, like a deletion) is
//! added to the read side only; the insert names its columns, so it stays as
//! it is.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{NewMessage, Store, StoreError};
use crate::rooms::{self, Message, RoomName, Tombstone};

/// What every message read selects; [`from_row`] reads them by name.
const COLUMNS: &str = "id, user_name, guest, text, at_ms, deleted_by, deleted_at_ms";

/// A row of [`COLUMNS`] as the message clients see. Rows are read one room
/// at a time, so the room is the one asked for rather than a column.
fn from_row(room: &RoomName, row: &AnyRow) -> Message {
    Message {
        id: row.get("id"),
        room: room.clone(),
        user: row.get("user_name"),
        guest: row.get::<i64, _>("guest") != 0,
        text: row.get("text"),
        at: rooms::from_millis(row.get("at_ms")),
        deleted: row.get::<Option<String>, _>("deleted_by").map(|by| Tombstone {
            by,
            at: rooms::from_millis(row.get::<Option<i64>, _>("deleted_at_ms").unwrap_or_default()),
        }),
    }
}

impl Store {
    /// The newest `limit` messages, oldest first.
    pub async fn latest(&self, room: &RoomName, limit: u32) -> Result<Vec<Message>, StoreError> {
        let mut rows =
            sqlx::query(&format!("SELECT {COLUMNS} FROM messages WHERE room = $1 ORDER BY id DESC LIMIT $2"))
                .bind(room.as_str())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.reverse();
        Ok(rows.iter().map(|r| from_row(room, r)).collect())
    }

    /// Up to `limit` messages with `after < id < before`, oldest first.
    pub async fn after(
        &self,
        room: &RoomName,
        after: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM messages WHERE room = $1 AND id > $2 AND id < $3 ORDER BY id ASC LIMIT $4");
        let rows = sqlx::query(&sql)
            .bind(room.as_str())
            .bind(after)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| from_row(room, r)).collect())
    }

    /// The `limit` messages just before `before`, oldest first.
    pub async fn before(&self, room: &RoomName, before: i64, limit: u32) -> Result<Vec<Message>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM messages WHERE room = $1 AND id < $2 ORDER BY id DESC LIMIT $3");
        let mut rows =
            sqlx::query(&sql).bind(room.as_str()).bind(before).bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.reverse();
        Ok(rows.iter().map(|r| from_row(room, r)).collect())
    }
}

/// The columns a new message's insert fills, in the order of
/// [`insert_values`]; the other columns start NULL.
pub(super) const INSERT_COLUMNS: [&str; 7] = ["room", "id", "user_id", "user_name", "guest", "text", "at_ms"];

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
        Integer(Some(rooms::to_millis(at))),
    ]
}

/// `INSERT INTO messages (<INSERT_COLUMNS>) VALUES ($1, ..., $7), ($8, ...)`
/// for `rows` rows, each parameter numbered once. At most `MAX_BATCH` rows
/// (1792 parameters, within both engines' limits).
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
            "INSERT INTO messages (room, id, user_id, user_name, guest, text, at_ms) VALUES \
             ($1, $2, $3, $4, $5, $6, $7), ($8, $9, $10, $11, $12, $13, $14)"
        );
    }

    #[test]
    fn an_insert_row_gives_each_column_its_value() {
        let guest = Author { name: "guest-1".into(), guest: true, user_id: None };
        let message = NewMessage { room: RoomName::lobby(), author: guest, text: MessageText::parse("hi").unwrap() };
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
                ("at_ms", Integer(Some(42))),
            ]
        );
    }
}
