//! Avatars: an account's picture, uploaded through the same pipeline as
//! attachments (received within `upload_max_bytes`, its type sniffed from
//! its bytes, decoded within the same pixel limits on the blocking pool, a
//! few at a time), centre-cropped to a square and made [`AVATAR_SIDE`]
//! pixels a side as a PNG, which is all that is kept (in the store, so
//! every instance has it); and, for everyone without one (guests
//! included), a picture drawn from the handle: its initial on a colour
//! from a hash of the handle, as SVG with every character escaped.
//!
//! It knows nothing of HTTP: `web::avatars` reads the form and encodes
//! the answers.

use std::io::{self, Cursor};
use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView, ImageFormat};

use super::images::decode;
use super::sniff::{ImageKind, sniff};
use super::{ImageRefusal, Incoming, UploadError, Uploads};
use crate::auth::{SessionUser, Visitor};
use crate::store::StoredAvatar;

/// The side of every uploaded avatar, in pixels.
pub const AVATAR_SIDE: u32 = 128;

/// Longest handle `GET /avatars/<handle>` looks up (account names are at
/// most 32 bytes, guest names 22; "deleted user" is 12).
pub const MAX_HANDLE_BYTES: usize = 64;

/// The picture to show for a handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Avatar {
    /// The account's upload.
    Uploaded(StoredAvatar),
    /// Drawn from the handle (see [`default_svg`]), with a tag that changes
    /// only if the drawing does.
    Drawn { svg: String, tag: String },
}

impl Uploads {
    /// Makes the received `file` the avatar of `visitor` (members only):
    /// an image by its bytes, squared and made small. Answers what is
    /// stored. Nothing of the upload is kept but the small square.
    pub async fn set_avatar(&self, visitor: &Visitor, file: Incoming) -> Result<StoredAvatar, UploadError> {
        let user = member(visitor)?;
        let received = file.finish().await?;
        if received.size == 0 {
            return Err(UploadError::EmptyFile);
        }
        let kind = sniff(&received.head).image.ok_or(UploadError::NotAnImage)?;
        let image = {
            let _permit = self.decoding.acquire().await.map_err(io::Error::other)?;
            let source = received.temp.path().to_owned();
            tokio::task::spawn_blocking(move || square(&source, kind)).await.map_err(io::Error::other)??
        };
        // Any new number will do: it only has to differ from the last.
        let version = i64::from(rand::random::<u32>());
        let avatar = StoredAvatar { version, content_type: "image/png".into(), image };
        self.store.set_avatar(user.user_id, &avatar).await?;
        Ok(avatar)
    }

    /// Goes back to the drawn avatar.
    pub async fn remove_avatar(&self, visitor: &Visitor) -> Result<(), UploadError> {
        self.store.remove_avatar(member(visitor)?.user_id).await?;
        Ok(())
    }

    /// The picture for `handle`: its upload, or the drawing (for any
    /// handle that has no upload, account or not, so the answer does not
    /// tell one from the other).
    pub async fn avatar(&self, handle: &str) -> Result<Avatar, UploadError> {
        if handle.is_empty() || handle.len() > MAX_HANDLE_BYTES {
            return Err(UploadError::NoSuchFile);
        }
        if let Some(stored) = self.store.avatar(handle).await? {
            return Ok(Avatar::Uploaded(stored));
        }
        let svg = default_svg(handle);
        let tag = format!("{:016x}", fnv1a(svg.as_bytes()));
        Ok(Avatar::Drawn { svg, tag })
    }
}

fn member(visitor: &Visitor) -> Result<&SessionUser, UploadError> {
    match visitor {
        Visitor::User(user) => Ok(user),
        Visitor::Guest { .. } | Visitor::Bot(_) => Err(UploadError::AvatarsAreForMembers),
    }
}

/// Decodes the `kind` image at `source` (within the attachments' limits),
/// crops its centre square and encodes it as an [`AVATAR_SIDE`] PNG.
/// Blocks: call it on the blocking pool.
pub fn square(source: &Path, kind: ImageKind) -> Result<Vec<u8>, ImageRefusal> {
    let image = decode(source, kind)?;
    let (width, height) = image.dimensions();
    let side = width.min(height);
    let centre = image.crop_imm((width - side) / 2, (height - side) / 2, side, side);
    let small = if side > AVATAR_SIDE {
        centre.thumbnail_exact(AVATAR_SIDE, AVATAR_SIDE)
    } else {
        centre.resize_exact(AVATAR_SIDE, AVATAR_SIDE, FilterType::Triangle)
    };
    let mut png = Cursor::new(Vec::new());
    DynamicImage::ImageRgba8(small.to_rgba8()).write_to(&mut png, ImageFormat::Png).map_err(|e| match e {
        image::ImageError::IoError(io) => ImageRefusal::Io(io),
        _ => ImageRefusal::Unreadable,
    })?;
    Ok(png.into_inner())
}

