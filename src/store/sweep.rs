//! The store's side of housekeeping: deleting old messages and ended
//! session rows, one small batch per call, so that each call is one short
//! write and the message writer (a connection of its own) gets the write
//! lock between calls. Looping, pausing and deciding the cut-offs are the
//! caller's (`crate::housekeeping`).
//!
//! Old messages are found through `messages_by_time` (an index on `at_ms`),
//! so a batch reads only the rows it deletes. Sessions have no such index
//! (the table is small next to the messages): their batch is chosen by a
//! plain read first, outside any write, and the delete re-checks the
//! condition, so a session used in between is not deleted.

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// Deletes up to `limit` messages stamped before `before_ms`, oldest
    /// first; answers how many went. Room rows stay (they hold the id
    /// counters, so deleted ids are never handed out again).
    pub async fn delete_messages_before(&self, before_ms: i64, limit: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM messages WHERE (room, id) IN \
             (SELECT room, id FROM messages WHERE at_ms < $1 ORDER BY at_ms LIMIT $2)",
        )
        .bind(before_ms)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Writes the activity a session cache saw but had not written yet,
    /// as (session id, last seen) pairs, in one transaction; a row is only
    /// ever moved forward (another instance may have written a later time).
    pub async fn touch_sessions(&self, seen: &[(String, i64)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (id, last_seen_ms) in seen {
            sqlx::query("UPDATE sessions SET last_seen_at_ms = $1 WHERE id = $2 AND last_seen_at_ms < $1")
                .bind(last_seen_ms)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes up to `limit` sessions last seen before `seen_before_ms` or
    /// started before `started_before_ms`; answers how many went.
    pub async fn delete_sessions_ended(
        &self,
        seen_before_ms: i64,
        started_before_ms: i64,
        limit: u32,
    ) -> Result<u64, StoreError> {
        const ENDED: &str = "(last_seen_at_ms < $1 OR created_at_ms < $2)";
        let ids: Vec<String> = sqlx::query(&format!("SELECT id FROM sessions WHERE {ENDED} LIMIT $3"))
            .bind(seen_before_ms)
            .bind(started_before_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let list: Vec<String> = (3..3 + ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!("DELETE FROM sessions WHERE {ENDED} AND id IN ({})", list.join(", "));
        let mut delete = sqlx::query(&sql).bind(seen_before_ms).bind(started_before_ms);
        for id in &ids {
            delete = delete.bind(id);
        }
        Ok(delete.execute(&self.pool).await?.rows_affected())
    }
}
