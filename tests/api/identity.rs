//! Accounts, sessions, guests, and the cross-origin rule.

use rocket::http::{ContentType, Cookie, Method, SameSite, Status};

use crate::helpers::{origin, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

#[rocket::async_test]
async fn registering_logs_in_and_redirects_home() {
    let app = spawn_app().await;
    let response = app.register("alice", PASSWORD).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some("/"));
    assert_eq!(app.me().await, serde_json::json!({ "user": "alice", "display": "alice", "guest": false }));
}

#[rocket::async_test]
async fn the_session_cookie_is_private_http_only_and_lax() {
    let app = spawn_app().await;
    let response = app.register("alice", PASSWORD).await;
    let cookie = response.cookies().get("session").expect("a session cookie").clone();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(SameSite::Lax));
    assert_eq!(cookie.path(), Some("/"));
    assert!(!cookie.value().contains("alice"), "the value is encrypted");
    assert!(cookie.value().len() > 43, "more than the bare 256-bit id: it is sealed");
}

#[rocket::async_test]
async fn passwords_are_stored_only_as_argon2id_hashes() {
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    let mut db = crate::helpers::connect_db(app.dir.path()).await;
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE name = 'alice'").fetch_one(&mut db).await.unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
}

#[rocket::async_test]
async fn invalid_registrations_are_422_with_the_reason_and_create_nothing() {
    let app = spawn_app().await;
    let cases = [
        ("ab", PASSWORD, "3 to 32 characters"),
        (&"x".repeat(33), PASSWORD, "3 to 32 characters"),
        ("al ice", PASSWORD, "3 to 32 characters"),
        ("<script>", PASSWORD, "3 to 32 characters"),
        ("guest-bob", PASSWORD, "may not start with"),
        ("GUEST-bob", PASSWORD, "may not start with"),
        ("alice", "short", "8 to 128"),
        ("alice", &"p".repeat(129), "8 to 128"),
        ("", "", "3 to 32 characters"),
    ];
    for (name, password, reason) in cases {
        let response = app.register(name, password).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "{name:?}");
        let page = response.into_string().await.unwrap();
        assert!(page.contains(reason), "{name:?}: {page}");
        assert!(page.contains("<form"), "the form is shown again");
    }
    assert_eq!(app.me().await["guest"], true);
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Unauthorized);
}

#[rocket::async_test]
async fn a_registration_without_fields_is_422_not_500() {
    let app = spawn_app().await;
    let response = app.post_form("/register", &[]).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
}

#[rocket::async_test]
async fn long_unicode_passwords_with_spaces_are_kept_whole() {
    let app = spawn_app().await;
    let password = format!(" {} ", "ключ ".repeat(25));
    assert_eq!(app.register("alice", &password).await.status(), Status::SeeOther);
    app.logout().await;
    assert_eq!(app.login("alice", password.trim()).await.status(), Status::Unauthorized);
    assert_eq!(app.login("alice", &password[..password.len() - 1]).await.status(), Status::Unauthorized);
    assert_eq!(app.login("alice", &password).await.status(), Status::SeeOther);
}

#[rocket::async_test]
async fn a_taken_name_is_409_in_any_case() {
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    app.logout().await;
    for name in ["alice", "ALICE"] {
        let response = app.register(name, PASSWORD).await;
        assert_eq!(response.status(), Status::Conflict);
        assert!(response.into_string().await.unwrap().contains("taken"));
    }
}

#[rocket::async_test]
async fn logging_in_redirects_to_a_same_site_next_only() {
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    let cases = [
        ("/rooms/rust", "/rooms/rust"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
    ];
    for (next, expected) in cases {
        app.logout().await;
        let response = app.post_form("/login", &[("username", "alice"), ("password", PASSWORD), ("next", next)]).await;
        assert_eq!(response.status(), Status::SeeOther, "{next}");
        assert_eq!(response.headers().get_one("Location"), Some(expected), "{next}");
    }
}

#[rocket::async_test]
async fn unknown_users_and_wrong_passwords_fail_identically() {
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    app.logout().await;
    let wrong = app.login("alice", "not the password").await;
    let (wrong_status, wrong_body) = (wrong.status(), wrong.into_string().await.unwrap());
    let unknown = app.login("nobody", "not the password").await;
    let (unknown_status, unknown_body) = (unknown.status(), unknown.into_string().await.unwrap());
    assert_eq!(wrong_status, Status::Unauthorized);
    assert_eq!(unknown_status, Status::Unauthorized);
    assert_eq!(wrong_body, unknown_body);
    assert!(wrong_body.contains("wrong username or password"));
    assert_eq!(app.me().await["guest"], true);
}

#[rocket::async_test]
async fn logging_out_revokes_the_session_even_for_a_replayed_cookie() {
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    let stolen = app.client.cookies().get("session").expect("session cookie").value().to_owned();
    let response = app.logout().await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some("/"));
    assert_eq!(app.me().await["guest"], true);
    let replayed = app.client.get("/api/me").cookie(Cookie::new("session", stolen)).dispatch().await;
    let me: serde_json::Value = replayed.into_json().await.unwrap();
    assert_eq!(me["guest"], true, "the old cookie no longer authenticates: {me}");
}

