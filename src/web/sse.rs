//! Server-Sent Events on the wire: each event framed as bytes, and the
//! responder that streams them.
//!
//! A message's frame (`event:`, `id:`, `data:`) is made once, by the first
//! stream that sends it, and shared by every other one (see
//! [`Delivery::sse_frame`]); a stream that finds several events ready sends
//! them as one chunk. Rocket's `Event` builder would instead copy the data
//! into every subscriber's own event and hand the body each line as a
//! separate chunk. Data is always JSON from `serde_json`, which escapes every
//! newline, so user text can never start a line of its own. This module
//! knows nothing of rooms or sessions: `events` decides what to send.
//!
//! A client that stops reading must not hold its stream for ever: the
//! connection only stops asking for body chunks once its buffers are full,
//! and then nothing polls the stream again, so no timer inside it could
//! fire. [`with_stall_limit`] therefore runs the stream in a task of its own
//! that hands chunks over one at a time and drops the stream once a chunk
//! has waited too long to be taken.

use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use rocket::futures::{Stream, StreamExt};
use rocket::http::ContentType;
use rocket::request::Request;
use rocket::response::stream::ReaderStream;
use rocket::response::{self, Responder, Response};
use tokio::sync::Notify;

use crate::rooms::Delivery;

/// A comment line: keeps proxies from timing the stream out, and makes the
/// server notice a closed connection at its next write.
pub const HEARTBEAT: &[u8] = b":\n";

/// Most bytes of ready events joined into one chunk. The body still reads
/// it out in Rocket's default 4 KiB pieces: a bigger read buffer would be
/// held by every idle stream (valgrind's massif showed a 64 KiB one costing
/// more resident memory per stream than all of the stream's own state).
const MAX_CHUNK: usize = 64 * 1024;

/// An event stream's body: chunks of whole events.
pub struct Sse<S>(pub S);

impl<'r, S: Stream<Item = Bytes> + Send + 'r> Responder<'r, 'r> for Sse<S> {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'r> {
        Response::build()
            .header(ContentType::EventStream)
            .raw_header("Cache-Control", "no-cache")
            // Stops proxies (nginx) from buffering the stream.
            .raw_header("X-Accel-Buffering", "no")
            .streamed_body(ReaderStream::from(self.0.map(Cursor::new)))
            .ok()
    }
}

/// `stream`'s chunks, produced by a task of its own that gives up (and
/// drops `stream`, freeing what it holds) once a chunk has waited `stall`
/// for the body to take it, or as soon as the body is dropped. The body
/// then ends; whatever the connection still buffers is the server's only
/// cost until the peer goes.
pub fn with_stall_limit<S>(stream: S, stall: Duration) -> impl Stream<Item = Bytes> + Send + use<S>
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    let handoff = Arc::new(Handoff::default());
    let producer = handoff.clone();
    tokio::spawn(async move {
        let produce = async {
            let mut stream = std::pin::pin!(stream);
            loop {
                let chunk = tokio::select! {
                    chunk = stream.next() => match chunk {
                        Some(chunk) => chunk,
                        None => return,
                    },
                    () = producer.body_gone() => return,
                };
                if !producer.give(chunk, stall).await {
                    return;
                }
            }
        };
        // The stream is dropped (and what it holds freed) before the body
        // hears that nothing more is coming.
        produce.await;
        producer.finish();
    });
    rocket::futures::stream::unfold(BodyEnd(handoff), |body| async move {
        let chunk = body.0.take().await?;
        Some((chunk, body))
    })
}

/// One chunk in flight between a stream's task and its body, so the
/// producer waits on the consumer, not on memory. Every open stream holds
/// one: a slot and two wake-ups (about 150 bytes), where a one-slot tokio
/// channel allocates a block of 32 slots (over 1 KiB) up front.
#[derive(Default)]
struct Handoff {
    /// A std mutex: held only to look at or swap the slot, never across an
    /// `.await`.
    slot: Mutex<Slot>,
    /// Producer → body: a chunk is in the slot, or the producer finished.
    filled: Notify,
    /// Body → producer: the slot was emptied, or the body is gone.
    taken: Notify,
}

