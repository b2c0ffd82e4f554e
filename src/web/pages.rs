//! Pages and static files over HTTP: the [`Template`] responder renders a
//! page from the templates parsed at startup (`assets::Pages`, managed
//! state), and `GET /static/<file>` serves the built-in static files with a
//! validator, so browsers revalidate instead of downloading again.
//!
//! A `static_dir`, when set, is mounted in front of [`static_file`] by
//! `lib.rs` (Rocket's `FileServer`), so its files win and the rest fall
//! through to the built-in ones.

use std::path::PathBuf;

use rocket::get;
use rocket::http::{ContentType, Header, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use serde::Serialize;
use serde_json::Value;

use crate::assets::{self, Pages};

/// A page to render: a template name and its context.
pub struct Template {
    name: &'static str,
    context: Value,
}

impl Template {
    /// `context` must serialize to an object (a `json!({...})`).
    pub fn render(name: &'static str, context: impl Serialize) -> Self {
        let context = serde_json::to_value(context).unwrap_or_else(|e| {
            tracing::error!("the context of page {name} did not serialize: {e}");
            Value::Null
        });
        Self { name, context }
    }
}

impl<'r> Responder<'r, 'static> for Template {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let Some(pages) = request.rocket().state::<Pages>() else {
            tracing::error!("the pages are not loaded");
            return Err(Status::ServiceUnavailable);
        };
        let preferences = super::settings::page_preferences(request);
        match pages.render(self.name, self.context, &preferences) {
            Ok(html) => (ContentType::HTML, html).respond_to(request),
            Err(e) => {
                tracing::error!("{e}");
                Err(Status::InternalServerError)
            }
        }
    }
}

/// The request's `If-None-Match`, if any.
pub struct IfNoneMatch(Option<String>);

impl IfNoneMatch {
    /// Whether the browser already has the version tagged `etag`.
    pub(super) fn has(&self, etag: &str) -> bool {
        self.0.as_deref().is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag))
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for IfNoneMatch {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(IfNoneMatch(request.headers().get_one("If-None-Match").map(str::to_owned)))
    }
}

/// A built-in static file, or `304 Not Modified` when the browser has it.
pub struct StaticFile {
    content_type: ContentType,
    file: assets::StaticFile,
    not_modified: bool,
}

impl<'r> Responder<'r, 'static> for StaticFile {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build();
        response
            .header(Header::new("ETag", self.file.etag))
            // Always revalidate: a new binary may carry a new file under
            // the same name, and a 304 costs one round trip.
            .header(Header::new("Cache-Control", "no-cache"));
        if self.not_modified {
            return response.status(Status::NotModified).ok();
        }
        let bytes = self.file.bytes.into_owned();
        response.header(self.content_type).sized_body(bytes.len(), std::io::Cursor::new(bytes)).ok()
    }
}

impl StaticFile {
    pub fn new(content_type: ContentType, file: assets::StaticFile, if_none_match: &IfNoneMatch) -> Self {
        let not_modified = if_none_match.has(&file.etag);
        Self { content_type, file, not_modified }
    }
}

/// Ranked after a `static_dir` `FileServer` (rank 10 at `/static`) so the
/// directory's files win.
#[get("/static/<path..>", rank = 11)]
pub fn static_file(path: PathBuf, if_none_match: IfNoneMatch) -> Option<StaticFile> {
    let path = path.to_str()?;
    let file = assets::static_file(path)?;
    let extension = path.rsplit_once('.').map_or("", |(_, ext)| ext);
    let content_type = ContentType::from_extension(extension).unwrap_or(ContentType::Binary);
    Some(StaticFile::new(content_type, file, &if_none_match))
}

/// The page's icon, with the number of unread messages on it when given
/// (`/favicon.svg?unread=3`; 100 and more show as "99+"): drawn here, so
/// the page's strict CSP needs no `data:` images.
#[get("/favicon.svg?<unread>")]
pub fn favicon(unread: Option<u32>) -> (ContentType, String) {
    let badge = match unread.unwrap_or(0) {
        0 => String::new(),
        n => {
            let label = if n > 99 { "99+".to_owned() } else { n.to_string() };
            format!(
                r##"<circle cx="46" cy="18" r="18" fill="#d93025"/><text x="46" y="25" font-family="sans-serif" font-size="{size}" font-weight="700" text-anchor="middle" fill="#fff">{label}</text>"##,
                size = if label.len() > 2 { 14 } else { 20 },
            )
        }
    };
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><path d="M8 10h40a6 6 0 0 1 6 6v22a6 6 0 0 1-6 6H24l-12 10V44H8a6 6 0 0 1-6-6V16a6 6 0 0 1 6-6z" fill="#3b6ea5"/>{badge}</svg>"##
    );
    (ContentType::SVG, svg)
}
