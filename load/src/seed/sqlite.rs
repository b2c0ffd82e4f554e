//! Seeding a SQLite file (already migrated by the store): one connection,
//! one prepared insert per table, one transaction per chunk.
//!
//! The connection keeps the file in WAL mode, as the server left it, but
//! commits with `synchronous = NORMAL` (no fsync per commit, only at
//! checkpoints: a crash may lose the last chunks, never corrupt the file)
//! and a large page cache; both are this connection's alone, and the server
//! reopens the file with its own settings. Each insert into `messages` fires
//! the migrations' triggers, which number the message in `search_docs` and
//! add it to the FTS5 index, as for a post.

use std::path::Path;

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, TransactionBehavior, params};

use super::layout::{Layout, room_name};
use super::{Chunks, Size};

/// The columns the message writer fills (`store::messages::INSERT_COLUMNS`),
/// for a guest's message that replies to nothing and has no attachment.
const INSERT_MESSAGE: &str = "INSERT INTO messages \
     (room, id, user_id, user_name, guest, text, html, at_ms, reply_to, bot, display) \
     VALUES (?1, ?2, NULL, ?3, 1, ?4, ?5, ?6, NULL, 0, ?3)";

/// The room's counter once the chunk is in (the writer's `BUMP_ROOM_SQL`
/// bumps it by the batch; here the chunk says where it ends).
const SET_ROOM: &str = "INSERT INTO rooms (name, last_id, last_at_ms) VALUES (?1, ?2, ?3) \
     ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id, last_at_ms = excluded.last_at_ms";

pub(super) fn seed(path: &Path, layout: &Layout) -> Result<Size> {
    let mut connection = Connection::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -262144; \
         PRAGMA temp_store = MEMORY;",
    )?;
    let occupied: bool =
        connection.query_row("SELECT EXISTS (SELECT 1 FROM messages) OR EXISTS (SELECT 1 FROM rooms)", [], |row| {
            row.get(0)
        })?;
    if occupied {
        bail!(
            "{} already holds messages or rooms: seed into a fresh data directory (a seed is a history \
             from scratch, so that its ids and search order are the server's)",
            path.display()
        );
    }
    let rooms: Vec<String> = (0..layout.rooms).map(room_name).collect();
    let mut chunks = Chunks::start(layout);
    let progress = chat::progress::Progress::new("seed", "messages", Some(layout.messages));
    while let Some(chunk) = chunks.blocking_next() {
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(INSERT_MESSAGE)?;
            for row in &chunk.rows {
                insert.execute(params![rooms[row.room as usize], row.id, row.author, row.text, row.html, row.at_ms])?;
            }
            let mut set_room = tx.prepare_cached(SET_ROOM)?;
            for (room, id, at_ms) in &chunk.last {
                set_room.execute(params![rooms[*room as usize], id, at_ms])?;
            }
        }
        tx.commit().with_context(|| format!("committing messages from {}", chunk.first))?;
        progress.set(chunk.first + chunk.rows.len() as u64);
    }
    progress.finish();
    // Everything into the file itself, and the WAL emptied, before sizing.
    connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(connection);
    let mut bytes = 0;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        bytes += std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    }
    Ok(Size { bytes, how: "chat.db with its -wal and -shm files after a checkpoint" })
}
