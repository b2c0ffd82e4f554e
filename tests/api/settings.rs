//! Settings and languages: a page is in the language its visitor chose (the
//! account's, then the browser's) or else the one `Accept-Language` asks
//! for; an account keeps its theme, clock and send key wherever it logs
//! in, a guest keeps them in its browser; bad values are refused with a
//! reason and change nothing.

use rocket::http::{ContentType, Header, Status};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

async fn page(app: &TestApp, path: &str, accept_language: Option<&'static str>) -> (Status, String) {
    let mut request = app.client.get(path.to_owned()).header(ContentType::HTML);
    request.add_header(Header::new("Accept", "text/html"));
    if let Some(languages) = accept_language {
        request.add_header(Header::new("Accept-Language", languages));
    }
    let response = request.dispatch().await;
    (response.status(), response.into_string().await.unwrap_or_default())
}

/// The `<html ...>` tag of a page.
fn html_tag(html: &str) -> &str {
    let start = html.find("<html").expect("an html tag");
    &html[start..start + html[start..].find('>').unwrap() + 1]
}

async fn change_settings(app: &TestApp, body: Value) -> (Status, Value) {
    let response = app.client.post("/api/settings").header(ContentType::JSON).body(body.to_string()).dispatch().await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

#[rocket::async_test]
async fn accept_language_chooses_chinese_or_english_for_every_page() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/register", "/settings", "/rooms/rust"] {
        let (status, chinese) = page(&app, path, Some("zh-CN,zh;q=0.9,en;q=0.8")).await;
        assert_eq!(status, Status::Ok, "{path}");
        assert!(html_tag(&chinese).contains("lang=\"zh-CN\""), "{path}: {}", html_tag(&chinese));
        assert!(chinese.contains("<script src=\"/i18n/zh.js\""), "{path}");
        assert!(chinese.contains("设置"), "{path} says Settings in Chinese");
        let (_, english) = page(&app, path, Some("fr, en;q=0.5")).await;
        assert!(html_tag(&english).contains("lang=\"en\""), "{path}");
        assert!(english.contains(">Settings</a>"), "{path}");
    }
}

#[rocket::async_test]
async fn a_guest_keeps_its_choices_in_its_browser_over_what_the_browser_asks() {
    let app = spawn_app().await;
    let form = [("language", "zh"), ("theme", "dark"), ("clock", "12h"), ("send_key", "ctrl-enter"), ("notify", "all")];
    let saved = app.post_form("/settings", &form).await;
    assert_eq!(saved.status(), Status::SeeOther);
    assert_eq!(saved.headers().get_one("Location"), Some("/settings?done=saved"));
    let (_, html) = page(&app, "/settings?done=saved", Some("en")).await;
    let tag = html_tag(&html);
    for expected in [
        "lang=\"zh-CN\"",
        "data-theme=\"dark\"",
        "data-clock=\"12h\"",
        "data-send=\"ctrl-enter\"",
        "data-notify=\"all\"",
    ] {
        assert!(tag.contains(expected), "{expected} in {tag}");
    }
    assert!(html.contains("设置已保存"), "the saved notice, in Chinese");
    assert!(html.contains("value=\"zh\" checked"), "the form shows the choice");
    // Another browser is untouched.
    let other = spawn_app().await;
    let (_, html) = page(&other, "/", Some("en")).await;
    assert!(html_tag(&html).contains("data-theme=\"system\""));
}

#[rocket::async_test]
async fn an_account_keeps_its_settings_in_every_browser_it_logs_into() {
    let app = spawn_app().await;
    app.register("lihua", PASSWORD).await;
    let (status, settings) = change_settings(
        &app,
        json!({ "language": "zh", "theme": "light", "clock": "24h", "send_key": "ctrl-enter", "notify": "none" }),
    )
    .await;
    assert_eq!(status, Status::Ok, "{settings}");
    assert_eq!(
        settings,
        json!({ "notify": "none", "display": "lihua", "language": "zh", "theme": "light", "clock": "24h", "send_key": "ctrl-enter" })
    );
    let (_, html) = page(&app, "/", Some("en-US")).await;
    assert!(html_tag(&html).contains("lang=\"zh-CN\"") && html_tag(&html).contains("data-theme=\"light\""));

    // A new session (as in another browser) starts with the account's choices.
    app.logout().await;
    let (_, html) = page(&app, "/", Some("en-US")).await;
    assert!(html_tag(&html).contains("lang=\"en\""), "a guest again: {}", html_tag(&html));
    assert_eq!(app.login("lihua", PASSWORD).await.status(), Status::SeeOther);
    let (_, html) = page(&app, "/", Some("en-US")).await;
    let tag = html_tag(&html);
    assert!(tag.contains("lang=\"zh-CN\"") && tag.contains("data-send=\"ctrl-enter\""), "{tag}");

    // "auto" gives the choice back to the browser.
    change_settings(&app, json!({ "language": "auto" })).await;
    let (_, html) = page(&app, "/", Some("en-US")).await;
    assert!(html_tag(&html).contains("lang=\"en\""), "{}", html_tag(&html));
}

