//! Files attached to messages: posting them (`POST
//! /rooms/<room>/attachments`), what the server makes of their bytes, and
//! how it serves them; the limits (`limits`) and who may read them
//! (`access`).

mod access;
mod limits;

use std::io::Cursor;

use image::{DynamicImage, GenericImageView, ImageFormat, RgbImage, RgbaImage};
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::LocalResponse;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::http::{Browser, Fetched};

/// A file part of a form: (name, the type the client claims, bytes).
pub type FilePart<'a> = (&'a str, &'a str, &'a [u8]);

const BOUNDARY: &str = "----chat-test-boundary-7MA4YWxkTrZu0gW";

/// A multipart form as a browser's `FormData` sends it: the fields, then
/// the file.
pub fn multipart(fields: &[(&str, &str)], file: Option<FilePart<'_>>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some((name, client_type, bytes)) = file {
        let head = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: {client_type}\r\n\r\n"
        );
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// Uploads through Rocket's local client, the way the page does.
pub async fn upload<'a>(
    app: &'a TestApp,
    room: &str,
    fields: &[(&str, &str)],
    file: Option<FilePart<'_>>,
) -> LocalResponse<'a> {
    let token = app.csrf().await;
    app.client
        .post(format!("/rooms/{room}/attachments"))
        .header(ContentType::parse_flexible(&multipart_type()).unwrap())
        .header(Header::new("X-CSRF-Token", token))
        .body(multipart(fields, file))
        .dispatch()
        .await
}

/// Uploads `file` and returns the message (201 expected).
pub async fn posted(app: &TestApp, room: &str, file: FilePart<'_>) -> Value {
    let response = upload(app, room, &[], Some(file)).await;
    assert_eq!(response.status(), Status::Created, "uploading {}", file.0);
    response.into_json().await.expect("message JSON")
}

/// Uploads over a real socket from `browser` (another person).
pub async fn upload_from(browser: &mut Browser, room: &str, fields: &[(&str, &str)], file: FilePart<'_>) -> Fetched {
    let token = browser.csrf_token().await;
    let body = multipart(fields, Some(file));
    let path = format!("/rooms/{room}/attachments");
    browser.fetch("POST", &path, &[("X-CSRF-Token", &token)], Some((&multipart_type(), &body))).await
}

/// A `width` × `height` PNG with colour to keep.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbaImage::from_fn(width, height, |x, y| image::Rgba([x as u8, y as u8, 200, 255]));
    encode(&DynamicImage::ImageRgba8(image), ImageFormat::Png)
}

pub fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

/// A JPEG photo with an EXIF segment that carries `secret` (as a camera
/// writes the place a photo was taken).
fn jpeg_with_exif(width: u32, height: u32, secret: &str) -> Vec<u8> {
    let photo = RgbImage::from_pixel(width, height, image::Rgb([30, 120, 200]));
    let jpeg = encode(&DynamicImage::ImageRgb8(photo), ImageFormat::Jpeg);
    // APP1: "Exif\0\0", a big-endian TIFF header, an empty IFD, then the secret.
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0\0\0\0\0".to_vec();
    exif.extend_from_slice(secret.as_bytes());
    let mut with_exif = jpeg[..2].to_vec();
    with_exif.extend_from_slice(&[0xFF, 0xE1]);
    with_exif.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    with_exif.extend_from_slice(&exif);
    with_exif.extend_from_slice(&jpeg[2..]);
    with_exif
}

