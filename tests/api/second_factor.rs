//! Two-factor authentication with an authenticator app (TOTP): enrolling
//! from the account's security page, the code step of a login, recovery
//! codes, the throttle, turning it off, and the audit log. Codes are
//! computed here from the secret the page shows, with `totp-rs` directly,
//! at the time of the app's manual clock.

use std::time::Duration;

use chat::Clock;
use rocket::http::{Accept, ContentType, Status};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app_with_clock};

const PASSWORD: &str = "correct horse battery";

async fn app(clock: &Clock) -> TestApp {
    spawn_app_with_clock(clock.clone(), |f| f.merge(("rate_limits", true))).await
}

/// The code an authenticator app holding `secret` shows at the clock's time.
fn code_at(secret: &str, clock: &Clock) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.replace(' ', "")).to_bytes().expect("base32");
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).expect("a 160-bit secret");
    totp.generate(clock.now_ms() as u64 / 1000)
}

/// What sits between `start` and the next `end` in `page`.
fn between<'a>(page: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = page.find(start)? + start.len();
    Some(&page[from..from + page[from..].find(end)?])
}

async fn page(app: &TestApp, path: &str) -> (Status, String) {
    let response = app.client.get(path).header(Accept::HTML).dispatch().await;
    (response.status(), response.into_string().await.unwrap_or_default())
}

/// Registers `name` and turns TOTP on; answers the secret and the recovery codes.
async fn enrolled(app: &TestApp, clock: &Clock, name: &str) -> (String, Vec<String>) {
    assert_eq!(app.register(name, PASSWORD).await.status(), Status::SeeOther);
    assert_eq!(app.post_form("/account/totp/start", &[]).await.status(), Status::SeeOther);
    let (_, security) = page(app, "/account/security").await;
    let secret = between(&security, "<code id=\"totp-secret\">", "</code>").expect("the key is shown").to_owned();
    let confirmed = app.post_form("/account/totp/confirm", &[("code", &code_at(&secret, clock))]).await;
    assert_eq!(confirmed.status(), Status::Ok);
    let body = confirmed.into_string().await.unwrap();
    let codes: Vec<String> =
        body.split("<li><code>").skip(1).map(|c| c[..c.find("</code>").unwrap()].to_owned()).collect();
    (secret, codes)
}

async fn is_logged_in_as(app: &TestApp, name: &str) -> bool {
    let me = app.me().await;
    me["user"] == name && me["guest"] == false
}

/// Logs out and gives the password again: answers the status and page.
async fn password_again(app: &TestApp, name: &str) -> (Status, String) {
    app.logout().await;
    let response = app.login(name, PASSWORD).await;
    (response.status(), response.into_string().await.unwrap_or_default())
}

async fn send_code(app: &TestApp, code: &str) -> Status {
    app.post_form("/login/code", &[("code", code)]).await.status()
}

