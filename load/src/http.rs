//! The tool's own lean HTTP/1.1 client over raw `tokio::net::TcpStream`s:
//! [`Conn`], a keep-alive connection with a cookie jar for requests (posts,
//! account forms), and [`EventStream`], one open `text/event-stream`
//! response read incrementally. No general-purpose HTTP client is used, so
//! the cost per subscriber is one socket, one task and a few small buffers.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::target::Target;
use crate::wire::{Chunked, Head, SseEvent, SseParser, head_end, parse_head};

/// Largest response head or non-streamed body the client accepts.
const MAX_RESPONSE: usize = 4 << 20;

/// A response read to its end.
#[derive(Debug)]
pub struct Response {
    pub head: Head,
    pub body: Vec<u8>,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.head.status
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Connects to the target (with `TCP_NODELAY`: requests are small and
/// latency is measured).
pub(crate) async fn connect(target: &Target, timeout: Duration) -> Result<TcpStream> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(target.addr))
        .await
        .with_context(|| format!("connecting to {} timed out", target.addr))?
        .with_context(|| format!("cannot connect to {}", target.addr))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A keep-alive connection to the target, reopened when the server closes
/// it. Cookies the server sets are sent back, like one browser.
pub struct Conn {
    target: Target,
    timeout: Duration,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    request: Vec<u8>,
    cookies: Vec<(String, String)>,
    opened: u64,
}

impl Conn {
    /// A connection (opened lazily) whose every request must finish within
    /// `timeout`.
    pub fn new(target: &Target, timeout: Duration) -> Self {
        Self {
            target: target.clone(),
            timeout,
            stream: None,
            buf: Vec::with_capacity(4096),
            request: Vec::with_capacity(512),
            cookies: Vec::new(),
            opened: 0,
        }
    }

    /// Connections opened after the first (the server closed one).
    pub fn reconnects(&self) -> u64 {
        self.opened.saturating_sub(1)
    }

    pub async fn get(&mut self, path: &str) -> Result<Response> {
        self.request("GET", path, None, b"").await
    }

    pub async fn post(&mut self, path: &str, content_type: &str, body: &[u8]) -> Result<Response> {
        self.request("POST", path, Some(content_type), body).await
    }

    /// Sends one request and reads its response. A kept-alive connection
    /// the server has meanwhile closed is retried once on a new one, but
    /// only when not one byte of a response came back (so a request is
    /// never sent twice after the server acted on it).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Response> {
        self.request_with(method, path, content_type, &[], body).await
    }

    /// [`Conn::request`] with more headers (an upload's `X-CSRF-Token`).
    pub async fn request_with(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response> {
        self.build_request(method, path, content_type, headers, body);
        let reused = self.stream.is_some();
        match self.exchange().await {
            Ok(response) => Ok(response),
            Err(Exchange::Stale(_)) if reused => {
                self.stream = None;
                self.exchange().await.map_err(Exchange::into_error)
            }
            Err(e) => {
                self.stream = None;
                Err(e.into_error())
            }
        }
    }

    /// The `Cookie` header value this connection sends (`None` without
    /// cookies), for another socket of the same visitor.
    pub fn cookie_header(&self) -> Option<String> {
        let pairs: Vec<String> = self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    fn build_request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) {
        use std::io::Write;
        let r = &mut self.request;
        r.clear();
        let _ = write!(r, "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: chat-load\r\n", self.target.host);
        if !self.cookies.is_empty() {
            r.extend_from_slice(b"Cookie: ");
            for (i, (name, value)) in self.cookies.iter().enumerate() {
                let _ = write!(r, "{}{name}={value}", if i == 0 { "" } else { "; " });
            }
            r.extend_from_slice(b"\r\n");
        }
        if let Some(content_type) = content_type {
            let _ = write!(r, "Content-Type: {content_type}\r\n");
        }
        for (name, value) in headers {
            let _ = write!(r, "{name}: {value}\r\n");
        }
        if method != "GET" || !body.is_empty() {
            let _ = write!(r, "Content-Length: {}\r\n", body.len());
        }
        r.extend_from_slice(b"\r\n");
        r.extend_from_slice(body);
    }

    async fn exchange(&mut self) -> Result<Response, Exchange> {
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.exchange_inner()).await {
            Ok(result) => result,
            Err(_) => Err(Exchange::Failed(anyhow::anyhow!("no response within {timeout:?}"))),
        }
    }

