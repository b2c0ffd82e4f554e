//! Long polling, as a page without event streams or WebSockets would do
//! it: one keep-alive connection per subscriber (with its cookies), each
//! request `GET /rooms/<room>/messages?after=<last id>&wait=<secs>`
//! answered with a JSON array as soon as something is newer than the last
//! id (or empty when the wait runs out), then asked again at once. Also
//! the first visit every WebSocket and polling subscriber makes, which
//! gets it its guest cookie and the room's latest id.

use std::borrow::Cow;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::http::Conn;
use crate::target::Target;

/// How long each long poll may wait: the server's longest
/// (`MAX_WAIT_SECS` in the chat crate's `src/messages.rs`), so an idle
/// poller costs the fewest requests.
pub const POLL_WAIT_SECS: u64 = 30;

/// Most messages one poll asks for (the server's `MAX_LIMIT`), so a
/// subscriber that fell behind catches up in few requests.
const POLL_LIMIT: u32 = 200;

/// One message of a history answer: what the tool reads of it.
#[derive(Debug, Deserialize)]
pub struct Polled<'a> {
    pub id: i64,
    #[serde(borrow)]
    pub text: Cow<'a, str>,
}

/// Parses a history answer (a JSON array of messages).
pub fn parse_messages(body: &[u8]) -> Result<Vec<Polled<'_>>> {
    serde_json::from_slice(body).context("a history answer that is not a JSON array of messages")
}

/// A visitor's first request, `GET /rooms/<room>/messages?limit=1`, as
/// its page load would be: the server gives it a guest cookie (kept in the
/// returned connection's jar) and the answer holds the room's latest id (0
/// for an empty room), from which its live delivery starts. Requests on
/// the connection may take `request_timeout`.
pub async fn first_visit(target: &Target, room: &str, request_timeout: Duration) -> Result<(Conn, i64)> {
    let mut conn = Conn::new(target, request_timeout);
    let response = conn.get(&format!("/rooms/{room}/messages?limit=1")).await?;
    if response.status() != 200 {
        bail!("GET /rooms/{room}/messages answered {}: {}", response.status(), response.text().trim());
    }
    let latest = parse_messages(&response.body)?.iter().map(|m| m.id).max().unwrap_or(0);
    Ok((conn, latest))
}

/// One subscriber's long-poll loop, a poll at a time.
pub struct Poller {
    conn: Conn,
    room: String,
    /// The last id seen: each poll asks for what is newer.
    after: i64,
    wait_secs: u64,
    empty_polls: u64,
}

impl Poller {
    /// Polls `room` on `conn` (made by [`first_visit`], whose request
    /// timeout must exceed `wait_secs`) for messages after `after`.
    pub fn new(conn: Conn, room: &str, after: i64, wait_secs: u64) -> Self {
        Self { conn, room: room.to_owned(), after, wait_secs, empty_polls: 0 }
    }

    /// Sends one long poll and calls `on_text` with each message's text,
    /// in id order. An error (a refused poll, a broken connection) ends
    /// the subscriber, as an ended stream does.
    pub async fn poll(&mut self, mut on_text: impl FnMut(&str)) -> Result<bool> {
        let path =
            format!("/rooms/{}/messages?after={}&wait={}&limit={POLL_LIMIT}", self.room, self.after, self.wait_secs);
        let response = self.conn.get(&path).await?;
        if response.status() != 200 {
            bail!("a long poll answered {}: {}", response.status(), response.text().trim());
        }
        let messages = parse_messages(&response.body)?;
        self.empty_polls += u64::from(messages.is_empty());
        for message in &messages {
            self.after = self.after.max(message.id);
            on_text(&message.text);
        }
        Ok(true)
    }

    /// Polls that came back empty (the wait ran out): the heartbeat of
    /// long polling.
    pub fn empty_polls(&self) -> u64 {
        self.empty_polls
    }
}

#[cfg(test)]
mod tests {
    use super::parse_messages;

    #[test]
    fn history_answers_parse() {
        let body = br#"[{"id":41,"room":"r","user":"guest-1","guest":true,"text":"t=1 p=0 n=0 r=00000001","at":"x"},
                        {"id":42,"room":"r","user":"u","guest":false,"text":"a \"quoted\"\nline","at":"y",
                         "deleted":{"by":"mod","at":"z"}}]"#;
        let messages = parse_messages(body).unwrap();
        assert_eq!(messages.iter().map(|m| m.id).collect::<Vec<_>>(), [41, 42]);
        assert_eq!(messages[0].text, "t=1 p=0 n=0 r=00000001");
        assert_eq!(messages[1].text, "a \"quoted\"\nline");
        assert!(parse_messages(b"[]").unwrap().is_empty());
        assert!(parse_messages(br#"{"error":"no"}"#).is_err());
    }
}
