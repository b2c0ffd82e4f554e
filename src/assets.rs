//! What the page is made of, built into the binary: the Tera templates and
//! the static files (CSS, JavaScript) are embedded at compile time, so the
//! server runs from any directory with nothing beside it.
//!
//! `template_dir` and `static_dir` optionally name directories that
//! override the embedded files one by one (a template or file found there
//! wins; anything missing falls back to the built-in one), for people who
//! customise the page. Both are checked when the settings are prepared, so
//! a wrong path is a startup error, never a panic at the first request.
//!
//! This module renders and looks up; it knows nothing of HTTP (the routes
//! and the responder are in `web::pages`).

use std::borrow::Cow;
use std::fs;
use std::path::{Path, PathBuf};

use rust_embed::Embed;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::i18n::preferences::Effective;
use crate::i18n::{Lang, catalog};
use thiserror::Error;

#[derive(Embed)]
#[folder = "templates/"]
struct BuiltInTemplates;

#[derive(Embed)]
#[folder = "static/"]
struct BuiltInStatic;

/// The extension that marks a template file (`room.html.tera` is the
/// template `room`).
const TEMPLATE_EXTENSION: &str = ".tera";

#[derive(Debug, Error)]
pub enum AssetError {
    #[error("cannot read the template directory {path}: {source}")]
    Directory { path: PathBuf, source: std::io::Error },
    #[error("the templates are not valid: {0}")]
    Invalid(String),
    #[error("template {name} did not render: {reason}")]
    Render { name: String, reason: String },
}

/// The page templates, parsed once at startup.
pub struct Pages {
    tera: tera::Tera,
}

impl Pages {
    /// The built-in templates, with those in `template_dir` (if any) in
    /// place of the built-in ones of the same name.
    pub fn load(template_dir: Option<&Path>) -> Result<Self, AssetError> {
        let mut sources: Vec<(String, String)> = BuiltInTemplates::iter()
            .filter_map(|file| {
                let name = template_name(&file)?;
                let bytes = BuiltInTemplates::get(&file)?.data;
                Some((name, String::from_utf8_lossy(&bytes).into_owned()))
            })
            .collect();
        if let Some(dir) = template_dir {
            for (name, text) in read_templates(dir)? {
                sources.retain(|(existing, _)| *existing != name);
                sources.push((name, text));
            }
        }
        let mut tera = tera::Tera::default();
        // Every template is HTML: escape every value, whatever its name.
        tera.autoescape_on(vec![""]);
        tera.add_raw_templates(sources).map_err(|e| AssetError::Invalid(full_reason(&e)))?;
        Ok(Self { tera })
    }

    /// Renders template `name` with `context` (an object), in the language
    /// and with the settings of `preferences` (given to every page as `t`,
    /// the language's words, and `prefs`).
    pub fn render(&self, name: &str, mut context: Value, preferences: &Effective) -> Result<String, AssetError> {
        if let Value::Object(fields) = &mut context {
            let lang = Lang::parse(preferences.language).unwrap_or_default();
            fields.insert("t".to_owned(), catalog(lang).tables().clone());
            fields.insert("prefs".to_owned(), serde_json::to_value(preferences).unwrap_or(Value::Null));
        }
        let context = tera::Context::from_value(context)
            .map_err(|e| AssetError::Render { name: name.to_owned(), reason: full_reason(&e) })?;
        self.tera
            .render(name, &context)
            .map_err(|e| AssetError::Render { name: name.to_owned(), reason: full_reason(&e) })
    }
}

/// `room.html.tera` → `room`; not a template → `None`.
fn template_name(file: &str) -> Option<String> {
    let stem = file.strip_suffix(TEMPLATE_EXTENSION)?;
    Some(stem.split('.').next().unwrap_or(stem).to_owned())
}

fn read_templates(dir: &Path) -> Result<Vec<(String, String)>, AssetError> {
    let error = |source| AssetError::Directory { path: dir.to_owned(), source };
    let mut templates = Vec::new();
    for entry in fs::read_dir(dir).map_err(error)? {
        let path = entry.map_err(error)?.path();
        let Some(name) = path.file_name().and_then(|f| f.to_str()).and_then(template_name) else {
            continue;
        };
        templates.push((name, fs::read_to_string(&path).map_err(error)?));
    }
    Ok(templates)
}

