//! Housekeeping on the injectable clock: retention deletes what is older
//! than the setting and nothing else, ended session rows go, in-memory
//! entries that are over are forgotten; and a large sweep leaves posting
//! alone (measured).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chat::Clock;
use chat::auth::{Accounts, Activity, Sessions, Visitor};
use chat::housekeeping::Housekeeping;
use chat::limits::Limits;
use chat::moderation::{KICK_MS, Moderation};
use chat::rooms::RoomName;
use rocket::http::Status;
use serde_json::Value;

use crate::helpers::{TestApp, connect_db, seed_messages, spawn_app_with_clock};

const PASSWORD: &str = "correct horse battery";
const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn state<T: Send + Sync + 'static>(app: &TestApp) -> &T {
    app.client.rocket().state::<T>().expect("managed by the app")
}

async fn texts(app: &TestApp, room: &str) -> Vec<String> {
    let (status, body) = app.history(room, "limit=200").await;
    assert_eq!(status, Status::Ok, "{body}");
    body.as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect()
}

async fn session_rows(app: &TestApp) -> Vec<String> {
    let mut db = connect_db(app.dir.path()).await;
    sqlx::query_scalar("SELECT id FROM sessions ORDER BY id").fetch_all(&mut db).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_messages_past_the_setting_and_keeps_newer_ones_and_the_id_counters() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| f.merge(("message_retention_days", 2))).await;
    for text in ["old 1", "old 2", "old 3"] {
        app.say("r", text).await;
    }
    app.say("gone", "only old").await;
    clock.advance(DAY);
    app.say("r", "a day old").await;
    clock.advance(DAY + MINUTE);
    app.say("r", "new").await;

    let swept = state::<Housekeeping>(&app).run_once().await.unwrap();
    assert_eq!(swept.messages, 4);
    assert_eq!(texts(&app, "r").await, ["a day old", "new"]);
    assert_eq!(app.history_ids("r", "").await, [4, 5], "the newer messages keep their ids");
    assert!(texts(&app, "gone").await.is_empty());
    assert_eq!(app.say("gone", "again").await["id"], 2, "a deleted id is never handed out again");
    assert_eq!(state::<Housekeeping>(&app).run_once().await.unwrap().messages, 0, "nothing more is old");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_retention_no_message_is_ever_deleted() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| f).await;
    app.say("r", "kept for ever").await;
    clock.advance(DAY * 3650);
    assert_eq!(state::<Housekeeping>(&app).run_once().await.unwrap().messages, 0);
    assert_eq!(texts(&app, "r").await, ["kept for ever"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_rows_past_either_lifetime_are_deleted_and_live_ones_stay() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| f).await;
    let (accounts, sessions) = (state::<Accounts>(&app), state::<Sessions>(&app));
    let _alice = accounts.register("alice", PASSWORD).await.unwrap();
    let bob = accounts.register("bob", PASSWORD).await.unwrap();
    // Bob is back every day; Alice never comes back.
    for _ in 0..7 {
        clock.advance(DAY);
        assert!(sessions.authenticate(&bob.session_id, Activity::Active).await.unwrap().is_some());
    }
    clock.advance(2 * MINUTE);
    let swept = state::<Housekeeping>(&app).run_once().await.unwrap();
    assert_eq!(swept.sessions, 1, "alice's, idle for 7 days");
    assert_eq!(session_rows(&app).await, [bob.session_id.as_str()]);
    assert_eq!(swept.cached_sessions, 2, "alice's ended, bob's not read for minutes");
    assert_eq!(sessions.cached(), 0);

    for _ in 0..22 {
        clock.advance(DAY);
        assert!(sessions.authenticate(&bob.session_id, Activity::Active).await.unwrap().is_some());
    }
    clock.advance(DAY);
    let swept = state::<Housekeeping>(&app).run_once().await.unwrap();
    assert_eq!(swept.sessions, 1, "bob's, 30 days after login however used");
    assert!(session_rows(&app).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgetting_a_cached_session_first_writes_the_activity_it_saw() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| f).await;
    let (accounts, sessions) = (state::<Accounts>(&app), state::<Sessions>(&app));
    let carol = accounts.register("carol", PASSWORD).await.unwrap();
    clock.advance(Duration::from_secs(30));
    // Seen, but within a minute of the last write: not written yet.
    sessions.authenticate(&carol.session_id, Activity::Active).await.unwrap().unwrap();
    let seen = clock.now_ms();
    clock.advance(Duration::from_secs(20));
    assert_eq!(state::<Housekeeping>(&app).run_once().await.unwrap().cached_sessions, 1);
    assert_eq!(sessions.cached(), 0);
    let mut db = connect_db(app.dir.path()).await;
    let last_seen: i64 = sqlx::query_scalar("SELECT last_seen_at_ms FROM sessions").fetch_one(&mut db).await.unwrap();
    assert_eq!(last_seen, seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kicks_and_login_windows_are_forgotten_once_over_by_the_injected_clock() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| f.merge(("rate_limits", true))).await;
    let moderator = state::<Accounts>(&app).register("mod", PASSWORD).await.unwrap();
    let mut db = connect_db(app.dir.path()).await;
    sqlx::query("UPDATE users SET role = 'moderator' WHERE name = 'mod'").execute(&mut db).await.unwrap();
    let moderation = state::<Moderation>(&app);
    moderation.kick(&Visitor::User(moderator), &RoomName::parse("r").unwrap(), "alice").await.unwrap();
    assert_eq!(app.login("nobody", "not the password").await.status(), Status::Unauthorized);
    let limits = state::<Limits>(&app);
    assert_eq!(limits.login.entry_counts(), (1, 1));
    assert_eq!(moderation.cache_entries().1, 1);

    clock.advance(Duration::from_millis(KICK_MS as u64) - Duration::from_secs(1));
    let swept = state::<Housekeeping>(&app).run_once().await.unwrap();
    assert_eq!((swept.kicks, swept.login_windows), (0, 0), "neither is over yet");
    clock.advance(Duration::from_secs(1));
    assert_eq!(state::<Housekeeping>(&app).run_once().await.unwrap().kicks, 1);
    assert_eq!(moderation.cache_entries().1, 0);
    clock.advance(Duration::from_secs(60 * 60));
    assert_eq!(state::<Housekeeping>(&app).run_once().await.unwrap().login_windows, 2, "the name's, the address's");
    assert_eq!(limits.login.entry_counts(), (0, 0));
}

