//! The JSON API described: `GET /api/openapi.json` serves the OpenAPI 3.1
//! document kept beside the code in `docs/openapi.json`.
//!
//! The document is written by hand, not generated, so it can say what each
//! route means; the unit test below keeps it honest against the code: every
//! route this server mounts is either described there (the same method and
//! path) or named in the test's `NOT_JSON` with what it is instead, and every
//! operation the document names is a route. Schemas are checked against live
//! answers by CI's schema-driven fuzzer (schemathesis), not here.

use rocket::get;
use rocket::response::content::RawJson;

/// The document, as committed.
pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

#[get("/api/openapi.json")]
pub fn document() -> RawJson<&'static str> {
    RawJson(DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Routes that are not part of the JSON API, and why: pages and HTML
    /// forms (described in the README's interface table), streams (SSE and
    /// WebSocket), files, and operator endpoints in other formats.
    const NOT_JSON: &[(&str, &str, &str)] = &[
        ("GET", "/", "the lobby page"),
        ("GET", "/rooms/{room}", "a room's page"),
        ("GET", "/rooms", "the open-a-room form's redirect"),
        ("GET", "/register", "the registration page"),
        ("POST", "/register", "the registration form"),
        ("GET", "/login", "the login page"),
        ("POST", "/login", "the login form"),
        ("POST", "/logout", "the logout form"),
        ("GET", "/account", "the account page"),
        ("GET", "/settings", "the settings page"),
        ("POST", "/settings", "the settings page's form"),
        ("GET", "/i18n/{file}", "the page's words for its scripts (JavaScript)"),
        ("POST", "/account/password", "an account page form"),
        ("POST", "/account/logout-everywhere", "an account page form"),
        ("POST", "/account/delete", "an account page form"),
        ("GET", "/dm/{user}", "a redirect to a conversation's page"),
        ("GET", "/admin", "the admin page"),
        ("GET", "/account/security", "the two-factor and passkeys page"),
        ("POST", "/account/totp/start", "a security page form"),
        ("POST", "/account/totp/confirm", "a security page form"),
        ("POST", "/account/totp/off", "a security page form"),
        ("GET", "/account/totp/qr.svg", "a QR code (SVG)"),
        ("POST", "/account/passkeys/remove", "a security page form"),
        ("GET", "/login/code", "the login's second step, a page"),
        ("POST", "/login/code", "the login's second step, a form"),
        ("POST", "/account/display", "an account page form"),
        ("POST", "/account/avatar/delete", "an account page form"),
        ("GET", "/avatars/{handle}", "an avatar (an image or SVG)"),
        ("POST", "/admin/users", "an admin page form"),
        ("POST", "/admin/rooms", "an admin page form"),
        ("GET", "/join/{code}", "an invite's registration page"),
        ("GET", "/reset/{token}", "a password-reset link's page"),
        ("POST", "/reset/{id}", "the password-reset form"),
        ("GET", "/rooms/{room}/events", "a Server-Sent Events stream"),
        ("GET", "/events", "a Server-Sent Events stream"),
        ("GET", "/rooms/{room}/ws", "a WebSocket"),
        ("GET", "/files/{id}/{name}", "an attached file"),
        ("GET", "/thumbs/{id}", "an image's thumbnail"),
        ("GET", "/static/{path}", "the page's CSS and JavaScript"),
        ("GET", "/favicon.svg", "the page's icon (SVG)"),
        ("GET", "/manifest.webmanifest", "the web app manifest (application/manifest+json)"),
        ("GET", "/sw.js", "the service worker (JavaScript)"),
        ("GET", "/metrics", "Prometheus text format"),
        ("POST", "/__refused/cross-origin", "where refused cross-origin POSTs are sent (403)"),
    ];

    /// A route's path as OpenAPI writes it: `<room>` and `<path..>` become
    /// `{room}` and `{path}` (a leading `_` dropped), and the query is left out.
    fn openapi_path(rocket_path: &str) -> String {
        rocket_path
            .split('/')
            .map(|segment| match segment.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
                Some(name) => format!("{{{}}}", name.trim_end_matches("..").trim_start_matches('_')),
                None => segment.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("docs/openapi.json is JSON");
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "an OpenAPI 3 document");
        let mut operations = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys().filter(|k| *k != "parameters") {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
        operations
    }

    fn mounted() -> BTreeSet<(String, String)> {
        super::super::routes()
            .iter()
            .map(|route| (route.method.as_str().to_owned(), openapi_path(route.uri.path())))
            .collect()
    }

    #[test]
    fn paths_are_written_as_openapi_writes_them() {
        assert_eq!(openapi_path("/rooms/<room>/messages/<id>/edit"), "/rooms/{room}/messages/{id}/edit");
        assert_eq!(openapi_path("/static/<path..>"), "/static/{path}");
        assert_eq!(openapi_path("/"), "/");
    }

    #[test]
    fn every_json_route_is_described_and_every_described_operation_is_a_route() {
        let documented = documented();
        let not_json: BTreeSet<(String, String)> =
            NOT_JSON.iter().map(|(method, path, _)| ((*method).to_owned(), (*path).to_owned())).collect();
        let mounted = mounted();
        let undescribed: Vec<_> = mounted.difference(&documented).filter(|r| !not_json.contains(*r)).collect();
        assert!(undescribed.is_empty(), "routes neither in docs/openapi.json nor in NOT_JSON: {undescribed:?}");
        let missing: Vec<_> = documented.difference(&mounted).collect();
        assert!(missing.is_empty(), "docs/openapi.json describes routes the server does not have: {missing:?}");
        let stale: Vec<_> = not_json.difference(&mounted).collect();
        assert!(stale.is_empty(), "NOT_JSON names routes the server does not have: {stale:?}");
        let both: Vec<_> = not_json.intersection(&documented).collect();
        assert!(both.is_empty(), "routes both described and listed as not JSON: {both:?}");
    }

    #[test]
    fn every_reference_in_the_document_resolves() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for reference in refs {
            let pointer = reference.strip_prefix('#').expect("local references only");
            assert!(doc.pointer(pointer).is_some(), "{reference} does not resolve");
        }
    }

    fn collect_refs(value: &serde_json::Value, refs: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                    refs.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, refs));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
            _ => {}
        }
    }
}