#[derive(Default)]
struct Slot {
    chunk: Option<Bytes>,
    finished: bool,
    body_gone: bool,
}

impl Handoff {
    fn slot(&self) -> MutexGuard<'_, Slot> {
        // Every change is a single assignment: a panic cannot leave it torn.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts `chunk` in the slot and waits (at most `stall`) for the body
    /// to take it; `false` if it did not, or is gone.
    async fn give(&self, chunk: Bytes, stall: Duration) -> bool {
        {
            let mut slot = self.slot();
            if slot.body_gone {
                return false;
            }
            slot.chunk = Some(chunk);
        }
        self.filled.notify_one();
        let deadline = tokio::time::Instant::now() + stall;
        loop {
            // Only this task waits on `taken`, so a wake-up that came before
            // this wait is kept as a permit and not missed.
            let taken = self.taken.notified();
            {
                let slot = self.slot();
                if slot.body_gone {
                    return false;
                }
                if slot.chunk.is_none() {
                    return true;
                }
            }
            if tokio::time::timeout_at(deadline, taken).await.is_err() {
                tracing::info!("dropping an event stream: its client took nothing for {} s", stall.as_secs());
                return false;
            }
        }
    }

    async fn body_gone(&self) {
        loop {
            let taken = self.taken.notified();
            if self.slot().body_gone {
                return;
            }
            taken.await;
        }
    }

    fn finish(&self) {
        self.slot().finished = true;
        self.filled.notify_one();
    }

    /// The next chunk, or `None` once the producer has finished (or gave up).
    async fn take(&self) -> Option<Bytes> {
        loop {
            let filled = self.filled.notified();
            {
                let mut slot = self.slot();
                if let Some(chunk) = slot.chunk.take() {
                    drop(slot);
                    self.taken.notify_one();
                    return Some(chunk);
                }
                if slot.finished {
                    return None;
                }
            }
            filled.await;
        }
    }
}

/// The body's end of a [`Handoff`]: dropping it (the connection went, or
/// the body ended) tells the producer to stop.
struct BodyEnd(Arc<Handoff>);

impl Drop for BodyEnd {
    fn drop(&mut self) {
        self.0.slot().body_gone = true;
        self.0.taken.notify_one();
    }
}

/// The `retry:` field alone: how long a browser waits before reconnecting.
pub fn retry(ms: u64) -> Bytes {
    Bytes::from(format!("retry: {ms}\n\n"))
}

/// One entry of a room's sequence (a message, an edit, a deletion, a
/// reaction) on a one-room stream, its seq as the event id: made once and
/// shared by every stream.
pub fn message_frame(delivery: &Delivery) -> Bytes {
    delivery.sse_frame(|d| frame(d.kind.as_str(), Some(&d.seq().to_string()), &d.json))
}

/// One entry on a multi-room stream: the id is this stream's cursor of
/// every room, so only the shared JSON is copied.
pub fn message_with_id(delivery: &Delivery, id: &str) -> Bytes {
    frame(delivery.kind.as_str(), Some(id), &delivery.json)
}

/// A named event without an id (presence, reset, typing...): it never moves
/// the browser's position. `json` must be JSON from `serde_json`.
pub fn named(event: &str, json: &str) -> Bytes {
    frame(event, None, json)
}

/// `event:`, then `id:` if given, then one `data:` line. `data` must be JSON
/// from `serde_json` (no raw newline); `event` and `id` are the server's own.
fn frame(event: &str, id: Option<&str>, data: &str) -> Bytes {
    let id_len = id.map_or(0, |id| id.len() + 5);
    let mut frame = BytesMut::with_capacity(event.len() + id_len + data.len() + 17);
    frame.put_slice(b"event: ");
    frame.put_slice(event.as_bytes());
    if let Some(id) = id {
        frame.put_slice(b"\nid: ");
        frame.put_slice(id.as_bytes());
    }
    frame.put_slice(b"\ndata: ");
    frame.put_slice(data.as_bytes());
    frame.put_slice(b"\n\n");
    frame.freeze()
}

