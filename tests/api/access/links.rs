//! One-time reset links (from the admin page and the command line) and
//! invites made on the command line.

use std::time::Duration;

use chat::Clock;
use serde_json::json;

use super::{PASSWORD, error, register, server, with_role};
use crate::cli::{chat, stderr, stdout};
use crate::helpers::spawn_server_with_clock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_link_sets_a_new_password_once_within_the_hour_and_ends_every_other_session() {
    let clock = Clock::manual();
    let app = spawn_server_with_clock(clock.clone(), |f| f).await;
    let mut admin = with_role(&app, "boss", "admin").await;
    let mut alice = with_role(&app, "alice", "member").await;
    let link = admin.post_json("/admin/reset-link", &json!({ "user": "alice" })).await;
    assert_eq!(link.status, 201, "{}", link.body);
    let url = link.json()["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/reset/"));

    let mut other = app.browser();
    let page = other.get(&url).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("A new password for alice"));
    let weak = other.post_form(&url, &[("password", "short")]).await;
    assert_eq!(weak.status, 422, "the password rules apply");
    let done = other.post_form(&url, &[("password", "a brand new secret")]).await;
    assert_eq!(done.status, 303);
    assert_eq!(other.get("/api/me").await.json()["user"], "alice", "the browser is logged in");
    assert_eq!(alice.get("/api/me").await.json()["guest"], true, "the other session ended");
    let mut login = app.browser();
    let old = login.post_form("/login", &[("username", "alice"), ("password", PASSWORD)]).await;
    assert_eq!(old.status, 401);
    let new = login.post_form("/login", &[("username", "alice"), ("password", "a brand new secret")]).await;
    assert_eq!(new.status, 303);

    let again = app.browser().post_form(&url, &[("password", "yet another secret")]).await;
    assert_eq!(again.status, 403, "one time only");
    assert_eq!(app.browser().get(&url).await.status, 403);

    let late = admin.post_json("/admin/reset-link", &json!({ "user": "alice" })).await.json()["url"].clone();
    clock.advance(Duration::from_secs(3601));
    let expired = app.browser().get(late.as_str().unwrap()).await;
    assert_eq!(expired.status, 403);
    assert!(error(&expired.body).contains("not valid, was used already, or has expired"), "{}", expired.body);
    let nobody = admin.post_json("/admin/reset-link", &json!({ "user": "nobody" })).await;
    assert_eq!(nobody.status, 404);

    let mut db = crate::helpers::connect_db(app.dir()).await;
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM reset_tokens").fetch_all(&mut db).await.unwrap();
    assert!(stored.iter().all(|hash| !url.contains(hash.as_str()) && hash.len() == 64), "only hashes are kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_creates_invites_and_reset_links() {
    let app = server("invite").await;
    with_role(&app, "alice", "member").await;
    let created = chat(app.dir(), &["invite", "create", "--uses", "2", "--expires-hours", "1"], "");
    assert!(created.status.success(), "{}", stderr(&created));
    let url = stdout(&created).lines().last().unwrap().to_owned();
    let code = url.strip_prefix("/join/").expect("a join link");
    assert_eq!(register(&mut app.browser(), "viacli", Some(code)).await.0, 303);

    let link = chat(app.dir(), &["user", "reset-link", "alice"], "");
    assert!(link.status.success(), "{}", stderr(&link));
    let url = stdout(&link).trim().to_owned();
    assert!(url.starts_with("/reset/"), "{url}");
    assert_eq!(app.browser().post_form(&url, &[("password", "set from a link")]).await.status, 303);

    let bad = chat(app.dir(), &["invite", "create", "--uses", "0"], "");
    assert!(!bad.status.success() && stderr(&bad).contains("uses must be between"), "{}", stderr(&bad));
    let nobody = chat(app.dir(), &["user", "reset-link", "nobody"], "");
    assert!(!nobody.status.success() && stderr(&nobody).contains("no account named"), "{}", stderr(&nobody));
    let log = crate::helpers::connect_db(app.dir()).await;
    let mut log = log;
    let actors: Vec<String> =
        sqlx::query_scalar("SELECT actor FROM audit ORDER BY id").fetch_all(&mut log).await.unwrap();
    assert_eq!(actors, ["(command line)", "(command line)"]);
}
