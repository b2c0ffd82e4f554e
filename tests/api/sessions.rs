//! Sessions that can be revoked: new ids on privilege changes, lifetimes on
//! an injectable clock, streams that close when their session ends.

use std::time::Duration;

use chat::Clock;
use rocket::http::{Cookie, Header, Status};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_with_clock, spawn_server_with, spawn_server_with_clock};

const PASSWORD: &str = "correct horse battery";
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn session_cookie(app: &TestApp) -> String {
    app.client.cookies().get("session").expect("a session cookie").value().to_owned()
}

async fn me_with_cookie(app: &TestApp, sealed: &str) -> Value {
    let response = app.client.get("/api/me").cookie(Cookie::new("session", sealed.to_owned())).dispatch().await;
    response.into_json().await.unwrap()
}

#[rocket::async_test]
async fn logging_out_clears_site_cookies_and_a_replayed_cookie_is_a_guest() {
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    let sealed = session_cookie(&app);
    let response = app.logout().await;
    assert_eq!(response.headers().get_one("Clear-Site-Data"), Some("\"cache\", \"cookies\", \"storage\""));
    let removal = response.cookies().get("session").expect("a removal cookie");
    assert_eq!(removal.value(), "");
    assert_eq!(me_with_cookie(&app, &sealed).await["guest"], true);
}

#[rocket::async_test]
async fn every_login_gets_a_new_session_id_and_a_new_csrf_token() {
    let app = spawn_app().await;
    let pre_login_token = app.csrf().await;
    app.register("alice", PASSWORD).await;
    let first = app.client.cookies().get_private("session").unwrap().value().to_owned();
    assert_ne!(app.csrf().await, pre_login_token, "the token changes at login");
    app.logout().await;
    app.login("alice", PASSWORD).await;
    let second = app.client.cookies().get_private("session").unwrap().value().to_owned();
    assert_ne!(first, second);
    assert!(second.len() >= 22, "at least 128 bits");
}

#[rocket::async_test]
async fn changing_the_password_ends_every_old_session_and_starts_a_new_one() {
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    let before = session_cookie(&app);
    let response = app.post_form("/account/password", &[("current", PASSWORD), ("new", "a brand new secret")]).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(app.me().await["user"], "alice", "this browser stays logged in, on a new session");
    assert_ne!(session_cookie(&app), before);
    assert_eq!(me_with_cookie(&app, &before).await["guest"], true, "the old cookie no longer authenticates");
    app.logout().await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Unauthorized);
    assert_eq!(app.login("alice", "a brand new secret").await.status(), Status::SeeOther);
}

#[rocket::async_test]
async fn a_password_change_needs_the_current_password() {
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    let response =
        app.post_form("/account/password", &[("current", "not it at all"), ("new", "a brand new secret")]).await;
    assert_eq!(response.status(), Status::Unauthorized);
    assert!(response.into_string().await.unwrap().contains("current password is wrong"));
    let weak = app.post_form("/account/password", &[("current", PASSWORD), ("new", "password1")]).await;
    assert_eq!(weak.status(), Status::UnprocessableEntity);
    app.logout().await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::SeeOther, "nothing changed");
}

#[rocket::async_test]
async fn logging_out_everywhere_ends_the_other_browsers_sessions_too() {
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    let other_browser = crate::helpers::client_on(app.dir.path(), |f| f).await;
    let other = other_browser.get("/api/me").dispatch().await;
    drop(other);
    let elsewhere = {
        let token_page = other_browser.get("/login").dispatch().await;
        drop(token_page);
        let token = other_browser.cookies().get_private("csrf").unwrap().value().to_owned();
        let body = crate::helpers::encode_form(&[("username", "alice"), ("password", PASSWORD), ("csrf", &token)]);
        let login = other_browser.post("/login").header(rocket::http::ContentType::Form).body(body).dispatch().await;
        assert_eq!(login.status(), Status::SeeOther);
        other_browser.cookies().get("session").unwrap().value().to_owned()
    };
    let response = app.post_form("/account/logout-everywhere", &[]).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Clear-Site-Data"), Some("\"cache\", \"cookies\", \"storage\""));
    assert_eq!(app.me().await["guest"], true);
    assert_eq!(me_with_cookie(&app, &elsewhere).await["guest"], true);
}

#[rocket::async_test]
async fn deleting_an_account_keeps_its_messages_as_deleted_user() {
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    app.say("lobby", "I was here").await;
    let wrong = app.post_form("/account/delete", &[("password", "not it at all")]).await;
    assert_eq!(wrong.status(), Status::Unauthorized);
    let response = app.post_form("/account/delete", &[("password", PASSWORD)]).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(app.me().await["guest"], true);
    let (_, history) = app.history("lobby", "").await;
    assert_eq!(history[0]["user"], "deleted user");
    assert_eq!(history[0]["text"], "I was here");
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Unauthorized);
}

