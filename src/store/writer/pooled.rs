//! The writer as a task on a one-connection pool (PostgreSQL): the batch's
//! statements go through sqlx, each a round trip to the server.

use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use tokio::sync::mpsc;

use super::{BUMP_ROOM_SQL, Job, MAX_BATCH, Outlets, deliveries, finish, room_runs, sort_by_room};
use crate::rooms::{self, Delivery};
use crate::store::StoreError;
use crate::store::attachments::{attachment_values, insert_attachment_sql};
use crate::store::messages::{InsertValue, insert_messages_sql, insert_values};

pub(super) async fn run(pool: AnyPool, mut queue: mpsc::Receiver<Job>, outlets: Outlets) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // The writer keeps its connection between batches: taking it from the
    // pool each time would cost a health-check round trip per batch.
    let mut connection: Option<PoolConnection<Any>> = None;
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        sort_by_room(&mut batch);
        let started = std::time::Instant::now();
        let committed = match connection.as_mut() {
            Some(held) => commit(held, &batch, outlets.clock.now()).await,
            None => match pool.acquire().await {
                Ok(fresh) => commit(connection.insert(fresh), &batch, outlets.clock.now()).await,
                Err(error) => Err(error),
            },
        };
        if committed.is_err() {
            // The connection may be what failed: the pool checks it before
            // the next batch gets one again.
            connection = None;
        }
        finish(&mut batch, committed.map_err(StoreError::from), started, outlets.publish.as_ref(), &outlets.metrics);
    }
    drop(connection);
    pool.close().await;
}

/// Writes a sorted batch in one transaction.
async fn commit(
    connection: &mut AnyConnection,
    batch: &[Job],
    at: time::OffsetDateTime,
) -> Result<Vec<Arc<Delivery>>, sqlx::Error> {
    let at_ms = rooms::to_millis(at);
    let mut tx = connection.begin().await?;
    let mut ids = Vec::with_capacity(batch.len());
    for (room, count) in room_runs(batch) {
        let count = count as i64;
        let last: i64 =
            sqlx::query_scalar(BUMP_ROOM_SQL).bind(room.as_str()).bind(count).bind(at_ms).fetch_one(&mut *tx).await?;
        ids.extend(last - count + 1..=last);
    }
    let sql = insert_messages_sql(batch.len());
    let mut insert = sqlx::query(&sql);
    for (Job { message, .. }, id) in batch.iter().zip(&ids) {
        for value in insert_values(message, *id, at) {
            insert = match value {
                InsertValue::Integer(n) => insert.bind(n),
                InsertValue::Text(text) => insert.bind(text),
            };
        }
    }
    insert.execute(&mut *tx).await?;
    for (Job { message, .. }, id) in batch.iter().zip(&ids) {
        for row in attachment_values(message, *id, at) {
            let sql = insert_attachment_sql();
            let mut insert = sqlx::query(&sql);
            for value in row {
                insert = match value {
                    InsertValue::Integer(n) => insert.bind(n),
                    InsertValue::Text(text) => insert.bind(text),
                };
            }
            insert.execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(deliveries(batch, ids, at))
}
