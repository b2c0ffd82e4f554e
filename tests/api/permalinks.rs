//! Permalinks: the history around one message (`?around=`), and the room
//! page opened at it (`/rooms/<room>?at=<id>`), for those who may read it.

use rocket::http::Status;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_server};

/// The `data-name="value"` attribute of the page's chat element.
fn chat_attribute(page: &str, name: &str) -> Option<String> {
    let main = &page[page.find("id=\"chat\"")?..];
    let main = &main[..main.find('>')?];
    let start = main.find(&format!("{name}=\""))? + name.len() + 2;
    Some(main[start..][..main[start..].find('"')?].to_owned())
}

#[rocket::async_test]
async fn around_answers_the_message_with_its_neighbours_on_both_sides() {
    let app = spawn_app().await;
    for i in 1..=30 {
        app.say("history", &format!("message {i}")).await;
    }
    assert_eq!(app.history_ids("history", "around=15&limit=5").await, vec![13, 14, 15, 16, 17]);
    assert_eq!(app.history_ids("history", "around=15&limit=4").await, vec![14, 15, 16, 17]);
    // Where one side runs out, the other gives more.
    assert_eq!(app.history_ids("history", "around=1&limit=5").await, vec![1, 2, 3, 4, 5]);
    assert_eq!(app.history_ids("history", "around=30&limit=5").await, vec![26, 27, 28, 29, 30]);
    assert_eq!(app.history_ids("history", "around=29&limit=5").await, vec![26, 27, 28, 29, 30]);
    // An id past the end reads as the newest messages.
    assert_eq!(app.history_ids("history", "around=99&limit=3").await, vec![28, 29, 30]);
}

#[rocket::async_test]
async fn around_is_read_alone_and_a_bad_value_is_named() {
    let app = spawn_app().await;
    app.say("history", "one").await;
    for query in ["around=1&after=0", "around=1&before=5", "around=1&after=0&wait=1"] {
        let (status, body) = app.history("history", query).await;
        assert_eq!(status, Status::UnprocessableEntity, "{query}");
        assert!(body["error"].as_str().unwrap().contains("around"), "{body}");
    }
    let (status, body) = app.history("history", "around=minus-one").await;
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(body["error"].as_str().unwrap().contains("around"), "{body}");
}

#[rocket::async_test]
async fn a_permalink_opens_the_page_at_its_message_and_resumes_after_the_last_shown() {
    let app = spawn_app().await;
    for i in 1..=150 {
        app.say("long", &format!("message {i}")).await;
    }
    let page = app.client.get("/rooms/long?at=20").dispatch().await.into_string().await.unwrap();
    assert_eq!(chat_attribute(&page, "data-at").as_deref(), Some("20"));
    assert!(page.contains("data-id=\"20\""), "the linked message is on the page");
    assert!(!page.contains("data-id=\"150\""), "the newest is not: the page is at the link");
    let position: i64 = chat_attribute(&page, "data-position").unwrap().parse().unwrap();
    assert!(page.contains(&format!("data-id=\"{position}\"")), "the stream resumes after the last message shown");
    assert!((21..150).contains(&position), "{position}");

    let latest = app.client.get("/rooms/long").dispatch().await.into_string().await.unwrap();
    assert_eq!(chat_attribute(&latest, "data-at"), None);
    assert_eq!(chat_attribute(&latest, "data-position").as_deref(), Some("150"));
    // A link to a recent message resumes at the room's position.
    let recent = app.client.get("/rooms/long?at=149").dispatch().await.into_string().await.unwrap();
    assert_eq!(chat_attribute(&recent, "data-position").as_deref(), Some("150"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permalink_into_a_conversation_is_not_found_for_anyone_else() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let _bob = app.member("bob").await;
    let dm = alice.post_json("/api/dm", &json!({ "users": ["bob"] })).await.json();
    let room = dm["room"].as_str().unwrap().to_owned();
    let id = alice.say(&room, "just between us").await;
    assert_eq!(alice.get(&format!("/rooms/{room}?at={id}")).await.status, 200);
    assert_eq!(alice.get(&format!("/rooms/{room}/messages?around={id}")).await.status, 200);

    let mut carol = app.member("carol").await;
    let mut guest = app.browser();
    for visitor in [&mut carol, &mut guest] {
        let page = visitor.get(&format!("/rooms/{room}?at={id}")).await;
        assert_eq!(page.status, 404);
        assert!(!page.body.contains("just between us"));
        let history = visitor.get(&format!("/rooms/{room}/messages?around={id}")).await;
        assert_eq!(history.status, 404, "{}", history.body);
    }
}
