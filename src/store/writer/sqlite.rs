//! The writer on a thread of its own, through SQLite's own API (rusqlite):
//! a batch runs BEGIN, the room bumps, the insert and COMMIT on this thread,
//! with no hand-off between statements, and the posters' tasks are woken
//! once, after the commit.
//!
//! The connection has the same settings as the pool's (WAL, `synchronous =
//! FULL`, a busy timeout) and the same SQL; the file is migrated before
//! this writer opens it.

use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, TransactionBehavior, params, params_from_iter};
use tokio::sync::mpsc;

use super::{BUMP_ROOM_SQL, Job, MAX_BATCH, Outlets, deliveries, finish, room_runs, sort_by_room};
use crate::rooms::{self, Delivery};
use crate::store::StoreError;
use crate::store::attachments::{attachment_values, insert_attachment_sql};
use crate::store::messages::{InsertValue, insert_messages_sql, insert_values};

/// The writer's connection to the file at `path`.
pub(super) fn open(path: &str) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(native)?;
    // WAL lets readers go on while the writer commits; FULL makes every
    // commit durable before a 201 is sent.
    connection
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(native)?;
    // Session and account writes (through the pool) take the same file's
    // write lock for a moment. SQLite's own busy timeout sleeps 1, 2, 5,
    // 10... ms between tries, so a message batch that met one of them would
    // wait milliseconds for a lock held for a fraction of one.
    connection.busy_handler(Some(wait_briefly)).map_err(native)?;
    Ok(connection)
}

/// Tries again after 50 µs, for up to ~10 s (like the pool's busy timeout).
fn wait_briefly(attempts: i32) -> bool {
    if attempts >= BUSY_ATTEMPTS {
        return false;
    }
    std::thread::sleep(BUSY_PAUSE);
    true
}

const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_micros(50);
const BUSY_ATTEMPTS: i32 = 200_000;

/// Runs until every sender is gone (the store is dropped).
pub(super) fn run(mut connection: Connection, mut queue: mpsc::Receiver<Job>, outlets: Outlets) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        // Everything else waiting at this moment rides on the same commit.
        while batch.len() < MAX_BATCH
            && let Ok(job) = queue.try_recv()
        {
            batch.push(job);
        }
        sort_by_room(&mut batch);
        let started = std::time::Instant::now();
        let committed = commit(&mut connection, &batch, outlets.clock.now()).map_err(native);
        finish(&mut batch, committed, started, outlets.publish.as_ref(), &outlets.metrics);
    }
}

/// Writes a sorted batch in one transaction; a failure rolls it back (the
/// transaction is dropped uncommitted).
fn commit(
    connection: &mut Connection,
    batch: &[Job],
    at: time::OffsetDateTime,
) -> rusqlite::Result<Vec<Arc<Delivery>>> {
    let at_ms = rooms::to_millis(at);
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut ids = Vec::with_capacity(batch.len());
    for (room, count) in room_runs(batch) {
        let count = count as i64;
        let last: i64 =
            tx.prepare_cached(BUMP_ROOM_SQL)?.query_row(params![room.as_str(), count, at_ms], |row| row.get(0))?;
        ids.extend(last - count + 1..=last);
    }
    let values = batch.iter().zip(&ids).flat_map(|(Job { message, .. }, id)| insert_values(message, *id, at));
    tx.prepare_cached(&insert_messages_sql(batch.len()))?.execute(params_from_iter(values))?;
    for (Job { message, .. }, id) in batch.iter().zip(&ids) {
        for row in attachment_values(message, *id, at) {
            tx.prepare_cached(&insert_attachment_sql())?.execute(params_from_iter(row))?;
        }
    }
    tx.commit()?;
    Ok(deliveries(batch, ids, at))
}

/// Binds an insert value as a borrowed SQLite value: the text is not copied.
impl ToSql for InsertValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            InsertValue::Integer(Some(n)) => ValueRef::Integer(n),
            InsertValue::Integer(None) => ValueRef::Null,
            InsertValue::Text(text) => ValueRef::Text(text.as_bytes()),
        }))
    }
}

fn native(error: rusqlite::Error) -> StoreError {
    StoreError::Native(Arc::new(error))
}
