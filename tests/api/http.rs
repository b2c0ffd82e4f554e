//! A small HTTP/1.1 client over a raw socket, with a cookie jar and an SSE
//! reader: enough to talk to the live server the way a browser does, and to
//! see exactly what goes over the wire.
//!
//! # Why not a crate (issue #12)
//!
//! The HTTP client stays hand-written. The tests read a stream's status and
//! head before its body, send exactly the headers they list (a `reqwest`
//! adds `accept: */*`, pools connections, follows the 303s the tests
//! assert unless told not to), copy a jar by `Clone` (a shared
//! `reqwest::cookie::Jar` would make two "browsers" one), and hand the raw
//! `Cookie` header to a WebSocket handshake. Behind `reqwest` the chunked
//! framing the SSE reader decodes would be hidden, and the parts it would
//! replace (head, chunks, cookies) are about 90 lines.
//!
//! The SSE parser stays ours too: it costs less than the crates that do
//! the same job. `eventsource-stream` does not fit: like a browser it drops
//! blocks without `data` (so the `retry: 2000` block the tests pin never
//! shows) and carries ids over from earlier blocks (the tests check that
//! presence has no id). `sse-stream` 0.3 fits (per-block fields as
//! `Option`s, CR, LF and CRLF line ends), but it turns on `futures-util`'s
//! macros, which makes the test profile rebuild Rocket and everything above
//! it, and it still needs our de-chunking underneath (about 25 lines): it
//! would replace some 30 lines of block parsing with as many lines of
//! adapter. Our server sends only `\n` line ends; the one thing the crate
//! did better (a character split between two transfer chunks) is handled
//! here by decoding whole events rather than chunks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response read to its end.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A response read to its end, its body as bytes (files, images).
#[derive(Debug)]
#[allow(dead_code)] // the scale-out tests' too (they share this file)
pub struct Fetched {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[allow(dead_code)]
impl Fetched {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One "browser": a cookie jar and requests to one server.
#[derive(Clone)]
pub struct Browser {
    addr: SocketAddr,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, cookies: BTreeMap::new() }
    }

    /// Takes `other`'s cookies: the same person on another instance.
    #[allow(dead_code)] // the scale-out tests' (they share this file)
    pub fn cookies_from(&mut self, other: &Browser) {
        self.cookies = other.cookies.clone();
    }

