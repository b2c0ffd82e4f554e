//! The settings page (`/settings`) and what every page takes from it: the
//! language, theme, clock, send key and notification level in effect for a
//! request, and the catalog script (`/i18n/<lang>.js`).
//!
//! An account's settings are stored with it (through `auth::Accounts`);
//! a guest's live in this browser's `prefs` cookie (private, like every
//! cookie we set). The JSON way for accounts is `POST /api/settings`
//! (`web::people`). Nothing here decides what a choice means: that is
//! `i18n::Preferences`.

use rocket::form::FromForm;
use rocket::http::{ContentType, CookieJar, Status};
use rocket::request::Request;
use rocket::response::Redirect;
use rocket::time::Duration;
use rocket::{Responder, State, get, post};
use serde_json::json;

use super::csrf::{CsrfForm, CsrfProtected, CsrfToken};
use super::error::ApiError;
use super::identity::{AccountPreferences, Jar};
use super::pages::{IfNoneMatch, StaticFile, Template};
use crate::assets;
use std::net::IpAddr;

use crate::auth::{Accounts, DisplayName, Visitor};
use crate::i18n::preferences::Effective;
use crate::i18n::{Lang, Preferences, catalog};
use crate::limits::Limits;

/// The private cookie that keeps a browser's own settings.
pub const PREFS_COOKIE: &str = "prefs";
const PREFS_COOKIE_AGE: Duration = Duration::days(365);

/// This browser's own settings (its cookie).
pub fn browser_preferences(cookies: &CookieJar<'_>) -> Preferences {
    cookies.get_private(PREFS_COOKIE).map(|c| Preferences::from_cookie(c.value())).unwrap_or_default()
}

/// The settings in effect for the page `request` renders: the account's
/// (when a guard found one), then the browser's, then the defaults.
pub fn page_preferences(request: &Request<'_>) -> Effective {
    let account = request.local_cache(AccountPreferences::default).0.clone().unwrap_or_default();
    account.or(&browser_preferences(request.cookies())).effective(request.headers().get_one("Accept-Language"))
}

/// The page's words for its scripts (`self.CHAT_STRINGS`), revalidated
/// like the static files.
#[get("/i18n/<file>")]
pub fn strings(file: &str, if_none_match: IfNoneMatch) -> Option<StaticFile> {
    let lang = Lang::parse(file.strip_suffix(".js")?)?;
    let catalog = catalog(lang);
    let script = assets::StaticFile { bytes: catalog.script().as_bytes().into(), etag: catalog.etag().to_owned() };
    Some(StaticFile::new(ContentType::JavaScript, script, &if_none_match))
}

#[derive(FromForm)]
pub struct SettingsForm {
    #[field(default = String::new())]
    csrf: String,
    display: Option<String>,
    language: Option<String>,
    theme: Option<String>,
    clock: Option<String>,
    send_key: Option<String>,
    notify: Option<String>,
}

impl CsrfProtected for SettingsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Responder)]
pub enum SettingsAnswer {
    Page((Status, Template)),
    Saved(Box<Redirect>),
    Refused(Box<ApiError>),
}

#[get("/settings?<done>")]
pub fn settings_page(visitor: Visitor, done: Option<&str>, csrf: CsrfToken) -> SettingsAnswer {
    if let Visitor::Bot(_) = visitor {
        return SettingsAnswer::Refused(Box::new(ApiError::NotForBots));
    }
    page(&visitor, Status::Ok, done == Some("saved"), None, &csrf.0)
}

/// Saves every choice the form sends: an account's with the account, a
/// guest's in this browser. A bad value changes nothing and says why.
#[post("/settings", data = "<form>")]
pub async fn save_settings(
    form: CsrfForm<SettingsForm>,
    visitor: Visitor,
    client_ip: Option<IpAddr>,
    jar: Jar<'_>,
    csrf: CsrfToken,
    accounts: &State<Accounts>,
    limits: &State<Limits>,
) -> SettingsAnswer {
    // Each save of an account's settings is a write: as throttled as posts.
    if let Err(wait) = limits.posts.check(&visitor, client_ip) {
        return SettingsAnswer::Refused(Box::new(ApiError::RateLimited(wait)));
    }
    let form = form.0;
    let chosen = [
        ("language", &form.language),
        ("theme", &form.theme),
        ("clock", &form.clock),
        ("send_key", &form.send_key),
        ("notify", &form.notify),
    ];
    let mut preferences = match &visitor {
        Visitor::User(user) => user.preferences.clone(),
        _ => browser_preferences(jar.cookies),
    };
    for (name, value) in chosen {
        if let Some(value) = value.as_deref()
            && let Err(e) = preferences.set(name, value)
        {
            return page(&visitor, Status::UnprocessableEntity, false, Some(e.to_string()), &csrf.0);
        }
    }
    match &visitor {
        Visitor::User(user) => {
            let display = match form.display.as_deref().map(DisplayName::parse).transpose() {
                Ok(display) => display,
                Err(e) => return page(&visitor, Status::UnprocessableEntity, false, Some(e.to_string()), &csrf.0),
            };
            if let Err(e) = accounts.set_preferences(user, &preferences, display.as_ref()).await {
                return SettingsAnswer::Refused(Box::new(e.into()));
            }
        }
        Visitor::Guest { .. } => jar.add_private(PREFS_COOKIE, preferences.to_cookie(), PREFS_COOKIE_AGE),
        Visitor::Bot(_) => return SettingsAnswer::Refused(Box::new(ApiError::NotForBots)),
    }
    SettingsAnswer::Saved(Box::new(Redirect::to("/settings?done=saved")))
}

fn page(visitor: &Visitor, status: Status, saved: bool, error: Option<String>, csrf: &str) -> SettingsAnswer {
    let me = json!({
        "name": visitor.name(),
        "display": visitor.display(),
        "guest": !matches!(visitor, Visitor::User(_)),
    });
    let context = json!({ "me": me, "csrf": csrf, "saved": saved, "error": error });
    SettingsAnswer::Page((status, Template::render("preferences", context)))
}
