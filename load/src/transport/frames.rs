//! WebSocket framing (RFC 6455) with no I/O: an incremental reader of the
//! server's frames (which are never masked) and the writer of the client's
//! few frames (pongs and the closing frame, always masked), plus the
//! handshake's `Sec-WebSocket-Key`. No extension is negotiated, so the RSV
//! bits must be clear. Like [`crate::wire`], bytes may arrive split
//! anywhere, and a read holding whole unfragmented frames (the usual case)
//! is decoded in place without copying.

use anyhow::{Result, bail};

/// The largest message (all its fragments together) the reader accepts;
/// the chat server's messages are a few hundred bytes.
pub const MAX_MESSAGE: usize = 1 << 20;

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONTINUATION: u8 = 0x0;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// One complete message or control frame from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
    Ping(&'a [u8]),
    Pong(&'a [u8]),
    /// The status code, if the frame had one.
    Close(Option<u16>),
}

/// Incremental reader of server frames.
#[derive(Debug, Default)]
pub struct FrameReader {
    /// Bytes of an incomplete frame, kept until the rest arrives.
    pending: Vec<u8>,
    /// The fragments so far of a fragmented message, and its opcode.
    message: Vec<u8>,
    fragmented: Option<u8>,
}

impl FrameReader {
    /// Decodes `input`, calling `on_frame` for each complete message or
    /// control frame. An error means the stream is not valid WebSocket.
    pub fn feed(&mut self, input: &[u8], mut on_frame: impl FnMut(Frame<'_>)) -> Result<()> {
        if self.pending.is_empty() {
            let used = self.frames(input, &mut on_frame)?;
            self.pending.extend_from_slice(&input[used..]);
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(input);
            let used = self.frames(&pending, &mut on_frame)?;
            pending.drain(..used);
            self.pending = pending;
        }
        Ok(())
    }

    /// Decodes every complete frame at the start of `buf`; returns how many
    /// bytes they took.
    fn frames(&mut self, buf: &[u8], on_frame: &mut impl FnMut(Frame<'_>)) -> Result<usize> {
        let mut at = 0;
        while let Some((header, len)) = frame_header(&buf[at..])? {
            let start = at;
            let Some(payload) = buf.get(start + header..start + header + len) else { break };
            at = start + header + len;
            self.frame(buf[start], payload, on_frame)?;
        }
        Ok(at)
    }

    fn frame(&mut self, first: u8, payload: &[u8], on_frame: &mut impl FnMut(Frame<'_>)) -> Result<()> {
        let (fin, opcode) = (first & 0x80 != 0, first & 0x0F);
        match opcode {
            CLOSE => {
                let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                on_frame(Frame::Close(code));
            }
            PING => on_frame(Frame::Ping(payload)),
            PONG => on_frame(Frame::Pong(payload)),
            TEXT | BINARY if self.fragmented.is_some() => bail!("a new message began inside a fragmented one"),
            TEXT | BINARY if fin => deliver(opcode, payload, on_frame)?,
            TEXT | BINARY => {
                self.fragmented = Some(opcode);
                self.message.clear();
                self.message.extend_from_slice(payload);
            }
            CONTINUATION => {
                let Some(kind) = self.fragmented else { bail!("a continuation frame with no message begun") };
                if self.message.len() + payload.len() > MAX_MESSAGE {
                    bail!("a fragmented message is over {MAX_MESSAGE} bytes");
                }
                self.message.extend_from_slice(payload);
                if fin {
                    self.fragmented = None;
                    deliver(kind, &self.message, on_frame)?;
                    self.message.clear();
                }
            }
            other => bail!("unknown opcode {other:#x}"),
        }
        Ok(())
    }
}

fn deliver(opcode: u8, payload: &[u8], on_frame: &mut impl FnMut(Frame<'_>)) -> Result<()> {
    if opcode == TEXT {
        let Ok(text) = std::str::from_utf8(payload) else { bail!("a text message is not UTF-8") };
        on_frame(Frame::Text(text));
    } else {
        on_frame(Frame::Binary(payload));
    }
    Ok(())
}

/// Reads a server frame's header: `(header length, payload length)`, or
/// `None` if more bytes are needed.
fn frame_header(buf: &[u8]) -> Result<Option<(usize, usize)>> {
    let [first, second, ..] = *buf else { return Ok(None) };
    if first & 0x70 != 0 {
        bail!("reserved bits set, but no extension was negotiated");
    }
    if second & 0x80 != 0 {
        bail!("a masked frame from the server (servers must not mask)");
    }
    let control = first & 0x08 != 0;
    let (header, len) = match second & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (4, u64::from(u16::from_be_bytes([b[0], b[1]]))),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => (10, u64::from_be_bytes(b.try_into().expect("8 bytes"))),
            None => return Ok(None),
        },
        n => (2, u64::from(n)),
    };
    if control && (len > 125 || first & 0x80 == 0) {
        bail!("a control frame that is fragmented or over 125 bytes");
    }
    if len > MAX_MESSAGE as u64 {
        bail!("a frame of {len} bytes (the limit is {MAX_MESSAGE})");
    }
    Ok(Some((header, len as usize)))
}

/// Appends a final client frame, masked with `mask` as clients must.
pub fn client_frame(opcode: u8, payload: &[u8], mask: [u8; 4], out: &mut Vec<u8>) {
    out.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
}

/// A small xorshift generator for masking keys and handshake nonces. The
/// masks only stop caching proxies from being confused by client data,
/// which needs unpredictability against page scripts, not cryptography:
/// there are no scripts and no proxies on loopback.
#[derive(Debug, Clone)]
pub struct Masks(u64);

impl Masks {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn mask(&mut self) -> [u8; 4] {
        (self.next_u64() as u32).to_ne_bytes()
    }

    /// A `Sec-WebSocket-Key`: 16 bytes, base64-encoded.
    pub fn handshake_key(&mut self) -> String {
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&self.next_u64().to_ne_bytes());
        nonce[8..].copy_from_slice(&self.next_u64().to_ne_bytes());
        base64(&nonce)
    }
}

/// Standard base64 with padding (only the handshake key needs it).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server frame (unmasked).
    fn server_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![first];
        match payload.len() {
            n @ 0..=125 => out.push(n as u8),
            n @ 126..=0xFFFF => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Text(String),
        Binary(Vec<u8>),
        Ping(Vec<u8>),
        Pong(Vec<u8>),
        Close(Option<u16>),
    }

    fn decode(wire: &[u8], step: usize) -> Result<Vec<Owned>> {
        let (mut reader, mut frames) = (FrameReader::default(), Vec::new());
        for piece in wire.chunks(step) {
            reader.feed(piece, |frame| {
                frames.push(match frame {
                    Frame::Text(t) => Owned::Text(t.to_owned()),
                    Frame::Binary(b) => Owned::Binary(b.to_vec()),
                    Frame::Ping(p) => Owned::Ping(p.to_vec()),
                    Frame::Pong(p) => Owned::Pong(p.to_vec()),
                    Frame::Close(code) => Owned::Close(code),
                })
            })?;
        }
        Ok(frames)
    }

    #[test]
    fn frames_survive_any_split() {
        let long = "é".repeat(200); // 400 bytes: a 16-bit length
        let huge = vec![7u8; 70_000]; // a 64-bit length
        let mut wire = server_frame(0x81, br#"{"type":"message","text":"hi"}"#);
        wire.extend(server_frame(0x89, b"ping!"));
        wire.extend(server_frame(0x01, &long.as_bytes()[..3])); // a fragment ending mid-character
        wire.extend(server_frame(0x8A, b"")); // a control frame between fragments
        wire.extend(server_frame(0x80, &long.as_bytes()[3..]));
        wire.extend(server_frame(0x82, &huge));
        wire.extend(server_frame(0x88, &[0x03, 0xE8, b'b', b'y', b'e']));
        let expected = vec![
            Owned::Text(r#"{"type":"message","text":"hi"}"#.to_owned()),
            Owned::Ping(b"ping!".to_vec()),
            Owned::Pong(vec![]),
            Owned::Text(long.clone()),
            Owned::Binary(huge.clone()),
            Owned::Close(Some(1000)),
        ];
        for step in [1, 2, 3, 7, 126, 4096, wire.len()] {
            assert_eq!(decode(&wire, step).unwrap(), expected, "reads of {step}");
        }
    }

    #[test]
    fn protocol_errors_are_refused() {
        for (what, wire) in [
            ("masked", vec![0x81, 0x81, 1, 2, 3, 4, b'x']),
            ("reserved bits", vec![0xC1, 0x00]),
            ("unknown opcode", vec![0x83, 0x00]),
            ("stray continuation", vec![0x80, 0x00]),
            ("fragmented ping", vec![0x09, 0x00]),
            ("long ping", server_frame(0x89, &[0; 126])),
            ("bad UTF-8", vec![0x81, 0x02, 0xC3, 0x28]),
            ("too big", vec![0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]),
        ] {
            assert!(decode(&wire, 1).is_err(), "{what}");
        }
        let mut interleaved = server_frame(0x01, b"a");
        interleaved.extend(server_frame(0x81, b"b"));
        assert!(decode(&interleaved, 64).is_err(), "a message inside a fragmented one");
    }

    #[test]
    fn client_frames_are_masked() {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = Vec::new();
        client_frame(PONG, b"Hello", mask, &mut out);
        // RFC 6455, section 5.7: a masked "Hello" (here as a pong).
        assert_eq!(out, [0x8A, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        out.clear();
        client_frame(CLOSE, &[0u8; 300], mask, &mut out);
        assert_eq!(&out[..4], [0x88, 0x80 | 126, 0x01, 0x2C]);
        assert_eq!(out.len(), 4 + 4 + 300);
    }

    #[test]
    fn keys_are_base64_of_sixteen_bytes() {
        assert_eq!(base64(b"the sample nonce"), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        let mut masks = Masks::new(42);
        let (a, b) = (masks.handshake_key(), masks.handshake_key());
        assert!(a.len() == 24 && a.ends_with("==") && a != b);
        assert_ne!(masks.mask(), masks.mask());
    }
}
