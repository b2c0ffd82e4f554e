//! Security headers on every response.
//!
//! HTML pages get a strict Content-Security-Policy (scripts and styles are
//! static files, so no `'unsafe-inline'`), `Cache-Control: no-store` (every
//! page shows who is logged in), and `Referrer-Policy: same-origin`; every
//! text type gets an explicit charset; HSTS is sent when cookies are marked
//! `Secure` (TLS in front). Rocket's `Shield` adds `nosniff` and the rest.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header};
use rocket::{Request, Response};

pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub struct SecurityHeaders {
    pub hsts: bool,
}

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info { name: "Security headers", kind: Kind::Response }
    }

    async fn on_response<'r>(&self, _: &'r Request<'_>, response: &mut Response<'r>) {
        response.set_header(Header::new("Referrer-Policy", "same-origin"));
        if self.hsts {
            response.set_header(Header::new("Strict-Transport-Security", "max-age=63072000; includeSubDomains"));
        }
        let Some(content_type) = response.content_type() else {
            return;
        };
        if content_type.top() == "text" && content_type.param("charset").is_none() {
            let with_charset = ContentType::new(content_type.top().to_string(), content_type.sub().to_string())
                .with_params(("charset", "utf-8"));
            response.set_header(with_charset);
        }
        if content_type.is_html() {
            response.set_header(Header::new("Content-Security-Policy", CONTENT_SECURITY_POLICY));
            response.set_header(Header::new("Cache-Control", "no-store"));
        }
    }
}
