//! Avatars over HTTP: `POST /account/avatar` (a multipart form with one
//! field, `file`, and the browser's token in `X-CSRF-Token`, like an
//! attachment), `DELETE /account/avatar` and the account page's remove
//! form (`POST /account/avatar/delete`), and `GET /avatars/<handle>`, the
//! picture itself. The rules are `uploads::Uploads`'; these routes read
//! the body and shape the answers.
//!
//! The page shows everyone's avatar as `/avatars/<handle>`, so no message
//! or online list carries anything more than the handle it already has.
//! The answer may be cached for [`MAX_AGE_SECS`], then is revalidated with
//! its `ETag`: a new picture reaches other people's pages within that
//! time (the uploader's own account page asks with `?v=<version>`).

use std::net::IpAddr;

use rocket::data::{Data, ToByteUnit};
use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Redirect, Responder, Response};
use rocket::serde::json::{Json, Value, json};
use rocket::{State, delete, get, post};

use super::account::{Answer, TokenOnly};
use super::csrf::{CsrfForm, CsrfHeader};
use super::error::ApiError;
use super::pages::IfNoneMatch;
use super::uploads::{FORM_OVERHEAD, UploadHead, form_error};
use crate::auth::Visitor;
use crate::limits::Limits;
use crate::uploads::{Avatar, UploadError, Uploads};

/// How long a browser may show an avatar without asking again.
pub const MAX_AGE_SECS: u32 = 300;

/// Makes the uploaded image the caller's avatar: `{"avatar": "/avatars/
/// <handle>?v=<version>", "version": <version>}`.
#[post("/account/avatar", data = "<data>")]
pub async fn upload_avatar(
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    _token: CsrfHeader,
    head: UploadHead,
    data: Data<'_>,
    uploads: &State<Uploads>,
    limits: &State<Limits>,
) -> Result<Json<Value>, ApiError> {
    if visitor.is_guest() {
        return Err(UploadError::AvatarsAreForMembers.into());
    }
    limits.posts.check(&visitor, client_ip).map_err(ApiError::RateLimited)?;
    let boundary = head.boundary.ok_or(UploadError::NotMultipart)?;
    let max = uploads.max_bytes();
    let budget = max.saturating_add(FORM_OVERHEAD);
    if head.length.is_some_and(|length| length > budget) {
        return Err(UploadError::TooLarge(max).into());
    }
    let stream = data.open(budget.saturating_add(1).bytes());
    let sizes = multer::SizeLimit::new().whole_stream(budget);
    let constraints = multer::Constraints::new().allowed_fields(vec!["file"]).size_limit(sizes);
    let mut multipart = multer::Multipart::with_reader_with_constraints(stream, boundary, constraints);
    let refused = |e| match e {
        multer::Error::UnknownField { .. } => UploadError::Form("send the image in the one field \"file\"".into()),
        e => form_error(e, max),
    };
    let mut file = None;
    while let Some(mut field) = multipart.next_field().await.map_err(refused)? {
        if file.is_some() {
            return Err(UploadError::Form("send one file".into()).into());
        }
        let mut incoming = uploads.receive().await?;
        while let Some(chunk) = field.chunk().await.map_err(refused)? {
            incoming.write(&chunk).await?;
        }
        file = Some(incoming);
    }
    let stored = uploads.set_avatar(&visitor, file.ok_or(UploadError::NoFile)?).await?;
    let url = format!("/avatars/{}?v={}", visitor.name(), stored.version);
    Ok(Json(json!({ "avatar": url, "version": stored.version })))
}

/// Back to the drawn avatar: 204.
#[delete("/account/avatar")]
pub async fn remove_avatar(visitor: Visitor, _token: CsrfHeader, uploads: &State<Uploads>) -> Result<Status, ApiError> {
    uploads.remove_avatar(&visitor).await?;
    Ok(Status::NoContent)
}

/// The account page's remove button: 303 back to the page.
#[post("/account/avatar/delete", data = "<_form>")]
pub async fn remove_avatar_form(
    visitor: Visitor,
    _form: CsrfForm<TokenOnly>,
    uploads: &State<Uploads>,
) -> Result<Answer, ApiError> {
    if visitor.is_guest() {
        return Ok(Answer::Redirect(Redirect::to("/login?next=/account")));
    }
    uploads.remove_avatar(&visitor).await?;
    Ok(Answer::Redirect(Redirect::to("/account?done=avatar")))
}

/// The picture of `handle`: its upload, or one drawn from it.
#[get("/avatars/<handle>")]
pub async fn avatar(handle: &str, cached: IfNoneMatch, uploads: &State<Uploads>) -> Result<AvatarAnswer, ApiError> {
    let avatar = uploads.avatar(handle).await?;
    let etag = match &avatar {
        Avatar::Uploaded(stored) => format!("\"u{}\"", stored.version),
        Avatar::Drawn { tag, .. } => format!("\"d{tag}\""),
    };
    let avatar = (!cached.has(&etag)).then_some(avatar);
    Ok(AvatarAnswer { avatar, etag })
}

/// An avatar (or a 304), inert like an attached file: its own type only
/// (`nosniff`), and a sandbox, should an SVG ever be opened as a page.
pub struct AvatarAnswer {
    avatar: Option<Avatar>,
    etag: String,
}

impl<'r> Responder<'r, 'static> for AvatarAnswer {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build();
        response
            .raw_header("X-Content-Type-Options", "nosniff")
            .raw_header("Content-Security-Policy", "sandbox")
            .raw_header("Cache-Control", format!("public, max-age={MAX_AGE_SECS}"))
            .raw_header("ETag", self.etag);
        let (content_type, body) = match self.avatar {
            None => return response.status(Status::NotModified).ok(),
            Some(Avatar::Uploaded(stored)) => {
                (ContentType::parse_flexible(&stored.content_type).unwrap_or(ContentType::PNG), stored.image)
            }
            Some(Avatar::Drawn { svg, .. }) => (ContentType::SVG, svg.into_bytes()),
        };
        response.header(content_type).sized_body(body.len(), std::io::Cursor::new(body)).ok()
    }
}
