//! `chat export`: every stored message as JSON lines, one message per
//! line, in the form history serves it (a deleted message as its tombstone,
//! with empty text), ordered by room name and then by id.
//!
//! Ids count per room, so "id order" across rooms needs a first key: the
//! room's name, compared byte by byte (the same on both engines, which do
//! not agree on collation). Messages are read a page at a time by id
//! (keyset pagination, the same query history uses), so memory stays
//! bounded however large the database; only the room names are held at
//! once. The export is not one snapshot: a message posted while it runs
//! may or may not be in it. For a point-in-time copy, back up first and
//! export the backup. Progress is told a page at a time, against a count
//! taken first (so a message posted meanwhile may make it end past 100%).

use std::io::{self, Write};

use thiserror::Error;

use super::{Store, StoreError};
use crate::progress::Progress;
use crate::rooms::RoomName;

/// Messages read per query.
const PAGE: u32 = 500;

#[derive(Debug, Error)]
pub enum ExportError {
    #[error("no room named {0:?}")]
    NoSuchRoom(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export failed: {0}")]
    Write(#[from] io::Error),
}

impl Store {
    /// Writes the messages of `room` (or of every room) to `out`, one JSON
    /// object per line, and answers how many were written, telling
    /// `progress` as it goes. A reader that hangs up (`chat export | head`)
    /// ends the export quietly.
    pub async fn export(
        &self,
        room: Option<&str>,
        out: &mut impl Write,
        progress: &Progress,
    ) -> Result<u64, ExportError> {
        let rooms = match room {
            Some(name) => match RoomName::parse(name) {
                Ok(room) if self.room_exists(&room).await? => vec![room],
                _ => return Err(ExportError::NoSuchRoom(name.to_owned())),
            },
            None => self.room_names().await?,
        };
        progress.set_total(self.count_messages(room.is_some().then(|| &rooms[0])).await?);
        let mut out = io::BufWriter::new(out);
        let mut written = 0;
        let result = async {
            for room in &rooms {
                let mut after = 0;
                loop {
                    let page = self.after(room, after, None, PAGE).await?;
                    for message in &page {
                        serde_json::to_writer(&mut out, message).map_err(io::Error::from)?;
                        out.write_all(b"\n")?;
                        written += 1;
                    }
                    progress.add(page.len() as u64);
                    match page.last() {
                        Some(last) if page.len() == PAGE as usize => after = last.id,
                        _ => break,
                    }
                }
            }
            out.flush()?;
            Ok(())
        }
        .await;
        match result {
            Err(ExportError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(written),
            other => other.map(|()| written),
        }
    }

    /// Every room with a row (each that ever had a message or a policy), by
    /// name in byte order; names that are not valid room names (only a
    /// hand-edited database has them) are left out.
    async fn room_names(&self) -> Result<Vec<RoomName>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM rooms").fetch_all(&self.pool).await?;
        let mut rooms: Vec<RoomName> = names.iter().filter_map(|name| RoomName::parse(name).ok()).collect();
        rooms.sort();
        Ok(rooms)
    }

    /// The messages of `room`, or of every room.
    async fn count_messages(&self, room: Option<&RoomName>) -> Result<u64, StoreError> {
        let count: i64 = match room {
            Some(room) => {
                sqlx::query_scalar("SELECT count(*) FROM messages WHERE room = $1")
                    .bind(room.as_str())
                    .fetch_one(&self.pool)
                    .await?
            }
            None => sqlx::query_scalar("SELECT count(*) FROM messages").fetch_one(&self.pool).await?,
        };
        Ok(count.max(0) as u64)
    }

    async fn room_exists(&self, room: &RoomName) -> Result<bool, StoreError> {
        let found: Option<String> = sqlx::query_scalar("SELECT name FROM rooms WHERE name = $1")
            .bind(room.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}
