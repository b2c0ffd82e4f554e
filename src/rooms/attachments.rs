//! A file attached to a message, as clients see it: its unguessable id, the
//! name its uploader gave it (made safe to show and to put in a header),
//! the type the server sniffed from its bytes, its size and, for an image,
//! its width and height. Its URLs are made from the id (and the name).
//!
//! Values only: where the bytes live is `store::files`, how they got there
//! and who may read them is `uploads`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

/// Random bytes in a file id: 128 bits, so ids cannot be guessed.
const ID_BYTES: usize = 16;

/// Length of an id in URL-safe base64 without padding.
const ID_CHARS: usize = 22;

/// Longest file name kept, in bytes (the usual file system limit).
pub const MAX_NAME_BYTES: usize = 255;

/// The side of the square a thumbnail fits in (pixels).
pub const THUMB_SIDE: u32 = 320;

/// A file's id: 128 random bits in URL-safe base64 (22 characters), which
/// is all its URL holds of it, so knowing the room is not enough to find a
/// file. Only ids of that alphabet parse, so an id can name a path on disk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileId(String);

impl FileId {
    /// A new id from the operating system's random source.
    pub fn random() -> Self {
        let mut bytes = [0u8; ID_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// An id as a URL or a row carries it; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        (raw.len() == ID_CHARS && raw.bytes().all(alphabet)).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FileId {
    type Error = &'static str;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        FileId::parse(&raw).ok_or("a file id is 22 characters of URL-safe base64")
    }
}

impl From<FileId> for String {
    fn from(id: FileId) -> Self {
        id.0
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a file is called: the name its uploader's browser gave, reduced to
/// its last path component (browsers have sent `C:\...\photo.jpg`), without
/// control characters or invisible formatting ones (a right-to-left
/// override would show `invoice\u{202E}fdp.exe` as `invoiceexe.pdf`),
/// trimmed, at most [`MAX_NAME_BYTES`]; `file` when nothing is left or only
/// dots are (a `..` would be a path step in a URL).
/// It is only ever shown and sent in headers, never used as a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct FileName(String);

impl FileName {
    pub fn sanitize(raw: &str) -> Self {
        let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
        let cleaned: String = last.chars().filter(|&c| !c.is_control() && !invisible(c)).collect();
        let mut name = cleaned.trim().to_owned();
        if name.len() > MAX_NAME_BYTES {
            let cut = (0..=MAX_NAME_BYTES).rev().find(|&i| name.is_char_boundary(i)).unwrap_or(0);
            name.truncate(cut);
            name = name.trim_end().to_owned();
        }
        if name.chars().all(|c| c == '.') {
            name = "file".to_owned();
        }
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Zero-width and bidirectional formatting characters: they change how a
/// name reads without showing themselves.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

impl From<String> for FileName {
    fn from(raw: String) -> Self {
        FileName::sanitize(&raw)
    }
}

impl From<FileName> for String {
    fn from(name: FileName) -> Self {
        name.0
    }
}

/// A file attached to a message.
///
/// On the wire: `{"id", "name", "type", "size", "url"}`, and for images
/// also `"width"`, `"height"` and `"thumb_url"` (absent, not null, for
/// other files). Another instance's payload is read back by the same
/// fields; the URLs are always made here, never taken from a payload.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Attachment {
    pub id: FileId,
    pub name: FileName,
    /// Sniffed from the file's first bytes when it was uploaded.
    #[serde(rename = "type")]
    pub content_type: String,
    /// In bytes.
    pub size: u64,
    /// Pixels, for images (PNG, JPEG, GIF, WebP) only: both or neither.
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
}

impl Attachment {
    /// Whether it is an image with a thumbnail (then served inline).
    pub fn is_image(&self) -> bool {
        self.width.is_some() && self.height.is_some()
    }

    /// `/files/<id>/<name>`, the name percent-encoded.
    pub fn url(&self) -> String {
        format!("/files/{}/{}", self.id, percent_encode(self.name.as_str()))
    }

    /// `/thumbs/<id>`, for images.
    pub fn thumb_url(&self) -> Option<String> {
        self.is_image().then(|| format!("/thumbs/{}", self.id))
    }
}

impl Serialize for Attachment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            id: &'a FileId,
            name: &'a FileName,
            #[serde(rename = "type")]
            content_type: &'a str,
            size: u64,
            url: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            width: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            height: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            thumb_url: Option<String>,
        }
        let image = self.is_image();
        Wire {
            id: &self.id,
            name: &self.name,
            content_type: &self.content_type,
            size: self.size,
            url: self.url(),
            width: self.width.filter(|_| image),
            height: self.height.filter(|_| image),
            thumb_url: self.thumb_url(),
        }
        .serialize(s)
    }
}

/// The size a `width` × `height` image's thumbnail has: fitted into
/// [`THUMB_SIDE`] × [`THUMB_SIDE`], never enlarged, each side at least 1.
/// The page computes the same for its `<img>` attributes.
pub fn thumb_size(width: u32, height: u32) -> (u32, u32) {
    if width <= THUMB_SIDE && height <= THUMB_SIDE {
        return (width.max(1), height.max(1));
    }
    let side = f64::from(THUMB_SIDE);
    let scale = (side / f64::from(width)).min(side / f64::from(height));
    let fit = |n: u32| ((f64::from(n) * scale).round() as u32).clamp(1, THUMB_SIDE);
    (fit(width), fit(height))
}

/// Every byte but RFC 3986's unreserved characters as `%XX` (UTF-8): safe
/// in a URL path segment and in an RFC 8187 `filename*` parameter.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_128_random_bits_in_url_safe_base64() {
        let (a, b) = (FileId::random(), FileId::random());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 22);
        assert_eq!(FileId::parse(a.as_str()), Some(a.clone()));
        for bad in ["", "short", "../../../../etc/passwd", &format!("{a}x"), "abcdefghijklmnopqrst/."] {
            assert_eq!(FileId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_keep_only_their_last_component_without_control_characters() {
        assert_eq!(FileName::sanitize("C:\\Users\\me\\photo.jpg").as_str(), "photo.jpg");
        assert_eq!(FileName::sanitize("../../etc/passwd").as_str(), "passwd");
        assert_eq!(FileName::sanitize(" a\r\nb\u{0}.txt ").as_str(), "ab.txt");
        assert_eq!(FileName::sanitize("invoice\u{202E}fdp.exe").as_str(), "invoicefdp.exe");
        assert_eq!(FileName::sanitize("a\u{200B}b\u{FEFF}.png").as_str(), "ab.png");
        assert_eq!(FileName::sanitize("..").as_str(), "file");
        assert_eq!(FileName::sanitize("dir/").as_str(), "file");
        assert_eq!(FileName::sanitize("報告.pdf").as_str(), "報告.pdf");
        let long = FileName::sanitize(&"é".repeat(200));
        assert_eq!(long.as_str().len(), 254, "cut at a character boundary under 255 bytes");
    }

    #[test]
    fn an_image_carries_its_size_and_thumbnail_and_a_file_does_not() {
        let id = FileId::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let name = FileName::sanitize("a b.png");
        let mut image =
            Attachment { id, name, content_type: "image/png".into(), size: 10, width: Some(640), height: Some(480) };
        let json = serde_json::to_value(&image).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": "AAAAAAAAAAAAAAAAAAAAAA", "name": "a b.png", "type": "image/png", "size": 10,
                "url": "/files/AAAAAAAAAAAAAAAAAAAAAA/a%20b.png", "width": 640, "height": 480,
                "thumb_url": "/thumbs/AAAAAAAAAAAAAAAAAAAAAA"})
        );
        assert_eq!(serde_json::from_value::<Attachment>(json).unwrap(), image);
        (image.width, image.height) = (None, None);
        let json = serde_json::to_value(&image).unwrap();
        assert!(json.get("width").is_none() && json.get("thumb_url").is_none(), "{json}");
    }

    #[test]
    fn a_payload_cannot_smuggle_a_path_or_a_url() {
        let forged = r#"{"id":"../../secret_key/xxxxxxxx","name":"x","type":"image/png","size":1}"#;
        assert!(serde_json::from_str::<Attachment>(forged).is_err());
        let named = r#"{"id":"AAAAAAAAAAAAAAAAAAAAAA","name":"a/../../b","type":"t","size":1,"url":"javascript:x"}"#;
        let attachment: Attachment = serde_json::from_str(named).unwrap();
        assert_eq!(attachment.name.as_str(), "b");
        assert_eq!(attachment.url(), "/files/AAAAAAAAAAAAAAAAAAAAAA/b");
    }

    #[test]
    fn thumbnails_fit_the_square_and_are_never_enlarged() {
        assert_eq!(thumb_size(100, 50), (100, 50));
        assert_eq!(thumb_size(640, 480), (320, 240));
        assert_eq!(thumb_size(480, 640), (240, 320));
        assert_eq!(thumb_size(10_000, 1), (320, 1));
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(percent_encode("a b/é%.txt"), "a%20b%2F%C3%A9%25.txt");
    }
}
