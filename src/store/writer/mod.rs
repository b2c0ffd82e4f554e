//! The message writer: one writer, one connection, group commit.
//!
//! Every post is queued to the writer, which takes everything waiting at
//! that moment (up to `MAX_BATCH`), writes it in one transaction with one
//! fsync, and only then hands each message to the publisher, in id order,
//! before answering the posters. One writer means no `SQLITE_BUSY` between
//! posters, and publishing from here means subscribers see ids in commit
//! order.
//!
//! A batch is always the same statements: one counter bump per room, then
//! one insert for all its messages (and one per attached file, if any). With SQLite they run on a thread of the
//! writer's own through SQLite's own API (`sqlite`), so a batch costs one
//! hand-off instead of one per statement; with PostgreSQL a task runs them
//! through the pool (`pooled`).

mod pooled;
mod sqlite;

use std::sync::Arc;

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::rooms::{Attachment, Author, Delivery, Message, MessageText, Quote, RoomName};

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 256;

/// How many posts may wait for the writer before posters wait to queue.
const QUEUE_DEPTH: usize = 4096;

/// Takes `count` ids in a room: the room's counter row is bumped inside the
/// inserting transaction, which makes the id allocation and the insert one
/// atomic step (and, on PostgreSQL, holds the room's row lock until commit).
/// `$1` room, `$2` count, `$3` time; returns the room's new last id.
const BUMP_ROOM_SQL: &str = "INSERT INTO rooms (name, last_id, last_at_ms) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO UPDATE SET last_id = rooms.last_id + $2, last_at_ms = excluded.last_at_ms \
     RETURNING last_id";

/// Receives every committed entry of a room's sequence, exactly once: the
/// writer's messages in commit order, changes as each commits (see
/// `changes`), so a change can reach it after a later message.
pub trait Publish: Send + Sync + 'static {
    fn publish(&self, delivery: &Arc<Delivery>);
}

/// A message as posted, before it has an id and a time.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room: RoomName,
    pub author: Author,
    pub text: MessageText,
    /// The text as HTML, rendered before the message is queued (see
    /// `rooms::format`): the writer's thread does no rendering.
    pub html: String,
    /// The message this one answers, as checked when it was posted.
    pub reply_to: Option<Quote>,
    /// Files already in place in the files directory; their rows are
    /// written in the message's transaction.
    pub attachments: Vec<Attachment>,
}

struct Job {
    message: NewMessage,
    done: oneshot::Sender<Result<Arc<Delivery>, StoreError>>,
}

/// The queue into the writer; the writer ends when every handle is gone.
#[derive(Clone)]
pub(super) struct MessageWriter {
    jobs: mpsc::Sender<Job>,
}

/// What a writer hands its work to: who hears of commits, what counts
/// them, and the clock that stamps them.
pub(super) struct Outlets {
    pub(super) publish: Arc<dyn Publish>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) clock: Clock,
}

/// The writer is not one of the server's cancellable background tasks: it
/// ends when the last [`MessageWriter`] handle is dropped, after finishing
/// its batch, so a shutdown never cuts a commit in half.
impl MessageWriter {
    /// A writer task on `pool` (PostgreSQL).
    pub(super) fn spawn_pooled(pool: AnyPool, outlets: Outlets) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(pooled::run(pool, queue, outlets));
        Self { jobs }
    }

    /// A writer thread on the SQLite file at `path` (already migrated).
    pub(super) fn spawn_sqlite(path: &str, outlets: Outlets) -> Result<Self, StoreError> {
        let connection = sqlite::open(path)?;
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || sqlite::run(connection, queue, outlets))
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        Ok(Self { jobs })
    }

    pub(super) async fn append(&self, message: NewMessage) -> Result<Arc<Delivery>, StoreError> {
        let (done, answer) = oneshot::channel();
        self.jobs.send(Job { message, done }).await.map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

/// Orders a batch for writing: room rows are locked in name order, so two
/// instances' batches (PostgreSQL) can never wait on each other in a cycle.
/// The sort is stable: posts to one room keep their order.
fn sort_by_room(batch: &mut [Job]) {
    batch.sort_by(|a, b| a.message.room.cmp(&b.message.room));
}

/// The rooms of a sorted batch, each with how many of its messages it holds.
fn room_runs(batch: &[Job]) -> impl Iterator<Item = (&RoomName, usize)> {
    batch.chunk_by(|a, b| a.message.room == b.message.room).map(|run| (&run[0].message.room, run.len()))
}

/// The committed messages of a batch, given the ids each room handed out.
fn deliveries(batch: &[Job], ids: Vec<i64>, at: time::OffsetDateTime) -> Vec<Arc<Delivery>> {
    batch
        .iter()
        .zip(ids)
        .map(|(Job { message, .. }, id)| {
            let reply_to = message.reply_to.clone();
            let (text, html) = (&message.text, &message.html);
            let mut committed = Message::committed(id, message.room.clone(), &message.author, text, html, reply_to, at);
            committed.attachments = message.attachments.clone();
            Delivery::new(committed)
        })
        .collect()
}

/// After a batch: answers every post, then publishes the messages in id
/// order; or tells every poster why it failed. Nothing is published unless
/// it committed.
fn finish(
    batch: &mut Vec<Job>,
    committed: Result<Vec<Arc<Delivery>>, StoreError>,
    started: std::time::Instant,
    publish: &dyn Publish,
    metrics: &Metrics,
) {
    match committed {
        Ok(deliveries) => {
            metrics.store_write_seconds.observe(started.elapsed().as_secs_f64());
            metrics.store_batch_size.observe(batch.len() as f64);
            metrics.messages_posted.inc_by(batch.len() as u64);
            // Posters first: a publish wakes every subscriber of the room,
            // and a poster woken after them would wait behind all of them.
            for (job, delivery) in batch.drain(..).zip(&deliveries) {
                // The poster may have gone away; the message is stored and
                // delivered regardless.
                let _ = job.done.send(Ok(delivery.clone()));
            }
            for delivery in &deliveries {
                publish.publish(delivery);
            }
        }
        Err(error) => {
            tracing::error!("committing {} message(s) failed: {error}", batch.len());
            let error = Arc::new(error);
            for job in batch.drain(..) {
                let _ = job.done.send(Err(StoreError::Batch(error.clone())));
            }
        }
    }
}
