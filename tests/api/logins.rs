//! Passwords and logins: hashing parameters and upgrades, the common
//! password list, throttling of failed logins.

use std::time::Duration;

use chat::Clock;
use rocket::http::{Header, Status};

use crate::helpers::{LiveApp, TestApp, spawn_app, spawn_app_with_clock, spawn_server_with, within};

const PASSWORD: &str = "correct horse battery";

async fn db(app: &TestApp) -> sqlx::AnyConnection {
    crate::helpers::connect_db(app.dir.path()).await
}

#[rocket::async_test]
async fn a_weaker_stored_hash_is_upgraded_at_the_next_login() {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    app.logout().await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2i,
        argon2::Version::V0x13,
        argon2::Params::new(4096, 1, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
    .unwrap()
    .to_string();
    let mut db = db(&app).await;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE name = 'alice'").bind(&weak).execute(&mut db).await.unwrap();

    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::SeeOther);
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE name = 'alice'").fetch_one(&mut db).await.unwrap();
    assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
    app.logout().await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::SeeOther, "the new hash verifies");
}

#[rocket::async_test]
async fn the_most_common_passwords_are_refused_at_registration() {
    let app = spawn_app().await;
    for common in ["password", "iloveyou1", "Password1", "qwertyuiop", "1q2w3e4r5t6y"] {
        let response = app.register("alice", common).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "{common}");
        assert!(response.into_string().await.unwrap().contains("most common"), "{common}");
    }
    assert_eq!(app.register("alice", PASSWORD).await.status(), Status::SeeOther);
}

#[rocket::async_test]
async fn the_shipped_list_has_three_thousand_passwords() {
    let list = include_str!("../../src/auth/common-passwords.txt");
    assert_eq!(list.lines().count(), 3000);
}

async fn throttled_app(clock: &Clock) -> TestApp {
    spawn_app_with_clock(clock.clone(), |f| f.merge(("rate_limits", true))).await
}

#[rocket::async_test]
async fn ten_failed_logins_for_a_name_then_429_with_retry_after_alike_for_real_and_unknown_names() {
    let clock = Clock::manual();
    let app = throttled_app(&clock).await;
    app.register("alice", PASSWORD).await;
    app.logout().await;
    let mut bodies = Vec::new();
    for name in ["alice", "nobody"] {
        for attempt in 1..=10 {
            let response = app.login(name, "wrong password").await;
            assert_eq!(response.status(), Status::Unauthorized, "{name} attempt {attempt}");
        }
        let throttled = app.login(name, "wrong password").await;
        assert_eq!(throttled.status(), Status::TooManyRequests, "{name}");
        assert_eq!(throttled.headers().get_one("Retry-After"), Some("900"));
        bodies.push(throttled.into_string().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1], "a throttled answer reveals nothing about the name");
    let right = app.login("alice", PASSWORD).await;
    assert_eq!(right.status(), Status::TooManyRequests, "even the right password waits");
}

#[rocket::async_test]
async fn failed_logins_decay_so_the_owner_is_never_locked_out_for_good() {
    let clock = Clock::manual();
    let app = throttled_app(&clock).await;
    app.register("alice", PASSWORD).await;
    app.logout().await;
    for _ in 0..10 {
        app.login("alice", "wrong password").await;
    }
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::TooManyRequests);
    clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::SeeOther);
}

#[rocket::async_test]
async fn failed_logins_are_also_limited_per_client_address() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| {
        f.merge(("rate_limits", true)).merge(("login_failures_per_ip", 4)).merge(("ip_header", "X-Real-IP"))
    })
    .await;
    for i in 0..4 {
        assert_eq!(wrong_login_from(&app, &format!("name{i}"), "10.1.1.1").await, Status::Unauthorized);
    }
    assert_eq!(wrong_login_from(&app, "fresh-name", "10.1.1.1").await, Status::TooManyRequests);
    let other = wrong_login_from(&app, "fresh-name", "10.2.2.2").await;
    assert_eq!(other, Status::Unauthorized, "another address has its own budget");
}

