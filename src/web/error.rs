//! Every error the HTTP layer can answer with, and the one place that turns
//! them into statuses and bodies.
//!
//! Bodies name the reason in words a user can act on and never carry
//! internals: a store failure is logged in full and answered as an opaque 503.
//!
//! Reasons are written in English. A page shows them in the request's
//! language (`i18n::reason`); JSON keeps `error` English and stable for
//! scripts and, when the request's language is not English, adds `message`,
//! the same reason translated, for a script to show a person.

use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::serde::json::json;
use thiserror::Error;

use crate::access::AccessError;
use crate::activity::ActivityError;
use crate::auth::InvalidCredentials;
use crate::auth::{AccountError, LoginError};
use crate::auth::{PasskeyError, SecondFactorError};
use crate::i18n::preferences::PreferenceError;
use crate::i18n::{self, Lang};
use crate::limits::RetryAfter;
use crate::live::{FrameRefusal, Refusal};
use crate::messages::{PeopleError, PostError, QueryError};
use crate::moderation::ModerationError;
use crate::rooms::InvalidInput;
use crate::search::SearchError;
use crate::store::{ChangeError, StoreError};
use crate::stream::CursorError;
use crate::uploads::UploadError;

#[derive(Debug, Error)]
pub enum ApiError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// A name (a display name, in settings) refused by its rules.
    #[error(transparent)]
    Credentials(#[from] InvalidCredentials),

    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("{0}")]
    BadJson(String),
    #[error("the request body is too large")]
    TooLarge,
    #[error("send JSON (application/json) or a form (application/x-www-form-urlencoded)")]
    UnsupportedMediaType,
    #[error("Last-Event-ID must be a message id (a whole number)")]
    BadLastEventId,
    /// The activity page's period (the reason is `ActivityError`'s).
    #[error("{0}")]
    BadPeriod(ActivityError),
    #[error(transparent)]
    Cursor(#[from] CursorError),
    #[error("rooms must name 1 to 50 rooms, comma separated: /events?rooms=lobby,rust")]
    StreamRooms,
    #[error("guests may not post here: log in or register")]
    GuestsNotAllowed,
    #[error("your session has ended: log in again")]
    SessionEnded,
    #[error("too many requests: try again in {} s", .0.secs())]
    RateLimited(RetryAfter),
    #[error("too many open streams from this browser or address: close some tabs")]
    TooManyStreams,
    #[error("the server's storage is unavailable; try again shortly")]
    Store(#[source] StoreError),
    #[error(transparent)]
    Moderation(ModerationError),
    /// Kicked from the room (for a while) or banned: 204, so EventSource
    /// stops reconnecting.
    #[error("you may not open this room now")]
    ShutOut,
    /// A reply, an edit, a reaction or a versions request refused for a
    /// reason of its own (the reason is `PostError`'s).
    #[error(transparent)]
    Conversation(PostError),
    #[error(transparent)]
    People(PeopleError),
    #[error(transparent)]
    Search(#[from] SearchError),
    /// An upload or a file refused for a reason of its own (the reason is
    /// `UploadError`'s).
    #[error(transparent)]
    Upload(UploadError),
    /// Reading or writing the files directory failed: logged in full,
    /// answered as an opaque 503 (like the store).
    #[error("the server could not store or read the file; try again shortly")]
    Files(#[source] std::io::Error),
    /// A bot's token on a route for people (pages, the account).
    #[error("bots use the JSON API with their token: pages and accounts are for people")]
    NotForBots,
    /// A bearer token that is malformed, unknown or revoked.
    #[error("the bearer token is not valid (unknown or revoked)")]
    BadToken,
    /// A webhook token that is malformed, unknown or revoked: the same 404
    /// as a path that never was.
    #[error("there is no such webhook")]
    NoSuchHook,
    /// Registration modes, invites, reset links, the admin page (the
    /// reason is `AccessError`'s).
    #[error(transparent)]
    Access(AccessError),
    /// A passkey request refused for a reason of its own (the reason is
    /// `PasskeyError`'s).
    #[error(transparent)]
    Passkey(PasskeyError),
    /// A setting's value that is not one of its choices.
    #[error(transparent)]
    Preference(#[from] PreferenceError),
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Store(e) | AccessError::Login(LoginError::Account(AccountError::Store(e))) => {
                ApiError::Store(e)
            }
            AccessError::Login(LoginError::Throttled(wait) | LoginError::TooManyRegistrations(wait)) => {
                ApiError::RateLimited(wait)
            }
            other => ApiError::Access(other),
        }
    }
}

impl From<ActivityError> for ApiError {
    fn from(error: ActivityError) -> Self {
        match error {
            ActivityError::Access(e) => ApiError::from(e),
            ActivityError::Store(e) => ApiError::Store(e),
            period @ ActivityError::BadPeriod => ApiError::BadPeriod(period),
        }
    }
}

impl From<PasskeyError> for ApiError {
    fn from(error: PasskeyError) -> Self {
        match error {
            PasskeyError::Store(e) => ApiError::Store(e),
            other => ApiError::Passkey(other),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::Post(e) => ApiError::from(e),
            UploadError::Store(e) => ApiError::Store(e),
            UploadError::Io(e) => ApiError::Files(e),
            other => ApiError::Upload(other),
        }
    }
}

impl From<PeopleError> for ApiError {
    fn from(error: PeopleError) -> Self {
        match error {
            PeopleError::Store(e) => ApiError::Store(e),
            PeopleError::Moderation(e) => ApiError::from(e),
            other => ApiError::People(other),
        }
    }
}

impl From<PostError> for ApiError {
    fn from(error: PostError) -> Self {
        match error {
            PostError::GuestsNotAllowed => ApiError::GuestsNotAllowed,
            PostError::Invalid(e) => ApiError::Invalid(e),
            PostError::Store(e) => ApiError::Store(e),
            PostError::Moderation(e) => ApiError::from(e),
            PostError::Change(ChangeError::Store(e)) => ApiError::Store(e),
            refused @ (PostError::NoSuchReply | PostError::Change(_) | PostError::VersionsHidden) => {
                ApiError::Conversation(refused)
            }
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::SessionEnded => ApiError::SessionEnded,
            Refusal::NoAccess(e) => ApiError::from(e),
            Refusal::ShutOut => ApiError::ShutOut,
            Refusal::TooManyStreams => ApiError::TooManyStreams,
            Refusal::Store(e) => ApiError::Store(e),
        }
    }
}

impl From<FrameRefusal> for ApiError {
    fn from(refusal: FrameRefusal) -> Self {
        match refusal {
            FrameRefusal::SessionEnded => ApiError::SessionEnded,
            FrameRefusal::RateLimited(wait) => ApiError::RateLimited(wait),
            FrameRefusal::Post(e) => ApiError::from(e),
            FrameRefusal::Store(e) => ApiError::Store(e),
        }
    }
}

impl From<ModerationError> for ApiError {
    fn from(error: ModerationError) -> Self {
        match error {
            ModerationError::Store(e) => ApiError::Store(e),
            other => ApiError::Moderation(other),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Store(error)
    }
}

impl ApiError {
    pub fn status(&self) -> Status {
        // No wildcard arm: a new variant must choose its status here.
        match self {
            ApiError::Invalid(_) | ApiError::Query(_) | ApiError::BadJson(_) => Status::UnprocessableEntity,
            ApiError::Credentials(_) | ApiError::Preference(_) => Status::UnprocessableEntity,
            ApiError::BadLastEventId | ApiError::BadPeriod(_) | ApiError::Cursor(_) | ApiError::Search(_) => {
                Status::BadRequest
            }
            ApiError::StreamRooms => Status::UnprocessableEntity,
            ApiError::TooLarge => Status::PayloadTooLarge,
            ApiError::UnsupportedMediaType => Status::UnsupportedMediaType,
            ApiError::GuestsNotAllowed | ApiError::SessionEnded => Status::Unauthorized,
            ApiError::RateLimited(_) | ApiError::TooManyStreams => Status::TooManyRequests,
            ApiError::Store(_) | ApiError::Files(_) => Status::ServiceUnavailable,
            ApiError::Upload(e) => upload_status(e),
            ApiError::Passkey(e) => passkey_status(e),
            ApiError::ShutOut => Status::NoContent,
            ApiError::NotForBots => Status::Forbidden,
            ApiError::BadToken => Status::Unauthorized,
            ApiError::NoSuchHook => Status::NotFound,
            ApiError::Conversation(e) => conversation_status(e),
            ApiError::People(e) => match e {
                PeopleError::MembersOnly | PeopleError::Blocked(_) => Status::Forbidden,
                PeopleError::NoSuchAccount(_) => Status::NotFound,
                PeopleError::BadUsers | PeopleError::BlockYourself | PeopleError::BadId => Status::UnprocessableEntity,
                PeopleError::Moderation(_) | PeopleError::Store(_) => Status::ServiceUnavailable,
            },
            ApiError::Access(e) => access_status(e),
            ApiError::Moderation(e) => match e {
                ModerationError::NoSuchRoom | ModerationError::NoSuchMessage => Status::NotFound,
                ModerationError::NotAModerator
                | ModerationError::NotAnAdmin
                | ModerationError::NotYours
                | ModerationError::Outranked { .. }
                | ModerationError::OnYourself(_)
                | ModerationError::LastAdmin(_)
                | ModerationError::Refused(_)
                | ModerationError::NotTheBotsRoom => Status::Forbidden,
                ModerationError::Store(_) => Status::ServiceUnavailable,
            },
        }
    }
}

/// The status of a refused upload or file request.
fn upload_status(error: &UploadError) -> Status {
    match error {
        UploadError::GuestsMayNotUpload | UploadError::AvatarsAreForMembers => Status::Forbidden,
        UploadError::TooLarge(_) | UploadError::QuotaFull(_) => Status::PayloadTooLarge,
        UploadError::NoFile | UploadError::EmptyFile | UploadError::Image(_) | UploadError::Form(_) => {
            Status::UnprocessableEntity
        }
        UploadError::NotMultipart | UploadError::NotAnImage => Status::UnsupportedMediaType,
        UploadError::NoSuchFile => Status::NotFound,
        // Turned into their own `ApiError` variants by `From<UploadError>`.
        UploadError::Post(_) | UploadError::Io(_) | UploadError::Store(_) => Status::InternalServerError,
    }
}

/// The status of a refused access request (registration, invites, reset
/// links, the admin page).
fn access_status(error: &AccessError) -> Status {
    match error {
        AccessError::NotAnAdmin
        | AccessError::MayNotInvite
        | AccessError::Closed
        | AccessError::InviteRequired
        | AccessError::Invite(_)
        | AccessError::BadResetLink
        | AccessError::Banned => Status::Forbidden,
        AccessError::BadInvite(_) | AccessError::TooManyInvites | AccessError::BadMode(_) => {
            Status::UnprocessableEntity
        }
        AccessError::NoSuchInvite | AccessError::NoSuchAccount(_) => Status::NotFound,
        AccessError::Login(LoginError::Account(e)) => match e {
            AccountError::Invalid(_) => Status::UnprocessableEntity,
            AccountError::NameTaken => Status::Conflict,
            AccountError::WrongCredentials | AccountError::WrongCurrentPassword => Status::Unauthorized,
            AccountError::Password(_) => Status::ServiceUnavailable,
            // Turned into `ApiError::Store` by `From<AccessError>`.
            AccountError::Store(_) => Status::InternalServerError,
        },
        // Turned into their own `ApiError` variants by `From<AccessError>`.
        AccessError::Login(LoginError::Throttled(_) | LoginError::TooManyRegistrations(_)) | AccessError::Store(_) => {
            Status::InternalServerError
        }
    }
}

/// The status of a refused second-factor step (the login's code, TOTP's
/// set-up and removal).
pub fn second_factor_status(error: &SecondFactorError) -> Status {
    match error {
        SecondFactorError::Malformed => Status::UnprocessableEntity,
        SecondFactorError::WrongCode | SecondFactorError::LoginExpired => Status::Unauthorized,
        SecondFactorError::AlreadyOn | SecondFactorError::NotEnrolling | SecondFactorError::NotOn => Status::Conflict,
        SecondFactorError::Throttled(_) => Status::TooManyRequests,
        SecondFactorError::Store(_) => Status::ServiceUnavailable,
    }
}

/// The status of a refused passkey registration, login or removal.
pub fn passkey_status(error: &PasskeyError) -> Status {
    match error {
        PasskeyError::NotLoggedIn | PasskeyError::NoCeremony | PasskeyError::Rejected | PasskeyError::Unknown => {
            Status::Unauthorized
        }
        PasskeyError::TooMany | PasskeyError::BadName => Status::UnprocessableEntity,
        PasskeyError::Duplicate => Status::Conflict,
        PasskeyError::NoSuchPasskey => Status::NotFound,
        PasskeyError::Busy => Status::TooManyRequests,
        // A bad setting stops the server at start; it never reaches a request.
        PasskeyError::BadOrigin | PasskeyError::Store(_) => Status::ServiceUnavailable,
    }
}

/// The status of a refused reply, edit, reaction or versions request.
fn conversation_status(error: &PostError) -> Status {
    match error {
        PostError::NoSuchReply | PostError::Change(ChangeError::TooManyReactions) => Status::UnprocessableEntity,
        PostError::VersionsHidden | PostError::Change(ChangeError::NotYours | ChangeError::TooLate(_)) => {
            Status::Forbidden
        }
        PostError::Change(ChangeError::NoSuchMessage) => Status::NotFound,
        // Turned into their own `ApiError` variants by `From<PostError>`.
        PostError::GuestsNotAllowed
        | PostError::Invalid(_)
        | PostError::Moderation(_)
        | PostError::Store(_)
        | PostError::Change(ChangeError::Store(_)) => Status::InternalServerError,
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let cause: Option<&dyn std::error::Error> = match &self {
            ApiError::Store(cause) => Some(cause),
            ApiError::Files(cause) => Some(cause),
            _ => None,
        };
        if let Some(cause) = cause {
            let id = crate::logging::request_id(request).map_or(0, |id| id.id);
            tracing::error!("request {id:016x} {} {}: {cause}", request.method(), request.uri().path());
        }
        let mut response = error_response(self.status(), &self.to_string(), request);
        match &self {
            ApiError::RateLimited(wait) => response.set_raw_header("Retry-After", wait.secs().to_string()),
            ApiError::TooManyStreams => response.set_raw_header("Retry-After", "10"),
            ApiError::Passkey(PasskeyError::Busy) => response.set_raw_header("Retry-After", "60"),
            _ => false,
        };
        Ok(response)
    }
}

/// A reason a request guard or fairing gave for refusing a request, kept in
/// the request's local cache for the catcher to show.
#[derive(Debug, Clone, Default)]
pub struct RefusalReason(pub Option<&'static str>);

impl RefusalReason {
    pub fn new(reason: &'static str) -> Self {
        Self(Some(reason))
    }
}

/// Answers every error Rocket raises itself (no route, a failed guard, a body
/// over the limit) with a reason.
#[rocket::catch(default)]
pub fn catch_all(status: Status, request: &Request<'_>) -> ErrorAnswer {
    if status == Status::NotFound && reads_another_media_type(request) {
        return ErrorAnswer { status: Status::UnsupportedMediaType, reason: WRONG_MEDIA_TYPE };
    }
    let reason = request.local_cache(RefusalReason::default).0.unwrap_or_else(|| default_reason(status));
    ErrorAnswer { status, reason }
}

const WRONG_MEDIA_TYPE: &str = "this route reads JSON: send the body with Content-Type: application/json";

/// Whether a POST found no route only because of its `Content-Type`: some
/// route has its method and path but reads a declared format (JSON), so a
/// script that forgot the header hears 415 with the fix, not 404.
fn reads_another_media_type(request: &Request<'_>) -> bool {
    let path: Vec<_> = request.uri().path().segments().collect();
    request.rocket().routes().any(|route| {
        route.method == request.method()
            && route.format.as_ref().is_some_and(|format| format.is_json())
            && pattern_matches(route.uri.path(), &path)
    })
}

/// A route path such as `/rooms/<room>/messages` against a request's
/// decoded segments: `<x>` takes one segment, `<x..>` the rest.
fn pattern_matches(pattern: &str, path: &[&str]) -> bool {
    let mut pattern = pattern.split('/').filter(|s| !s.is_empty());
    let mut path = path.iter();
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some(p), _) if p.starts_with('<') && p.ends_with("..>") => return true,
            (Some(p), Some(segment)) if p.starts_with('<') => {
                if segment.is_empty() {
                    return false;
                }
            }
            (Some(p), Some(segment)) if p == *segment => {}
            _ => return false,
        }
    }
}

/// A catcher's answer: a status with its reason.
pub struct ErrorAnswer {
    status: Status,
    reason: &'static str,
}

impl<'r> Responder<'r, 'static> for ErrorAnswer {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        Ok(error_response(self.status, self.reason, request))
    }
}

