//! A long poll (`GET /rooms/<room>/messages?after=&wait=`) read from a
//! stream session: what the room's sequence holds after `after` (new
//! messages and changes to older ones) answers at once (for anyone who may
//! read the room); otherwise the poll waits, admitted like any stream, for
//! the first new entry and takes whatever is queued right behind it; or
//! answers the first signal (someone typing, the account's read position)
//! that comes before one, so a poller hears those too.

use std::sync::Arc;

use super::{Item, Refusal, StreamRequest, Streams, Transport, Viewer};
use crate::messages::HistoryQuery;
use crate::rooms::{Delivery, Message, RoomName};
use crate::signals::Note;
use crate::stream::Start;

/// What a `GET /rooms/<room>/messages` answers.
pub enum PollAnswer {
    /// A plain history read (no `wait`): messages as they are now.
    History(Vec<Message>),
    /// A long poll (`after` and `wait`): the room's sequence after `after`,
    /// each entry tagged with its kind (a client's next `after` is the last
    /// entry's `seq`, or `id` for a new message).
    Sequence(Vec<Arc<Delivery>>),
    /// A long poll that heard a signal first: it is not part of the
    /// sequence, so the client polls again from the same `after`.
    Signal(Arc<Note>),
}

/// Answers a long poll; a query without `after` and `wait` is a plain read.
pub async fn long_poll(
    streams: &Streams,
    viewer: Viewer,
    client_ip: Option<std::net::IpAddr>,
    room: RoomName,
    query: &HistoryQuery,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<PollAnswer, Refusal> {
    let chat = &streams.shared.chat;
    // Only who may see the room matters for what is already stored.
    let visitor = viewer.visitor().ok_or(Refusal::SessionEnded)?;
    chat.moderation().check_read(&visitor, &room).await.map_err(Refusal::NoAccess)?;
    let (Some(after), Some(wait)) = (query.after, query.wait) else {
        return Ok(PollAnswer::History(chat.history(&room, query).await?));
    };
    let stored = || chat.sequence(&room, after, query.before, query.limit);
    // The queue can answer only for a poll that is not bounded above.
    let open_ended = query.before.is_none();
    if !(open_ended && chat.delivered_nothing_after(&room, after)) {
        let found = stored().await?;
        if !found.is_empty() {
            return Ok(PollAnswer::Sequence(found));
        }
    }
    if wait.is_zero() {
        return Ok(PollAnswer::Sequence(Vec::new()));
    }
    // Waiting holds a stream: admitted like one (caps, kicks and bans).
    let request = StreamRequest {
        viewer,
        client_ip,
        rooms: vec![(room.clone(), Start::After(after))],
        transport: Transport::Poll,
    };
    let admitted = streams.admit(&request).await?;
    let mut session = super::StreamSession::open(streams, request, admitted, Box::pin(shutdown)).await?;
    let waited = tokio::time::timeout(wait, async {
        loop {
            match session.next().await {
                // Ids at or below `after` come only after a reset (a cursor
                // from beyond this history): keep waiting, as for nothing.
                Item::Message(first) if first.seq() > after => return Some(Ok(first)),
                Item::Signal(note) => return Some(Err(note)),
                Item::End(_) => return None,
                _ => continue,
            }
        }
    })
    .await;
    let first = match waited {
        Ok(Some(Ok(first))) => first,
        Ok(Some(Err(signal))) => return Ok(PollAnswer::Signal(signal)),
        _ => return Ok(PollAnswer::Sequence(Vec::new())),
    };
    if !open_ended {
        return Ok(PollAnswer::Sequence(stored().await?));
    }
    // The feed is gap-free: what is ready behind the first entry follows it.
    let mut run = vec![first];
    while run.len() < query.limit as usize {
        match session.ready() {
            Some(Item::Message(next)) => run.push(next),
            _ => break,
        }
    }
    Ok(PollAnswer::Sequence(run))
}