#[rocket::async_test]
async fn totp_is_enrolled_with_a_server_drawn_qr_code_and_confirmed_by_a_first_code() {
    let clock = Clock::manual();
    let app = app(&clock).await;
    assert_eq!(app.register("alice", PASSWORD).await.status(), Status::SeeOther);
    let (status, security) = page(&app, "/account/security").await;
    assert_eq!(status, Status::Ok);
    assert!(security.contains("data-state=\"off\""), "{security}");
    assert_eq!(app.client.get("/account/totp/qr.svg").dispatch().await.status(), Status::NotFound, "nothing to draw");

    assert_eq!(app.post_form("/account/totp/start", &[]).await.status(), Status::SeeOther);
    let (_, security) = page(&app, "/account/security").await;
    assert!(security.contains("<img class=\"qr\" src=\"/account/totp/qr.svg\""), "a same-origin image, no data: URL");
    let secret = between(&security, "<code id=\"totp-secret\">", "</code>").unwrap().to_owned();
    assert_eq!(secret.replace(' ', "").len(), 32, "160 bits in base32: {secret}");
    let qr = app.client.get("/account/totp/qr.svg").dispatch().await;
    assert_eq!(qr.status(), Status::Ok);
    assert_eq!(qr.content_type(), Some(ContentType::SVG));
    assert_eq!(qr.headers().get_one("Cache-Control"), Some("no-store"));
    let svg = qr.into_string().await.unwrap();
    assert!(svg.contains("<svg") && svg.contains("<path"), "drawn by the server: {svg:.200}");

    // A wrong or malformed first code leaves it off; logging in still needs no code.
    let wrong = app.post_form("/account/totp/confirm", &[("code", "000000")]).await;
    let wrong_status = wrong.status();
    let wrong_page = wrong.into_string().await.unwrap();
    let right = code_at(&secret, &clock);
    if right != "000000" {
        assert_eq!(wrong_status, Status::Unauthorized, "{wrong_page}");
    }
    assert_eq!(app.post_form("/account/totp/confirm", &[("code", "12ab")]).await.status(), Status::UnprocessableEntity);
    let (status, _) = password_again(&app, "alice").await;
    assert_eq!(status, Status::SeeOther, "not on until confirmed");

    let confirmed = app.post_form("/account/totp/confirm", &[("code", &code_at(&secret, &clock))]).await;
    assert_eq!(confirmed.status(), Status::Ok);
    let body = confirmed.into_string().await.unwrap();
    assert!(body.contains("data-state=\"on\""), "{body}");
    let codes: Vec<&str> = body.split("<li><code>").skip(1).map(|c| &c[..c.find("</code>").unwrap()]).collect();
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    assert!(codes.iter().all(|c| c.len() == 19), "{codes:?}");
    let (_, later) = page(&app, "/account/security").await;
    assert!(!later.contains(codes[0]), "never shown again");
    assert!(later.contains("10 recovery codes left"));
    assert!(!later.contains("totp-secret"), "the key is not shown once on");

    let mut db = crate::helpers::connect_db(app.dir.path()).await;
    let stored: String = sqlx::query_scalar("SELECT secret FROM totp").fetch_one(&mut db).await.unwrap();
    assert!(stored.starts_with("v1.") && !stored.contains(&secret.replace(' ', "")), "sealed at rest");
    let hashes: Vec<String> =
        sqlx::query_scalar("SELECT code_hash FROM recovery_codes").fetch_all(&mut db).await.unwrap();
    assert_eq!(hashes.len(), 10);
    assert!(hashes.iter().all(|h| h.len() == 64 && !codes.iter().any(|c| h.contains(&c.replace('-', "")))));
}

#[rocket::async_test]
async fn once_enrolled_login_needs_a_code_after_the_password_and_each_code_counts_once() {
    let clock = Clock::manual();
    let app = app(&clock).await;
    let (secret, _) = enrolled(&app, &clock, "alice").await;

    let (status, body) = password_again(&app, "alice").await;
    assert_eq!(status, Status::Ok, "the code form, not a session");
    assert!(body.contains("action=\"/login/code\""), "{body}");
    assert!(app.client.cookies().get_private("session").is_none(), "no session cookie");
    assert!(!is_logged_in_as(&app, "alice").await, "half logged in is not logged in");
    assert_eq!(app.client.get("/account").dispatch().await.status(), Status::SeeOther, "to the login");

    // The code that confirmed the enrolment is spent: a replay in the same step fails.
    assert_eq!(send_code(&app, &code_at(&secret, &clock)).await, Status::Unauthorized);
    clock.advance(Duration::from_secs(30));
    let code = code_at(&secret, &clock);
    assert_eq!(send_code(&app, &code).await, Status::SeeOther);
    assert!(is_logged_in_as(&app, "alice").await);
    assert!(app.client.cookies().get_private("login_pending").is_none(), "the pending cookie is gone");

    let (status, _) = password_again(&app, "alice").await;
    assert_eq!(status, Status::Ok);
    assert_eq!(send_code(&app, &code).await, Status::Unauthorized, "a code is accepted once");
    assert!(!is_logged_in_as(&app, "alice").await);
    clock.advance(Duration::from_secs(30));
    assert_eq!(send_code(&app, &code_at(&secret, &clock)).await, Status::SeeOther);
    assert!(is_logged_in_as(&app, "alice").await);
}

