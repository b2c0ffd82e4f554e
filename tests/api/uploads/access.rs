//! Who may read a file: whoever may read its room, decided at every
//! request; everyone else gets the 404 of a file that never was. And a
//! file goes with its message: deleted, or swept by retention.

use std::time::{Duration, SystemTime};

use chat::Clock;
use chat::housekeeping::Housekeeping;
use rocket::http::{ContentType, Status};
use serde_json::{Value, json};

use super::limits::walk;
use super::{fetch, png, posted, upload_from};
use crate::helpers::{LiveApp, spawn_app_with, spawn_app_with_clock, spawn_server};
use crate::http::Browser;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

async fn with_role(app: &LiveApp, name: &str, role: &str) -> Browser {
    let browser = app.member(name).await;
    let mut db = crate::helpers::connect_db(app.dir()).await;
    sqlx::query("UPDATE users SET role = $1 WHERE name = $2").bind(role).bind(name).execute(&mut db).await.unwrap();
    browser
}

/// The URLs of the first attachment of a posted message: (file, thumbnail).
fn urls(message: &Value) -> (String, String) {
    let file = &message["attachments"][0];
    (file["url"].as_str().unwrap().to_owned(), file["thumb_url"].as_str().unwrap().to_owned())
}

/// `browser`'s status and body for each path.
async fn answers(browser: &mut Browser, paths: &[&str]) -> Vec<(u16, Vec<u8>)> {
    let mut seen = Vec::new();
    for path in paths {
        let fetched = browser.fetch("GET", path, &[("Accept", "application/json")], None).await;
        seen.push((fetched.status, fetched.body));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_a_members_only_room_are_served_to_its_members_and_404_to_everyone_else() {
    let app = spawn_server().await;
    let mut moderator = with_role(&app, "mod", "moderator").await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut guest = app.browser();
    let opened = moderator.post_json("/rooms/staff/members-only", &json!({ "enabled": true, "add": ["alice"] })).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let sent = upload_from(&mut alice, "staff", &[], ("plan.png", "image/png", &png(40, 30))).await;
    assert_eq!(sent.status, 201, "{}", String::from_utf8_lossy(&sent.body));
    let (file, thumb) = urls(&sent.json());

    for reader in [&mut alice, &mut moderator] {
        assert!(answers(reader, &[&file, &thumb]).await.iter().all(|(status, _)| *status == 200));
    }
    let unknown = answers(&mut bob, &["/files/AAAAAAAAAAAAAAAAAAAAAA/plan.png"]).await.remove(0);
    assert_eq!(unknown.0, 404);
    for outsider in [&mut bob, &mut guest] {
        for seen in answers(outsider, &[&file, &thumb]).await {
            assert_eq!(seen, unknown, "the same answer as a file that never was");
        }
    }
    let refused = upload_from(&mut bob, "staff", &[], ("x.txt", "text/plain", b"x")).await;
    assert_eq!(refused.status, 404, "an outsider cannot post a file there either");

    // Checked at every request: once alice is off the list, she is out.
    let closed =
        moderator.post_json("/rooms/staff/members-only", &json!({ "enabled": true, "remove": ["alice"] })).await;
    assert_eq!(closed.status, 200);
    assert!(answers(&mut alice, &[&file, &thumb]).await.iter().all(|(status, _)| *status == 404));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_a_conversation_are_served_only_to_its_members() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut carol = app.member("carol").await;
    let mut guest = app.browser();
    let dm = alice.post_json("/api/dm", &json!({ "users": ["bob"] })).await.json();
    let room = dm["room"].as_str().unwrap();
    let sent = upload_from(&mut alice, room, &[("text", "for your eyes")], ("id.png", "image/png", &png(8, 8))).await;
    assert_eq!(sent.status, 201, "{}", String::from_utf8_lossy(&sent.body));
    let (file, thumb) = urls(&sent.json());
    for member in [&mut alice, &mut bob] {
        assert!(answers(member, &[&file, &thumb]).await.iter().all(|(status, _)| *status == 200));
    }
    for outsider in [&mut carol, &mut guest] {
        assert!(answers(outsider, &[&file, &thumb]).await.iter().all(|(status, _)| *status == 404));
    }
    assert_eq!(upload_from(&mut carol, room, &[], ("x.txt", "text/plain", b"x")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_message_deletes_its_files_from_disk() {
    let app = spawn_app_with(|f| f).await;
    app.register("alice", "correct horse battery").await;
    let message = posted(&app, "r", ("logo.png", "image/png", &png(400, 400))).await;
    let (file, thumb) = urls(&message);
    assert_eq!(walk(&app.dir.path().join("files")).len(), 2, "the file and its thumbnail");

    let delete = app.client.post(format!("/rooms/r/messages/{}/delete", message["id"])).header(ContentType::JSON);
    assert_eq!(delete.body("{}").dispatch().await.status(), Status::Ok);
    assert_eq!(fetch(&app, &file).await.0, Status::NotFound);
    assert_eq!(fetch(&app, &thumb).await.0, Status::NotFound);
    assert!(walk(&app.dir.path().join("files")).is_empty(), "both are gone from disk");
    let history = app.history("r", "").await.1;
    assert!(history[0].get("attachments").is_none() && history[0]["deleted"].is_object(), "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_files_with_their_messages_and_housekeeping_abandoned_uploads() {
    let clock = Clock::manual();
    let app = spawn_app_with_clock(clock.clone(), |f| f.merge(("message_retention_days", 1))).await;
    app.register("alice", "correct horse battery").await;
    let old = posted(&app, "r", ("old.png", "image/png", &png(8, 8))).await;
    clock.advance(2 * DAY);
    let new = posted(&app, "r", ("new.txt", "text/plain", b"new")).await;
    let tmp = app.dir.path().join("files").join("tmp");
    let (abandoned, fresh) = (tmp.join("abandoned.part"), tmp.join("streaming.part"));
    for path in [&abandoned, &fresh] {
        std::fs::write(path, b"part of an upload").unwrap();
    }
    let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 60 * 60);
    std::fs::File::options().write(true).open(&abandoned).unwrap().set_modified(two_hours_ago).unwrap();

    let housekeeping = app.client.rocket().state::<Housekeeping>().unwrap();
    let swept = housekeeping.run_once().await.unwrap();
    assert_eq!((swept.messages, swept.upload_temps), (1, 1));
    assert_eq!(fetch(&app, &urls(&old).0).await.0, Status::NotFound);
    assert_eq!(fetch(&app, new["attachments"][0]["url"].as_str().unwrap()).await.0, Status::Ok);
    let left = walk(&app.dir.path().join("files"));
    assert_eq!(left.len(), 2, "the new file and the upload still streaming: {left:?}");
    assert!(fresh.exists() && !abandoned.exists());
}