#[rocket::async_test]
async fn a_guest_keeps_one_name_per_browser() {
    let app = spawn_app().await;
    let first = app.me().await;
    assert_eq!(first["guest"], true);
    let name = first["user"].as_str().unwrap().to_owned();
    assert!(name.starts_with("guest-") && name.len() >= 10, "{name}");
    assert_eq!(app.me().await["user"], name.as_str());
    let message = app.say("lobby", "hi").await;
    assert_eq!(message["user"], name.as_str());
    assert_eq!(message["guest"], true);

    let other_browser = crate::helpers::client_on(app.dir.path(), |f| f).await;
    let other: serde_json::Value = other_browser.get("/api/me").dispatch().await.into_json().await.unwrap();
    assert_ne!(other["user"], name.as_str());
}

#[rocket::async_test]
async fn tampered_or_foreign_cookies_count_as_no_cookie() {
    let app = spawn_app().await;
    for (name, value) in [("session", "not-a-sealed-value"), ("guest", "guest-abcdef"), ("session", "")] {
        let response = app.client.get("/api/me").cookie(Cookie::new(name, value)).dispatch().await;
        assert_eq!(response.status(), Status::Ok);
        let me: serde_json::Value = response.into_json().await.unwrap();
        assert_eq!(me["guest"], true);
        assert_ne!(me["user"], "guest-abcdef", "a plain cookie cannot choose the guest name");
    }
}

#[rocket::async_test]
async fn guests_cannot_post_when_guests_are_switched_off() {
    let app = spawn_app_with(|f| f.merge(("allow_guests", false))).await;
    let response = app.post_json("lobby", r#"{"text":"hi"}"#).await;
    assert_eq!(response.status(), Status::Unauthorized);
    assert!(response.into_string().await.unwrap().contains("log in"));
    assert!(app.history_ids("lobby", "").await.is_empty());
    app.register("alice", PASSWORD).await;
    assert_eq!(app.say("lobby", "hi").await["user"], "alice");
}

#[rocket::async_test]
async fn every_post_route_refuses_a_foreign_origin_and_changes_nothing() {
    let app = spawn_app().await;
    let posts: Vec<String> = app
        .client
        .rocket()
        .routes()
        .filter(|r| r.method == Method::Post)
        .map(|r| r.uri.path().replace("<room>", "lobby").replace("<_room>", "lobby").replace("<id>", "1"))
        // The one exception: a webhook's URL is its credential, so it takes
        // posts from anywhere (`bots::a_webhook_posts_its_text_...`).
        .filter(|p| !p.starts_with("/hooks/"))
        .collect();
    assert!(posts.len() >= 4, "{posts:?}");
    for path in &posts {
        for (name, value) in [("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")] {
            let response = app
                .client
                .post(path.as_str())
                .header(ContentType::Form)
                .header(rocket::http::Header::new(name, value))
                .body("username=mallory&password=12345678&text=hi")
                .dispatch()
                .await;
            assert_eq!(response.status(), Status::Forbidden, "{path} with {name}");
        }
    }
    assert_eq!(app.login("mallory", "12345678").await.status(), Status::Unauthorized);
    assert!(app.history_ids("lobby", "").await.is_empty());
    let same_origin = app
        .client
        .post("/rooms/lobby/messages")
        .header(ContentType::JSON)
        .header(origin("http://localhost:8000"))
        .header(rocket::http::Header::new("Host", "localhost:8000"))
        .body(r#"{"text":"hi"}"#)
        .dispatch()
        .await;
    assert_eq!(same_origin.status(), Status::Created);
}
