//! The admins' activity page (`GET /admin/activity`): its numbers match a
//! scripted history written over several days on a manual clock, it is for
//! admins alone, its period is checked, and direct conversations are
//! counted together without a trace of who talked.

use std::time::Duration;

use chat::Clock;
use serde_json::{Value, json};

use chat::housekeeping::Housekeeping;

use crate::helpers::{
    LiveApp, TestApp, client_on, connect_db, postgres_base_url, spawn_app_with_clock, spawn_server_with_clock,
};
use crate::http::Browser;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

async fn admin(app: &LiveApp, name: &str) -> Browser {
    let browser = app.member(name).await;
    let mut db = connect_db(app.dir()).await;
    sqlx::query("UPDATE users SET role = 'admin' WHERE name = $1").bind(name).execute(&mut db).await.unwrap();
    browser
}

/// The report as JSON (the answer to a script: no `Accept: text/html`).
async fn report(browser: &mut Browser, query: &str) -> Value {
    let response = browser.get(&format!("/admin/activity{query}")).await;
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

/// The last `n` days of a per-day list, as (members, guests) pairs.
fn last_days(list: &Value, n: usize) -> Vec<(i64, i64)> {
    let days = list.as_array().expect("a list of days");
    days[days.len() - n..].iter().map(|d| (d["members"].as_i64().unwrap(), d["guests"].as_i64().unwrap())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_numbers_match_a_history_written_over_three_days() {
    let clock = Clock::manual();
    let app = spawn_server_with_clock(clock.clone(), |f| f).await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut guest = app.browser();

    // Two days ago: alice twice and a guest once in #general.
    alice.say("general", "one").await;
    alice.say("general", "two").await;
    guest.say("general", "a guest's").await;
    clock.advance(DAY);
    // Yesterday: bob three times in #random, alice once to bob alone.
    for text in ["a", "b", "c"] {
        bob.say("random", text).await;
    }
    let dm = alice.post_json("/api/dm", &json!({ "users": ["bob"] })).await.json()["room"].as_str().unwrap().to_owned();
    alice.say(&dm, "just between us").await;
    clock.advance(DAY);
    // Today: the guest once in #random.
    guest.say("random", "back again").await;

    let mut root = admin(&app, "root").await;
    let week = report(&mut root, "?days=7").await;
    assert_eq!(week["days"], 7);
    assert_eq!(week["messages"].as_array().unwrap().len(), 7, "a column for every day, empty ones too");
    assert_eq!(last_days(&week["messages"], 4), [(0, 0), (2, 1), (4, 0), (0, 1)]);
    assert_eq!(last_days(&week["people"], 4), [(0, 0), (1, 1), (2, 0), (0, 1)]);
    assert_eq!(week["top_rooms"], json!([{ "room": "random", "messages": 4 }, { "room": "general", "messages": 3 }]));
    let totals = &week["totals"];
    assert_eq!(
        (totals["messages"].as_i64(), totals["member_messages"].as_i64(), totals["guest_messages"].as_i64()),
        (Some(8), Some(6), Some(2))
    );
    assert_eq!((totals["direct_messages"].as_i64(), totals["bot_messages"].as_i64()), (Some(1), Some(0)));
    // The guest wrote on two days and counts once; so do alice and bob.
    assert_eq!(
        (totals["people"].as_i64(), totals["members"].as_i64(), totals["guests"].as_i64()),
        (Some(3), Some(2), Some(1))
    );

    // The default is 30 days ending today; a one-day period sees today alone.
    let month = report(&mut root, "").await;
    assert_eq!((month["days"].as_i64(), month["messages"].as_array().map(Vec::len)), (Some(30), Some(30)));
    assert_eq!(month["last_day"], week["last_day"]);
    let today = report(&mut root, "?days=1").await;
    assert_eq!(today["totals"]["messages"], 1);
    assert_eq!(today["top_rooms"], json!([{ "room": "random", "messages": 1 }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_conversations_are_counted_together_and_never_named() {
    let app = spawn_server_with_clock(Clock::manual(), |f| f).await;
    let mut alice = app.member("alice").await;
    app.member("bob").await;
    let dm = alice.post_json("/api/dm", &json!({ "users": ["bob"] })).await.json()["room"].as_str().unwrap().to_owned();
    alice.say(&dm, "secret").await;
    let mut root = admin(&app, "root").await;
    let answer = root.get("/admin/activity").await;
    assert_eq!(answer.json()["totals"]["direct_messages"], 1);
    assert!(!answer.body.contains(&dm), "the page names no conversation");
    let page = root.send("GET", "/admin/activity", &[("accept", "text/html")], None).await;
    assert!(!page.body.contains(&dm), "nor does the HTML");
    let mut db = connect_db(app.dir()).await;
    let keys: Vec<String> = sqlx::query_scalar("SELECT room FROM activity_rooms").fetch_all(&mut db).await.unwrap();
    assert_eq!(keys, ["dm-"], "the rollup keeps one key for every conversation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_guests_and_moderators_are_refused_with_403() {
    let app = spawn_server_with_clock(Clock::manual(), |f| f).await;
    let mut member = app.member("alice").await;
    member.say("general", "hello").await;
    let mut moderator = app.member("mod").await;
    let mut db = connect_db(app.dir()).await;
    sqlx::query("UPDATE users SET role = 'moderator' WHERE name = 'mod'").execute(&mut db).await.unwrap();
    let mut guest = app.browser();
    guest.say("general", "hi").await;
    for browser in [&mut member, &mut moderator, &mut guest] {
        for accept in ["application/json", "text/html"] {
            let answer = browser.send("GET", "/admin/activity", &[("accept", accept)], None).await;
            assert_eq!(answer.status, 403, "{accept}: {}", answer.body);
            assert!(!answer.body.contains("general"), "a refusal tells nothing: {}", answer.body);
        }
    }
    let stranger = app.browser().get("/admin/activity?days=365").await;
    assert!(matches!(stranger.status, 401 | 403), "not logged in: {}", stranger.status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_period_outside_one_day_to_a_year_is_a_400_with_its_reason() {
    let app = spawn_server_with_clock(Clock::manual(), |f| f).await;
    let mut root = admin(&app, "root").await;
    for days in ["0", "366", "-1", "abc", "99999999999"] {
        let answer = root.get(&format!("/admin/activity?days={days}")).await;
        assert_eq!(answer.status, 400, "days={days}");
        assert_eq!(answer.json()["error"], "days must be a whole number from 1 to 365", "days={days}");
    }
    assert_eq!(report(&mut root, "?days=365").await["messages"].as_array().map(Vec::len), Some(365));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_draws_each_chart_with_its_numbers_behind_a_disclosure() {
    let app = spawn_server_with_clock(Clock::manual(), |f| f).await;
    let mut root = admin(&app, "root").await;
    root.say("general", "hello").await;
    let page = root.send("GET", "/admin/activity?days=365", &[("accept", "text/html")], None).await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert_eq!(body.matches("<svg class=\"chart\"").count(), 6, "messages, people, rooms, two splits, streams");
    assert_eq!(body.matches("<details>").count(), 5, "each section's numbers as a table");
    assert!(body.contains("role=\"img\"") && body.contains("<title id=\"messages-chart-title\">"));
    assert!(!body.contains("style="), "no style attributes under the CSP");
    assert!(body.contains("<a href=\"/admin/activity?days=365\" aria-current=\"page\">"));
    assert!(body.contains("<tr><th scope=\"row\"><a href=\"/rooms/general\">#general</a></th><td>1</td></tr>"));
    let admin_page = root.send("GET", "/admin", &[("accept", "text/html")], None).await;
    assert!(admin_page.body.contains("href=\"/admin/activity\""), "linked from the admin area");
}

/// The last week's report, as the admin `root` of a local app sees it.
async fn local_report(app: &TestApp) -> Value {
    let response = app.client.get("/admin/activity?days=7").dispatch().await;
    assert_eq!(response.status(), rocket::http::Status::Ok);
    response.into_json().await.expect("the report")
}

async fn count(dir: &std::path::Path, table: &str) -> i64 {
    let mut db = connect_db(dir).await;
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&mut db).await.unwrap()
}

/// An admin account, made through the app (the first account is `root`).
async fn local_admin(app: &TestApp) {
    assert_eq!(app.register("root", "correct horse battery").await.status(), rocket::http::Status::SeeOther);
    let mut db = connect_db(app.dir.path()).await;
    sqlx::query("UPDATE users SET role = 'admin' WHERE name = 'root'").execute(&mut db).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stored_row_is_counted_bots_apart_from_people() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| f).await;
    let guest = client_on(app.dir.path(), |f| f).await;
    let said = guest.post("/rooms/r/messages").header(rocket::http::ContentType::JSON).body(r#"{"text":"hi"}"#);
    assert_eq!(said.dispatch().await.status(), rocket::http::Status::Created);
    drop(guest);
    local_admin(&app).await;
    // Rows written past the message writer (an import, a seed) go through
    // the same trigger: here a bot's, which is no person.
    let mut db = connect_db(app.dir.path()).await;
    sqlx::query(
        "INSERT INTO messages (room, id, user_id, user_name, guest, text, at_ms, bot) \
         VALUES ('r', 2, NULL, 'helper', 0, 'beep', $1, 1)",
    )
    .bind(clock.now_ms())
    .execute(&mut db)
    .await
    .unwrap();
    let report = local_report(&app).await;
    let totals = &report["totals"];
    assert_eq!((totals["messages"].as_i64(), totals["bot_messages"].as_i64()), (Some(2), Some(1)));
    assert_eq!((totals["people"].as_i64(), totals["guests"].as_i64()), (Some(1), Some(1)), "the bot is not a person");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_counts_the_history_written_before_the_rollup_existed() {
    let app = spawn_app_with_clock(Clock::manual(), |f| f).await;
    local_admin(&app).await;
    for text in ["one", "two", "three"] {
        app.say("general", text).await;
    }
    assert_eq!(count(app.dir.path(), "activity_people").await, 1);
    let before = local_report(&app).await;
    let dir = app.dir;
    drop(app.client);
    // Back to the schema before the rollup's migration, history kept.
    let (version, function) = if postgres_base_url().is_some() { (15, true) } else { (17, false) };
    let mut db = connect_db(dir.path()).await;
    for sql in
        ["DROP TRIGGER messages_count_activity ON messages", "DROP TABLE activity_rooms", "DROP TABLE activity_people"]
    {
        let sql = if function { sql.to_owned() } else { sql.replace(" ON messages", "") };
        sqlx::query(&sql).execute(&mut db).await.unwrap();
    }
    if function {
        sqlx::query("DROP FUNCTION messages_count_activity()").execute(&mut db).await.unwrap();
    }
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1").bind(version).execute(&mut db).await.unwrap();
    drop(db);
    let restarted = TestApp { client: client_on(dir.path(), |f| f).await, dir };
    assert_eq!(restarted.login("root", "correct horse battery").await.status(), rocket::http::Status::SeeOther);
    let after = local_report(&restarted).await;
    assert_eq!(after["totals"]["messages"], 3, "{after}");
    assert_eq!(after["messages"], before["messages"]);
    assert_eq!(after["people"], before["people"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_forgets_who_wrote_with_their_messages_and_counts_after_400_days() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| f.merge(("message_retention_days", 2))).await;
    app.say("r", "old").await;
    clock.advance(DAY * 3);
    app.say("r", "new").await;
    let housekeeping = app.client.rocket().state::<Housekeeping>().unwrap();
    let swept = housekeeping.run_once().await.unwrap();
    assert_eq!((swept.messages, swept.activity), (1, 1), "the old message, and who wrote it that day");
    assert_eq!(count(app.dir.path(), "activity_people").await, 1);
    assert_eq!(count(app.dir.path(), "activity_rooms").await, 2, "the counts outlive the messages");
    clock.advance(DAY * 400);
    assert_eq!(housekeeping.run_once().await.unwrap().activity, 2, "the old day's count and the new day's person");
    assert_eq!(count(app.dir.path(), "activity_rooms").await, 1, "the new day is 400 days old: kept");
    assert_eq!(count(app.dir.path(), "activity_people").await, 0);
}
