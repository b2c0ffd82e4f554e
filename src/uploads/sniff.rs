//! What a file is, told from its first bytes (magic numbers), never from
//! the name or the type its uploader's browser claimed: a `.png` that is
//! really HTML is not an image here.
//!
//! Only PNG, JPEG, GIF and WebP are images (decoded, thumbnailed, served
//! inline). A few other common types are named so that people see what a
//! download is; everything is served as a download whatever it is named.

/// The images the server decodes and thumbnails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    Gif,
    WebP,
}

/// How many leading bytes [`sniff`] looks at.
pub const HEAD_BYTES: usize = 512;

/// What the bytes say a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// The media type recorded (and shown as the attachment's `type`).
    pub content_type: &'static str,
    /// Set for the four image formats.
    pub image: Option<ImageKind>,
}

impl ImageKind {
    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Gif => "image/gif",
            ImageKind::WebP => "image/webp",
        }
    }

    /// The image kind a recorded type names (only the four).
    pub fn of_content_type(content_type: &str) -> Option<Self> {
        [ImageKind::Png, ImageKind::Jpeg, ImageKind::Gif, ImageKind::WebP]
            .into_iter()
            .find(|kind| kind.content_type() == content_type)
    }
}

/// Names a file by its first bytes ([`HEAD_BYTES`] are enough).
pub fn sniff(head: &[u8]) -> Sniffed {
    let image = |kind: ImageKind| Sniffed { content_type: kind.content_type(), image: Some(kind) };
    let other = |content_type| Sniffed { content_type, image: None };
    match head {
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => image(ImageKind::Png),
        [0xFF, 0xD8, 0xFF, ..] => image(ImageKind::Jpeg),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => image(ImageKind::Gif),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => image(ImageKind::WebP),
        [b'%', b'P', b'D', b'F', b'-', ..] => other("application/pdf"),
        [b'P', b'K', 0x03, 0x04, ..] | [b'P', b'K', 0x05, 0x06, ..] => other("application/zip"),
        [0x1F, 0x8B, ..] => other("application/gzip"),
        _ if looks_like_text(head) => other("text/plain"),
        _ => other("application/octet-stream"),
    }
}

/// UTF-8 without NUL bytes (allowing a character cut off at the end of
/// the head): a text file, as far as the head can tell.
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_image_formats_are_known_by_their_magic_numbers() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").image, Some(ImageKind::Png));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF").image, Some(ImageKind::Jpeg));
        assert_eq!(sniff(b"GIF89a\x01\0").image, Some(ImageKind::Gif));
        assert_eq!(sniff(b"GIF87a\x01\0").image, Some(ImageKind::Gif));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 ").content_type, "image/webp");
        assert_eq!(ImageKind::of_content_type("image/webp"), Some(ImageKind::WebP));
    }

    #[test]
    fn anything_else_is_not_an_image_whatever_it_claims() {
        assert_eq!(sniff(b"<html><script>alert(1)</script>"), Sniffed { content_type: "text/plain", image: None });
        assert_eq!(sniff(b"<svg onload=alert(1)>").image, None);
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt ").content_type, "application/octet-stream");
        assert_eq!(sniff(b"%PDF-1.7").content_type, "application/pdf");
        assert_eq!(sniff(b"PK\x03\x04").content_type, "application/zip");
        assert_eq!(sniff(b"\x00\x01binary").content_type, "application/octet-stream");
        assert_eq!(sniff(b"").content_type, "application/octet-stream");
        assert_eq!(sniff("héllo wörld".as_bytes()).content_type, "text/plain");
        assert_eq!(sniff(&"é".as_bytes()[..1]).content_type, "text/plain", "a character cut at the end");
        assert_eq!(sniff(b"\xff\xfe\xfd").content_type, "application/octet-stream");
    }
}
