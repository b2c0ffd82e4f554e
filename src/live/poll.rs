//! A long poll (`GET /rooms/<room>/messages?after=&wait=`) read from a
//! stream session: what is stored after `after` answers at once (for anyone
//! who may read the room); otherwise the poll waits, admitted like any
//! stream, for the first new message and takes whatever is queued right
//! behind it.

use super::{Item, Refusal, StreamRequest, Streams, Transport, Viewer};
use crate::messages::HistoryQuery;
use crate::moderation::ModerationError;
use crate::rooms::{Message, RoomName};
use crate::stream::Start;

/// Answers a long poll; a query without `after` and `wait` is a plain read.
pub async fn long_poll(
    streams: &Streams,
    viewer: Viewer,
    client_ip: Option<std::net::IpAddr>,
    room: RoomName,
    query: &HistoryQuery,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Vec<Message>, Refusal> {
    let chat = &streams.shared.chat;
    // Only who may see the room matters for what is already stored.
    let visitor = viewer.visitor().ok_or(Refusal::SessionEnded)?;
    if !chat.can_read(&visitor, &room).await? {
        return Err(Refusal::NoAccess(ModerationError::NoSuchRoom));
    }
    let (Some(after), Some(wait)) = (query.after, query.wait) else {
        return Ok(chat.history(&room, query).await?);
    };
    // The queue can answer only for a poll that is not bounded above.
    let open_ended = query.before.is_none();
    if !(open_ended && chat.delivered_nothing_after(&room, after)) {
        let found = chat.history(&room, query).await?;
        if !found.is_empty() {
            return Ok(found);
        }
    }
    if wait.is_zero() {
        return Ok(Vec::new());
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
                Item::Message(first) if first.id() > after => return Some(first),
                Item::End(_) => return None,
                _ => continue,
            }
        }
    })
    .await;
    let Ok(Some(first)) = waited else { return Ok(Vec::new()) };
    if !open_ended {
        return Ok(chat.history(&room, query).await?);
    }
    // The feed is gap-free: what is ready behind the first message follows it.
    let mut run = vec![first.message.clone()];
    while run.len() < query.limit as usize {
        match session.ready() {
            Some(Item::Message(next)) => run.push(next.message.clone()),
            _ => break,
        }
    }
    Ok(run)
}
