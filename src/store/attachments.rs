//! The `attachments` table: the files of each message, written by the
//! message writer in the transaction that stores the message, read beside
//! the messages, looked up by id when a file is served, summed per
//! uploader for the quota, and deleted with their message, a deletion or
//! retention (the rows in the deleting transaction, the files on disk right
//! after it commits: a file is never served for a message that is gone).
//!
//! A crash between that commit and the unlink leaves files no row names;
//! they are never served (serving starts from the row).

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::files::FileDir;
use super::messages::{InsertValue, params_from};
use super::{NewMessage, Store, StoreError};
use crate::rooms::{self, Attachment, Author, FileId, FileName, Message, RoomName};

/// An attachment with the message it belongs to: what serving it needs to
/// decide who may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    pub room: RoomName,
    pub message_id: i64,
    pub attachment: Attachment,
}

/// The columns a new attachment's insert fills, in the order of
/// [`attachment_values`].
const INSERT_COLUMNS: [&str; 11] = [
    "id",
    "room",
    "message_id",
    "owner_id",
    "owner_name",
    "name",
    "content_type",
    "size",
    "width",
    "height",
    "created_at_ms",
];

/// Inserts one attachment row: `$1` to `$11` in [`INSERT_COLUMNS`] order.
pub(super) fn insert_attachment_sql() -> String {
    format!("INSERT INTO attachments ({}) VALUES ({})", INSERT_COLUMNS.join(", "), params_from(1, INSERT_COLUMNS.len()))
}

/// The rows of `message`'s attachments, committed as message `id` at `at`.
pub(super) fn attachment_values(
    message: &NewMessage,
    id: i64,
    at: OffsetDateTime,
) -> impl Iterator<Item = [InsertValue<'_>; INSERT_COLUMNS.len()]> {
    use InsertValue::{Integer, Text};
    let Author { name: owner_name, user_id: owner_id, .. } = &message.author;
    message.attachments.iter().map(move |file| {
        [
            Text(file.id.as_str()),
            Text(message.room.as_str()),
            Integer(Some(id)),
            Integer(*owner_id),
            Text(owner_name),
            Text(file.name.as_str()),
            Text(&file.content_type),
            Integer(Some(i64::try_from(file.size).unwrap_or(i64::MAX))),
            Integer(file.width.map(i64::from)),
            Integer(file.height.map(i64::from)),
            Integer(Some(rooms::to_millis(at))),
        ]
    })
}

const COLUMNS: &str = "id, room, message_id, name, content_type, size, width, height";

/// A row of [`COLUMNS`]; `None` if it names an id or room that no longer
/// parses (only a hand-edited database has one).
fn from_row(row: &AnyRow) -> Option<StoredAttachment> {
    let dimension = |column| row.get::<Option<i64>, _>(column).and_then(|n| u32::try_from(n).ok());
    let attachment = Attachment {
        id: FileId::parse(row.get("id"))?,
        name: FileName::sanitize(row.get("name")),
        content_type: row.get("content_type"),
        size: u64::try_from(row.get::<i64, _>("size")).unwrap_or(0),
        width: dimension("width"),
        height: dimension("height"),
    };
    let room = RoomName::parse(row.get("room")).ok()?;
    Some(StoredAttachment { room, message_id: row.get("message_id"), attachment })
}

impl Store {
    /// Removes files from disk once a deletion has committed (a no-op for a
    /// store opened without a files directory, e.g. the command line's).
    pub fn with_files(self, files: FileDir) -> Self {
        Self { files: Some(files), ..self }
    }

    /// Fills in the attachments of `messages` (one query for all of them).
    pub(super) async fn with_attachments(
        &self,
        room: &RoomName,
        mut messages: Vec<Message>,
    ) -> Result<Vec<Message>, StoreError> {
        if messages.is_empty() {
            return Ok(messages);
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM attachments WHERE room = $1 AND message_id IN ({}) ORDER BY message_id, id",
            params_from(2, messages.len())
        );
        let mut query = sqlx::query(&sql).bind(room.as_str());
        for message in &messages {
            query = query.bind(message.id);
        }
        for stored in query.fetch_all(&self.pool).await?.iter().filter_map(from_row) {
            if let Some(message) = messages.iter_mut().find(|m| m.id == stored.message_id) {
                message.attachments.push(stored.attachment);
            }
        }
        Ok(messages)
    }

    /// The attachment `id`, if its message still has it.
    pub async fn attachment(&self, id: &FileId) -> Result<Option<StoredAttachment>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM attachments WHERE id = $1");
        let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().and_then(from_row))
    }

    /// The bytes `owner` has uploaded that are still attached: an account's
    /// by its id, a guest's by its name.
    pub async fn uploaded_bytes(&self, owner: &Author) -> Result<u64, StoreError> {
        // SUM of a BIGINT is NUMERIC on PostgreSQL, which `Any` cannot read.
        let total: i64 = match owner.user_id {
            Some(user_id) => {
                sqlx::query_scalar("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM attachments WHERE owner_id = $1")
                    .bind(user_id)
                    .fetch_one(&self.pool)
                    .await?
            }
            None => {
                sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM attachments \
                     WHERE owner_id IS NULL AND owner_name = $1",
                )
                .bind(&owner.name)
                .fetch_one(&self.pool)
                .await?
            }
        };
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// Removes the files of attachments whose rows a committed transaction
    /// deleted (their ids as the `RETURNING` gave them).
    pub(super) async fn discard_files(&self, ids: Vec<String>) {
        let Some(files) = self.files.clone() else { return };
        let ids: Vec<FileId> = ids.iter().filter_map(|id| FileId::parse(id)).collect();
        if ids.is_empty() {
            return;
        }
        // Unlinking is file system work (on NFS, a round trip each).
        let removing = tokio::task::spawn_blocking(move || {
            for id in &ids {
                files.remove(id);
            }
        });
        if let Err(e) = removing.await {
            tracing::warn!("files: removing deleted attachments failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::MessageText;

    #[test]
    fn an_attachment_row_gives_each_column_its_value() {
        assert_eq!(
            insert_attachment_sql(),
            "INSERT INTO attachments (id, room, message_id, owner_id, owner_name, name, content_type, size, \
             width, height, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        let file = Attachment {
            id: FileId::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap(),
            name: FileName::sanitize("a.png"),
            content_type: "image/png".into(),
            size: 9,
            width: Some(3),
            height: Some(2),
        };
        let author =
            Author { name: "alice".into(), display: "alice".into(), guest: false, user_id: Some(4), bot: false };
        let text = MessageText::caption("").unwrap();
        let (html, attachments) = (String::new(), vec![file.clone()]);
        let message = NewMessage { room: RoomName::lobby(), author, text, html, reply_to: None, attachments };
        let rows: Vec<_> = attachment_values(&message, 7, rooms::from_millis(5)).collect();
        use InsertValue::{Integer, Text};
        assert_eq!(
            rows,
            [[
                Text("AAAAAAAAAAAAAAAAAAAAAA"),
                Text("lobby"),
                Integer(Some(7)),
                Integer(Some(4)),
                Text("alice"),
                Text("a.png"),
                Text("image/png"),
                Integer(Some(9)),
                Integer(Some(3)),
                Integer(Some(2)),
                Integer(Some(5)),
            ]]
        );
    }
}