/// An error as HTML for browsers (a page they can navigate away from), in
/// the request's language, and as `{"code": 422, "error": "..."}` JSON for
/// everything else (with `"message"`, the reason in the request's language,
/// when that is not English).
pub fn error_response(status: Status, reason: &str, request: &Request<'_>) -> Response<'static> {
    let wants_html = request.accept().is_some_and(|accept| accept.preferred().is_html());
    let lang = Lang::parse(super::settings::page_preferences(request).language).unwrap_or_default();
    let (content_type, body) = if wants_html {
        let page = format!(
            "<!doctype html><html lang={tag}><meta charset=utf-8><meta name=viewport content=\"width=device-width, initial-scale=1\">\
             <title>{code} {phrase}</title><link rel=stylesheet href=/static/app.css>\
             <main class=error-page><h1>{code} {phrase}</h1><p>{reason}</p>\
             <p><a href=/>{lobby}</a></p></main>",
            tag = lang.tag(),
            code = status.code,
            phrase = escape_html(&i18n::reason(lang, status.reason_lossy())),
            reason = escape_html(&i18n::reason(lang, reason)),
            lobby = escape_html(i18n::catalog(lang).text("base", "back_to_lobby").unwrap_or("Back to the lobby")),
        );
        (ContentType::HTML, page)
    } else if lang == Lang::En {
        (ContentType::JSON, json!({ "code": status.code, "error": reason }).to_string())
    } else {
        let message = i18n::reason(lang, reason);
        (ContentType::JSON, json!({ "code": status.code, "error": reason, "message": message }).to_string())
    };
    Response::build().status(status).header(content_type).sized_body(body.len(), std::io::Cursor::new(body)).finalize()
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        crate::search::snippet::escape_into(&mut out, c);
    }
    out
}