    /// The `Cookie` header this browser sends (for other clients to reuse).
    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, &[], None).await
    }

    pub async fn post_json(&mut self, path: &str, json: &Value) -> Response {
        self.send("POST", path, &[], Some(("application/json", json.to_string()))).await
    }

    /// Posts a form the way the page does: with the CSRF token a page gave.
    pub async fn post_form(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let token = self.csrf_token().await;
        let mut fields = form.to_vec();
        fields.push(("csrf", &token));
        let body = crate::helpers::encode_form(&fields);
        self.send("POST", path, &[], Some(("application/x-www-form-urlencoded", body))).await
    }

    /// The CSRF token a page gives this browser (its forms' hidden field).
    pub async fn csrf_token(&mut self) -> String {
        let page = self.get("/login").await;
        let token = page.body.split(r#"name="csrf" value=""#).nth(1).and_then(|rest| rest.split('"').next());
        token.expect("the page carries a csrf token").to_owned()
    }

    /// Posts `text` to a room and returns the stored message's id.
    pub async fn say(&mut self, room: &str, text: &str) -> i64 {
        let response = self.post_json(&format!("/rooms/{room}/messages"), &serde_json::json!({ "text": text })).await;
        assert_eq!(response.status, 201, "posting {text:?}: {}", response.body);
        response.json()["id"].as_i64().expect("an id")
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Response {
        let body = body.as_ref().map(|(t, b)| (*t, b.as_bytes()));
        let Fetched { status, headers, body } = self.fetch(method, path, headers, body).await;
        Response { status, headers, body: String::from_utf8(body).expect("UTF-8 body") }
    }

    /// [`Browser::send`] with a body of any bytes, answered as bytes.
    pub async fn fetch(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> Fetched {
        let mut socket = self.open(method, path, headers, body).await;
        let mut raw = Vec::new();
        socket.read_to_end(&mut raw).await.expect("read response");
        let (head, rest) = split_head(&raw).expect("a complete response head");
        let (status, headers) = parse_head(head);
        self.keep_cookies(&headers);
        let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        let body = if chunked { dechunk_all(rest) } else { rest.to_vec() };
        Fetched { status, headers, body }
    }

    /// Opens an event stream; the response head is read, the body is left
    /// for [`EventStream::next_event`].
    pub async fn events(&mut self, path: &str, headers: &[(&str, &str)]) -> EventStream {
        let mut socket = self.open("GET", path, headers, None).await;
        let mut buffer = Vec::new();
        let head_len = loop {
            if let Some((head, _)) = split_head(&buffer) {
                break head.len() + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = socket.read(&mut chunk).await.expect("read stream head");
            assert!(n > 0, "the stream closed before its head");
            buffer.extend_from_slice(&chunk[..n]);
        };
        let (status, headers) = parse_head(&buffer[..head_len - 4]);
        self.keep_cookies(&headers);
        let raw = buffer.split_off(head_len);
        EventStream { socket, status, headers, raw, body: Vec::new(), ended: false }
    }

    async fn open(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<(&str, &[u8])>) -> TcpStream {
        let mut socket = TcpStream::connect(self.addr).await.expect("connect");
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some((content_type, body)) = body {
            request.push_str(&format!("Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n", body.len()));
        } else {
            request.push_str("\r\n");
        }
        socket.write_all(request.as_bytes()).await.expect("send request");
        if let Some((_, body)) = body {
            socket.write_all(body).await.expect("send body");
        }
        socket
    }

    fn keep_cookies(&mut self, headers: &[(String, String)]) {
        for (name, value) in headers {
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let pair = value.split(';').next().unwrap_or_default();
            let Some((k, v)) = pair.split_once('=') else { continue };
            let removed = v.is_empty() || value.to_ascii_lowercase().contains("max-age=0");
            if removed {
                self.cookies.remove(k.trim());
            } else {
                self.cookies.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
    }
}

fn split_head(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((&raw[..at], &raw[at + 4..]))
}

fn parse_head(head: &[u8]) -> (u16, Vec<(String, String)>) {
    let head = std::str::from_utf8(head).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    (status, headers)
}

fn dechunk_all(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some((data, rest)) = next_chunk(raw) {
        if data.is_empty() {
            break;
        }
        body.extend_from_slice(data);
        raw = rest;
    }
    body
}

/// Splits one complete chunk off the front of `raw`: (data, rest).
fn next_chunk(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
    let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
    let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
    let start = line_end + 2;
    if raw.len() < start + size + 2 {
        return None;
    }
    Some((&raw[start..start + size], &raw[start + size + 2..]))
}

/// One SSE event as a browser's EventSource would see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Option<String>,
    pub retry: Option<u64>,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.data.as_deref().expect("data")).expect("JSON data")
    }
}

/// An open event stream, decoded incrementally: chunked transfer encoding,
/// then SSE framing. Comment lines (heartbeats) are skipped.
pub struct EventStream {
    socket: TcpStream,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    raw: Vec<u8>,
    /// The body so far, de-chunked; decoded one whole event at a time, so
    /// a character split between two transfer chunks is never cut.
    body: Vec<u8>,
    ended: bool,
}

impl EventStream {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The next event, or `None` when the server ends the stream. Panics if
    /// nothing arrives within `timeout`.
    pub async fn next_event_within(&mut self, timeout: Duration) -> Option<SseEvent> {
        tokio::time::timeout(timeout, self.next_event()).await.expect("an event in time")
    }

    pub async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            while let Some((data, rest)) = next_chunk(&self.raw) {
                if data.is_empty() {
                    self.ended = true;
                }
                self.body.extend_from_slice(data);
                self.raw = rest.to_vec();
            }
            if let Some(event) = self.parse_event() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            let mut chunk = [0u8; 16384];
            let n = self.socket.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                self.ended = true;
            }
            self.raw.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads message events until one has id `last` (skipping other kinds),
    /// returning every message JSON seen.
    pub async fn messages_until(&mut self, last: i64, timeout: Duration) -> Vec<Value> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while seen.last().and_then(|m: &Value| m["id"].as_i64()) != Some(last) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next_event_within(left).await.expect("the stream ended early");
            if event.event.as_deref() == Some("message") {
                seen.push(event.json());
            }
        }
        seen
    }

    fn parse_event(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.body.windows(2).position(|pair| pair == b"\n\n")?;
            let block: Vec<u8> = self.body.drain(..end + 2).collect();
            let block = String::from_utf8(block).expect("an event is UTF-8");
            let mut event = SseEvent::default();
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if line.starts_with(':') || line.is_empty() {
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => event.id = Some(value.to_owned()),
                    "event" => event.event = Some(value.to_owned()),
                    "data" => data.push(value),
                    "retry" => event.retry = value.parse().ok(),
                    _ => {}
                }
            }
            if !data.is_empty() {
                event.data = Some(data.join("\n"));
            }
            if event != SseEvent::default() {
                return Some(event);
            }
        }
    }
}
