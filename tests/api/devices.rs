//! Device cookies: a browser that has logged in as a user before keeps
//! logging in while others' wrong passwords hold that name at 429, on a
//! budget of its own.

use crate::helpers::spawn_server_with;
use crate::http::{Browser, Response};

const PASSWORD: &str = "correct horse battery";

async fn login(browser: &mut Browser, name: &str, password: &str) -> Response {
    browser.post_form("/login", &[("username", name), ("password", password)]).await
}

fn device_cookie(response: &Response) -> Option<&str> {
    let set_cookies = response.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"));
    set_cookies.map(|(_, v)| v.as_str()).find(|v| v.starts_with("device="))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_browser_logs_in_while_others_keep_the_name_locked() {
    let app = spawn_server_with(|f| f.merge(("rate_limits", true))).await;
    let mut owner = app.browser();
    let registered = owner.post_form("/register", &[("username", "alice"), ("password", PASSWORD)]).await;
    assert_eq!(registered.status, 303);
    let mut attacker = app.browser();
    for attempt in 1..=10 {
        assert_eq!(login(&mut attacker, "alice", "wrong password").await.status, 401, "attempt {attempt}");
    }
    assert_eq!(login(&mut attacker, "alice", PASSWORD).await.status, 429, "the name is locked for the attacker");
    assert_eq!(
        login(&mut app.browser(), "alice", PASSWORD).await.status,
        429,
        "and for any browser without a device cookie"
    );

    let trusted = login(&mut owner, "alice", PASSWORD).await;
    assert_eq!(trusted.status, 303, "the browser that logged in before is exempt: {}", trusted.body);
    let cookie = device_cookie(&trusted).expect("a login renews the device cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_cookie_has_a_budget_of_its_own_and_only_for_its_own_name() {
    let app = spawn_server_with(|f| f.merge(("rate_limits", true))).await;
    let mut owner = app.browser();
    owner.post_form("/register", &[("username", "bob"), ("password", PASSWORD)]).await;
    let mut other = app.browser();
    for _ in 0..10 {
        login(&mut other, "alice", "wrong password").await;
    }
    assert_eq!(login(&mut owner, "alice", PASSWORD).await.status, 429, "bob's device cookie is nothing to alice");

    for attempt in 1..=10 {
        assert_eq!(login(&mut owner, "bob", "wrong password").await.status, 401, "device attempt {attempt}");
    }
    let spent = login(&mut owner, "bob", PASSWORD).await;
    assert_eq!(spent.status, 429, "the device's own budget ran out");
    assert!(spent.header("Retry-After").is_some());
    assert_eq!(login(&mut app.browser(), "bob", PASSWORD).await.status, 303, "the name's budget is untouched");
}
