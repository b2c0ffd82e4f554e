//! Languages beyond the settings: every page, the reasons and notices it
//! shows, its dates, and error pages are in the request's language; a JSON
//! error keeps its English `error` and, for any other language, adds the
//! translated `message`.

use std::collections::BTreeMap;

use rocket::http::{Header, Status};
use serde_json::{Value, json};

use crate::access::with_role;
use crate::helpers::{TestApp, spawn_app, spawn_server};
use crate::http::{Browser, Response};

const PASSWORD: &str = "correct horse battery";
const CHINESE: (&str, &str) = ("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8");
const HTML: (&str, &str) = ("Accept", "text/html");

async fn chinese_page(browser: &mut Browser, path: &str) -> Response {
    browser.send("GET", path, &[HTML, CHINESE], None).await
}

/// The text a person reads: tags dropped, the escapes Tera writes undone.
fn visible_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&#x27;", "'").replace("&quot;", "\"").replace("&#x2F;", "/").replace("&amp;", "&")
}

/// The English catalog's texts that read differently in Chinese, long
/// enough (8 characters) not to be a name or a number.
fn english_texts() -> Vec<String> {
    let read = |lang: &str| -> BTreeMap<String, BTreeMap<String, String>> {
        let path = format!("{}/locales/{lang}.toml", env!("CARGO_MANIFEST_DIR"));
        let mut tables: BTreeMap<String, toml::Value> =
            toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        tables.remove("reasons");
        tables
            .into_iter()
            .map(|(name, table)| {
                let entries = table.as_table().unwrap().iter();
                (name, entries.map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect())
            })
            .collect()
    };
    let (en, zh) = (read("en"), read("zh"));
    let mut texts = Vec::new();
    for (table, entries) in &en {
        for (key, english) in entries {
            // `{name}`-style texts are checked by their words around it.
            let words = english.split('{').next().unwrap_or_default().trim();
            if words.chars().count() >= 8 && zh[table][key] != *english {
                texts.push(words.to_owned());
            }
        }
    }
    texts
}

/// `html` is a Chinese page: `<html lang="zh-CN">` and none of the English
/// catalog's texts in what it shows.
fn assert_chinese(path: &str, response: &Response, english: &[String]) {
    assert!(response.status < 400, "{path}: {} {}", response.status, response.body);
    assert!(response.body.contains("<html lang=\"zh-CN\""), "{path}: {}", response.body);
    let text = visible_text(&response.body);
    let left: Vec<_> = english.iter().filter(|e| text.contains(e.as_str())).collect();
    assert!(left.is_empty(), "{path} shows English {left:?}: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_in_chinese_with_its_dates_and_notices_when_the_browser_asks_for_chinese() {
    let app = spawn_server().await;
    let english = english_texts();
    assert!(english.iter().any(|t| t == "Create an account"), "the English texts are read: {english:?}");
    app.member("ann").await;
    let mut admin = with_role(&app, "boss", "admin").await;
    // An audit line with a time, and a notice the admin page shows.
    assert_eq!(admin.post_json("/admin/ban", &json!({ "user": "ann", "banned": true })).await.status, 200);
    let body = form(&mut admin, &[("username", "cleo"), ("password", PASSWORD)]).await;
    let created =
        admin.send("POST", "/admin/users", &[HTML, CHINESE], Some(("application/x-www-form-urlencoded", body))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created.body.contains("账户 cleo 已创建。"), "the notice, in Chinese: {}", created.body);

    for path in ["/admin", "/admin/audit", "/account", "/account/security", "/settings"] {
        let page = chinese_page(&mut admin, path).await;
        assert_chinese(path, &page, &english);
        if path.starts_with("/admin") {
            let text = visible_text(&page.body);
            assert!(
                text.contains("年") && text.contains("月") && text.contains("日 "),
                "{path}: a Chinese date in {text}"
            );
            assert!(!text.contains(".000Z"), "{path}: no raw timestamp shown");
        }
    }
    let reset = admin.post_json("/admin/reset-link", &json!({ "user": "cleo" })).await.json();
    let mut stranger = app.browser();
    for path in ["/login", "/register", reset["url"].as_str().unwrap()] {
        assert_chinese(path, &chinese_page(&mut stranger, path).await, &english);
    }
    let reset_page = chinese_page(&mut stranger, reset["url"].as_str().unwrap()).await;
    assert!(reset_page.body.contains("为 cleo 设置新密码"), "{}", reset_page.body);

    // A notice after a redirect, in the account's page.
    let changed = admin.post_form("/account/display", &[("display", "Boss")]).await;
    assert_eq!(changed.status, 303);
    let account = chinese_page(&mut admin, "/account?done=display").await;
    assert!(account.body.contains("显示名称已修改；已发送的消息仍显示原来的名称。"), "{}", account.body);

    // English is unchanged: the same pages in English name no Chinese.
    let english_admin = admin.send("GET", "/admin/audit", &[HTML, ("Accept-Language", "en")], None).await;
    assert!(english_admin.body.contains("<html lang=\"en\"") && english_admin.body.contains("<h1>Audit log</h1>"));
    assert!(
        english_admin.body.contains(" PM</time>") || english_admin.body.contains(" AM</time>"),
        "{}",
        english_admin.body
    );
}

/// A form body with the browser's CSRF token.
async fn form(browser: &mut Browser, fields: &[(&str, &str)]) -> String {
    let token = browser.csrf_token().await;
    let mut fields = fields.to_vec();
    fields.push(("csrf", &token));
    crate::helpers::encode_form(&fields)
}

async fn get(app: &TestApp, path: &str, headers: &[(&'static str, &'static str)]) -> (Status, String) {
    let mut request = app.client.get(path.to_owned());
    for (name, value) in headers {
        request.add_header(Header::new(*name, *value));
    }
    let response = request.dispatch().await;
    (response.status(), response.into_string().await.unwrap_or_default())
}

#[rocket::async_test]
async fn a_wrong_password_is_refused_in_the_pages_language() {
    let app = spawn_app().await;
    app.register("lihua", PASSWORD).await;
    app.logout().await;
    let token = app.csrf().await;
    let body = crate::helpers::encode_form(&[("username", "lihua"), ("password", "wrong password!"), ("csrf", &token)]);
    let response = app
        .client
        .post("/login")
        .header(rocket::http::ContentType::Form)
        .header(Header::new("Accept-Language", "zh-CN"))
        .body(body)
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Unauthorized);
    let html = response.into_string().await.unwrap();
    assert!(html.contains("<p class=\"error\" role=\"alert\">用户名或密码错误</p>"), "{html}");
    assert!(!html.contains("wrong username or password"));

    let english = app.login("lihua", "wrong password!").await.into_string().await.unwrap();
    assert!(english.contains("<p class=\"error\" role=\"alert\">wrong username or password</p>"), "{english}");
}