/// Frames ready at the same moment, joined into one chunk. Holding a single
/// frame costs nothing: the shared bytes go out as they are.
#[derive(Default)]
pub struct Batch {
    first: Option<Bytes>,
    joined: Option<BytesMut>,
}

impl Batch {
    pub fn push(&mut self, frame: Bytes) {
        match (&mut self.joined, self.first.take()) {
            (Some(joined), _) => joined.put_slice(&frame),
            (None, None) => self.first = Some(frame),
            (None, Some(first)) => {
                let mut joined = BytesMut::with_capacity((first.len() + frame.len()) * 4);
                joined.put_slice(&first);
                joined.put_slice(&frame);
                self.joined = Some(joined);
            }
        }
    }

    /// Whether more frames would make the chunk too big to write at once.
    pub fn is_full(&self) -> bool {
        self.joined.as_ref().is_some_and(|joined| joined.len() >= MAX_CHUNK)
    }

    pub fn take(&mut self) -> Option<Bytes> {
        match self.joined.take() {
            Some(joined) => Some(joined.freeze()),
            None => self.first.take(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn a_batch_of_one_is_the_frame_itself_and_more_are_joined_in_order() {
        let mut batch = Batch::default();
        assert_eq!(batch.take(), None);
        let one = Bytes::from_static(b"a\n\n");
        batch.push(one.clone());
        let taken = batch.take().unwrap();
        assert_eq!(taken.as_ptr(), one.as_ptr(), "no copy for a single frame");
        for frame in ["a\n\n", "b\n\n", "c\n\n"] {
            batch.push(Bytes::from_static(frame.as_bytes()));
        }
        assert_eq!(batch.take().unwrap(), Bytes::from_static(b"a\n\nb\n\nc\n\n"));
        assert_eq!(batch.take(), None);
    }

    /// A stream of `x` chunks for ever, that sets `dropped` when dropped.
    fn endless(dropped: &Arc<AtomicBool>) -> impl Stream<Item = Bytes> + Send + 'static {
        struct Guard(Arc<AtomicBool>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let guard = Guard(dropped.clone());
        rocket::futures::stream::unfold(guard, |guard| async move { Some((Bytes::from_static(b"x"), guard)) })
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_whose_client_takes_nothing_is_dropped_after_the_stall_limit() {
        let dropped = Arc::new(AtomicBool::new(false));
        let body = with_stall_limit(endless(&dropped), Duration::from_secs(30));
        tokio::time::sleep(Duration::from_secs(29)).await;
        assert!(!dropped.load(Ordering::SeqCst), "still within the limit");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(dropped.load(Ordering::SeqCst), "dropped, though the body still exists");
        let mut body = std::pin::pin!(body);
        assert_eq!(body.next().await, Some(Bytes::from_static(b"x")), "what was handed over is still read");
        assert_eq!(body.next().await, None, "then the body ends");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_keeps_its_stream() {
        let dropped = Arc::new(AtomicBool::new(false));
        let mut body = std::pin::pin!(with_stall_limit(endless(&dropped), Duration::from_secs(30)));
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_secs(20)).await;
            assert!(body.next().await.is_some());
        }
        assert!(!dropped.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_body_drops_the_stream() {
        let dropped = Arc::new(AtomicBool::new(false));
        drop(with_stall_limit(endless(&dropped), Duration::from_secs(30)));
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[test]
    fn named_events_carry_no_id() {
        assert_eq!(named("reset", r#"{"room":"x"}"#), Bytes::from_static(b"event: reset\ndata: {\"room\":\"x\"}\n\n"));
    }
}