#[rocket::async_test]
async fn the_client_address_header_is_ignored_unless_configured() {
    let clock = Clock::manual();
    let app =
        spawn_app_with_clock(clock.clone(), |f| f.merge(("rate_limits", true)).merge(("login_failures_per_ip", 3)))
            .await;
    for (i, spoofed) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].into_iter().enumerate() {
        assert_eq!(wrong_login_from(&app, &format!("name{i}"), spoofed).await, Status::Unauthorized);
    }
    let spoofed = wrong_login_from(&app, "fresh-name", "10.9.9.9").await;
    assert_eq!(spoofed, Status::TooManyRequests, "a forged X-Real-IP buys no new budget");
}

/// A failed login for `name`, claiming (through `X-Real-IP`) to come from `ip`.
async fn wrong_login_from(app: &TestApp, name: &str, ip: &'static str) -> Status {
    let token = app.csrf().await;
    let body = crate::helpers::encode_form(&[("username", name), ("password", "wrong password"), ("csrf", &token)]);
    let request =
        app.client.post("/login").header(rocket::http::ContentType::Form).header(Header::new("X-Real-IP", ip));
    request.body(body).dispatch().await.status()
}

#[rocket::async_test]
async fn rate_limits_false_turns_login_throttling_off() {
    let app = spawn_app().await;
    for _ in 0..12 {
        assert_eq!(app.login("alice", "wrong password").await.status(), Status::Unauthorized);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argon2_runs_off_the_executor_behind_one_permit_per_core_but_one() {
    use chat::auth::{Password, PasswordHasher};
    let hasher = PasswordHasher::new(0).await.unwrap();
    let hash = hasher.hash(Password::for_login(PASSWORD)).await.unwrap();
    // A login storm: 24 verifications at once.
    let storm = (0..24).map(|_| hasher.verify(Password::for_login("wrong password"), Some(hash.clone())));
    // Meanwhile the executor keeps answering: a timer on the same runtime
    // ticks while the storm runs (argon2 is on the blocking pool).
    let ticks = async {
        let mut ticks = 0;
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            ticks += 1;
        }
        ticks
    };
    let (_, ticks) = tokio::join!(rocket::futures::future::join_all(storm), ticks);
    assert_eq!(ticks, 10);
    let cores = std::thread::available_parallelism().unwrap().get();
    let permits = cores.saturating_sub(1).max(1);
    assert_eq!(hasher.peak_concurrency(), permits, "a core is always left for delivery");
}

/// `attempts` wrong logins sent at once over real HTTP, each from its own
/// browser (so none waits for another's answer): the statuses, with every
/// 429 checked for its `Retry-After`.
async fn wrong_logins_at_once(app: &LiveApp, names: Vec<String>) -> Vec<u16> {
    let attempts = names.into_iter().map(|name| {
        let mut browser = app.browser();
        tokio::spawn(async move {
            let response = browser.post_form("/login", &[("username", &name), ("password", "wrong password")]).await;
            if response.status == 429 {
                assert!(response.header("Retry-After").is_some(), "a 429 says when to come back");
            }
            response.status
        })
    });
    let answers = within(120, "40 logins", rocket::futures::future::join_all(attempts)).await;
    answers.into_iter().map(|answer| answer.expect("the attempt task")).collect()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&s| s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_wrong_passwords_for_one_name_are_evaluated_only_ten_times() {
    let app = spawn_server_with(|f| f.merge(("rate_limits", true))).await;
    let statuses = wrong_logins_at_once(&app, vec!["alice".to_owned(); 40]).await;
    assert_eq!(count(&statuses, 401), 10, "the name's budget of 10, taken before each check: {statuses:?}");
    assert_eq!(count(&statuses, 429), 30, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_wrong_passwords_from_one_address_are_evaluated_only_its_budget() {
    let app = spawn_server_with(|f| f.merge(("rate_limits", true)).merge(("login_failures_per_ip", 10))).await;
    let names = (0..40).map(|i| format!("name{i}")).collect();
    let statuses = wrong_logins_at_once(&app, names).await;
    assert_eq!(count(&statuses, 401), 10, "the address's budget of 10, taken before each check: {statuses:?}");
    assert_eq!(count(&statuses, 429), 30, "{statuses:?}");
}