    async fn exchange_inner(&mut self) -> Result<Response, Exchange> {
        if self.stream.is_none() {
            self.stream = Some(connect(&self.target, self.timeout).await.map_err(Exchange::Failed)?);
            self.opened += 1;
        }
        let stream = self.stream.as_mut().expect("connected above");
        self.buf.clear();
        if let Err(e) = stream.write_all(&self.request).await {
            return Err(Exchange::Stale(e.into()));
        }
        let head_len = loop {
            if let Some(end) = head_end(&self.buf) {
                break end;
            }
            if self.buf.len() > MAX_RESPONSE {
                return Err(Exchange::Failed(anyhow::anyhow!("response head over {MAX_RESPONSE} bytes")));
            }
            match read_some(stream, &mut self.buf).await {
                Ok(0) if self.buf.is_empty() => return Err(Exchange::Stale(anyhow::anyhow!("connection closed"))),
                Ok(0) => return Err(Exchange::Failed(anyhow::anyhow!("connection closed mid-head"))),
                Ok(_) => {}
                Err(e) if self.buf.is_empty() => return Err(Exchange::Stale(e.into())),
                Err(e) => return Err(Exchange::Failed(e.into())),
            }
        };
        let head = parse_head(&self.buf[..head_len]).map_err(Exchange::Failed)?;
        let mut rest = self.buf.split_off(head_len);
        let body = read_body(stream, &head, &mut rest).await.map_err(Exchange::Failed)?;
        self.keep_cookies(&head);
        if head.closes() {
            self.stream = None;
        }
        Ok(Response { head, body })
    }

    fn keep_cookies(&mut self, head: &Head) {
        for value in head.headers_named("set-cookie") {
            let pair = value.split(';').next().unwrap_or_default();
            let Some((name, cookie)) = pair.split_once('=') else { continue };
            let (name, cookie) = (name.trim(), cookie.trim());
            self.cookies.retain(|(n, _)| n != name);
            let removed = cookie.is_empty() || value.to_ascii_lowercase().contains("max-age=0");
            if !removed {
                self.cookies.push((name.to_owned(), cookie.to_owned()));
            }
        }
    }
}

/// Why an exchange failed: `Stale` means nothing came back at all (the
/// kept-alive connection was already closed), so a retry is safe.
enum Exchange {
    Stale(anyhow::Error),
    Failed(anyhow::Error),
}

impl Exchange {
    fn into_error(self) -> anyhow::Error {
        match self {
            Exchange::Stale(e) | Exchange::Failed(e) => e,
        }
    }
}

