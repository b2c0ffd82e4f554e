//! Refuses cross-origin POSTs before any route sees them.
//!
//! A fairing rather than a guard on each route, so that no POST route can be
//! added without the check. A refused request is re-routed to a handler that
//! answers 403 (fairings cannot answer by themselves in Rocket 0.5), so the
//! original route never runs and nothing changes.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::http::{Method, Status};
use rocket::{Data, Request};

use super::error::RefusalReason;

/// Where refused requests are sent; the route answers 403.
pub const REFUSED_PATH: &str = "/__refused/cross-origin";

pub struct CrossOriginGuard;

#[rocket::async_trait]
impl Fairing for CrossOriginGuard {
    fn info(&self) -> Info {
        Info { name: "Refuse cross-origin POSTs", kind: Kind::Request }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        if request.method() != Method::Post {
            return;
        }
        if let Err(reason) = check(request) {
            tracing::warn!("refused a cross-origin POST to {}: {reason}", request.uri());
            request.local_cache(|| RefusalReason(Some(reason)));
            request.set_uri(Origin::parse(REFUSED_PATH).expect("a valid path"));
        }
    }
}

/// Same-origin means the `Origin` header (when a browser sends one) names
/// exactly the host the request was sent to; `Sec-Fetch-Site: cross-site`
/// is refused outright. Requests with neither header (curl, scripts) pass:
/// browsers always send `Origin` on cross-origin POSTs.
pub(super) fn check(request: &Request<'_>) -> Result<(), &'static str> {
    // Neither rides on a browser's cookies: a bearer token decides alone
    // and no browser adds one by itself (`web::bearer`), and a webhook's
    // URL is its only credential (`web::hooks`).
    if super::bearer::carries_bearer(request) || request.uri().path().starts_with("/hooks/") {
        return Ok(());
    }
    let headers = request.headers();
    if headers.get_one("Sec-Fetch-Site") == Some("cross-site") {
        return Err("cross-site requests are not accepted");
    }
    let Some(origin) = headers.get_one("Origin") else {
        return Ok(());
    };
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    match (authority, headers.get_one("Host")) {
        (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err("requests from another origin are not accepted"),
    }
}

/// The 403 for a refused request.
#[rocket::post("/__refused/cross-origin")]
pub fn refused() -> Status {
    Status::Forbidden
}

#[cfg(test)]
mod tests {
    use rocket::local::blocking::Client;

    fn verdict(headers: &[(&'static str, &'static str)]) -> Result<(), &'static str> {
        let client = Client::untracked(rocket::build()).unwrap();
        let mut request = client.post("/");
        for (name, value) in headers {
            request = request.header(rocket::http::Header::new(*name, *value));
        }
        super::check(request.inner())
    }

    #[test]
    fn only_the_requests_own_origin_passes() {
        assert!(verdict(&[]).is_ok());
        assert!(verdict(&[("Host", "chat.example:8000"), ("Origin", "http://chat.example:8000")]).is_ok());
        assert!(verdict(&[("Host", "chat.example"), ("Origin", "https://CHAT.example")]).is_ok());
        assert!(verdict(&[("Host", "chat.example"), ("Origin", "https://evil.example")]).is_err());
        assert!(verdict(&[("Host", "chat.example"), ("Origin", "https://chat.example:444")]).is_err());
        assert!(verdict(&[("Host", "chat.example"), ("Origin", "null")]).is_err());
        assert!(verdict(&[("Origin", "http://chat.example")]).is_err(), "no Host to compare with");
        assert!(verdict(&[("Sec-Fetch-Site", "cross-site")]).is_err());
        assert!(verdict(&[("Sec-Fetch-Site", "same-origin")]).is_ok());
    }
}
