//! Cross-site requests and injection: CSRF tokens, content types, security
//! headers, and error bodies that leak nothing.

use rocket::http::{Accept, ContentType, Method, Status};

use crate::helpers::spawn_app;

const PASSWORD: &str = "correct horse battery";

#[rocket::async_test]
async fn every_form_post_without_the_right_csrf_token_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    let form_routes: Vec<String> = app
        .client
        .rocket()
        .routes()
        .filter(|r| r.method == Method::Post && r.format.as_ref().is_none_or(|f| *f == rocket::http::MediaType::Form))
        .map(|r| r.uri.path().replace("<room>", "lobby").replace("<_room>", "lobby").replace("<id>", "1"))
        .filter(|p| !p.starts_with("/__"))
        // A webhook asks no CSRF token: its URL is its credential, and it
        // reads no cookie (`bots::a_webhook_posts_its_text_...`).
        .filter(|p| !p.starts_with("/hooks/"))
        .collect();
    assert!(form_routes.len() >= 7, "{form_routes:?}");
    let fields = [
        ("username", "alice"),
        ("password", PASSWORD),
        ("current", PASSWORD),
        ("new", "a brand new secret"),
        ("text", "forged"),
    ];
    for path in &form_routes {
        for token in [None, Some("forged-token"), Some("")] {
            let mut form = fields.to_vec();
            if let Some(token) = token {
                form.push(("csrf", token));
            }
            let response = app.post_form_raw(path, &form).await;
            assert_eq!(response.status(), Status::Forbidden, "{path} with token {token:?}");
        }
    }
    assert_eq!(app.me().await["user"], "alice", "still logged in: logout was refused");
    assert!(app.history_ids("lobby", "").await.is_empty());
    app.logout().await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::SeeOther, "password unchanged, account kept");
}

#[rocket::async_test]
async fn the_login_and_register_forms_carry_the_browsers_pre_login_token() {
    let app = spawn_app().await;
    for path in ["/login", "/register"] {
        let page = app.client.get(path).dispatch().await.into_string().await.unwrap();
        let token = app.client.cookies().get_private("csrf").unwrap().value().to_owned();
        assert!(page.contains(&format!(r#"name="csrf" value="{token}""#)), "{path}");
    }
    let other_browser = crate::helpers::client_on(app.dir.path(), |f| f).await;
    other_browser.get("/login").dispatch().await;
    let foreign = other_browser.cookies().get_private("csrf").unwrap().value().to_owned();
    let response =
        app.post_form_raw("/register", &[("username", "alice"), ("password", PASSWORD), ("csrf", &foreign)]).await;
    assert_eq!(response.status(), Status::Forbidden, "another browser's token does not work here");
}

#[rocket::async_test]
async fn json_posts_need_the_json_content_type_but_no_token() {
    let app = spawn_app().await;
    for content_type in [ContentType::Plain, ContentType::new("multipart", "form-data")] {
        let response =
            app.client.post("/rooms/lobby/messages").header(content_type).body(r#"{"text":"hi"}"#).dispatch().await;
        assert_ne!(response.status(), Status::Created);
        assert!(response.status().code >= 400 && response.status().code < 500);
    }
    assert_eq!(app.post_json("lobby", r#"{"text":"hi"}"#).await.status(), Status::Created);
}

#[rocket::async_test]
async fn html_pages_send_a_strict_policy_and_no_store() {
    let app = spawn_app().await;
    app.say("lobby", "hi").await;
    for path in ["/", "/rooms/rust", "/login", "/register", "/no/such/page"] {
        let response = app.client.get(path).header(Accept::HTML).dispatch().await;
        let headers = response.headers();
        assert_eq!(headers.get_one("Content-Security-Policy"), Some(chat::web::CONTENT_SECURITY_POLICY), "{path}");
        let csp = chat::web::CONTENT_SECURITY_POLICY;
        for directive in ["default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"] {
            assert!(csp.contains(directive));
        }
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(headers.get_one("X-Content-Type-Options"), Some("nosniff"), "{path}");
        assert_eq!(headers.get_one("Referrer-Policy"), Some("same-origin"), "{path}");
        assert_eq!(headers.get_one("Cache-Control"), Some("no-store"), "{path}");
        assert_eq!(headers.get_one("Content-Type"), Some("text/html; charset=utf-8"), "{path}");
    }
}

#[rocket::async_test]
async fn pages_have_no_inline_script_or_style() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/register"] {
        let page = app.client.get(path).dispatch().await.into_string().await.unwrap();
        assert!(!page.contains("<script>") && !page.contains("<style"), "{path}");
        assert!(!page.contains(" style=") && !page.contains(" onclick="), "{path}");
    }
    app.register("alice", PASSWORD).await;
    let page = app.client.get("/account").dispatch().await.into_string().await.unwrap();
    assert!(!page.contains("<script>") && !page.contains(" style="));
}

#[rocket::async_test]
async fn every_text_response_names_its_charset() {
    let app = spawn_app().await;
    for path in ["/static/app.js", "/static/app.css", "/", "/login"] {
        let response = app.client.get(path).dispatch().await;
        let content_type = response.headers().get_one("Content-Type").unwrap().to_owned();
        assert!(content_type.contains("charset=utf-8"), "{path}: {content_type}");
    }
    let stream = app.client.get("/rooms/lobby/events").dispatch().await;
    assert_eq!(stream.headers().get_one("Content-Type"), Some("text/event-stream; charset=utf-8"));
}

#[rocket::async_test]
async fn a_failing_store_answers_503_without_sql_paths_or_traces() {
    let app = spawn_app().await;
    app.say("lobby", "hi").await;
    let mut db = crate::helpers::connect_db(app.dir.path()).await;
    sqlx::query("DROP TABLE messages").execute(&mut db).await.unwrap();
    let requests = [
        app.client.get("/rooms/lobby/messages").dispatch().await,
        app.client.post("/rooms/lobby/messages").header(ContentType::JSON).body(r#"{"text":"x"}"#).dispatch().await,
        app.client.get("/").header(Accept::HTML).dispatch().await,
    ];
    for response in requests {
        assert_eq!(response.status(), Status::ServiceUnavailable);
        let body = response.into_string().await.unwrap().to_lowercase();
        for leak in ["sqlite", "select", "insert", "table", "messages ", "/tmp", ".rs", "panicked", "error returned"] {
            assert!(!body.contains(leak), "{leak:?} in {body}");
        }
    }
}
