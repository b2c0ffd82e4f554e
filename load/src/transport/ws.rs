//! The tool's lean WebSocket client: one raw `TcpStream` per socket, the
//! HTTP/1.1 Upgrade handshake written by hand, and the server's frames
//! decoded by [`FrameReader`]. It answers pings with pongs and a closing
//! frame with its own, and hands every text message to the caller. Like
//! [`crate::http::EventStream`], the cost per socket is one task, one
//! socket and a few small buffers.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::frames::{CLOSE, Frame, FrameReader, Masks, PONG, client_frame};
use crate::http::connect;
use crate::probe::now_ns;
use crate::target::Target;
use crate::wire::{head_end, parse_head};

/// Sockets opened so far, so that sockets opened at the same nanosecond
/// still get different keys and masks.
static SOCKETS: AtomicU64 = AtomicU64::new(0);

/// The longest handshake response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// An open WebSocket: the server answered 101.
pub struct WsStream {
    stream: TcpStream,
    reader: FrameReader,
    masks: Masks,
    read_buf: Vec<u8>,
    /// Bytes that came with the handshake's head (frames sent at once).
    pending: Vec<u8>,
    /// The frames to write back (pongs, the closing frame).
    out: Vec<u8>,
    pings: u64,
}

impl WsStream {
    /// Opens `GET path` as a WebSocket, sending `cookie` (the visitor's
    /// `Cookie` header) and the server's own origin, which the server
    /// requires of a handshake. Reads with a buffer of `read_size` bytes.
    pub async fn open(
        target: &Target,
        path: &str,
        cookie: Option<&str>,
        timeout: Duration,
        read_size: usize,
    ) -> Result<Self> {
        let opened = async {
            let mut stream = connect(target, timeout).await?;
            let mut masks = Masks::new(now_ns() ^ SOCKETS.fetch_add(1, Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let host = &target.host;
            let mut request = format!(
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: chat-load\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {}\r\n\
                 Origin: http://{host}\r\n",
                masks.handshake_key()
            );
            if let Some(cookie) = cookie {
                request.push_str(&format!("Cookie: {cookie}\r\n"));
            }
            request.push_str("\r\n");
            stream.write_all(request.as_bytes()).await?;
            let mut buf = Vec::with_capacity(512);
            let head_len = loop {
                if let Some(end) = head_end(&buf) {
                    break end;
                }
                let mut chunk = [0u8; 1024];
                let n = stream.read(&mut chunk).await?;
                if n == 0 || buf.len() > MAX_HEAD {
                    bail!("the WebSocket closed (or sent garbage) before its handshake answer");
                }
                buf.extend_from_slice(&chunk[..n]);
            };
            let head = parse_head(&buf[..head_len])?;
            // The `Sec-WebSocket-Accept` hash is not checked: it protects
            // against proxies and caches that do not speak WebSocket, and
            // there are none between this tool and a loopback server.
            let upgraded = head.header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
            if head.status != 101 || !upgraded {
                bail!("the WebSocket handshake answered {} instead of 101 Switching Protocols", head.status);
            }
            Ok::<_, anyhow::Error>(Self {
                stream,
                reader: FrameReader::default(),
                masks,
                read_buf: vec![0; read_size.max(256)],
                pending: buf.split_off(head_len),
                out: Vec::new(),
                pings: 0,
            })
        };
        tokio::time::timeout(timeout, opened).await.context("opening the WebSocket timed out")?
    }

    /// Reads once from the socket (waiting as long as it takes), calls
    /// `on_text` for each text message completed, and answers the control
    /// frames. Returns `false` when the server closed the socket.
    pub async fn read_texts(&mut self, mut on_text: impl FnMut(&str)) -> Result<bool> {
        let pending = std::mem::take(&mut self.pending);
        let input = if pending.is_empty() {
            let n = self.stream.read(&mut self.read_buf).await?;
            if n == 0 {
                return Ok(false);
            }
            &self.read_buf[..n]
        } else {
            &pending[..]
        };
        let (mut ping, mut closed, mut pings) = (None::<Vec<u8>>, false, 0);
        self.reader.feed(input, |frame| match frame {
            Frame::Text(text) => on_text(text),
            // Only the latest ping needs an answer (RFC 6455, 5.5.3).
            Frame::Ping(payload) => {
                pings += 1;
                ping = Some(payload.to_vec());
            }
            Frame::Close(_) => closed = true,
            Frame::Binary(_) | Frame::Pong(_) => {}
        })?;
        self.pings += pings;
        self.out.clear();
        if let Some(payload) = ping {
            client_frame(PONG, &payload, self.masks.mask(), &mut self.out);
        }
        if closed {
            // Echo the close; the server then ends the connection.
            client_frame(CLOSE, &[], self.masks.mask(), &mut self.out);
        }
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
        }
        Ok(!closed)
    }

    /// Pings the server sent so far (its heartbeat, every 15 s).
    pub fn pings(&self) -> u64 {
        self.pings
    }
}
