//! Security headers on every response.
//!
//! HTML pages get a strict Content-Security-Policy (scripts and styles are
//! static files, so no `'unsafe-inline'`), `Cache-Control: no-store` (every
//! page shows who is logged in), `Referrer-Policy: same-origin`, and HSTS
//! when cookies are marked `Secure` (TLS in front); every text type gets an
//! explicit charset. Rocket's `Shield` adds `nosniff` and `X-Frame-Options`
//! to every response.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header};
use rocket::{Request, Response};

/// `worker-src` and `manifest-src` would fall back to `default-src 'self'`
/// anyway; they are named so that tightening `default-src` one day cannot
/// silently break the service worker (`/sw.js`) or the app manifest
/// (`/manifest.webmanifest`), both served by this origin (`web::install`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; worker-src 'self'; manifest-src 'self'";

pub struct SecurityHeaders {
    pub hsts: bool,
}

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info { name: "Security headers", kind: Kind::Response }
    }

    async fn on_response<'r>(&self, _: &'r Request<'_>, response: &mut Response<'r>) {
        let Some(content_type) = response.content_type() else {
            return;
        };
        if content_type.top() == "text" && content_type.param("charset").is_none() {
            let with_charset = ContentType::new(content_type.top().to_string(), content_type.sub().to_string())
                .with_params(("charset", "utf-8"));
            response.set_header(with_charset);
        }
        // These govern documents, so only pages carry them: an event stream
        // keeps its headers in memory for as long as it is open, and every
        // header past seven doubles the map that holds them.
        if content_type.is_html() {
            response.set_header(Header::new("Content-Security-Policy", CONTENT_SECURITY_POLICY));
            response.set_header(Header::new("Cache-Control", "no-store"));
            response.set_header(Header::new("Referrer-Policy", "same-origin"));
            if self.hsts {
                response.set_header(Header::new("Strict-Transport-Security", "max-age=63072000; includeSubDomains"));
            }
        }
    }
}
