//! Attachments over HTTP: `POST /rooms/<room>/attachments` (a multipart
//! form: `file`, optional `text` and `reply_to`), and the files themselves,
//! `GET /files/<id>/<name>` and `GET /thumbs/<id>`. Rules are
//! `uploads::Uploads`'; these routes parse the body and shape the answers.
//!
//! The body is parsed with `multer` over Rocket's data stream rather than
//! with Rocket's own `Form` and `TempFile`: a `TempFile` is buffered into
//! Rocket's `temp_dir` (another file system, perhaps, so not a rename away
//! from the files directory) and its limit ends in a generic error; here
//! each chunk goes straight into a temporary file of the files directory,
//! is counted as it arrives, and the upload is refused with 413 the moment
//! it passes `upload_max_bytes`, with nothing more read. Every field is
//! bounded (the text and `reply_to` by size, unknown fields refused, each
//! field at most once), and so is the whole body.

use std::net::IpAddr;

use rocket::data::{Data, ToByteUnit};
use rocket::http::{ContentType, Header, Status};
use rocket::request::{self, FromRequest, Request};
use rocket::response::content::RawJson;
use rocket::response::status::Created;
use rocket::response::{self, Responder, Response};
use rocket::{State, get, post};

use super::csrf::CsrfHeader;
use super::error::ApiError;
use super::pages::IfNoneMatch;
use crate::auth::Visitor;
use crate::limits::Limits;
use crate::rooms::{MessageText, RoomName, percent_encode};
use crate::store::files::Variant;
use crate::uploads::{OpenFile, UploadError, UploadForm, Uploads};

/// Room in a body beyond the file for the form's other fields, its part
/// headers and boundaries.
pub(super) const FORM_OVERHEAD: u64 = 64 * 1024;

/// Largest `text` field: the longest message (2000 four-byte characters).
const TEXT_FIELD_BYTES: u64 = 8 * 1024;

/// Largest `reply_to` field (a message id).
const REPLY_TO_FIELD_BYTES: u64 = 32;

/// What an upload's request head says: its multipart boundary, if it is
/// a multipart form, and the length it declares, if it does.
pub struct UploadHead {
    pub(super) boundary: Option<String>,
    pub(super) length: Option<u64>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for UploadHead {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let boundary = request
            .content_type()
            .filter(|t| t.is_form_data())
            .and_then(|t| t.param("boundary"))
            .filter(|b| !b.is_empty())
            .map(str::to_owned);
        let length = request.headers().get_one("Content-Length").and_then(|n| n.parse().ok());
        request::Outcome::Success(UploadHead { boundary, length })
    }
}

/// Posts a file as a message: 201 with the message, whose `attachments`
/// name it.
#[post("/rooms/<room>/attachments", data = "<data>")]
#[allow(clippy::too_many_arguments)] // a route's guards, each one thing
pub async fn upload(
    room: &str,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    _token: CsrfHeader,
    head: UploadHead,
    data: Data<'_>,
    uploads: &State<Uploads>,
    limits: &State<Limits>,
) -> Result<Created<RawJson<String>>, ApiError> {
    let room = RoomName::parse(room)?;
    limits.posts.check(&visitor, client_ip).map_err(ApiError::RateLimited)?;
    let boundary = head.boundary.ok_or(UploadError::NotMultipart)?;
    let admitted = uploads.admit(&visitor, &room).await?;
    let max = uploads.max_bytes();
    let budget = max.saturating_add(FORM_OVERHEAD);
    // Declared too long: refused before a byte of the body is read.
    if head.length.is_some_and(|length| length > budget) {
        return Err(UploadError::TooLarge(max).into());
    }
    // One byte past the form's budget, so that multer (not a cut stream)
    // is what notices a body that goes on.
    let stream = data.open(budget.saturating_add(1).bytes());
    let form = read_form(stream, boundary, uploads, budget).await?;
    let delivery = uploads.publish(&visitor, admitted, form).await?;
    let message = &delivery.message;
    let location = format!("/rooms/{}/messages?after={}&limit=1", message.room, message.id - 1);
    Ok(Created::new(location).body(RawJson(delivery.json.to_string())))
}

/// Reads the multipart form, streaming the file to disk as it comes.
async fn read_form(
    stream: rocket::data::DataStream<'_>,
    boundary: String,
    uploads: &Uploads,
    budget: u64,
) -> Result<UploadForm, UploadError> {
    let sizes = multer::SizeLimit::new()
        .whole_stream(budget)
        .for_field("text", TEXT_FIELD_BYTES)
        .for_field("reply_to", REPLY_TO_FIELD_BYTES);
    let constraints = multer::Constraints::new().allowed_fields(vec!["file", "text", "reply_to"]).size_limit(sizes);
    let mut multipart = multer::Multipart::with_reader_with_constraints(stream, boundary, constraints);
    let refused = |e| form_error(e, uploads.max_bytes());
    let (mut file, mut name, mut text, mut reply_to) = (None, String::new(), None, None);
    while let Some(mut field) = multipart.next_field().await.map_err(refused)? {
        match field.name().unwrap_or_default() {
            "file" if file.is_none() => {
                name = form_file_name(field.file_name().unwrap_or_default());
                let mut incoming = uploads.receive().await?;
                while let Some(chunk) = field.chunk().await.map_err(refused)? {
                    incoming.write(&chunk).await?;
                }
                file = Some(incoming);
            }
            "text" if text.is_none() => {
                let caption = field.text().await.map_err(refused)?;
                // Checked as it arrives: a page sends it before the file,
                // so a bad text is refused before the file is read.
                MessageText::caption(&caption).map_err(|e| UploadError::Post(e.into()))?;
                text = Some(caption);
            }
            "reply_to" if reply_to.is_none() => {
                let id = field.text().await.map_err(refused)?;
                let id = match id.trim() {
                    "" => None,
                    id => Some(
                        id.parse::<i64>()
                            .ok()
                            .filter(|id| *id > 0)
                            .ok_or_else(|| UploadError::Form("reply_to must be a message id".into()))?,
                    ),
                };
                reply_to = Some(id);
            }
            other => return Err(UploadError::Form(format!("the field {other:?} is given more than once"))),
        }
    }
    let file = file.ok_or(UploadError::NoFile)?;
    Ok(UploadForm { file, name, text: text.unwrap_or_default(), reply_to: reply_to.flatten() })
}

