//! Registration: limited per client address, and hashed in the same
//! bounded queue as logins.

use std::time::Duration;

use chat::Clock;
use rocket::http::{ContentType, Header, Status};

use crate::helpers::{TestApp, encode_form, spawn_app_with, spawn_app_with_clock};

const PASSWORD: &str = "correct horse battery";

/// A registration claiming (through `X-Real-IP`) to come from `ip`.
async fn register_from(app: &TestApp, name: &str, ip: &'static str) -> (Status, Option<String>, String) {
    let token = app.csrf().await;
    let body = encode_form(&[("username", name), ("password", PASSWORD), ("csrf", &token)]);
    let request = app.client.post("/register").header(ContentType::Form).header(Header::new("X-Real-IP", ip));
    let response = request.body(body).dispatch().await;
    let retry_after = response.headers().get_one("Retry-After").map(str::to_owned);
    (response.status(), retry_after, response.into_string().await.unwrap_or_default())
}

#[rocket::async_test]
async fn registrations_are_limited_per_address_then_429_with_retry_after() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| {
        f.merge(("rate_limits", true)).merge(("registrations_per_ip", 3)).merge(("ip_header", "X-Real-IP"))
    })
    .await;
    for i in 0..3 {
        assert_eq!(register_from(&app, &format!("user{i}"), "10.1.1.1").await.0, Status::SeeOther, "registration {i}");
    }
    let (status, retry_after, page) = register_from(&app, "user3", "10.1.1.1").await;
    assert_eq!(status, Status::TooManyRequests);
    assert_eq!(retry_after.as_deref(), Some("3600"));
    assert!(page.contains("too many") && page.contains(r#"name="username""#), "the form with the reason: {page}");
    assert_eq!(app.login("user3", PASSWORD).await.status(), Status::Unauthorized, "nothing was created");

    assert_eq!(
        register_from(&app, "user4", "10.2.2.2").await.0,
        Status::SeeOther,
        "another address has its own budget"
    );
    clock.advance(Duration::from_secs(60 * 60));
    assert_eq!(register_from(&app, "user5", "10.1.1.1").await.0, Status::SeeOther, "the limit decays");
}

#[rocket::async_test]
async fn twenty_registrations_per_address_per_hour_by_default() {
    let app = spawn_app_with(|f| f.merge(("rate_limits", true))).await;
    for i in 0..20 {
        assert_eq!(app.register(&format!("user{i}"), PASSWORD).await.status(), Status::SeeOther, "registration {i}");
    }
    assert_eq!(app.register("user20", PASSWORD).await.status(), Status::TooManyRequests);
}

#[rocket::async_test]
async fn rate_limits_false_leaves_registration_unlimited() {
    let app = spawn_app_with(|f| f.merge(("registrations_per_ip", 1))).await;
    for i in 0..3 {
        assert_eq!(app.register(&format!("user{i}"), PASSWORD).await.status(), Status::SeeOther, "registration {i}");
    }
}

#[rocket::async_test]
async fn registrations_wait_in_the_same_hashing_queue_as_logins() {
    let app = spawn_app_with(|f| f.merge(("hash_concurrency", 1))).await;
    let token = app.csrf().await;
    let forms: Vec<(&str, String)> =
        (0..6).flat_map(|i| [("/register", format!("user{i}")), ("/login", format!("nobody{i}"))]).collect();
    let requests = forms.iter().map(|(path, name)| {
        let body = encode_form(&[("username", name), ("password", PASSWORD), ("csrf", &token)]);
        app.client.post(*path).header(ContentType::Form).body(body).dispatch()
    });
    let statuses: Vec<Status> =
        rocket::futures::future::join_all(requests).await.iter().map(|response| response.status()).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == Status::SeeOther).count(), 6, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&s| s == Status::Unauthorized).count(), 6, "{statuses:?}");
    let accounts = app.client.rocket().state::<chat::auth::Accounts>().expect("Accounts is managed");
    assert_eq!(accounts.hashing_peak(), 1, "one permit for registrations and logins together");
}
