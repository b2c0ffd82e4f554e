//! Direct messages, blocks, read positions and settings: who may open and
//! see a conversation (its members only, not even admins otherwise), how a
//! block stops one, and the unread counts of the room list.

use serde_json::{Value, json};

use crate::helpers::spawn_server;
use crate::http::Browser;

async fn call(browser: &mut Browser, path: &str, body: Value) -> (u16, Value) {
    let response = browser.post_json(path, &body).await;
    (response.status, serde_json::from_str(&response.body).unwrap_or(Value::Null))
}

async fn rooms_of(browser: &mut Browser) -> Vec<Value> {
    browser.get("/api/rooms").await.json().as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_people_always_get_the_same_conversation() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("Bob").await;
    let (status, dm) = call(&mut alice, "/api/dm", json!({ "users": ["bob"] })).await;
    assert_eq!(status, 200, "{dm}");
    assert_eq!(dm["users"], json!(["alice", "Bob"]));
    let room = dm["room"].as_str().unwrap().to_owned();
    assert!(room.starts_with("dm-"), "{room}");
    assert_eq!(call(&mut bob, "/api/dm", json!({ "users": ["ALICE", "alice"] })).await.1["room"], room.as_str());
    let page = bob.get("/dm/alice").await;
    assert_eq!((page.status, page.header("location")), (303, Some(format!("/rooms/{room}").as_str())));

    for people in [json!([]), json!(["alice"]), json!((0..9).map(|i| format!("u{i}")).collect::<Vec<_>>())] {
        assert_eq!(call(&mut alice, "/api/dm", json!({ "users": people })).await.0, 422, "{people}");
    }
    assert_eq!(call(&mut alice, "/api/dm", json!({ "users": ["nobody"] })).await.0, 404);
    let mut guest = app.browser();
    guest.say("lobby", "hi, I am a guest").await;
    assert_eq!(call(&mut guest, "/api/dm", json!({ "users": ["alice"] })).await.0, 403);
    assert_eq!(guest.get("/dm/alice").await.status, 403);
    let guest_name = guest.get("/api/me").await.json()["user"].as_str().unwrap().to_owned();
    assert_eq!(call(&mut alice, "/api/dm", json!({ "users": [guest_name] })).await.0, 404, "guests cannot be messaged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_exists_for_its_members_alone_admins_included() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut admin = app.member("root").await;
    let mut db = crate::helpers::connect_db(app.dir()).await;
    sqlx::query("UPDATE users SET role = 'admin' WHERE name = 'root'").execute(&mut db).await.unwrap();
    let room = call(&mut alice, "/api/dm", json!({ "users": ["bob"] })).await.1["room"].as_str().unwrap().to_owned();
    let id = alice.say(&room, "just between us").await;
    assert_eq!(bob.get(&format!("/rooms/{room}/messages")).await.json()[0]["text"], "just between us");

    let listed = rooms_of(&mut bob).await;
    let entry = listed.iter().find(|r| r["name"] == room.as_str()).expect("listed for its members");
    assert_eq!((entry["dm"].clone(), entry["users"].clone()), (json!(true), json!(["alice", "bob"])));
    assert!(rooms_of(&mut admin).await.iter().all(|r| r["name"] != room.as_str()), "listed nowhere else");

    let mut guest = app.browser();
    for outsider in [&mut admin, &mut guest] {
        for path in [
            format!("/rooms/{room}"),
            format!("/rooms/{room}/messages"),
            format!("/rooms/{room}/presence"),
            format!("/rooms/{room}/messages/{id}/versions"),
        ] {
            assert_eq!(outsider.get(&path).await.status, 404, "GET {path}");
        }
        for (path, body) in [
            (format!("/rooms/{room}/messages"), json!({ "text": "let me in" })),
            (format!("/rooms/{room}/messages/{id}/edit"), json!({ "text": "x" })),
            (format!("/rooms/{room}/messages/{id}/reactions"), json!({ "emoji": "👍" })),
            (format!("/rooms/{room}/messages/{id}/delete"), json!({})),
            (format!("/rooms/{room}/read"), json!({ "id": 1 })),
            (format!("/rooms/{room}/typing"), json!({})),
            (format!("/rooms/{room}/lock"), json!({ "locked": true })),
            (format!("/rooms/{room}/mute"), json!({ "user": "bob", "minutes": 5 })),
            (format!("/rooms/{room}/kick"), json!({ "user": "bob" })),
            (format!("/rooms/{room}/members-only"), json!({ "enabled": false })),
        ] {
            assert_eq!(call(outsider, &path, body).await.0, 404, "POST {path}");
        }
        let stream = outsider.events(&format!("/rooms/{room}/events"), &[]).await;
        assert_eq!(stream.status, 404);
        let multi = outsider.events(&format!("/events?rooms=lobby,{room}"), &[]).await;
        assert_eq!(multi.status, 404);
    }
    // A moderator who is a member may still not moderate the conversation.
    sqlx::query("UPDATE users SET role = 'moderator' WHERE name = 'bob'").execute(&mut db).await.unwrap();
    assert_eq!(call(&mut bob, &format!("/rooms/{room}/lock"), json!({ "locked": true })).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dm_room_name_cannot_be_taken_by_hand() {
    let app = spawn_server().await;
    let mut carol = app.member("carol").await;
    let made_up = "dm-000000000000000000000000";
    assert_eq!(call(&mut carol, &format!("/rooms/{made_up}/messages"), json!({ "text": "mine now" })).await.0, 404);
    assert_eq!(call(&mut carol, &format!("/rooms/{made_up}/members-only"), json!({ "enabled": false })).await.0, 404);
    assert_eq!(carol.get(&format!("/rooms/{made_up}")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_you_blocked_cannot_start_a_conversation_with_you() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    assert_eq!(call(&mut bob, "/api/blocks", json!({ "user": "alice", "blocked": true })).await.0, 200);
    assert_eq!(bob.get("/api/blocks").await.json(), json!({ "blocked": ["alice"] }));
    let (status, body) = call(&mut alice, "/api/dm", json!({ "users": ["bob"] })).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(alice.get("/dm/bob").await.status, 403);
    assert_eq!(call(&mut bob, "/api/dm", json!({ "users": ["alice"] })).await.0, 200, "the blocker still can");
    assert_eq!(call(&mut bob, "/api/blocks", json!({ "user": "alice", "blocked": false })).await.0, 200);
    assert_eq!(call(&mut alice, "/api/dm", json!({ "users": ["bob"] })).await.0, 200);
    assert_eq!(call(&mut bob, "/api/blocks", json!({ "user": "bob", "blocked": true })).await.0, 422);
    assert_eq!(call(&mut bob, "/api/blocks", json!({ "user": "nobody", "blocked": true })).await.0, 404);
    assert_eq!(call(&mut app.browser(), "/api/blocks", json!({ "user": "bob", "blocked": true })).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_list_counts_what_each_member_has_not_read() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let first = alice.say("r", "one").await;
    bob.say("r", "bob's own").await;
    alice.say("r", "hey @bob, look").await;
    alice.say("r", "three").await;
    let unread = |rooms: &[Value], name: &str| {
        let room = rooms.iter().find(|r| r["name"] == name).unwrap();
        (room["unread"].as_i64(), room["mentions"].as_i64())
    };
    assert_eq!(unread(&rooms_of(&mut bob).await, "r"), (Some(0), Some(0)), "a room never read counts nothing");
    assert_eq!(call(&mut bob, "/rooms/r/read", json!({ "id": first })).await.0, 204);
    assert_eq!(unread(&rooms_of(&mut bob).await, "r"), (Some(2), Some(1)), "not its own, and one mentions bob");
    assert_eq!(call(&mut bob, "/rooms/r/read", json!({ "id": 0 })).await.0, 204);
    assert_eq!(unread(&rooms_of(&mut bob).await, "r").0, Some(2), "positions only move forward");
    assert_eq!(call(&mut bob, "/rooms/r/read", json!({ "id": 1_000_000 })).await.0, 204);
    assert_eq!(unread(&rooms_of(&mut bob).await, "r").0, Some(0));
    assert_eq!(call(&mut bob, "/rooms/r/read", json!({ "id": -1 })).await.0, 422);

    let dm = call(&mut alice, "/api/dm", json!({ "users": ["bob"] })).await.1["room"].as_str().unwrap().to_owned();
    alice.say(&dm, "psst").await;
    assert_eq!(unread(&rooms_of(&mut bob).await, &dm).0, Some(1), "a direct message is unread from its start");
    let mut guest = app.browser();
    assert_eq!(call(&mut guest, "/rooms/r/read", json!({ "id": 2 })).await.0, 204, "guests keep theirs in the browser");
    assert!(rooms_of(&mut guest).await.iter().all(|r| r.get("unread").is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notification_level_is_kept_per_account() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    assert_eq!(
        alice.get("/api/settings").await.json(),
        json!({ "notify": "mentions", "display": "alice", "language": "auto", "theme": "system", "clock": "auto", "send_key": "enter" })
    );
    assert_eq!(call(&mut alice, "/api/settings", json!({ "notify": "all" })).await.0, 200);
    assert_eq!(
        alice.get("/api/settings").await.json(),
        json!({ "notify": "all", "display": "alice", "language": "auto", "theme": "system", "clock": "auto", "send_key": "enter" })
    );
    assert_eq!(call(&mut alice, "/api/settings", json!({ "notify": "loud" })).await.0, 422);
    assert_eq!(app.browser().get("/api/settings").await.status, 403);
}
