//! The command line, run as a process against a temporary database.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::helpers::{connect_db, postgres_base_url, seed_messages};
use crate::http::Browser;

pub fn chat(data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    chat_with(data_dir, args, stdin, &[])
}

/// [`chat`] with more settings in its environment (`ROCKET_...`).
pub fn chat_with(data_dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chat"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ROCKET_DATA_DIR", data_dir)
        .env("ROCKET_DATABASE_URL", crate::helpers::database_url(data_dir))
        .env("ROCKET_LOG_LEVEL", "off")
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn user_add_reads_the_password_from_stdin_and_list_shows_roles() {
    let dir = tempfile::tempdir().unwrap();
    let added = chat(dir.path(), &["user", "add", "alice"], "correct horse battery\n");
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(stdout(&added).contains("created alice"));
    let promoted = chat(dir.path(), &["user", "set-role", "alice", "admin"], "");
    assert!(promoted.status.success(), "{}", stderr(&promoted));
    let listed = chat(dir.path(), &["user", "list"], "");
    assert!(stdout(&listed).contains("alice\tadmin"), "{}", stdout(&listed));
}

#[test]
fn the_cli_refuses_bad_input_with_a_reason_and_a_failure_status() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str, &str); 5] = [
        (&["user", "add", "alice"], "password\n", "most common"),
        (&["user", "add", "guest-x"], "correct horse battery\n", "guest-"),
        (&["user", "set-role", "alice", "root"], "", "roles are admin, moderator and member"),
        (&["user", "set-role", "nobody", "admin"], "", "no account named"),
        (&["user", "reset-password", "nobody"], "another good secret\n", "no account named"),
    ];
    for (args, input, reason) in cases {
        let output = chat(dir.path(), args, input);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr(&output).contains(reason), "{args:?}: {}", stderr(&output));
    }
}

#[test]
fn room_list_and_db_migrate_work_on_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let migrated = chat(dir.path(), &["db", "migrate"], "");
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let rooms = chat(dir.path(), &["room", "list"], "");
    assert!(rooms.status.success());
    assert_eq!(stdout(&rooms), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_works_while_the_server_serves_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    // No session cache, so the command line's revocation shows at once.
    let server = crate::process::start(dir.path(), &[("ROCKET_SESSION_CACHE_SECS", "0")]).await;
    let added = chat(dir.path(), &["user", "add", "alice"], "correct horse battery\n");
    assert!(added.status.success(), "{}", stderr(&added));
    let mut browser = Browser::new(server.addr);
    let login = browser.post_form("/login", &[("username", "alice"), ("password", "correct horse battery")]).await;
    assert_eq!(login.status, 303, "the running server sees the new account");
    browser.say("lobby", "hello").await;
    let rooms = chat(dir.path(), &["room", "list"], "");
    assert!(stdout(&rooms).starts_with("lobby\t1 messages"), "{}", stdout(&rooms));

    let reset = chat(dir.path(), &["user", "reset-password", "alice"], "a brand new secret\n");
    assert!(reset.status.success(), "{}", stderr(&reset));
    let me = browser.get("/api/me").await.json();
    assert_eq!(me["guest"], true, "the reset ended alice's session");
    crate::process::stop(server).await;
}

