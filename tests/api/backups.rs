//! `chat db backup` and `chat export` as processes: a backup taken while
//! the server is busy holds every message acknowledged before it began and
//! serves them once restored; an export is history, line by line, in order.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocket::http::{ContentType, Status};
use serde_json::Value;

use crate::cli::{chat, stderr, stdout};
use crate::helpers::{postgres_base_url, seed_messages, spawn_app, within};
use crate::http::Browser;
use crate::process;

/// A message a poster was answered 201 for, and when the answer came.
struct Acknowledged {
    room: String,
    id: i64,
    text: String,
    at: Instant,
}

/// Every message of a room, read over HTTP a page at a time.
async fn whole_history(browser: &mut Browser, room: &str) -> Vec<(i64, String)> {
    let mut messages = Vec::new();
    loop {
        let after = messages.last().map_or(0, |(id, _)| *id);
        let page = browser.get(&format!("/rooms/{room}/messages?after={after}&limit=200")).await.json();
        let page = page.as_array().expect("an array");
        if page.is_empty() {
            return messages;
        }
        messages.extend(page.iter().map(|m| (m["id"].as_i64().unwrap(), m["text"].as_str().unwrap().to_owned())));
    }
}

fn acknowledged_count(acknowledged: &Mutex<Vec<Acknowledged>>, since: Option<Instant>) -> usize {
    let list = acknowledged.lock().unwrap();
    list.iter().filter(|a| since.is_none_or(|since| a.at > since)).count()
}

async fn until_acknowledged(acknowledged: &Mutex<Vec<Acknowledged>>, since: Option<Instant>, count: usize) {
    within(30, "posters are answered", async {
        while acknowledged_count(acknowledged, since) < count {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_every_message_acknowledged_before_it_began() {
    if postgres_base_url().is_some() {
        return; // PostgreSQL is backed up with pg_dump: see the refusal below.
    }
    let dir = tempfile::tempdir().unwrap();
    let migrated = chat(dir.path(), &["db", "migrate"], "");
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    seed_messages(dir.path(), &["history"], 100_000, 1_700_000_000_000).await;
    let server = process::start(dir.path(), &[]).await;

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let posters: Vec<_> = (0..4)
        .map(|p| {
            let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
            let mut browser = Browser::new(server.addr);
            tokio::spawn(async move {
                let room = format!("load-{}", p % 2);
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let text = format!("poster {p} message {i}");
                    let id = browser.say(&room, &text).await;
                    acknowledged.lock().unwrap().push(Acknowledged {
                        room: room.clone(),
                        id,
                        text,
                        at: Instant::now(),
                    });
                }
            })
        })
        .collect();
    until_acknowledged(&acknowledged, None, 200).await;

    let backups = tempfile::tempdir().unwrap();
    let target = backups.path().join("chat-backup.db");
    let began = Instant::now();
    let backup = tokio::task::spawn_blocking({
        let (dir, target) = (dir.path().to_owned(), target.clone());
        move || chat(&dir, &["db", "backup", target.to_str().unwrap()], "")
    })
    .await
    .unwrap();
    let finished = Instant::now();
    until_acknowledged(&acknowledged, Some(finished), 100).await;
    stop.store(true, Ordering::Relaxed);
    for poster in posters {
        poster.await.unwrap();
    }
    process::stop(server).await;
    assert!(backup.status.success(), "{}", stderr(&backup));
    let took = (finished - began).as_secs_f64();
    println!("backup under load: {} ({took:.2} s with the process start)", stdout(&backup).trim());

    // Restore: the copy becomes the database of a fresh data directory.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&target, restored.path().join("chat.db")).unwrap();
    let server = process::start(restored.path(), &[]).await;
    let mut browser = Browser::new(server.addr);
    let mut served = std::collections::HashMap::new();
    for room in ["load-0", "load-1"] {
        let history = whole_history(&mut browser, room).await;
        let ids: Vec<i64> = history.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>(), "{room}: a prefix of the commits, no gap");
        served.extend(history.into_iter().map(|(id, text)| ((room.to_owned(), id), text)));
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    let before: Vec<_> = acknowledged.iter().filter(|a| a.at < began).collect();
    for message in &before {
        assert_eq!(served.get(&(message.room.clone(), message.id)), Some(&message.text), "{}", message.text);
    }
    let newest = browser.get("/rooms/history/messages?limit=1").await.json();
    assert_eq!(newest[0]["id"], 100_000, "the seeded history came along");
    println!(
        "{} posts acknowledged before the backup began, all restored; {} in the copy; {} acknowledged in all",
        before.len(),
        served.len(),
        acknowledged.len()
    );
    process::stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_names_pg_dump_for_postgres_and_keeps_an_existing_file_without_force() {
    let dir = tempfile::tempdir().unwrap();
    assert!(chat(dir.path(), &["db", "migrate"], "").status.success());
    let existing = dir.path().join("existing.db");
    std::fs::write(&existing, "keep me").unwrap();
    let refused = chat(dir.path(), &["db", "backup", existing.to_str().unwrap()], "");
    assert!(!refused.status.success());
    if postgres_base_url().is_some() {
        assert!(stderr(&refused).contains("pg_dump --format=custom --file=chat.dump"), "{}", stderr(&refused));
        return;
    }
    assert!(stderr(&refused).contains("already exists (pass --force to replace it)"), "{}", stderr(&refused));
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    let forced = chat(dir.path(), &["db", "backup", "--force", existing.to_str().unwrap()], "");
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(stdout(&forced).contains("0 messages in 0 rooms"), "{}", stdout(&forced));
}

fn export(dir: &Path, args: &[&str]) -> Vec<Value> {
    let output = chat(dir, &[&["export"], args].concat(), "");
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).lines().map(|line| serde_json::from_str(line).expect("each line is one JSON object")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_one_json_line_per_message_by_room_then_id_as_history_shows_them() {
    let app = spawn_app().await;
    // Byte order puts "a" < "a-z" < "a_z" < "b" (a collation might not).
    for room in ["b", "a_z", "a-z", "a"] {
        app.say(room, &format!("first in {room}")).await;
        app.say(room, &format!("second in {room}")).await;
    }
    assert_eq!(app.register("alice", "correct horse battery").await.status(), Status::SeeOther);
    let id = app.say("a", "said and taken back").await["id"].as_i64().unwrap();
    let deleted =
        app.client.post(format!("/rooms/a/messages/{id}/delete")).header(ContentType::JSON).body("{}").dispatch().await;
    assert_eq!(deleted.status(), Status::Ok);

    let mut history = Vec::new();
    for room in ["a", "a-z", "a_z", "b"] {
        history.extend(app.history(room, "limit=200").await.1.as_array().unwrap().clone());
    }
    let lines = export(app.dir.path(), &[]);
    assert_eq!(lines, history, "every message, as history serves it, by room then id");
    assert_eq!(lines[2]["text"], "", "a deleted message is its tombstone");
    assert_eq!(lines[2]["deleted"]["by"], "alice");

    let one_room = export(app.dir.path(), &["--room", "a-z"]);
    assert_eq!(one_room, history[3..5]);
    let unknown = chat(app.dir.path(), &["export", "--room", "nowhere"], "");
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains(r#"no room named "nowhere""#), "{}", stderr(&unknown));
    assert_eq!(stdout(&unknown), "");
}
