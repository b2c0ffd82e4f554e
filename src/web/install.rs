//! What makes the page an installable app that opens offline: the web app
//! manifest (`GET /manifest.webmanifest`) and the service worker
//! (`GET /sw.js`, at the root so its scope is the whole site). Both are
//! built-in static files (`static/manifest.webmanifest`, `static/sw.js`);
//! this module only serves them, the service worker with two constants put
//! above it: `VERSION`, a tag of every built-in static file
//! (`assets::static_version`), so a binary with other files installs a new
//! worker whose shell cache replaces the old one, and `SHELL`, the addresses
//! it fetches and keeps when it installs. What the worker caches and never
//! caches is written at the top of `static/sw.js`; the page's side
//! (registering it, the offline notice, the message snapshots) is
//! `static/offline.js`. This module must not decide what is cached.
//!
//! The PNG icons in `static/icons/` are the favicon's mark ([`super::pages::favicon`])
//! drawn once by a throwaway script: an HTML page holding the same SVG path
//! (`#3b6ea5`; for `maskable-512.png` white on a full-bleed `#3b6ea5`
//! square, the mark inside the central 60 %, well within the maskable safe
//! zone) screenshotted with `chromium --headless
//! --default-background-color=00000000 --window-size=N,N --screenshot`.
//! Redraw them the same way if the mark changes.

use rocket::http::{ContentType, Header};
use rocket::response::{self, Responder, Response};
use rocket::{Request, get};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::pages::{IfNoneMatch, StaticFile};
use crate::assets;
use crate::i18n::{Lang, catalog};

/// The built-in files served at the root rather than under `/static/`.
const MANIFEST: &str = "manifest.webmanifest";
const SERVICE_WORKER: &str = "sw.js";

/// Shell addresses outside `/static/`: the manifest and the plain favicon
/// (the one the manifest names; the unread-count variants are not shell).
const ROOT_SHELL: [&str; 2] = ["/manifest.webmanifest", "/favicon.svg"];

#[get("/manifest.webmanifest")]
pub fn manifest(if_none_match: IfNoneMatch) -> Option<StaticFile> {
    let file = assets::static_file(MANIFEST)?;
    Some(StaticFile::new(ContentType::new("application", "manifest+json"), file, &if_none_match))
}

/// The service worker script, with its version and shell list.
pub struct ServiceWorker(String);

impl<'r> Responder<'r, 'static> for ServiceWorker {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .header(ContentType::JavaScript)
            // Browsers check for a new worker at navigations; never let an
            // HTTP cache answer that check with an old one.
            .header(Header::new("Cache-Control", "no-cache"))
            .sized_body(self.0.len(), std::io::Cursor::new(self.0))
            .ok()
    }
}

#[get("/sw.js")]
pub fn service_worker() -> Option<ServiceWorker> {
    let script = assets::static_file(SERVICE_WORKER)?;
    Some(ServiceWorker(format!(
        "const VERSION = {};\nconst SHELL = {};\nconst WORDS = {};\n{}",
        Value::from(version()),
        Value::from(shell()),
        words(),
        String::from_utf8_lossy(&script.bytes)
    )))
}

/// Every address the worker keeps when it installs: the built-in static
/// files under `/static/` (less the two served at the root), each
/// language's words for the scripts (`/i18n/<lang>.js`) and [`ROOT_SHELL`].
fn shell() -> Vec<String> {
    let files = assets::static_paths().into_iter().filter(|path| path != MANIFEST && path != SERVICE_WORKER);
    let strings = Lang::ALL.iter().map(|lang| format!("/i18n/{}.js", lang.code()));
    ROOT_SHELL
        .iter()
        .map(|path| (*path).to_owned())
        .chain(files.map(|path| format!("/static/{path}")))
        .chain(strings)
        .collect()
}

/// A tag of everything in the shell: the static files and the catalogs.
fn version() -> String {
    let mut tags = assets::static_version();
    for lang in Lang::ALL {
        tags.push_str(catalog(lang).etag());
    }
    Sha256::digest(tags.as_bytes())[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The worker's own words (it has no page to load `/i18n/<lang>.js` into):
/// `{"<lang>": {key: text}}`, the `[script]` keys it names.
fn words() -> Value {
    let words = Lang::ALL.iter().map(|lang| {
        let texts = WORKER_KEYS
            .iter()
            .filter_map(|key| Some(((*key).to_owned(), Value::from(catalog(*lang).text("script", key)?))));
        (lang.code().to_owned(), Value::Object(texts.collect()))
    });
    Value::Object(words.collect())
}

/// The `[script]` texts `static/sw.js` shows.
const WORKER_KEYS: [&str; 1] = ["offline_never_opened"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_is_the_static_files_the_icons_and_the_manifest_and_nothing_that_streams_or_is_private() {
        let shell = shell();
        for needed in ["/static/app.js", "/static/offline.js", "/static/icons/icon-192.png", "/manifest.webmanifest"] {
            assert!(shell.iter().any(|p| p == needed), "{needed} in {shell:?}");
        }
        for path in &shell {
            let allowed =
                path.starts_with("/static/") || path.starts_with("/i18n/") || ROOT_SHELL.contains(&path.as_str());
            assert!(allowed, "{path}");
            assert!(!path.ends_with("/sw.js") && !path.starts_with("/api/"), "{path}");
        }
    }

    #[test]
    fn the_worker_has_its_words_in_every_language_and_a_version_of_16_hex_digits() {
        let words = words();
        for lang in Lang::ALL {
            for key in WORKER_KEYS {
                assert!(words[lang.code()][key].as_str().is_some_and(|t| !t.is_empty()), "{} {key}", lang.code());
            }
        }
        assert_eq!(version().len(), 16);
        assert!(shell().contains(&"/i18n/zh.js".to_owned()));
    }

    #[test]
    fn the_manifest_is_json_with_the_fields_an_install_needs() {
        let file = assets::static_file(MANIFEST).expect("built in");
        let manifest: serde_json::Value = serde_json::from_slice(&file.bytes).expect("JSON");
        for field in ["name", "short_name", "start_url", "scope", "display", "theme_color", "background_color"] {
            assert!(manifest[field].is_string(), "{field}");
        }
        let icons = manifest["icons"].as_array().expect("icons");
        for icon in icons {
            let src = icon["src"].as_str().unwrap();
            let found =
                src.strip_prefix("/static/").map_or(ROOT_SHELL.contains(&src), |p| assets::static_file(p).is_some());
            assert!(found, "the icon {src} is served");
        }
    }
}