/// Tera's message with its causes (the top one alone says only "failed to
/// render").
fn full_reason(error: &(dyn std::error::Error + 'static)) -> String {
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

/// One built-in static file.
pub struct StaticFile {
    pub bytes: Cow<'static, [u8]>,
    /// A strong validator: the file's SHA-256, computed at build time.
    pub etag: String,
}

/// The built-in static file at `path` (relative, `/`-separated).
pub fn static_file(path: &str) -> Option<StaticFile> {
    let file = BuiltInStatic::get(path)?;
    let hash: String = file.metadata.sha256_hash()[..16].iter().map(|b| format!("{b:02x}")).collect();
    Some(StaticFile { bytes: file.data, etag: format!("\"{hash}\"") })
}

/// The paths of every built-in static file, sorted.
pub fn static_paths() -> Vec<String> {
    let mut paths: Vec<String> = BuiltInStatic::iter().map(|path| path.into_owned()).collect();
    paths.sort();
    paths
}

/// One tag for the whole set of built-in static files: it changes whenever
/// any of them does (a new binary with other CSS, scripts or icons), and
/// only then. The offline cache is named after it (`web::install`).
pub fn static_version() -> String {
    let mut tags = String::new();
    for path in static_paths() {
        if let Some(file) = static_file(&path) {
            tags.push_str(&path);
            tags.push_str(&file.etag);
        }
    }
    let digest = Sha256::digest(tags.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Preferences;
    use serde_json::json;

    fn english() -> Effective {
        Preferences::default().effective(None)
    }

    #[test]
    fn a_page_is_in_the_language_of_its_settings() {
        let pages = Pages::load(None).unwrap();
        let context = json!({ "kind": "login", "error": null, "username": "", "csrf": "t" });
        let chinese = Preferences::default().effective(Some("zh-CN"));
        let html = pages.render("account", context.clone(), &chinese).unwrap();
        assert!(html.contains("<html lang=\"zh-CN\"") && html.contains("登录"), "{html}");
        let html = pages.render("account", context, &english()).unwrap();
        assert!(html.contains("<html lang=\"en\"") && html.contains("Log in"), "{html}");
    }

    #[test]
    fn every_built_in_template_parses_and_values_are_escaped() {
        let pages = Pages::load(None).unwrap();
        let html = pages
            .render(
                "account",
                json!({ "kind": "login", "error": "<script>x</script>", "username": "", "csrf": "t" }),
                &english(),
            )
            .unwrap();
        assert!(html.contains("&lt;script&gt;x&lt;&#x2F;script&gt;"), "{html}");
        assert!(!html.contains("<script>x"));
    }

    #[test]
    fn a_template_in_template_dir_replaces_the_built_in_one_and_the_rest_stay() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("audit.html.tera"), "custom audit for {{ me.name }}").unwrap();
        let pages = Pages::load(Some(dir.path())).unwrap();
        assert_eq!(
            pages.render("audit", json!({ "me": { "name": "<b>" } }), &english()).unwrap(),
            "custom audit for &lt;b&gt;"
        );
        let account = json!({ "kind": "login", "error": null, "username": "", "next": null, "csrf": "t" });
        assert!(pages.render("account", account, &english()).is_ok());
    }

    #[test]
    fn a_broken_template_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("audit.html.tera"), "{% if %}").unwrap();
        let error = Pages::load(Some(dir.path())).err().expect("refused");
        assert!(error.to_string().contains("audit"), "{error}");
    }

    #[test]
    fn static_files_are_built_in_with_a_validator() {
        let file = static_file("app.js").expect("app.js is embedded");
        assert!(!file.bytes.is_empty());
        assert_eq!(file.etag.len(), 34);
        assert!(static_file("../Cargo.toml").is_none());
        assert!(static_file("nope.js").is_none());
    }

    #[test]
    fn the_static_version_is_stable_and_names_every_file() {
        assert_eq!(static_version(), static_version());
        assert_eq!(static_version().len(), 16);
        let paths = static_paths();
        assert!(paths.iter().any(|p| p == "app.js") && paths.iter().any(|p| p == "icons/icon-512.png"), "{paths:?}");
    }
}