#[rocket::async_test]
async fn the_account_page_is_for_members_only() {
    let app = spawn_app().await;
    let response = app.client.get("/account").dispatch().await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some("/login?next=/account"));
    app.register("alice", PASSWORD).await;
    let page = app.client.get("/account").dispatch().await.into_string().await.unwrap();
    for action in ["/account/password", "/account/logout-everywhere", "/account/delete"] {
        assert!(page.contains(&format!(r#"action="{action}""#)), "{action}");
    }
}

#[rocket::async_test]
async fn a_session_ends_after_the_idle_lifetime_and_activity_extends_it() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| f).await;
    app.register("alice", PASSWORD).await;
    clock.advance(6 * DAY);
    assert_eq!(app.me().await["user"], "alice", "activity at day 6");
    clock.advance(6 * DAY);
    assert_eq!(app.me().await["user"], "alice", "6 days after the last activity");
    clock.advance(7 * DAY + Duration::from_secs(1));
    assert_eq!(app.me().await["guest"], true, "idle for more than 7 days");
}

#[rocket::async_test]
async fn a_session_ends_after_the_absolute_lifetime_however_active() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| f).await;
    app.register("alice", PASSWORD).await;
    for _ in 0..5 {
        clock.advance(6 * DAY);
        assert_eq!(app.me().await["user"], "alice");
    }
    clock.advance(DAY);
    assert_eq!(app.me().await["guest"], true, "31 days after login");
}

#[rocket::async_test]
async fn lifetimes_are_configurable() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| f.merge(("session_idle_secs", 60))).await;
    app.register("alice", PASSWORD).await;
    clock.advance(Duration::from_secs(61));
    assert_eq!(app.me().await["guest"], true);
}

#[rocket::async_test]
async fn opening_streams_does_not_count_as_activity() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| f).await;
    app.register("alice", PASSWORD).await;
    clock.advance(6 * DAY);
    // A stream opening (an EventSource reconnect) is passive.
    let stream = app.client.get("/rooms/lobby/events").dispatch().await;
    assert_eq!(stream.status(), Status::Ok);
    drop(stream);
    clock.advance(DAY + Duration::from_secs(1));
    assert_eq!(app.me().await["guest"], true);
}

/// Opens a member's stream on a live server, ends the session with `end`,
/// and checks that the stream closes and a reconnect gets 401.
async fn a_stream_closes_when(end: &str) {
    let clock = Clock::manual();
    let app = spawn_server_with_clock(clock.clone(), |f| f.merge(("session_check_secs", 1))).await;
    let mut alice = app.browser();
    let registered = alice.post_form("/register", &[("username", "alice"), ("password", PASSWORD)]).await;
    assert_eq!(registered.status, 303);
    let stolen = alice.clone();
    let mut stream = alice.events("/rooms/lobby/events", &[]).await;
    assert_eq!(stream.status, 200);
    stream.next_event_within(Duration::from_secs(5)).await.expect("retry event");
    match end {
        "logout" => assert_eq!(alice.post_form("/logout", &[]).await.status, 303),
        "expiry" => clock.advance(31 * DAY),
        "password change" => {
            let changed =
                alice.post_form("/account/password", &[("current", PASSWORD), ("new", "another good secret")]).await;
            assert_eq!(changed.status, 303);
        }
        "account deletion" => {
            assert_eq!(alice.post_form("/account/delete", &[("password", PASSWORD)]).await.status, 303)
        }
        other => panic!("unknown ending {other}"),
    }
    let closed = tokio::time::timeout(Duration::from_secs(30), async { while stream.next_event().await.is_some() {} });
    closed.await.unwrap_or_else(|_| panic!("the stream is still open 30 s after {end}"));
    let mut replay = stolen;
    let reconnect = replay.send("GET", "/rooms/lobby/events", &[("Last-Event-ID", "0")], None).await;
    assert_eq!(reconnect.status, 401, "reconnecting after {end} is refused, so EventSource stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_closes_after_logout_and_its_cookie_gets_401() {
    a_stream_closes_when("logout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_closes_after_expiry() {
    a_stream_closes_when("expiry").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_closes_after_a_password_change() {
    a_stream_closes_when("password change").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_closes_after_account_deletion() {
    a_stream_closes_when("account deletion").await;
}

#[rocket::async_test]
async fn cookies_are_secure_with_hsts_when_secure_cookies_is_on() {
    let app = crate::helpers::spawn_app_with(|f| f.merge(("secure_cookies", true))).await;
    let response = app.register("alice", PASSWORD).await;
    let cookie = response.cookies().get("session").expect("a session cookie");
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.http_only(), Some(true));
    let page = app.client.get("/").header(Header::new("Accept", "text/html")).dispatch().await;
    assert!(page.headers().get_one("Strict-Transport-Security").unwrap().contains("max-age="));

    let plain = spawn_app().await;
    let response = plain.register("alice", PASSWORD).await;
    assert_ne!(response.cookies().get("session").unwrap().secure(), Some(true));
    let page = plain.client.get("/").dispatch().await;
    assert!(page.headers().get_one("Strict-Transport-Security").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_stream_is_not_affected_by_session_checks() {
    let app = spawn_server_with(|f| f.merge(("session_check_secs", 1))).await;
    let mut stream = app.browser().events("/rooms/lobby/events", &[]).await;
    stream.next_event_within(Duration::from_secs(5)).await.unwrap();
    let mut poster = app.browser();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let id = poster.say("lobby", "still here").await;
    let seen = stream.messages_until(id, Duration::from_secs(5)).await;
    assert_eq!(seen.last().unwrap()["text"], "still here");
}