async fn read_some(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Reads a whole body framed by `Content-Length`, chunked encoding, or the
/// end of the connection; `rest` holds the bytes read past the head.
async fn read_body(stream: &mut TcpStream, head: &Head, rest: &mut Vec<u8>) -> Result<Vec<u8>> {
    if head.is_chunked() {
        let mut chunked = Chunked::default();
        let mut body = Vec::new();
        let mut input = std::mem::take(rest);
        loop {
            chunked.feed(&input, &mut body)?;
            if chunked.is_done() {
                return Ok(body);
            }
            if body.len() > MAX_RESPONSE {
                bail!("response body over {MAX_RESPONSE} bytes");
            }
            input.clear();
            if read_some(stream, &mut input).await? == 0 {
                bail!("connection closed mid-body");
            }
        }
    }
    let wanted = match head.content_length() {
        Some(n) if n > MAX_RESPONSE => bail!("response body of {n} bytes is too big"),
        Some(n) => Some(n),
        None if head.status == 204 || head.status == 304 => Some(0),
        None => None,
    };
    let mut body = std::mem::take(rest);
    loop {
        if wanted.is_some_and(|n| body.len() >= n) {
            body.truncate(wanted.unwrap_or_default());
            return Ok(body);
        }
        if body.len() > MAX_RESPONSE {
            bail!("response body over {MAX_RESPONSE} bytes");
        }
        if read_some(stream, &mut body).await? == 0 {
            match wanted {
                None => return Ok(body),
                Some(_) => bail!("connection closed mid-body"),
            }
        }
    }
}

/// An open event stream: the head has been read (status 200), the body is
/// decoded as it arrives.
pub struct EventStream {
    stream: TcpStream,
    chunked: Option<Chunked>,
    parser: SseParser,
    read_buf: Vec<u8>,
    decoded: Vec<u8>,
    pending: Vec<u8>,
}

impl EventStream {
    /// Opens `GET path` as an event stream, reading with a buffer of
    /// `read_size` bytes (small for thousands of idle streams).
    pub async fn open(target: &Target, path: &str, timeout: Duration, read_size: usize) -> Result<Self> {
        Self::open_with(target, path, &[], timeout, read_size).await
    }

    /// [`EventStream::open`] with more headers (a resume's `Last-Event-ID`).
    pub async fn open_with(
        target: &Target,
        path: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
        read_size: usize,
    ) -> Result<Self> {
        let opened = async {
            let mut stream = connect(target, timeout).await?;
            let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: chat-load\r\nAccept: text/event-stream\r\n\
                 Cache-Control: no-cache\r\n{extra}\r\n",
                target.host
            );
            stream.write_all(request.as_bytes()).await?;
            let mut buf = Vec::with_capacity(1024);
            let head_len = loop {
                if let Some(end) = head_end(&buf) {
                    break end;
                }
                if buf.len() > 64 * 1024 || read_some(&mut stream, &mut buf).await? == 0 {
                    bail!("the event stream closed (or sent garbage) before its head");
                }
            };
            let head = parse_head(&buf[..head_len])?;
            if head.status != 200 {
                bail!("the event stream answered {} instead of 200", head.status);
            }
            let chunked = head.is_chunked().then(Chunked::default);
            Ok::<_, anyhow::Error>(Self {
                stream,
                chunked,
                parser: SseParser::default(),
                read_buf: vec![0; read_size.max(256)],
                decoded: Vec::new(),
                pending: buf.split_off(head_len),
            })
        };
        tokio::time::timeout(timeout, opened).await.context("opening the event stream timed out")?
    }

    /// Reads once from the socket (waiting as long as it takes) and calls
    /// `on_event` for each event completed. Returns `false` when the server
    /// ended the stream.
    pub async fn read_events(&mut self, mut on_event: impl FnMut(SseEvent<'_>)) -> Result<bool> {
        let n = if self.pending.is_empty() {
            self.stream.read(&mut self.read_buf).await?
        } else {
            let n = self.pending.len().min(self.read_buf.len());
            self.read_buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            n
        };
        if n == 0 {
            return Ok(false);
        }
        let input = &self.read_buf[..n];
        match &mut self.chunked {
            Some(chunked) => {
                chunked.feed(input, &mut self.decoded)?;
                self.parser.feed(&self.decoded, &mut on_event);
                self.decoded.clear();
                Ok(!chunked.is_done())
            }
            None => {
                self.parser.feed(input, &mut on_event);
                Ok(true)
            }
        }
    }

    /// Heartbeat comments seen so far.
    pub fn comments(&self) -> u64 {
        self.parser.comments
    }
}

/// `application/x-www-form-urlencoded` encoding of form fields.
pub fn encode_form(fields: &[(&str, &str)]) -> String {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    #[test]
    fn forms_are_encoded() {
        assert_eq!(
            super::encode_form(&[("user name", "a&b=c"), ("csrf", "x/y+z")]),
            "user+name=a%26b%3Dc&csrf=x%2Fy%2Bz"
        );
    }
}
