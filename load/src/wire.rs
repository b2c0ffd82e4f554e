//! Byte-level decoding with no I/O: HTTP/1.1 response heads, chunked
//! transfer decoding and Server-Sent Events framing. Everything here is
//! incremental (bytes may arrive split anywhere) and allocation-free in the
//! steady state, so thousands of streams cost the client little CPU.

use anyhow::{Result, bail};

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    pub fn content_length(&self) -> Option<usize> {
        self.header("content-length").and_then(|v| v.trim().parse().ok())
    }

    /// Whether the server will close the connection after this response.
    pub fn closes(&self) -> bool {
        self.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// Finds the end of a response head: returns the head's length including
/// the blank line, or `None` if more bytes are needed.
pub fn head_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4)
}

/// Parses `HTTP/1.1 200 OK\r\nName: value\r\n...` (without the blank line).
pub fn parse_head(raw: &[u8]) -> Result<Head> {
    let Ok(text) = std::str::from_utf8(raw) else { bail!("the response head is not ASCII") };
    let mut lines = text.trim_end().split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else { bail!("bad status line {status_line:?}") };
    if !version.starts_with("HTTP/1.") {
        bail!("not an HTTP/1.x response: {status_line:?}");
    }
    let Ok(status) = code.parse() else { bail!("bad status code in {status_line:?}") };
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Head { status, headers })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading the hex size line.
    Size,
    /// This many data bytes still to come.
    Data(usize),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// After the last (empty) chunk: trailer lines until a blank one.
    Trailer,
    Done,
}

/// Incremental `Transfer-Encoding: chunked` decoder.
#[derive(Debug)]
pub struct Chunked {
    state: ChunkState,
    line: Vec<u8>,
}

impl Default for Chunked {
    fn default() -> Self {
        Self { state: ChunkState::Size, line: Vec::with_capacity(16) }
    }
}

impl Chunked {
    /// Whether the terminating chunk (and its trailer) has been read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes `input`, appending the body bytes to `out`. Returns how many
    /// input bytes were consumed (all of them unless the body ended).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize> {
        let mut at = 0;
        while at < input.len() {
            match self.state {
                ChunkState::Done => break,
                ChunkState::Data(left) => {
                    let take = left.min(input.len() - at);
                    out.extend_from_slice(&input[at..at + take]);
                    at += take;
                    self.state = if take == left { ChunkState::DataEnd } else { ChunkState::Data(left - take) };
                }
                ChunkState::Size | ChunkState::DataEnd | ChunkState::Trailer => {
                    let Some(newline) = input[at..].iter().position(|&b| b == b'\n') else {
                        self.push_line(&input[at..])?;
                        at = input.len();
                        break;
                    };
                    self.push_line(&input[at..at + newline])?;
                    at += newline + 1;
                    self.end_line()?;
                }
            }
        }
        Ok(at)
    }

    fn push_line(&mut self, bytes: &[u8]) -> Result<()> {
        if self.line.len() + bytes.len() > 1024 {
            bail!("a chunk-size or trailer line is over 1 KiB");
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn end_line(&mut self) -> Result<()> {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        self.state = match self.state {
            ChunkState::DataEnd if line.is_empty() => ChunkState::Size,
            ChunkState::DataEnd => bail!("a chunk's data is longer than its size"),
            ChunkState::Trailer if line.is_empty() => ChunkState::Done,
            ChunkState::Trailer => ChunkState::Trailer,
            _ => {
                let text = std::str::from_utf8(line).unwrap_or("");
                let hex = text.split(';').next().unwrap_or("").trim();
                let Ok(size) = usize::from_str_radix(hex, 16) else { bail!("bad chunk size line {text:?}") };
                if size == 0 { ChunkState::Trailer } else { ChunkState::Data(size) }
            }
        };
        self.line.clear();
        Ok(())
    }
}

/// One dispatched SSE event, borrowed from the parser's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    pub id: Option<&'a str>,
    pub event: Option<&'a str>,
    pub data: &'a str,
}

/// Incremental SSE framing: lines end in `\n` (a `\r` before it is
/// dropped); a blank line dispatches the event; `:` lines are comments
/// (heartbeats), counted and skipped; `id`, `event` and `data` are kept,
/// other fields ignored. As in browsers, an event with no data is not
/// dispatched.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: String,
    has_data: bool,
    id: Option<String>,
    event: Option<String>,
    /// Comment lines seen (the servers' heartbeats).
    pub comments: u64,
    /// Lines that were not UTF-8 (skipped).
    pub malformed: u64,
}

