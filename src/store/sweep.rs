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
    /// first, and as many of the changes, reactions, earlier versions and
    /// attached files (rows, then the files on disk) made before then;
    /// answers how many messages went. Room rows stay
    /// (they hold the id counters, so deleted ids are never handed out
    /// again). A change or reaction younger than the cut-off outlives its
    /// message by at most the retention period: replays skip a change whose
    /// message is gone.
    pub async fn delete_messages_before(&self, before_ms: i64, limit: u32) -> Result<u64, StoreError> {
        const BY_AGE: [&str; 4] = [
            "DELETE FROM messages WHERE (room, id) IN \
             (SELECT room, id FROM messages WHERE at_ms < $1 ORDER BY at_ms LIMIT $2)",
            "DELETE FROM changes WHERE (room, seq) IN (SELECT room, seq FROM changes WHERE at_ms < $1 LIMIT $2)",
            "DELETE FROM reactions WHERE (room, id, emoji, name) IN \
             (SELECT room, id, emoji, name FROM reactions WHERE at_ms < $1 LIMIT $2)",
            "DELETE FROM message_versions WHERE (room, id, at_ms) IN \
             (SELECT room, id, at_ms FROM message_versions WHERE at_ms < $1 LIMIT $2)",
        ];
        // An attachment has its message's time: the files go with it.
        let files: Vec<String> = sqlx::query_scalar(
            "DELETE FROM attachments WHERE id IN \
             (SELECT id FROM attachments WHERE created_at_ms < $1 ORDER BY created_at_ms LIMIT $2) RETURNING id",
        )
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        self.discard_files(files).await;
        let mut messages = 0;
        for (i, sql) in BY_AGE.into_iter().enumerate() {
            let done = sqlx::query(sql).bind(before_ms).bind(i64::from(limit)).execute(&self.pool).await?;
            if i == 0 {
                messages = done.rows_affected();
            }
        }
        Ok(messages)
    }

    /// How many messages are stamped before `before_ms` (through the same
    /// index the deletes use).
    pub async fn count_messages_before(&self, before_ms: i64) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE at_ms < $1")
            .bind(before_ms)
            .fetch_one(&self.pool)
            .await?;
        Ok(count.max(0) as u64)
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