fn default_reason(status: Status) -> &'static str {
    match status.code {
        400 => "the request is malformed",
        401 => "log in first",
        403 => "this request is not allowed",
        404 => "there is nothing here",
        413 => "the request body is too large",
        415 => "send JSON (application/json) or a form (application/x-www-form-urlencoded)",
        422 => "the request is missing a field or has one of the wrong type",
        _ if status.code >= 500 => "the server could not answer; try again shortly",
        _ => "the request could not be answered",
    }
}

#[cfg(test)]
mod tests {
    use super::pattern_matches;
    use crate::i18n::{Lang, reason};

    /// The titles of error pages: every status this module answers with
    /// has its phrase in Chinese (`[reasons]`, keyed by Rocket's phrase).
    #[test]
    fn every_status_phrase_an_error_page_shows_is_translated() {
        for code in [400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503] {
            let phrase = rocket::http::Status::new(code).reason_lossy();
            assert_ne!(reason(Lang::Zh, phrase), phrase, "{code} {phrase}");
        }
    }

    #[test]
    fn a_route_pattern_matches_paths_of_its_shape_only() {
        assert!(pattern_matches("/rooms/<room>/messages", &["rooms", "lobby", "messages"]));
        assert!(pattern_matches("/static/<path..>", &["static", "a", "b.css"]));
        assert!(pattern_matches("/api/dm", &["api", "dm"]));
        assert!(!pattern_matches("/rooms/<room>/messages", &["rooms", "lobby"]));
        assert!(!pattern_matches("/rooms/<room>/messages", &["rooms", "lobby", "messages", "1"]));
        assert!(!pattern_matches("/rooms/<room>/messages", &["rooms", "", "messages"]));
        assert!(!pattern_matches("/api/dm", &["api", "blocks"]));
    }
}