impl SseParser {
    /// Parses `input`, calling `on_event` for each complete event.
    pub fn feed(&mut self, mut input: &[u8], mut on_event: impl FnMut(SseEvent<'_>)) {
        while let Some(newline) = input.iter().position(|&b| b == b'\n') {
            if self.line.is_empty() {
                self.line_done(&input[..newline], &mut on_event);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&input[..newline]);
                self.line_done(&line, &mut on_event);
                line.clear();
                self.line = line;
            }
            input = &input[newline + 1..];
        }
        self.line.extend_from_slice(input);
    }

    fn line_done(&mut self, line: &[u8], on_event: &mut impl FnMut(SseEvent<'_>)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if self.has_data {
                on_event(SseEvent { id: self.id.as_deref(), event: self.event.as_deref(), data: &self.data });
            }
            self.data.clear();
            self.has_data = false;
            self.event = None;
            // The last event id persists across events, as in browsers; the
            // servers here send one per event anyway.
            return;
        }
        if line[0] == b':' {
            self.comments += 1;
            return;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            self.malformed += 1;
            return;
        };
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" => self.id = Some(value.to_owned()),
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "retry: 2000\n\n:\n\nid: 7\nevent: message\ndata: {\"text\":\"héllo\"}\n\n\
                          : heartbeat\r\nevent: message\r\nid: 8\r\ndata: a\r\ndata: b\r\n\r\ndata:x\n\n";

    fn chunk(body: &str, size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in body.as_bytes().chunks(size) {
            out.extend_from_slice(format!("{:x};ext=1\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\nX-Trailer: 1\r\n\r\n");
        out
    }

    /// (id, event, data) of one dispatched event.
    type Owned = (Option<String>, Option<String>, String);

    /// Decodes `wire` fed in pieces of `step` bytes: the events, the
    /// comments seen, and whether the body ended.
    fn decode(wire: &[u8], step: usize) -> (Vec<Owned>, u64, bool) {
        let (mut chunked, mut sse, mut body, mut events) = (Chunked::default(), SseParser::default(), vec![], vec![]);
        for piece in wire.chunks(step) {
            chunked.feed(piece, &mut body).unwrap();
            sse.feed(&body, |e| events.push((e.id.map(Into::into), e.event.map(Into::into), e.data.to_owned())));
            body.clear();
        }
        (events, sse.comments, chunked.is_done())
    }

    #[test]
    fn events_survive_any_split() {
        let expected = vec![
            (Some("7".to_owned()), Some("message".to_owned()), "{\"text\":\"héllo\"}".to_owned()),
            (Some("8".to_owned()), Some("message".to_owned()), "a\nb".to_owned()),
            (Some("8".to_owned()), None, "x".to_owned()),
        ];
        for chunk_size in [1, 3, 17, 1000] {
            let wire = chunk(STREAM, chunk_size);
            for step in [1, 2, 5, 64, wire.len()] {
                let (events, comments, done) = decode(&wire, step);
                assert_eq!(events, expected, "chunks of {chunk_size}, reads of {step}");
                assert_eq!(comments, 2);
                assert!(done);
            }
        }
    }

    #[test]
    fn the_decoder_stops_at_the_end_and_refuses_garbage() {
        let mut wire = chunk("abc", 2);
        wire.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        let mut chunked = Chunked::default();
        let mut out = vec![];
        let used = chunked.feed(&wire, &mut out).unwrap();
        assert_eq!(out, b"abc");
        assert_eq!(&wire[used..], b"HTTP/1.1 200 OK\r\n");
        assert!(Chunked::default().feed(b"zz\r\n", &mut out).is_err());
        assert!(Chunked::default().feed(b"1\r\nab\r\n", &mut out).is_err());
    }

    #[test]
    fn heads_parse() {
        let raw = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nSet-Cookie: a=1\r\n\
                    set-cookie: b=2; Path=/\r\nContent-Length: 12\r\n\r\nbody";
        let end = head_end(raw).unwrap();
        assert_eq!(&raw[end..], b"body");
        let head = parse_head(&raw[..end]).unwrap();
        assert_eq!(head.status, 201);
        assert_eq!(head.content_length(), Some(12));
        assert_eq!(head.headers_named("set-cookie").collect::<Vec<_>>(), ["a=1", "b=2; Path=/"]);
        assert!(!head.is_chunked() && !head.closes());
        assert!(parse_head(b"SSH-2.0 hello\r\n").is_err());
    }
}