/// Posts from `posters` posters at once until `stop` is set; every post's
/// latency.
async fn post_until(app: &Arc<TestApp>, posters: usize, stop: &Arc<AtomicBool>) -> Vec<Duration> {
    let tasks: Vec<_> = (0..posters)
        .map(|p| {
            let (app, stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let body = serde_json::json!({ "text": format!("poster {p}") }).to_string();
                    let started = Instant::now();
                    let response = app.post_json("live", &body).await;
                    assert_eq!(response.status(), Status::Created);
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    all
}

fn describe(latencies: &[Duration]) -> String {
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    format!(
        "{} posts, p50 {:.1} ms, p99 {:.1} ms, worst {:.1} ms",
        latencies.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retention_sweep_of_50_000_messages_leaves_posting_alone() {
    let clock = Clock::manual();
    let app = Arc::new(spawn_app_with_clock(clock.clone(), |f| f.merge(("message_retention_days", 1))).await);
    let rooms: Vec<String> = (0..10).map(|i| format!("old-{i}")).collect();
    let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
    seed_messages(app.dir.path(), &rooms, 5_000, clock.now_ms() - 2 * DAY.as_millis() as i64).await;

    let quiet = Instant::now();
    assert_eq!(state::<Housekeeping>(&app).run_once().await.unwrap().messages, 50_000);
    let quiet = quiet.elapsed();
    seed_messages(app.dir.path(), &rooms, 5_000, clock.now_ms() - 2 * DAY.as_millis() as i64).await;

    let stop = Arc::new(AtomicBool::new(false));
    let baseline = {
        let posting = tokio::spawn({
            let (app, stop) = (app.clone(), stop.clone());
            async move { post_until(&app, 4, &stop).await }
        });
        tokio::time::sleep(Duration::from_secs(3)).await;
        stop.store(true, Ordering::Relaxed);
        posting.await.unwrap()
    };

    stop.store(false, Ordering::Relaxed);
    let posting = tokio::spawn({
        let (app, stop) = (app.clone(), stop.clone());
        async move { post_until(&app, 4, &stop).await }
    });
    let started = Instant::now();
    let swept = state::<Housekeeping>(&app).run_once().await.unwrap();
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let during = posting.await.unwrap();

    println!("retention sweep of 50,000 messages: {:.2} s alone", quiet.as_secs_f64());
    println!("retention sweep of {} messages: {:.2} s while posting", swept.messages, took.as_secs_f64());
    println!("posting without a sweep: {}", describe(&baseline));
    println!("posting during the sweep: {}", describe(&during));
    assert_eq!(swept.messages, 50_000);
    for room in rooms {
        assert!(texts(&app, room).await.is_empty(), "{room}");
    }
    let live: Value = app.history("live", "limit=1").await.1;
    assert_eq!(live[0]["id"].as_i64(), Some((baseline.len() + during.len()) as i64), "every post is kept");
    let worst = *during.last().unwrap();
    assert!(worst < Duration::from_secs(1), "a post waited {worst:?} during the sweep");
}