#[rocket::async_test]
async fn a_recovery_code_logs_in_once_instead_of_a_code() {
    let clock = Clock::manual();
    let app = app(&clock).await;
    let (_, codes) = enrolled(&app, &clock, "alice").await;
    password_again(&app, "alice").await;
    assert_eq!(send_code(&app, &codes[3].to_uppercase().replace('-', " ")).await, Status::SeeOther, "any case");
    assert!(is_logged_in_as(&app, "alice").await);
    let (_, security) = page(&app, "/account/security").await;
    assert!(security.contains("9 recovery codes left"), "{security}");

    password_again(&app, "alice").await;
    assert_eq!(send_code(&app, &codes[3]).await, Status::Unauthorized, "used up");
    assert!(!is_logged_in_as(&app, "alice").await);
    assert_eq!(send_code(&app, &codes[4]).await, Status::SeeOther);
}

#[rocket::async_test]
async fn wrong_codes_count_against_the_same_throttle_as_wrong_passwords() {
    let clock = Clock::manual();
    let app = app(&clock).await;
    let (secret, _) = enrolled(&app, &clock, "alice").await;
    clock.advance(Duration::from_secs(60));
    password_again(&app, "alice").await;
    let right = code_at(&secret, &clock);
    let wrong = if right == "123456" { "654321" } else { "123456" };
    for attempt in 1..=10 {
        assert_eq!(send_code(&app, wrong).await, Status::Unauthorized, "attempt {attempt}");
    }
    let throttled = app.post_form("/login/code", &[("code", &right)]).await;
    assert_eq!(throttled.status(), Status::TooManyRequests, "even the right code waits");
    assert!(throttled.headers().get_one("Retry-After").is_some());
    assert!(!is_logged_in_as(&app, "alice").await);
    app.client.cookies().remove_private(rocket::http::Cookie::build("login_pending").path("/").build());
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::TooManyRequests, "passwords share the budget");

    clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok, "the budget recovers");
    assert_eq!(send_code(&app, &code_at(&secret, &clock)).await, Status::SeeOther);
}

#[rocket::async_test]
async fn the_code_step_expires_and_refuses_bad_input_with_a_reason() {
    let clock = Clock::manual();
    let app = app(&clock).await;
    let (secret, _) = enrolled(&app, &clock, "alice").await;
    app.logout().await;
    assert_eq!(send_code(&app, "123456").await, Status::Unauthorized, "no password given first");
    password_again(&app, "alice").await;
    let malformed = app.post_form("/login/code", &[("code", "12345")]).await;
    assert_eq!(malformed.status(), Status::UnprocessableEntity);
    assert!(malformed.into_string().await.unwrap().contains("6-digit code"));
    assert_eq!(send_code(&app, &"9".repeat(10_000)).await, Status::UnprocessableEntity);
    let no_token = app.post_form_raw("/login/code", &[("code", "123456")]).await;
    assert_eq!(no_token.status(), Status::Forbidden, "forms carry the CSRF token");

    clock.advance(Duration::from_secs(5 * 60));
    let expired = app.post_form("/login/code", &[("code", &code_at(&secret, &clock))]).await;
    assert_eq!(expired.status(), Status::Unauthorized);
    assert!(expired.into_string().await.unwrap().contains("expired"));
    assert!(!is_logged_in_as(&app, "alice").await);
}

#[rocket::async_test]
async fn turning_totp_off_needs_the_password_and_both_changes_are_audited() {
    let clock = Clock::manual();
    let app = app(&clock).await;
    enrolled(&app, &clock, "alice").await;
    let mut db = crate::helpers::connect_db(app.dir.path()).await;
    sqlx::query("UPDATE users SET role = 'admin' WHERE name = 'alice'").execute(&mut db).await.unwrap();
    assert_eq!(app.post_form("/account/totp/start", &[]).await.status(), Status::Conflict, "already on");

    let refused = app.post_form("/account/totp/off", &[("password", "not my password")]).await;
    assert_eq!(refused.status(), Status::Unauthorized);
    assert!(refused.into_string().await.unwrap().contains("data-state=\"on\""), "still on");
    let no_password = app.post_form("/account/totp/off", &[]).await;
    assert_eq!(no_password.status(), Status::Unauthorized);

    let off = app.post_form("/account/totp/off", &[("password", PASSWORD)]).await;
    assert_eq!(off.status(), Status::Ok);
    assert!(off.into_string().await.unwrap().contains("data-state=\"off\""));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM recovery_codes").fetch_one(&mut db).await.unwrap();
    assert_eq!(left, 0, "the recovery codes go with it");
    assert_eq!(app.post_form("/account/totp/off", &[("password", PASSWORD)]).await.status(), Status::Conflict);
    let (status, _) = password_again(&app, "alice").await;
    assert_eq!(status, Status::SeeOther, "no code asked for any more");

    let audit = app.client.get("/admin/audit").dispatch().await;
    assert_eq!(audit.status(), Status::Ok);
    let entries: Value = audit.into_json().await.unwrap();
    let actions: Vec<(&str, &str, &str)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert_eq!(actions, [("alice", "totp-off", "alice"), ("alice", "totp-on", "alice")], "newest first");
}