/// The drawn avatar of `handle`: its first letter or digit (after a
/// guest's `guest-`), upper-cased, white on a colour picked by a hash of
/// the handle (any case), with the handle as its title. Every character
/// taken from the handle is escaped.
pub fn default_svg(handle: &str) -> String {
    let named = handle.strip_prefix("guest-").filter(|rest| !rest.is_empty()).unwrap_or(handle);
    let first = named.chars().find(|c| c.is_alphanumeric()).or_else(|| named.chars().next()).unwrap_or('?');
    let hue = fnv1a(handle.to_lowercase().as_bytes()) % 360;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{AVATAR_SIDE}\" height=\"{AVATAR_SIDE}\" \
         viewBox=\"0 0 128 128\"><title>{title}</title><rect width=\"128\" height=\"128\" \
         fill=\"hsl({hue}, 45%, 42%)\"/><text x=\"64\" y=\"64\" dy=\"0.35em\" text-anchor=\"middle\" \
         font-family=\"sans-serif\" font-size=\"64\" fill=\"#fff\">{initial}</text></svg>",
        title = escaped(handle),
        initial = escaped(&first.to_uppercase().collect::<String>()),
    )
}

fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        crate::search::snippet::escape_into(&mut out, c);
    }
    out
}

/// FNV-1a, 64 bits: a stable hash (the same colour on every instance and
/// after every restart, unlike the standard library's).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::files::FileDir;

    fn temp_png(files: &FileDir, image: &DynamicImage) -> super::super::TempFile {
        let (file, path) = files.create_temp().unwrap();
        let mut out = io::BufWriter::new(file);
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        drop(out);
        super::super::TempFile::new(path)
    }

    #[test]
    fn a_big_wide_image_becomes_its_centre_square_made_small() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileDir::open(dir.path()).unwrap();
        // Red sides, a blue centre square: only blue may be left.
        let wide = image::RgbImage::from_fn(900, 300, |x, _| {
            if (300..600).contains(&x) { image::Rgb([0, 0, 255]) } else { image::Rgb([255, 0, 0]) }
        });
        let source = temp_png(&files, &DynamicImage::ImageRgb8(wide));
        let png = square(source.path(), ImageKind::Png).unwrap();
        let made = image::load_from_memory(&png).unwrap();
        assert_eq!(made.dimensions(), (AVATAR_SIDE, AVATAR_SIDE));
        for (x, y) in [(0, 0), (127, 127), (0, 127), (64, 64)] {
            let pixel = made.get_pixel(x, y);
            assert!(pixel[2] > 200 && pixel[0] < 40, "({x}, {y}) is {pixel:?}");
        }
    }

    #[test]
    fn a_tiny_image_is_made_the_same_size() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileDir::open(dir.path()).unwrap();
        let tiny = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(10, 16, image::Rgb([0, 200, 0])));
        let source = temp_png(&files, &tiny);
        let made = image::load_from_memory(&square(source.path(), ImageKind::Png).unwrap()).unwrap();
        assert_eq!(made.dimensions(), (AVATAR_SIDE, AVATAR_SIDE));
    }

    #[test]
    fn the_drawn_avatar_shows_the_initial_on_a_colour_of_the_handle_and_escapes_it() {
        let alice = default_svg("alice");
        assert!(alice.contains(">A</text>") && alice.contains("<title>alice</title>"), "{alice}");
        assert_eq!(alice, default_svg("alice"), "the same every time");
        assert_eq!(alice.split("hsl").nth(1), default_svg("ALICE").split("hsl").nth(1), "any case, one colour");
        assert_ne!(alice.split("hsl").nth(1), default_svg("bob").split("hsl").nth(1));
        assert!(default_svg("guest-x1y2z3").contains(">X</text>"), "a guest's after its prefix");
        assert!(default_svg("张伟").contains(">张</text>"));
        let hostile = default_svg("<script>&\"'");
        assert!(hostile.contains("<title>&lt;script&gt;&amp;&quot;&#39;</title>"), "{hostile}");
        assert!(hostile.contains(">S</text>"));
        let only_marks = default_svg("<&>");
        assert!(only_marks.contains(">&lt;</text>") && !only_marks.contains("<&"), "{only_marks}");
    }
}