/// Fetches `path` as bytes with its status and headers.
pub async fn fetch(app: &TestApp, path: &str) -> (Status, Vec<(String, String)>, Vec<u8>) {
    let response = app.client.get(path.to_owned()).dispatch().await;
    let status = response.status();
    let headers = response.headers().iter().map(|h| (h.name().to_string(), h.value().to_string())).collect();
    (status, headers, response.into_bytes().await.unwrap_or_default())
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Every file answer keeps its bytes inert.
fn assert_inert(headers: &[(String, String)]) {
    assert_eq!(header(headers, "X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(header(headers, "Content-Security-Policy"), Some("sandbox"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_posted_with_its_size_and_a_thumbnail_that_fits_320_pixels() {
    let app = spawn_app_with(|f| f.merge(("allow_guests", true)).merge(("guest_uploads", true))).await;
    let image = png(640, 480);
    let response = upload(&app, "pics", &[("text", "  our logo ")], Some(("logo.png", "image/png", &image))).await;
    assert_eq!(response.status(), Status::Created);
    assert!(response.headers().get_one("Location").is_some());
    let message = response.into_json::<Value>().await.unwrap();
    assert_eq!(message["text"], "our logo");
    let file = &message["attachments"][0];
    let id = file["id"].as_str().unwrap();
    assert_eq!(id.len(), 22, "128 random bits, URL-safe base64");
    assert_eq!(file["name"], "logo.png");
    assert_eq!(file["type"], "image/png");
    assert_eq!(file["size"], image.len());
    assert_eq!((file["width"].as_u64(), file["height"].as_u64()), (Some(640), Some(480)));
    assert_eq!(file["url"], format!("/files/{id}/logo.png"));
    assert_eq!(file["thumb_url"], format!("/thumbs/{id}"));

    let (status, headers, bytes) = fetch(&app, file["url"].as_str().unwrap()).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(bytes, image, "the file as uploaded");
    assert_eq!(header(&headers, "Content-Type"), Some("image/png"));
    assert_inert(&headers);
    let (status, headers, thumb) = fetch(&app, file["thumb_url"].as_str().unwrap()).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(header(&headers, "Content-Type"), Some("image/png"));
    assert_inert(&headers);
    assert_eq!(image::load_from_memory(&thumb).unwrap().dimensions(), (320, 240));

    let history = app.history("pics", "").await.1;
    assert_eq!(history[0]["attachments"], message["attachments"], "history shows the same attachment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thumbnail_carries_no_exif_even_when_the_photo_does() {
    let app = spawn_app_with(|f| f.merge(("guest_uploads", true))).await;
    let photo = jpeg_with_exif(800, 600, "GPS 48.8584N 2.2945E");
    assert!(photo.windows(4).any(|w| w == b"Exif"), "the upload has EXIF");
    let message = posted(&app, "pics", ("photo.jpg", "image/jpeg", &photo)).await;
    let file = &message["attachments"][0];
    assert_eq!((file["type"].as_str(), file["width"].as_u64()), (Some("image/jpeg"), Some(800)));
    let (status, headers, thumb) = fetch(&app, file["thumb_url"].as_str().unwrap()).await;
    assert_eq!((status, header(&headers, "Content-Type")), (Status::Ok, Some("image/jpeg")));
    assert_eq!(image::load_from_memory(&thumb).unwrap().dimensions(), (320, 240));
    assert!(!thumb.windows(4).any(|w| w == b"Exif"), "no EXIF segment in the thumbnail");
    assert!(!thumb.windows(3).any(|w| w == b"GPS"), "nothing of it either");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_type_comes_from_the_bytes_never_from_the_client() {
    let app = spawn_app_with(|f| f.merge(("guest_uploads", true))).await;
    // A page passed off as a PNG stays inert bytes to save.
    let page = b"<html><script>alert(document.cookie)</script></html>";
    let message = posted(&app, "r", ("cat.png", "image/png", page)).await;
    let file = &message["attachments"][0];
    assert_eq!(file["type"], "text/plain");
    assert!(file.get("width").is_none() && file.get("thumb_url").is_none(), "not an image: {file}");
    let (status, headers, bytes) = fetch(&app, file["url"].as_str().unwrap()).await;
    assert_eq!((status, bytes.as_slice()), (Status::Ok, &page[..]));
    assert_eq!(header(&headers, "Content-Type"), Some("application/octet-stream"));
    assert!(header(&headers, "Content-Disposition").unwrap().starts_with("attachment;"));
    assert_inert(&headers);
    let id = file["id"].as_str().unwrap();
    assert_eq!(fetch(&app, &format!("/thumbs/{id}")).await.0, Status::NotFound, "no thumbnail for a non-image");

    // A real image sent as a text file is an image.
    let message = posted(&app, "r", ("notes.txt", "text/plain", &png(10, 20))).await;
    let file = &message["attachments"][0];
    assert_eq!((file["type"].as_str(), file["height"].as_u64()), (Some("image/png"), Some(20)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_other_file_is_served_as_a_download_under_its_name() {
    let app = spawn_app_with(|f| f.merge(("guest_uploads", true))).await;
    let pdf = b"%PDF-1.7\n% a report\n";
    // Browsers send a quote in a file name as %22 (HTML's form encoding).
    let message = posted(&app, "r", ("報告 %22Q3%22.pdf", "application/pdf", pdf)).await;
    assert_eq!(message["text"], "", "a message may be only a file");
    let file = &message["attachments"][0];
    assert_eq!(file["name"], "報告 \"Q3\".pdf");
    assert_eq!((file["type"].as_str(), file["size"].as_u64()), (Some("application/pdf"), Some(pdf.len() as u64)));
    let (status, headers, bytes) = fetch(&app, file["url"].as_str().unwrap()).await;
    assert_eq!((status, bytes.as_slice()), (Status::Ok, &pdf[..]));
    assert_eq!(header(&headers, "Content-Type"), Some("application/octet-stream"));
    assert_eq!(
        header(&headers, "Content-Disposition"),
        Some("attachment; filename=\"__ _Q3_.pdf\"; filename*=UTF-8''%E5%A0%B1%E5%91%8A%20%22Q3%22.pdf")
    );
    assert_inert(&headers);
    let etag = header(&headers, "ETag").unwrap().to_owned();
    let again = app.client.get(file["url"].as_str().unwrap().to_owned()).header(Header::new("If-None-Match", etag));
    assert_eq!(again.dispatch().await.status(), Status::NotModified, "a revalidation costs no bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_posts_like_any_message_with_its_text_and_reply() {
    let app = spawn_app_with(|f| f.merge(("guest_uploads", true))).await;
    let first = app.say("r", "send me the logo").await;
    let reply_to = first["id"].to_string();
    let file = ("logo.png", "image/png", &png(4, 4)[..]);
    let response = upload(&app, "r", &[("text", "here"), ("reply_to", &reply_to)], Some(file)).await;
    assert_eq!(response.status(), Status::Created);
    let message = response.into_json::<Value>().await.unwrap();
    assert_eq!((message["text"].as_str(), message["reply_to"]["id"].as_i64()), (Some("here"), first["id"].as_i64()));

    let refused = |fields: &'static [(&'static str, &'static str)]| {
        let app = &app;
        async move {
            let response = upload(app, "r", fields, Some(file)).await;
            let status = response.status();
            (status, response.into_json::<Value>().await.unwrap()["error"].as_str().unwrap().to_owned())
        }
    };
    let (status, reason) = refused(&[("reply_to", "999")]).await;
    assert_eq!(
        (status, reason.as_str()),
        (Status::UnprocessableEntity, "reply_to must be the id of a message in this room")
    );
    let long = "x".repeat(2001);
    let response = upload(&app, "r", &[("text", &long)], Some(file)).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let (status, reason) = refused(&[("colour", "red")]).await;
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(reason.contains("unknown field \"colour\""), "{reason}");
    let (status, reason) = refused(&[("text", "a"), ("text", "b")]).await;
    assert_eq!((status, reason.as_str()), (Status::UnprocessableEntity, "the field \"text\" is given more than once"));
    let response = upload(&app, "r", &[("text", "no file")], None).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let response = upload(&app, "r", &[], Some(("empty.txt", "text/plain", b""))).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let json = app.client.post("/rooms/r/attachments").header(ContentType::JSON).body("{}");
    let token = Header::new("X-CSRF-Token", app.csrf().await);
    assert_eq!(json.header(token).dispatch().await.status(), Status::UnsupportedMediaType);
    assert_eq!(app.history_ids("r", "").await.len(), 2, "only the good upload was posted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_page_shows_a_thumbnail_with_its_size_and_a_file_as_a_download() {
    let app = spawn_app().await;
    app.register("alice", "correct horse battery").await;
    posted(&app, "r", ("wide.png", "image/png", &png(640, 160))).await;
    let message = posted(&app, "r", ("a<b>.txt", "text/plain", b"hello")).await;
    let page = app.client.get("/rooms/r").dispatch().await.into_string().await.unwrap();
    assert!(page.contains(r#"width="320" height="80""#), "the thumbnail's own size: {page}");
    assert!(page.contains("<img src=\"&#x2F;thumbs&#x2F;"), "{page}");
    let id = message["attachments"][0]["id"].as_str().unwrap();
    assert!(page.contains(&format!("href=\"&#x2F;files&#x2F;{id}&#x2F;a%3Cb%3E.txt\" download=")), "{page}");
    assert!(page.contains("a&lt;b&gt;.txt") && !page.contains("a<b>.txt"), "the name is escaped");
}
