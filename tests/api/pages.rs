//! The HTML pages and their static files.

use rocket::http::{Accept, ContentType, Status};

use crate::helpers::spawn_app;

#[rocket::async_test]
async fn the_lobby_shows_history_with_text_escaped() {
    let app = spawn_app().await;
    app.say("lobby", "<img src=x onerror=alert(1)> & \"quotes\"").await;
    let response = app.client.get("/").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::HTML));
    let page = response.into_string().await.unwrap();
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;"), "{page}");
    assert!(!page.contains("<img src=x"));
    assert!(page.contains(r#"data-room="lobby""#));
    assert!(page.contains(r#"data-position="1""#));
    assert!(page.contains(r#"<script src="/static/app.js" defer></script>"#));
}

#[rocket::async_test]
async fn a_room_page_shows_who_you_are_and_how_to_log_in() {
    let app = spawn_app().await;
    let guest = app.me().await["user"].as_str().unwrap().to_owned();
    let page = app.client.get("/rooms/rust").dispatch().await.into_string().await.unwrap();
    assert!(page.contains(&guest));
    assert!(page.contains(r#"href="/login""#) && page.contains(r#"href="/register""#));
    app.register("alice", "correct horse battery").await;
    let page = app.client.get("/rooms/rust").dispatch().await.into_string().await.unwrap();
    assert!(page.contains("alice"));
    assert!(page.contains(r#"action="/logout""#));
    assert!(page.contains("#rust"));
}

#[rocket::async_test]
async fn the_room_list_links_active_rooms() {
    let app = spawn_app().await;
    app.say("rust", "hi").await;
    app.say("go", "hi").await;
    let page = app.client.get("/").dispatch().await.into_string().await.unwrap();
    for room in ["lobby", "rust", "go"] {
        assert!(page.contains(&format!(r#"href="/rooms/{room}""#)), "{room}");
    }
}

#[rocket::async_test]
async fn opening_a_room_by_name_redirects_or_explains() {
    let app = spawn_app().await;
    let response = app.client.get("/rooms?name=general").dispatch().await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some("/rooms/general"));
    let response = app.client.get("/rooms?name=Not%20Valid").dispatch().await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
}

#[rocket::async_test]
async fn an_invalid_room_page_is_a_404_page_for_browsers() {
    let app = spawn_app().await;
    let response = app.client.get("/rooms/Not.Valid").header(Accept::HTML).dispatch().await;
    assert_eq!(response.status(), Status::NotFound);
    assert_eq!(response.content_type(), Some(ContentType::HTML));
    assert!(response.into_string().await.unwrap().contains("Back to the lobby"));
}

#[rocket::async_test]
async fn login_and_register_pages_have_their_forms() {
    let app = spawn_app().await;
    for (path, action) in [("/login", "/login"), ("/register", "/register")] {
        let response = app.client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::Ok);
        let page = response.into_string().await.unwrap();
        assert!(page.contains(&format!(r#"action="{action}""#)), "{page}");
        assert!(page.contains(r#"name="username""#) && page.contains(r#"name="password""#));
    }
    let page = app.client.get("/login?next=/rooms/rust").dispatch().await.into_string().await.unwrap();
    assert!(page.contains(r#"name="next" value="&#x2F;rooms&#x2F;rust""#), "{page}");
}

#[rocket::async_test]
async fn the_pages_script_and_styles_are_served_by_the_app() {
    let app = spawn_app().await;
    for (path, kind) in [("/static/app.js", ContentType::JavaScript), ("/static/app.css", ContentType::CSS)] {
        let response = app.client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::Ok, "{path}");
        assert_eq!(response.content_type(), Some(kind));
    }
    let js = app.client.get("/static/app.js").dispatch().await.into_string().await.unwrap();
    assert!(js.contains("textContent") && !js.contains("innerHTML"), "text is never inserted as HTML");
}

#[rocket::async_test]
async fn errors_are_json_with_a_reason_for_api_clients() {
    let app = spawn_app().await;
    let response = app.client.get("/no/such/thing").header(Accept::JSON).dispatch().await;
    assert_eq!(response.status(), Status::NotFound);
    let body: serde_json::Value = response.into_json().await.unwrap();
    assert_eq!(body["code"], 404);
    assert!(body["error"].is_string());
}

#[rocket::async_test]
async fn the_health_check_reports_the_store_and_the_bus() {
    let app = spawn_app().await;
    let response = app.client.get("/healthz").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.into_string().await.unwrap(), r#"{"store":"ok","bus":"ok"}"#);
}

#[rocket::async_test]
async fn liveness_always_answers_and_readiness_flips_to_503_when_the_store_breaks() {
    let app = spawn_app().await;
    let ready = app.client.get("/healthz/ready").dispatch().await;
    assert_eq!(ready.status(), Status::Ok);
    assert_eq!(ready.into_string().await.unwrap(), r#"{"store":"ok","bus":"ok"}"#);
    let mut db = crate::helpers::connect_db(app.dir.path()).await;
    sqlx::query("DROP TABLE rooms").execute(&mut db).await.unwrap();
    for path in ["/healthz/ready", "/healthz"] {
        let response = app.client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::ServiceUnavailable, "{path}");
        assert_eq!(response.into_string().await.unwrap(), r#"{"store":"down","bus":"ok"}"#);
    }
    let live = app.client.get("/healthz/live").dispatch().await;
    assert_eq!(live.status(), Status::Ok);
}

#[rocket::async_test]
async fn metrics_are_off_by_default() {
    let app = spawn_app().await;
    assert_eq!(app.client.get("/metrics").dispatch().await.status(), Status::NotFound);
}

#[rocket::async_test]
async fn metrics_count_a_scripted_session() {
    let app = crate::helpers::spawn_app_with(|f| f.merge(("metrics", true)).merge(("rate_limits", true))).await;
    app.register("alice", "correct horse battery").await;
    app.logout().await;
    app.login("alice", "wrong password").await;
    app.login("alice", "correct horse battery").await;
    for i in 0..12 {
        app.post_json("lobby", &format!(r#"{{"text":"m{i}"}}"#)).await;
    }
    let response = app.client.get("/metrics").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert!(response.headers().get_one("Content-Type").unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.into_string().await.unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in\n{text}"))
    };
    // A member's burst is 10; a slow run may earn a token back meanwhile.
    let posted = value("chat_messages_posted_total");
    let limited = value(r#"chat_rate_limited_total{limit="post"}"#);
    assert!(posted >= 10.0 && limited >= 1.0, "posted {posted}, limited {limited}");
    assert_eq!(posted + limited, 12.0);
    assert_eq!(value(r#"chat_logins_total{outcome="failure"}"#), 1.0);
    assert_eq!(value(r#"chat_logins_total{outcome="success"}"#), 1.0);
    assert_eq!(value("chat_store_batch_messages_count"), posted, "one batch per sequential post");
    assert_eq!(value("chat_bus_up"), 1.0);
    let stream = app.client.get("/rooms/lobby/events").dispatch().await;
    let text = app.client.get("/metrics").dispatch().await.into_string().await.unwrap();
    assert!(text.contains(r#"chat_streams_open{transport="sse"} 1"#), "{text}");
    assert!(text.contains("chat_replay_messages_count 1"), "{text}");
    drop(stream);
    assert!(value(r#"chat_request_seconds_count{method="POST",route="/rooms/<room>/messages",status="2xx"}"#) >= 10.0);
    // A held long poll counts while it waits, and no longer once answered.
    let poll = app.client.get("/rooms/quiet/messages?after=0&wait=1").dispatch();
    let during = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app.client.get("/metrics").dispatch().await.into_string().await.unwrap()
    };
    let (answered, text) = tokio::join!(poll, during);
    assert_eq!(answered.status(), Status::Ok);
    assert!(text.contains(r#"chat_streams_open{transport="poll"} 1"#), "{text}");
    let text = app.client.get("/metrics").dispatch().await.into_string().await.unwrap();
    assert!(text.contains(r#"chat_streams_open{transport="poll"} 0"#), "{text}");
}

#[rocket::async_test]
async fn the_page_renders_replies_edits_and_reactions_escaped() {
    let app = spawn_app().await;
    app.register("alice", "correct horse battery").await;
    let original = app.say("r", "<b>bold</b> claim").await["id"].as_i64().unwrap();
    let body = serde_json::json!({ "text": "a reply", "reply_to": original }).to_string();
    assert_eq!(app.post_json("r", &body).await.status(), Status::Created);
    let edit = app.client.post(format!("/rooms/r/messages/{original}/edit")).header(ContentType::JSON);
    assert_eq!(edit.body(r#"{"text": "<i>edited</i> claim"}"#).dispatch().await.status(), Status::Ok);
    let react = app.client.post(format!("/rooms/r/messages/{original}/reactions")).header(ContentType::JSON);
    assert_eq!(react.body(r#"{"emoji": "🎉"}"#).dispatch().await.status(), Status::Ok);

    let page = app.client.get("/rooms/r").dispatch().await.into_string().await.unwrap();
    assert!(
        page.contains("&lt;i&gt;edited&lt;&#x2F;i&gt; claim") || page.contains("&lt;i&gt;edited&lt;/i&gt; claim"),
        "{page}"
    );
    assert!(!page.contains("<i>edited"), "text is escaped");
    assert!(page.contains(r#"<span class="edited""#), "marked edited");
    assert!(page.contains(&format!(r#"data-reply-to="{original}""#)), "the reply shows its quote");
    assert!(page.contains(r#"data-emoji="🎉" aria-pressed="true""#), "alice's own reaction is pressed");
    assert!(page.contains(r#"data-position="4""#), "the page's place in the room's sequence");
}
