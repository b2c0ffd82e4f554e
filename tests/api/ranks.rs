//! Ranks: admin > moderator > member > guest. Moderators act only on
//! members and guests, nobody bans themselves, and the last admin stays.

use serde_json::{Value, json};

use crate::helpers::{LiveApp, spawn_server};
use crate::http::Browser;

const PASSWORD: &str = "correct horse battery";

async fn with_role(app: &LiveApp, name: &str, role: &str) -> Browser {
    let mut browser = app.browser();
    let registered = browser.post_form("/register", &[("username", name), ("password", PASSWORD)]).await;
    assert_eq!(registered.status, 303, "{name}");
    let mut db = crate::helpers::connect_db(app.dir()).await;
    sqlx::query("UPDATE users SET role = $1 WHERE name = $2").bind(role).bind(name).execute(&mut db).await.unwrap();
    browser
}

async fn act(browser: &mut Browser, path: &str, body: Value) -> (u16, String) {
    let response = browser.post_json(path, &body).await;
    let value: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, value["error"].as_str().unwrap_or_default().to_owned())
}

async fn admins(app: &LiveApp) -> Vec<String> {
    let mut db = crate::helpers::connect_db(app.dir()).await;
    sqlx::query_scalar("SELECT name FROM users WHERE role = 'admin' ORDER BY name").fetch_all(&mut db).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_cannot_ban_mute_kick_or_delete_for_admins_or_fellow_moderators() {
    let app = spawn_server().await;
    let mut boss = with_role(&app, "boss", "admin").await;
    let mut other_mod = with_role(&app, "other", "moderator").await;
    let mut moderator = with_role(&app, "mod", "moderator").await;
    let mut alice = with_role(&app, "alice", "member").await;
    let by_boss = boss.say("r", "an admin speaks").await;
    let by_other = other_mod.say("r", "a moderator speaks").await;
    let by_alice = alice.say("r", "a member speaks").await;

    for target in ["boss", "Other"] {
        let refusals = [
            act(&mut moderator, "/admin/ban", json!({ "user": target })).await,
            act(&mut moderator, "/admin/ban", json!({ "user": target, "banned": false })).await,
            act(&mut moderator, "/rooms/r/mute", json!({ "user": target, "minutes": 10 })).await,
            act(&mut moderator, "/rooms/r/kick", json!({ "user": target })).await,
        ];
        for (status, reason) in refusals {
            assert_eq!(status, 403, "{target}: {reason}");
            assert!(reason.contains("moderators act only on members and guests"), "{reason}");
        }
    }
    for id in [by_boss, by_other] {
        let (status, reason) = act(&mut moderator, &format!("/rooms/r/messages/{id}/delete"), json!({})).await;
        assert_eq!((status, reason.contains("members and guests")), (403, true), "{reason}");
    }
    assert_eq!(boss.say("r", "still here").await, by_alice + 1, "nothing happened to the admin");

    assert_eq!(act(&mut moderator, &format!("/rooms/r/messages/{by_alice}/delete"), json!({})).await.0, 200);
    assert_eq!(act(&mut moderator, "/rooms/r/mute", json!({ "user": "alice", "minutes": 10 })).await.0, 200);
    assert_eq!(act(&mut moderator, "/admin/ban", json!({ "user": "guest-abc123" })).await.0, 200);
    let (status, reason) = act(&mut moderator, "/admin/ban", json!({ "user": "MOD" })).await;
    assert_eq!((status, reason.as_str()), (403, "you cannot ban yourself"));
    assert_eq!(act(&mut boss, "/admin/ban", json!({ "user": "other" })).await.0, 200, "admins act on moderators");
    assert_eq!(act(&mut boss, &format!("/rooms/r/messages/{by_other}/delete"), json!({})).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_demoting_each_other_at_once_leave_one_admin_and_the_last_cannot_be_demoted() {
    let app = spawn_server().await;
    let mut first = with_role(&app, "first", "admin").await;
    let mut second = with_role(&app, "second", "admin").await;
    let (one, two) = tokio::join!(
        act(&mut first, "/admin/role", json!({ "user": "second", "role": "member" })),
        act(&mut second, "/admin/role", json!({ "user": "first", "role": "member" })),
    );
    let mut statuses = [one.0, two.0];
    statuses.sort();
    assert_eq!(statuses, [200, 403], "exactly one demotion goes through: {one:?} {two:?}");
    let left = admins(&app).await;
    assert_eq!(left.len(), 1, "one admin is left: {left:?}");

    let mut last = if left[0] == "first" { first } else { second };
    let (status, reason) = act(&mut last, "/admin/role", json!({ "user": left[0], "role": "moderator" })).await;
    assert_eq!(status, 403);
    assert!(reason.contains("is the last admin"), "{reason}");
    assert_eq!(admins(&app).await, left);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_demotions_in_the_store_never_leave_zero_admins() {
    use chat::auth::Role;
    use chat::store::{RoleChange, Store};
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(dir.path());
    let store = Store::open(&url, std::sync::Arc::new(chat::stream::Hub::new(16))).await.unwrap();
    let names = ["a1", "a2", "a3"];
    for name in names {
        store.create_user(name, "not-a-real-hash").await.unwrap();
    }
    for round in 0..20 {
        for name in names {
            assert_eq!(store.set_role(name, Role::Admin).await.unwrap(), RoleChange::Changed);
        }
        let demotions = names.map(|name| {
            let store = store.clone();
            tokio::spawn(async move { store.set_role(name, Role::Member).await.unwrap() })
        });
        let mut changed = 0;
        for demotion in demotions {
            changed += usize::from(demotion.await.unwrap() == RoleChange::Changed);
        }
        assert_eq!(changed, 2, "round {round}: all but the last admin are demoted");
        let admins = store.list_users().await.unwrap().into_iter().filter(|(_, role, _)| role == "admin").count();
        assert_eq!(admins, 1, "round {round}");
    }
}
