//! What survives a restart on the same data directory.

use rocket::http::{Cookie, Status};

use crate::helpers::{client_on, spawn_app};

#[rocket::async_test]
async fn messages_survive_a_restart_and_ids_continue() {
    let app = spawn_app().await;
    for text in ["one", "two", "three"] {
        app.say("keep", text).await;
    }
    let dir = app.dir;
    drop(app.client);

    let restarted = client_on(dir.path(), |f| f).await;
    let history: serde_json::Value = restarted.get("/rooms/keep/messages").dispatch().await.into_json().await.unwrap();
    let texts: Vec<&str> = history.as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["one", "two", "three"]);
    let next = restarted
        .post("/rooms/keep/messages")
        .header(rocket::http::ContentType::JSON)
        .body(r#"{"text":"four"}"#)
        .dispatch()
        .await;
    assert_eq!(next.status(), Status::Created);
    let next: serde_json::Value = next.into_json().await.unwrap();
    assert_eq!(next["id"], 4);
}

#[rocket::async_test]
async fn a_login_survives_a_restart_with_the_generated_key() {
    let app = spawn_app().await;
    app.register("alice", "correct horse battery").await;
    let cookie = app.client.cookies().get("session").unwrap().value().to_owned();
    let dir = app.dir;
    drop(app.client);
    assert!(dir.path().join("secret_key").exists());

    let restarted = client_on(dir.path(), |f| f).await;
    let me: serde_json::Value =
        restarted.get("/api/me").cookie(Cookie::new("session", cookie)).dispatch().await.into_json().await.unwrap();
    assert_eq!(me, serde_json::json!({ "user": "alice", "display": "alice", "guest": false }));
}

#[tokio::test]
async fn an_in_memory_database_is_refused_because_it_would_keep_nothing() {
    struct Nobody;
    impl chat::store::Publish for Nobody {
        fn publish(&self, _: &std::sync::Arc<chat::rooms::Delivery>) {}
    }
    let opened = chat::store::Store::open("sqlite::memory:", std::sync::Arc::new(Nobody)).await;
    assert!(matches!(opened, Err(chat::store::StoreError::UnsupportedUrl(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_waits_for_another_writer_to_the_file_and_then_commits() {
    if crate::helpers::postgres_base_url().is_some() {
        println!("skipping: this pins SQLite's write lock");
        return;
    }
    let app = crate::helpers::spawn_server().await;
    // Another connection holds the file's write lock, as an account or
    // session write through the pool does for a moment.
    let blocker = rusqlite::Connection::open(app.dir().join("chat.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE; UPDATE rooms SET last_at_ms = last_at_ms;").unwrap();
    let mut poster = app.browser();
    let post = tokio::spawn(async move { poster.say("locked", "patience").await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!post.is_finished(), "no 201 while the message cannot be on disk");
    blocker.execute_batch("COMMIT").unwrap();
    let id = tokio::time::timeout(std::time::Duration::from_secs(5), post).await.expect("committed once free").unwrap();
    assert_eq!(id, 1);
}