// ---- passkeys ---------------------------------------------------------------
// A whole registration and login needs an authenticator: that is the
// browser test (`tests/browser/passkeys.rs`, Chromium's virtual
// authenticator). These pin what the server does with everything else.

async fn post_json(app: &TestApp, path: &str, body: Value) -> (Status, Value) {
    let response = app.client.post(path).header(ContentType::JSON).body(body.to_string()).dispatch().await;
    (response.status(), response.into_json().await.unwrap_or(Value::Null))
}

/// A registration answer of the right shape that no authenticator made.
fn forged_registration() -> Value {
    serde_json::json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key", "extensions": {},
        "response": { "attestationObject": "AAAA", "clientDataJSON": "AAAA" },
    })
}

fn forged_assertion() -> Value {
    serde_json::json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key", "extensions": {},
        "response": { "authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": "AAAA" },
    })
}

#[rocket::async_test]
async fn passkey_registration_is_for_members_and_its_ceremony_is_taken_once_by_its_owner() {
    let clock = Clock::manual();
    let app = app(&clock).await;
    assert_eq!(post_json(&app, "/account/passkeys/start", serde_json::json!({})).await.0, Status::Unauthorized);
    assert_eq!(app.register("alice", PASSWORD).await.status(), Status::SeeOther);

    let (status, started) = post_json(&app, "/account/passkeys/start", serde_json::json!({})).await;
    assert_eq!(status, Status::Ok, "{started}");
    let options = &started["options"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost", "the default relying party");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required", "discoverable: login needs no name");
    assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
    let ceremony = started["ceremony"].as_str().unwrap().to_owned();

    let finish = |ceremony: &str| serde_json::json!({ "ceremony": ceremony, "name": "Laptop", "credential": forged_registration() });
    let (status, refused) = post_json(&app, "/account/passkeys/finish", finish(&ceremony)).await;
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(refused["error"], "the passkey's answer could not be verified");
    let (status, again) = post_json(&app, "/account/passkeys/finish", finish(&ceremony)).await;
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(again["error"], "that passkey request is unknown or over: start again", "taken once");

    // Another member cannot finish alice's ceremony, and names are bounded.
    let (_, started) = post_json(&app, "/account/passkeys/start", serde_json::json!({})).await;
    let alices = started["ceremony"].as_str().unwrap().to_owned();
    app.logout().await;
    app.register("bob", PASSWORD).await;
    let (_, stolen) = post_json(&app, "/account/passkeys/finish", finish(&alices)).await;
    assert_eq!(stolen["error"], "that passkey request is unknown or over: start again");
    let long_name =
        serde_json::json!({ "ceremony": alices, "name": "x".repeat(65), "credential": forged_registration() });
    assert_eq!(post_json(&app, "/account/passkeys/finish", long_name).await.0, Status::UnprocessableEntity);
    let malformed = serde_json::json!({ "ceremony": alices, "credential": { "id": 1 } });
    let (status, _) = post_json(&app, "/account/passkeys/finish", malformed).await;
    assert!(status.code == 400 || status.code == 422, "malformed JSON is refused, not a 500: {status}");
}

