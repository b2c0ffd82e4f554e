//! Memory keyed by what clients choose stays bounded: room policies, kicks,
//! the per-room queues, presence and stream counts, and the stored enums
//! that moderation reads back.

use std::sync::Arc;
use std::time::Duration;

use chat::Clock;
use chat::auth::{GuestName, Role, SessionPolicy, Sessions, Visitor};
use chat::limits::Limits;
use chat::moderation::{KICK_CAPACITY, Moderation, POLICY_CAPACITY};
use chat::presence::Presence;
use chat::rooms::RoomName;
use chat::store::Store;
use chat::stream::Hub;
use rocket::futures::StreamExt;
use rocket::http::Status;

use crate::helpers::{TestApp, spawn_app_with};

fn state<T: Send + Sync + 'static>(app: &TestApp) -> &T {
    app.client.rocket().state::<T>().expect("managed by the app")
}

async fn open() -> (Store, Moderation, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(dir.path());
    let store = Store::open(&url, Arc::new(Hub::new(16))).await.unwrap();
    let clock = Clock::manual();
    let hour = Duration::from_secs(3600);
    let policy = SessionPolicy { idle: hour, absolute: hour, cache_ttl: Duration::from_secs(1) };
    let sessions = Sessions::new(store.clone(), clock.clone(), policy);
    let moderation = Moderation::new(store.clone(), clock, sessions);
    (store, moderation, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_thousand_room_names_keep_at_most_the_policy_bound() {
    let (_store, moderation, _dir) = open().await;
    let guest = Visitor::Guest { name: GuestName::generate() };
    let rooms = 50_000;
    // Eight readers at once, as a flood would come.
    let readers: Vec<_> = (0..8)
        .map(|reader| {
            let (moderation, guest) = (moderation.clone(), guest.clone());
            tokio::spawn(async move {
                for i in (reader..rooms).step_by(8) {
                    let room = RoomName::parse(&format!("flood-{i}")).unwrap();
                    assert!(moderation.can_read(&guest, &room).await.unwrap());
                }
            })
        })
        .collect();
    for reader in readers {
        reader.await.unwrap();
    }
    let (policies, kicks) = moderation.cache_entries();
    assert!(policies <= POLICY_CAPACITY, "{policies} policies cached");
    assert!(policies > 0, "the cache is in use");
    assert!(kicks <= KICK_CAPACITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_role_or_action_we_do_not_know_is_an_error_not_a_demotion() {
    let (store, _moderation, dir) = open().await;
    let id = store.create_user("alice", "not-a-real-hash").await.unwrap();
    assert_eq!(store.role_of(id).await.unwrap(), Some(Role::Member), "the column's default");
    assert_eq!(store.set_role("ALICE", Role::Moderator).await.unwrap(), chat::store::RoleChange::Changed);
    assert_eq!(store.role_of(id).await.unwrap(), Some(Role::Moderator));
    assert_eq!(store.role_of(id + 1).await.unwrap(), None, "no such account");

    let mut db = crate::helpers::connect_db(dir.path()).await;
    sqlx::query("UPDATE users SET role = 'overlord' WHERE id = $1").bind(id).execute(&mut db).await.unwrap();
    assert!(store.role_of(id).await.is_err());

    sqlx::query("INSERT INTO audit (at_ms, actor, action, target) VALUES (1, 'x', 'smite', 'y')")
        .execute(&mut db)
        .await
        .unwrap();
    assert!(store.audit_log(10).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_refused_at_its_cap_caches_no_room_policy() {
    let app = spawn_app_with(|f| f.merge(("rate_limits", true)).merge(("streams_per_ip", 1))).await;
    let held = app.client.get("/events?rooms=held").dispatch().await;
    assert_eq!(held.status(), Status::Ok);
    let before = state::<Moderation>(&app).cache_entries().0;
    let fifty = (0..50).map(|i| format!("never-{i}")).collect::<Vec<_>>().join(",");
    let refused = app.client.get(format!("/events?rooms={fifty}")).dispatch().await;
    assert_eq!(refused.status(), Status::TooManyRequests);
    assert_eq!(state::<Moderation>(&app).cache_entries().0, before, "a 429 looks at no room");
    drop(held);
}

/// Resident memory of this process, in KiB (Linux).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_thousand_streams_to_random_rooms_leave_only_bounded_state() {
    let app = spawn_app_with(|f| f.merge(("rate_limits", true))).await;
    let rss_before = rss_kib();
    let requests = 20_000;
    // Eight at once, as a flood would come.
    rocket::futures::stream::iter(0..requests)
        .for_each_concurrent(8, |i| {
            let client = &app.client;
            async move {
                let room = format!("r{:x}", rand_name(i));
                let response = client.get(format!("/rooms/{room}/events")).dispatch().await;
                assert_eq!(response.status(), Status::Ok);
            }
        })
        .await;
    let (policies, kicks) = state::<Moderation>(&app).cache_entries();
    assert!(policies <= POLICY_CAPACITY, "{policies} policies");
    assert_eq!(kicks, 0);
    // A dropped response may free its stream a moment later.
    let held = || {
        (
            state::<Hub>(&app).active_rooms(),
            state::<Presence>(&app).tracked_rooms(),
            state::<Limits>(&app).streams.entry_count(),
        )
    };
    for _ in 0..100 {
        if held() == (0, 0, 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Room queues go with their last subscriber, presence forgets
    // unwatched rooms, stream counts go with their last stream.
    assert_eq!(held(), (0, 0, 0), "(room queues, presence rooms, stream counts)");
    if let (Some(before), Some(after)) = (rss_before, rss_kib()) {
        println!("RSS {before} KiB -> {after} KiB over {requests} rooms ({policies} policies cached)");
    }
}

/// A name no client would guess twice: a mix of `i` (no randomness needed,
/// only distinct names).
fn rand_name(i: usize) -> u64 {
    (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}