/// A login on a fresh app over `dir` (fresh caches): its status.
async fn login_status(dir: &Path, name: &str) -> u16 {
    let client = crate::helpers::client_on(dir, |f| f).await;
    client.get("/login").dispatch().await;
    let token = client.cookies().get_private("csrf").expect("a csrf cookie").value().to_owned();
    let form =
        crate::helpers::encode_form(&[("username", name), ("password", "correct horse battery"), ("csrf", &token)]);
    let response = client.post("/login").header(rocket::http::ContentType::Form).body(form).dispatch().await;
    response.status().code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_bans_and_unbans_on_the_command_line_so_a_banned_admin_can_always_get_back_in() {
    let dir = tempfile::tempdir().unwrap();
    assert!(chat(dir.path(), &["user", "add", "boss"], "correct horse battery\n").status.success());
    assert!(chat(dir.path(), &["user", "set-role", "boss", "admin"], "").status.success());
    assert_eq!(login_status(dir.path(), "boss").await, 303);

    let banned = chat(dir.path(), &["user", "ban", "Boss"], "");
    assert!(banned.status.success(), "{}", stderr(&banned));
    assert!(stdout(&banned).contains("banned"), "{}", stdout(&banned));
    let listed = stdout(&chat(dir.path(), &["user", "list"], ""));
    assert!(listed.lines().any(|l| l.starts_with("boss\tadmin") && l.ends_with("\tbanned")), "{listed}");
    assert_eq!(login_status(dir.path(), "boss").await, 401, "a banned admin cannot log in");

    let unbanned = chat(dir.path(), &["user", "unban", "boss"], "");
    assert!(unbanned.status.success(), "{}", stderr(&unbanned));
    assert!(!stdout(&chat(dir.path(), &["user", "list"], "")).contains("banned"));
    assert_eq!(login_status(dir.path(), "boss").await, 303, "and is back in without SQL");

    let demoted = chat(dir.path(), &["user", "set-role", "boss", "member"], "");
    assert!(!demoted.status.success(), "the last admin stays an admin");
    assert!(stderr(&demoted).contains("last admin"), "{}", stderr(&demoted));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_backup_show_progress_on_stderr_and_exports_stdout_stays_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    assert!(chat(dir.path(), &["db", "migrate"], "").status.success());
    seed_messages(dir.path(), &["a", "b"], 1200, now_ms()).await;

    let exported = chat(dir.path(), &["export"], "");
    assert!(exported.status.success(), "{}", stderr(&exported));
    let lines: Vec<serde_json::Value> = stdout(&exported)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line: {line:?}: {e}")))
        .collect();
    assert_eq!(lines.len(), 2400, "every message, and nothing else, on stdout");
    // Not a terminal: plain lines, the last one with the count.
    let progress = stderr(&exported);
    assert!(progress.lines().any(|l| l.starts_with("export: done, 2400 messages in ")), "{progress}");
    let one_room = stderr(&chat(dir.path(), &["export", "--room", "b"], ""));
    assert!(one_room.contains("export: done, 1200 messages"), "{one_room}");

    if postgres_base_url().is_some() {
        return; // PostgreSQL is backed up with pg_dump.
    }
    let target = dir.path().join("copy.db");
    let backup = chat(dir.path(), &["db", "backup", target.to_str().unwrap()], "");
    assert!(backup.status.success(), "{}", stderr(&backup));
    let done = stderr(&backup).lines().find_map(|l| l.strip_prefix("backup: done, ").map(str::to_owned));
    let pages: u64 = done.as_deref().and_then(|d| d.split(' ').next()?.parse().ok()).unwrap_or_else(|| {
        panic!("a last progress line with the pages copied: {}", stderr(&backup));
    });
    let bytes = std::fs::metadata(&target).unwrap().len();
    assert!(pages > 1 && pages * 512 <= bytes, "{pages} pages for {bytes} bytes");
    assert!(stdout(&backup).contains("2400 messages in 2 rooms"), "{}", stdout(&backup));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_sweep_deletes_what_retention_says_now_and_says_what_went() {
    let dir = tempfile::tempdir().unwrap();
    assert!(chat(dir.path(), &["db", "migrate"], "").status.success());
    let day_ms = 24 * 60 * 60 * 1000;
    seed_messages(dir.path(), &["old"], 1200, now_ms() - 3 * day_ms).await;
    seed_messages(dir.path(), &["recent"], 30, now_ms() - day_ms).await;

    let kept_for_ever = chat(dir.path(), &["db", "sweep"], "");
    assert!(kept_for_ever.status.success(), "{}", stderr(&kept_for_ever));
    assert!(stdout(&kept_for_ever).starts_with("removed no messages (message_retention_days is 0"));

    let retention = [("ROCKET_MESSAGE_RETENTION_DAYS", "2")];
    let swept = chat_with(dir.path(), &["db", "sweep"], "", &retention);
    assert!(swept.status.success(), "{}", stderr(&swept));
    assert_eq!(
        stdout(&swept),
        "removed 1200 messages older than 2 days, 0 ended sessions, 0 abandoned upload files, \
         1 rows of the activity rollup\n",
    );
    assert!(stderr(&swept).lines().any(|l| l.starts_with("sweep: done, 1200 messages in ")), "{}", stderr(&swept));
    let mut db = connect_db(dir.path()).await;
    let left: Vec<(String, i64)> =
        sqlx::query_as("SELECT room, count(*) FROM messages GROUP BY room").fetch_all(&mut db).await.unwrap();
    assert_eq!(left, [("recent".to_owned(), 30)], "the day-old messages stay");
    let last_id: i64 =
        sqlx::query_scalar("SELECT last_id FROM rooms WHERE name = 'old'").fetch_one(&mut db).await.unwrap();
    assert_eq!(last_id, 1200, "the room keeps its counter");

    let again = chat_with(dir.path(), &["db", "sweep"], "", &retention);
    assert!(stdout(&again).starts_with("removed 0 messages older than 2 days"), "{}", stdout(&again));
}