#[rocket::async_test]
async fn the_settings_form_changes_an_accounts_display_name_and_choices_together() {
    let app = spawn_app().await;
    app.register("wang", PASSWORD).await;
    let saved = app.post_form("/settings", &[("display", "王芳"), ("language", "en"), ("clock", "12h")]).await;
    assert_eq!(saved.status(), Status::SeeOther);
    assert_eq!(app.me().await["display"], "王芳");
    let got = app.client.get("/api/settings").dispatch().await.into_json::<Value>().await.unwrap();
    assert_eq!((&got["language"], &got["clock"], &got["theme"]), (&json!("en"), &json!("12h"), &json!("system")));
}

#[rocket::async_test]
async fn bad_values_are_refused_with_a_reason_and_change_nothing() {
    let app = spawn_app().await;
    app.register("zhao", PASSWORD).await;
    for (body, reason) in [
        (json!({ "language": "fr" }), "language must be one of auto, en, zh"),
        (json!({ "theme": "blue", "language": "zh" }), "theme must be one of system, light, dark"),
        (json!({ "clock": "13h" }), "clock must be one of auto, 12h, 24h"),
        (json!({ "send_key": "shift" }), "send_key must be one of enter, ctrl-enter"),
        (json!({ "notify": "loud" }), "notify must be one of all, mentions, none"),
    ] {
        let (status, answer) = change_settings(&app, body).await;
        assert_eq!(status, Status::UnprocessableEntity, "{answer}");
        assert_eq!(answer["error"], reason);
    }
    let got = app.client.get("/api/settings").dispatch().await.into_json::<Value>().await.unwrap();
    assert_eq!(got["language"], "auto", "the refused body stored nothing");

    let refused = app.post_form("/settings", &[("theme", "dark"), ("send_key", "both")]).await;
    assert_eq!(refused.status(), Status::UnprocessableEntity);
    let html = refused.into_string().await.unwrap();
    assert!(html.contains("send_key must be one of enter, ctrl-enter") || html.contains("send_key"), "{html}");
    let got = app.client.get("/api/settings").dispatch().await.into_json::<Value>().await.unwrap();
    assert_eq!(got["theme"], "system");
    let forged = app.post_form_raw("/settings", &[("theme", "dark"), ("csrf", "forged")]).await;
    assert_eq!(forged.status(), Status::Forbidden, "a form without this browser's token");
}

#[rocket::async_test]
async fn the_scripts_words_are_a_cached_script_per_language() {
    let app = spawn_app().await;
    let response = app.client.get("/i18n/zh.js").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::JavaScript));
    let etag = response.headers().get_one("ETag").expect("a validator").to_owned();
    let body = response.into_string().await.unwrap();
    assert!(body.starts_with("self.CHAT_STRINGS = {") && body.contains("离线"), "{body}");
    let again = app.client.get("/i18n/zh.js").header(Header::new("If-None-Match", etag)).dispatch().await;
    assert_eq!(again.status(), Status::NotModified);
    for missing in ["/i18n/fr.js", "/i18n/zh.json", "/i18n/..%2Fen.js"] {
        assert_eq!(app.client.get(missing).dispatch().await.status(), Status::NotFound, "{missing}");
    }
}

#[rocket::async_test]
async fn saving_settings_is_throttled_like_posting() {
    let app = spawn_app_with(|f| f.merge(("rate_limits", true)).merge(("guest_post_burst", 2))).await;
    for theme in ["dark", "light"] {
        assert_eq!(app.post_form("/settings", &[("theme", theme)]).await.status(), Status::SeeOther);
    }
    let refused = app.post_form("/settings", &[("theme", "dark")]).await;
    assert_eq!(refused.status(), Status::TooManyRequests);
    assert!(refused.headers().get_one("Retry-After").is_some());
    let (_, html) = page(&app, "/", None).await;
    assert!(html_tag(&html).contains("data-theme=\"light\""), "the refused save changed nothing");
}
