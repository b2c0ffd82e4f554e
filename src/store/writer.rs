//! The message writer: one task, one connection, group commit.
//!
//! Every post is queued to this task, which takes everything waiting at that
//! moment (up to `MAX_BATCH`), writes it in one transaction with one fsync,
//! and only then hands each message to the publisher, in id order, before
//! answering the posters. One writer means no `SQLITE_BUSY` between posters,
//! and publishing from here means subscribers see ids in commit order.

use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use super::StoreError;
use crate::metrics::Metrics;
use crate::rooms::{self, Author, Delivery, Message, MessageText, RoomName};

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 256;

/// How many posts may wait for the writer before posters wait to queue.
const QUEUE_DEPTH: usize = 4096;

/// Receives every committed message, in commit order, exactly once.
pub trait Publish: Send + Sync + 'static {
    fn publish(&self, delivery: &Arc<Delivery>);
}

/// A message as posted, before it has an id and a time.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room: RoomName,
    pub author: Author,
    pub text: MessageText,
}

struct Job {
    message: NewMessage,
    done: oneshot::Sender<Result<Arc<Delivery>, StoreError>>,
}

/// The queue into the writer task; the task ends when every handle is gone.
#[derive(Clone)]
pub(super) struct MessageWriter {
    jobs: mpsc::Sender<Job>,
}

impl MessageWriter {
    pub(super) fn spawn(pool: AnyPool, publish: Arc<dyn Publish>, metrics: Arc<Metrics>) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(pool, queue, publish, metrics));
        Self { jobs }
    }

    pub(super) async fn append(&self, message: NewMessage) -> Result<Arc<Delivery>, StoreError> {
        let (done, answer) = oneshot::channel();
        self.jobs.send(Job { message, done }).await.map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

async fn run(pool: AnyPool, mut queue: mpsc::Receiver<Job>, publish: Arc<dyn Publish>, metrics: Arc<Metrics>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // The writer keeps its connection between batches: taking it from the
    // pool each time would cost a health-check round trip per batch.
    let mut connection: Option<PoolConnection<Any>> = None;
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Room rows are locked in name order, so two instances' batches
        // (PostgreSQL) can never wait on each other in a cycle. The sort is
        // stable: posts to one room keep their order.
        batch.sort_by(|a, b| a.message.room.cmp(&b.message.room));
        let started = std::time::Instant::now();
        let committed = match connection.as_mut() {
            Some(held) => commit(held, &batch).await,
            None => match pool.acquire().await {
                Ok(fresh) => commit(connection.insert(fresh), &batch).await,
                Err(error) => Err(error),
            },
        };
        match committed {
            Ok(deliveries) => {
                metrics.store_write_seconds.observe(started.elapsed().as_secs_f64());
                metrics.store_batch_size.observe(batch.len() as f64);
                metrics.messages_posted.inc_by(batch.len() as u64);
                for (job, delivery) in batch.drain(..).zip(deliveries) {
                    publish.publish(&delivery);
                    // The poster may have gone away; the message is stored and
                    // delivered regardless.
                    let _ = job.done.send(Ok(delivery));
                }
            }
            Err(error) => {
                log::error!("committing {} message(s) failed: {error}", batch.len());
                // The connection may be what failed: the pool checks it
                // before the next batch gets it again.
                connection = None;
                let error = Arc::new(error);
                for job in batch.drain(..) {
                    let _ = job.done.send(Err(StoreError::Batch(error.clone())));
                }
            }
        }
    }
    drop(connection);
    pool.close().await;
}

/// Writes a batch in one transaction; nothing is published unless it commits.
///
/// A round trip to the database costs more than the rows it carries (each
/// statement is a hand-off to the connection's thread), so a batch takes one
/// counter bump per room and one insert for all its messages, whatever its
/// size. `batch` is sorted by room.
async fn commit(connection: &mut AnyConnection, batch: &[Job]) -> Result<Vec<Arc<Delivery>>, sqlx::Error> {
    let at = rooms::now();
    let at_ms = rooms::to_millis(at);
    let mut tx = connection.begin().await?;
    let mut ids = Vec::with_capacity(batch.len());
    for posts in batch.chunk_by(|a, b| a.message.room == b.message.room) {
        // Bumping the room's counter row first makes the id allocation and the
        // insert one atomic step of the same transaction.
        let count = posts.len() as i64;
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO rooms (name, last_id, last_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET last_id = rooms.last_id + $2, last_at_ms = excluded.last_at_ms \
             RETURNING last_id",
        )
        .bind(posts[0].message.room.as_str())
        .bind(count)
        .bind(at_ms)
        .fetch_one(&mut *tx)
        .await?;
        ids.extend(last - count + 1..=last);
    }
    let sql = insert_messages_sql(batch.len());
    let mut insert = sqlx::query(&sql);
    for (Job { message, .. }, id) in batch.iter().zip(&ids) {
        insert = insert
            .bind(message.room.as_str())
            .bind(*id)
            .bind(message.author.user_id)
            .bind(&message.author.name)
            .bind(i64::from(message.author.guest))
            .bind(message.text.as_str())
            .bind(at_ms);
    }
    insert.execute(&mut *tx).await?;
    tx.commit().await?;
    let deliveries = batch
        .iter()
        .zip(ids)
        .map(|(Job { message, .. }, id)| {
            Delivery::new(Message {
                id,
                room: message.room.clone(),
                user: message.author.name.clone(),
                guest: message.author.guest,
                text: message.text.as_str().to_owned(),
                at,
                deleted: None,
            })
        })
        .collect();
    Ok(deliveries)
}

/// `INSERT INTO messages ... VALUES ($1, ..., $7), ($8, ...)` for `rows` rows
/// (at most `MAX_BATCH`: 1792 parameters, within both engines' limits).
fn insert_messages_sql(rows: usize) -> String {
    const COLUMNS: usize = 7;
    let mut sql = String::from("INSERT INTO messages (room, id, user_id, user_name, guest, text, at_ms) VALUES ");
    for row in 0..rows {
        let first = row * COLUMNS + 1;
        let params: Vec<String> = (first..first + COLUMNS).map(|n| format!("${n}")).collect();
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

    #[test]
    fn the_insert_numbers_every_parameter_once() {
        assert_eq!(
            insert_messages_sql(2),
            "INSERT INTO messages (room, id, user_id, user_name, guest, text, at_ms) VALUES \
             ($1, $2, $3, $4, $5, $6, $7), ($8, $9, $10, $11, $12, $13, $14)"
        );
    }
}