#[rocket::async_test]
async fn an_error_page_is_in_the_requests_language() {
    let app = spawn_app().await;
    let (status, html) = get(&app, "/no/such/page", &[HTML, CHINESE]).await;
    assert_eq!(status, Status::NotFound);
    for expected in
        ["<html lang=zh-CN>", "<title>404 未找到</title>", "<p>这里什么都没有</p>", "<a href=/>返回大厅</a>"]
    {
        assert!(html.contains(expected), "{expected} in {html}");
    }
    let (_, html) = get(&app, "/no/such/page", &[HTML, ("Accept-Language", "en")]).await;
    for expected in
        ["<html lang=en>", "<title>404 Not Found</title>", "<p>there is nothing here</p>", "Back to the lobby"]
    {
        assert!(html.contains(expected), "{expected} in {html}");
    }
}

#[rocket::async_test]
async fn a_json_error_keeps_english_error_and_adds_a_chinese_message_only_for_chinese() {
    let app = spawn_app().await;
    let path = "/rooms/lobby/messages?limit=0";
    let (status, body) = get(&app, path, &[CHINESE]).await;
    assert_eq!(status, Status::UnprocessableEntity);
    let chinese: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        chinese,
        json!({ "code": 422, "error": "limit must be between 1 and 200", "message": "limit 必须在 1 到 200 之间" })
    );
    for english in [&[("Accept-Language", "en-US")][..], &[]] {
        let (_, body) = get(&app, path, english).await;
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({ "code": 422, "error": "limit must be between 1 and 200" })
        );
    }

    // A guest's chosen language wins over what the browser asks, and an
    // argument (the wait) is carried into the translation.
    assert_eq!(app.post_form("/settings", &[("language", "zh")]).await.status(), Status::SeeOther);
    let (_, body) = get(&app, "/rooms/lobby/messages?wait=99&after=1", &[("Accept-Language", "en")]).await;
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["error"], "wait must be between 0 and 30 seconds");
    assert_eq!(answer["message"], "wait 必须在 0 到 30 秒之间");
}
