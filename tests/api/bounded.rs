//! Memory keyed by what clients choose stays bounded: room policies, kicks,
//! and the stored enums that moderation reads back.

use std::sync::Arc;
use std::time::Duration;

use chat::Clock;
use chat::auth::{GuestName, Role, SessionPolicy, Sessions, Visitor};
use chat::moderation::{KICK_CAPACITY, Moderation, POLICY_CAPACITY};
use chat::rooms::RoomName;
use chat::store::Store;
use chat::stream::Hub;

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