#[rocket::async_test]
async fn passkey_login_ceremonies_expire_and_are_capped() {
    let clock = Clock::manual();
    let app = app(&clock).await;
    let (status, started) = post_json(&app, "/login/passkey/start", serde_json::json!({})).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(started["options"]["publicKey"]["userVerification"], "required");
    let ceremony = started["ceremony"].as_str().unwrap().to_owned();
    let finish = serde_json::json!({ "ceremony": ceremony, "credential": forged_assertion() });
    clock.advance(Duration::from_secs(5 * 60));
    let (status, expired) = post_json(&app, "/login/passkey/finish", finish).await;
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(expired["error"], "that passkey request is unknown or over: start again");
    assert!(!is_logged_in_as(&app, "alice").await);

    // 10,000 ceremonies in progress (written straight into the store): the
    // next one waits, until they are over.
    let mut db = crate::helpers::connect_db(app.dir.path()).await;
    let until = clock.now_ms() + 60_000;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) \
         INSERT INTO passkey_ceremonies (id, user_id, kind, state, expires_ms) \
         SELECT 'c' || i, NULL, 'login', '{}', $1 FROM n",
    )
    .bind(until)
    .execute(&mut db)
    .await
    .unwrap();
    let busy = app.client.post("/login/passkey/start").header(ContentType::JSON).body("{}").dispatch().await;
    assert_eq!(busy.status(), Status::TooManyRequests);
    assert!(busy.headers().get_one("Retry-After").is_some());
    clock.advance(Duration::from_secs(61));
    assert_eq!(post_json(&app, "/login/passkey/start", serde_json::json!({})).await.0, Status::Ok, "the old ones went");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM passkey_ceremonies").fetch_one(&mut db).await.unwrap();
    assert_eq!(left, 1);
}

#[rocket::async_test]
async fn removing_a_passkey_needs_the_password_and_is_audited() {
    let clock = Clock::manual();
    let app = app(&clock).await;
    assert_eq!(app.register("alice", PASSWORD).await.status(), Status::SeeOther);
    let mut db = crate::helpers::connect_db(app.dir.path()).await;
    sqlx::query("UPDATE users SET role = 'admin' WHERE name = 'alice'").execute(&mut db).await.unwrap();
    // A passkey row as registration leaves one (the browser test makes real ones).
    sqlx::query(
        "INSERT INTO passkeys (id, user_id, name, credential, created_at_ms) \
         SELECT 'cred-1', id, 'Phone', '{}', 0 FROM users WHERE name = 'alice'",
    )
    .execute(&mut db)
    .await
    .unwrap();
    let (_, security) = page(&app, "/account/security").await;
    assert!(security.contains("<span class=\"passkey-name\">Phone</span>"), "{security}");

    let wrong = app.post_form("/account/passkeys/remove", &[("id", "cred-1"), ("password", "not it")]).await;
    assert_eq!(wrong.status(), Status::Unauthorized);
    assert!(wrong.into_string().await.unwrap().contains("passkey-name\">Phone"), "still there");
    let nobody = app.post_form("/account/passkeys/remove", &[("id", "cred-2"), ("password", PASSWORD)]).await;
    assert_eq!(nobody.status(), Status::NotFound);
    let removed = app.post_form("/account/passkeys/remove", &[("id", "cred-1"), ("password", PASSWORD)]).await;
    assert_eq!(removed.status(), Status::Ok);
    assert!(!removed.into_string().await.unwrap().contains("passkey-name\">Phone"));

    let entries: Value = app.client.get("/admin/audit").dispatch().await.into_json().await.unwrap();
    let newest = &entries[0];
    assert_eq!((newest["actor"].as_str(), newest["action"].as_str()), (Some("alice"), Some("passkey-remove")));
    assert_eq!(newest["detail"], "Phone");
}

#[rocket::async_test]
async fn starting_passkey_ceremonies_draws_on_the_post_rate_limit() {
    let app = app(&Clock::manual()).await;
    for attempt in 1..=5 {
        let (status, _) = post_json(&app, "/login/passkey/start", serde_json::json!({})).await;
        assert_eq!(status, Status::Ok, "attempt {attempt}: a guest's burst is 5");
    }
    let refused = app.client.post("/login/passkey/start").header(ContentType::JSON).body("{}").dispatch().await;
    assert_eq!(refused.status(), Status::TooManyRequests);
    assert!(refused.headers().get_one("Retry-After").is_some());
}
