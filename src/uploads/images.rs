//! Decoding an uploaded image within bounds, and making its thumbnail.
//!
//! The dimensions are read from the header before any pixel is decoded:
//! more than [`MAX_PIXELS`] (a PNG of a few kilobytes can claim 100000 ×
//! 100000, ten gigapixels) is refused before any memory is taken for it,
//! and `image`'s own limits (each side, and every allocation of the
//! decoder) hold whatever a header says. The thumbnail is re-encoded from
//! the pixels (PNG, or JPEG for a JPEG), so nothing of the original's
//! metadata (EXIF: camera, time, place) reaches it; the EXIF orientation is
//! applied first, so it stands the right way up.
//!
//! Everything here blocks (file I/O, decoding): call it on the blocking
//! pool, never on the async executor.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, GenericImageView, ImageDecoder, ImageFormat, ImageReader, Limits};
use thiserror::Error;

use super::incoming::TempFile;
use super::sniff::ImageKind;
use crate::rooms::thumb_size;
use crate::store::files::FileDir;

/// Most pixels an image may have: 40 megapixels (a 7700 × 5200 photo).
pub const MAX_PIXELS: u64 = 40_000_000;

/// Longest side accepted (a panorama may be long, but not without end).
const MAX_SIDE: u32 = 40_000;

/// Most memory the decoder may allocate: the largest image at 16 bits per
/// channel with alpha, and room for the decoder's own buffers.
const MAX_ALLOC: u64 = MAX_PIXELS * 8 + 64 * 1024 * 1024;

/// JPEG thumbnails' quality (of 100).
const JPEG_QUALITY: u8 = 85;

/// Why an image was refused (or could not be handled).
#[derive(Debug, Error)]
pub enum ImageRefusal {
    #[error("the image is larger than 40 megapixels")]
    TooManyPixels,
    #[error("the image cannot be read: it is damaged or not what its first bytes say")]
    Unreadable,
    #[error("writing the thumbnail failed: {0}")]
    Io(#[from] std::io::Error),
}

/// An image's upright size and its thumbnail, in a temporary file of the
/// files directory (removed unless it is placed).
#[derive(Debug)]
pub struct Thumbnail {
    pub width: u32,
    pub height: u32,
    pub file: TempFile,
}

impl ImageKind {
    fn format(self) -> ImageFormat {
        match self {
            ImageKind::Png => ImageFormat::Png,
            ImageKind::Jpeg => ImageFormat::Jpeg,
            ImageKind::Gif => ImageFormat::Gif,
            ImageKind::WebP => ImageFormat::WebP,
        }
    }

    /// The type of its thumbnails: photos stay JPEG, the rest become PNG
    /// (they may be transparent).
    pub fn thumbnail_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png | ImageKind::Gif | ImageKind::WebP => "image/png",
        }
    }
}

/// Decodes the `kind` image at `source` within the limits and writes its
/// thumbnail to a new temporary file of `files`.
pub fn thumbnail(source: &Path, kind: ImageKind, files: &FileDir) -> Result<Thumbnail, ImageRefusal> {
    let image = decode(source, kind)?;
    let (width, height) = image.dimensions();
    let (thumb_width, thumb_height) = thumb_size(width, height);
    let small = if (thumb_width, thumb_height) == (width, height) {
        image
    } else {
        image.thumbnail_exact(thumb_width, thumb_height)
    };
    let (file, path) = files.create_temp()?;
    let temp = TempFile::new(path);
    let mut out = BufWriter::new(file);
    let encoded = match kind {
        ImageKind::Jpeg => JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).encode_image(&small.to_rgb8()),
        _ => DynamicImage::ImageRgba8(small.to_rgba8()).write_to(&mut out, ImageFormat::Png),
    };
    encoded.map_err(|e| match e {
        image::ImageError::IoError(io) => ImageRefusal::Io(io),
        _ => ImageRefusal::Unreadable,
    })?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(Thumbnail { width, height, file: temp })
}

/// The image upright, refusing too many pixels before decoding them.
pub(super) fn decode(source: &Path, kind: ImageKind) -> Result<DynamicImage, ImageRefusal> {
    let mut reader = ImageReader::with_format(BufReader::new(File::open(source)?), kind.format());
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(refusal)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageRefusal::TooManyPixels);
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(refusal)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// A decoder's error as a refusal: a limit is the size, anything else
/// (a truncated or malformed file) is unreadable.
fn refusal(error: image::ImageError) -> ImageRefusal {
    match error {
        image::ImageError::Limits(_) => ImageRefusal::TooManyPixels,
        _ => ImageRefusal::Unreadable,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A PNG whose header claims `width` × `height`, with no pixel data
    /// worth the name: what a decompression bomb starts with.
    pub(crate) fn png_claiming(width: u32, height: u32) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let start = out.len();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            let crc = crc32(&out[start..]);
            out.extend_from_slice(&crc.to_be_bytes());
        }
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut png, b"IHDR", &ihdr);
        chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x03, 0x00]);
        chunk(&mut png, b"IEND", &[]);
        png
    }

    /// Writes all of `bytes` to a new temporary file of `files`.
    fn temp_with(files: &FileDir, bytes: &[u8]) -> TempFile {
        let (mut file, path) = files.create_temp().unwrap();
        std::io::Write::write_all(&mut file, bytes).unwrap();
        TempFile::new(path)
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image.write_to(&mut bytes, format).unwrap();
        bytes.into_inner()
    }

    #[test]
    fn a_big_image_gets_a_thumbnail_that_fits_and_keeps_its_aspect() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileDir::open(dir.path()).unwrap();
        let photo = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(800, 600, image::Rgb([200, 10, 10])));
        let source = temp_with(&files, &encoded(&photo, ImageFormat::Jpeg));
        let thumb = thumbnail(source.path(), ImageKind::Jpeg, &files).unwrap();
        assert_eq!((thumb.width, thumb.height), (800, 600));
        let made = image::load_from_memory(&std::fs::read(thumb.file.path()).unwrap()).unwrap();
        assert_eq!(made.dimensions(), (320, 240));
    }

    #[test]
    fn a_header_claiming_too_many_pixels_is_refused_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileDir::open(dir.path()).unwrap();
        // Within each side's limit, over the pixel count: the check of its own.
        let wide = temp_with(&files, &png_claiming(8000, 8000));
        assert!(matches!(thumbnail(wide.path(), ImageKind::Png, &files), Err(ImageRefusal::TooManyPixels)));
        let bomb = temp_with(&files, &png_claiming(100_000, 100_000));
        assert!(matches!(thumbnail(bomb.path(), ImageKind::Png, &files), Err(ImageRefusal::TooManyPixels)));
        let fine = temp_with(&files, &png_claiming(10, 10));
        assert!(matches!(thumbnail(fine.path(), ImageKind::Png, &files), Err(ImageRefusal::Unreadable)));
    }

    #[test]
    fn bytes_that_are_not_the_image_they_start_like_are_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileDir::open(dir.path()).unwrap();
        let fake = temp_with(&files, b"\x89PNG\r\n\x1a\n<script>alert(1)</script>");
        assert!(matches!(thumbnail(fake.path(), ImageKind::Png, &files), Err(ImageRefusal::Unreadable)));
    }
}