/// A file name as browsers send it in a form: HTML's multipart encoding
/// writes `"` as `%22` (and line breaks as `%0D`, `%0A`, which a name
/// loses anyway), and nothing else, so only those are read back.
fn form_file_name(sent: &str) -> String {
    sent.replace("%22", "\"").replace("%0D", "").replace("%0A", "")
}

/// A multipart error as the reason people see.
pub(super) fn form_error(error: multer::Error, max: u64) -> UploadError {
    use multer::Error as E;
    match error {
        E::StreamSizeExceeded { .. } => UploadError::TooLarge(max),
        E::FieldSizeExceeded { field_name, .. } => {
            UploadError::Form(format!("the field {} is too long", field_name.unwrap_or_default()))
        }
        E::UnknownField { field_name } => UploadError::Form(format!(
            "unknown field {:?}: send \"file\", and optionally \"text\" and \"reply_to\"",
            field_name.unwrap_or_default()
        )),
        E::IncompleteStream | E::IncompleteFieldData { .. } | E::IncompleteHeaders => {
            UploadError::Form("the upload ended before its form did".into())
        }
        other => UploadError::Form(format!("the upload is not a valid multipart form: {other}")),
    }
}

/// A file, as uploaded: an image inline, anything else as a download.
#[get("/files/<id>/<_name>")]
pub async fn file(
    id: &str,
    _name: &str,
    visitor: Visitor,
    cached: IfNoneMatch,
    uploads: &State<Uploads>,
) -> Result<FileAnswer, ApiError> {
    serve(uploads, &visitor, id, Variant::Original, cached).await
}

/// An image's thumbnail.
#[get("/thumbs/<id>")]
pub async fn thumb(
    id: &str,
    visitor: Visitor,
    cached: IfNoneMatch,
    uploads: &State<Uploads>,
) -> Result<FileAnswer, ApiError> {
    serve(uploads, &visitor, id, Variant::Thumbnail, cached).await
}

async fn serve(
    uploads: &Uploads,
    visitor: &Visitor,
    id: &str,
    variant: Variant,
    cached: IfNoneMatch,
) -> Result<FileAnswer, ApiError> {
    // Access is decided before a revalidation is answered: a 304 says the
    // file is there, which only a reader of the room may learn.
    let open = uploads.open(visitor, id, variant).await?;
    let etag = match variant {
        Variant::Original => format!("\"{}\"", open.attachment.id),
        Variant::Thumbnail => format!("\"{}-thumb\"", open.attachment.id),
    };
    // A file never changes under its id: the tag is the id.
    if cached.has(&etag) {
        return Ok(FileAnswer { open: None, etag });
    }
    Ok(FileAnswer { open: Some(open), etag })
}

/// A file's answer (or a 304), with the headers that keep it inert: its
/// type as sniffed at upload (`nosniff`: the browser may not guess
/// another), a sandbox policy (were it ever shown as a document, no script
/// runs and it has no origin), and a download for anything not an image.
pub struct FileAnswer {
    open: Option<OpenFile>,
    etag: String,
}

impl<'r> Responder<'r, 'static> for FileAnswer {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build();
        response
            .raw_header("X-Content-Type-Options", "nosniff")
            .raw_header("Content-Security-Policy", "sandbox")
            .raw_header("Cross-Origin-Resource-Policy", "same-origin")
            // Every use asks again (cheaply, with the tag): access can end.
            .raw_header("Cache-Control", "private, no-cache")
            .raw_header("ETag", self.etag);
        let Some(open) = self.open else {
            return response.status(Status::NotModified).ok();
        };
        let name = open.attachment.name.as_str();
        match open.served_type() {
            Some(image) => {
                let content_type = ContentType::parse_flexible(image).unwrap_or(ContentType::Binary);
                response.header(content_type);
                if open.variant == Variant::Original {
                    response.header(Header::new("Content-Disposition", disposition("inline", name)));
                }
            }
            None => {
                response.header(ContentType::Binary);
                response.header(Header::new("Content-Disposition", disposition("attachment", name)));
            }
        }
        response.sized_body(usize::try_from(open.len).ok(), open.file).ok()
    }
}

/// `attachment; filename="..."; filename*=UTF-8''...` (RFC 6266 and 8187):
/// an ASCII fallback with anything risky replaced, and the exact name
/// percent-encoded; no byte of the name can end the header or the value.
fn disposition(kind: &str, name: &str) -> String {
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}", percent_encode(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disposition_keeps_the_name_safely_in_both_forms() {
        assert_eq!(
            disposition("attachment", "a \"b\"\\c é.txt"),
            "attachment; filename=\"a _b__c _.txt\"; filename*=UTF-8''a%20%22b%22%5Cc%20%C3%A9.txt"
        );
    }
}
