//! Posting and reading messages: validation, ids, history, long polling.

use std::time::{Duration, Instant};

use rocket::http::{ContentType, Status};
use serde_json::{Value, json};

use crate::helpers::{spawn_app, within};

#[rocket::async_test]
async fn a_post_answers_201_with_the_stored_message_stamped_by_the_server() {
    let app = spawn_app().await;
    let me = app.me().await;
    let before = time::OffsetDateTime::now_utc();
    let body =
        json!({ "text": "  hello  ", "user": "mallory", "guest": false, "at": "2000-01-01T00:00:00.000Z", "id": 99 });
    let response = app.post_json("lobby", &body.to_string()).await;
    assert_eq!(response.status(), Status::Created);
    assert!(response.headers().get_one("Location").is_some());
    let message: Value = response.into_json().await.unwrap();
    assert_eq!(message["id"], 1);
    assert_eq!(message["room"], "lobby");
    assert_eq!(message["text"], "hello", "trimmed");
    assert_eq!(message["user"], me["user"], "the author is the session's, not the body's");
    assert_eq!(message["guest"], true);
    let at = message["at"].as_str().unwrap();
    assert_eq!(at.len(), "2026-11-22T04:44:08.339Z".len(), "{at}");
    assert!(at.ends_with('Z'));
    let parsed = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(parsed >= before - Duration::from_millis(1) && parsed <= time::OffsetDateTime::now_utc());
    assert_eq!(app.history("lobby", "").await.1, json!([message]));
}

#[rocket::async_test]
async fn ids_increase_within_each_room_independently() {
    let app = spawn_app().await;
    for (room, expected) in [("a", 1), ("a", 2), ("b", 1), ("a", 3), ("b", 2)] {
        assert_eq!(app.say(room, "x").await["id"], expected, "room {room}");
    }
}

#[rocket::async_test]
async fn concurrent_posts_get_distinct_increasing_ids() {
    let app = spawn_app().await;
    let posts = (0..50).map(|i| app.say("busy", if i % 2 == 0 { "even" } else { "odd" }));
    let mut ids: Vec<i64> = futures_join_all(posts).await.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (1..=50).collect::<Vec<_>>());
    assert_eq!(app.history_ids("busy", "limit=200").await, (1..=50).collect::<Vec<_>>());
}

async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    rocket::futures::future::join_all(futures).await
}

#[rocket::async_test]
async fn a_form_post_redirects_back_to_the_room() {
    let app = spawn_app().await;
    let response = app.post_form("/rooms/rust/messages", &[("text", "from a form")]).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some("/rooms/rust"));
    let (_, history) = app.history("rust", "").await;
    assert_eq!(history[0]["text"], "from a form");
}

#[rocket::async_test]
async fn an_invalid_form_post_shows_the_room_again_with_the_reason() {
    let app = spawn_app().await;
    let response = app.post_form("/rooms/rust/messages", &[("text", "   ")]).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let page = response.into_string().await.unwrap();
    assert!(page.contains("the message is empty"), "{page}");
    assert!(app.history_ids("rust", "").await.is_empty());
}

#[rocket::async_test]
async fn bad_messages_are_422_with_a_reason_and_nothing_is_stored() {
    let app = spawn_app().await;
    let too_long = json!({ "text": "é".repeat(2001) }).to_string();
    let cases = [
        (r#"{"text":""}"#, "empty"),
        (r#"{"text":" \n\t "}"#, "empty"),
        (too_long.as_str(), "longer than 2000"),
        (r#"{}"#, "text"),
        (r#"{"text":5}"#, "string"),
        (r#"not json"#, "JSON"),
        (r#"["text"]"#, "JSON"),
    ];
    for (body, reason) in cases {
        let response = app.post_json("lobby", body).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "{body}");
        let error: Value = response.into_json().await.unwrap();
        assert_eq!(error["code"], 422);
        assert!(error["error"].as_str().unwrap().contains(reason), "{body}: {error}");
    }
    assert!(app.history_ids("lobby", "").await.is_empty());
    let longest = json!({ "text": "é".repeat(2000) }).to_string();
    assert_eq!(app.post_json("lobby", &longest).await.status(), Status::Created);
}

#[rocket::async_test]
async fn invalid_room_names_are_4xx_on_every_route() {
    let app = spawn_app().await;
    for room in ["Lobby", "a%20b", "caf%C3%A9", "a.b", &"x".repeat(65)] {
        let page = app.client.get(format!("/rooms/{room}")).dispatch().await;
        assert_eq!(page.status(), Status::NotFound, "page {room}");
        let history = app.client.get(format!("/rooms/{room}/messages")).dispatch().await;
        assert_eq!(history.status(), Status::UnprocessableEntity, "history {room}");
        let events = app.client.get(format!("/rooms/{room}/events")).dispatch().await;
        assert_eq!(events.status(), Status::UnprocessableEntity, "events {room}");
        let post = app.post_json(room, r#"{"text":"hi"}"#).await;
        assert_eq!(post.status(), Status::UnprocessableEntity, "post {room}");
        assert!(post.into_string().await.unwrap().contains("room names are"));
    }
}

#[rocket::async_test]
async fn an_oversized_body_is_413_and_the_server_stays_healthy() {
    let app = spawn_app().await;
    let huge = json!({ "text": "x".repeat(70 * 1024) }).to_string();
    assert_eq!(app.post_json("lobby", &huge).await.status(), Status::PayloadTooLarge);
    let huge_form = format!("text={}", "x".repeat(70 * 1024));
    let response = app.client.post("/rooms/lobby/messages").header(ContentType::Form).body(huge_form).dispatch().await;
    assert_eq!(response.status(), Status::PayloadTooLarge);
    assert!(app.history_ids("lobby", "").await.is_empty());
    assert_eq!(app.say("lobby", "still fine").await["id"], 1);
}

#[rocket::async_test]
async fn a_post_in_another_encoding_is_415() {
    let app = spawn_app().await;
    let response = app.client.post("/rooms/lobby/messages").header(ContentType::Plain).body("hi").dispatch().await;
    assert_eq!(response.status(), Status::UnsupportedMediaType);
    assert!(app.history_ids("lobby", "").await.is_empty());
}

#[rocket::async_test]
async fn history_is_ascending_latest_50_by_default_and_pages_both_ways() {
    let app = spawn_app().await;
    for i in 1..=120 {
        app.say("long", &format!("m{i}")).await;
    }
    assert_eq!(app.history_ids("long", "").await, (71..=120).collect::<Vec<_>>());
    assert_eq!(app.history_ids("long", "limit=200").await, (1..=120).collect::<Vec<_>>());
    assert_eq!(app.history_ids("long", "after=100").await, (101..=120).collect::<Vec<_>>());
    assert_eq!(app.history_ids("long", "after=10&limit=3").await, vec![11, 12, 13]);
    assert_eq!(app.history_ids("long", "before=71&limit=5").await, vec![66, 67, 68, 69, 70]);
    assert_eq!(app.history_ids("long", "after=5&before=9").await, vec![6, 7, 8]);
    assert!(app.history_ids("empty", "").await.is_empty());
}

#[rocket::async_test]
async fn bad_history_queries_are_422_with_a_reason() {
    let app = spawn_app().await;
    for (query, reason) in [
        ("limit=201", "limit"),
        ("limit=0", "limit"),
        ("after=x", "after"),
        ("before=-1", "before"),
        ("after=1&wait=31", "wait"),
        ("wait=5", "wait needs after"),
    ] {
        let (status, body) = app.history("lobby", query).await;
        assert_eq!(status, Status::UnprocessableEntity, "{query}");
        assert!(body["error"].as_str().unwrap().contains(reason), "{query}: {body}");
    }
}

#[rocket::async_test]
async fn a_long_poll_answers_as_soon_as_a_message_arrives() {
    let app = spawn_app().await;
    app.say("lp", "old").await;
    let started = Instant::now();
    let poll = app.history("lp", "after=1&wait=20");
    let post = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.say("lp", "new").await
    };
    let ((status, body), _) = within(10, "long poll", async { tokio::join!(poll, post) }).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(crate::helpers::ids(&body), vec![2]);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[rocket::async_test]
async fn a_long_poll_returns_at_once_when_messages_are_waiting() {
    let app = spawn_app().await;
    app.say("lp", "a").await;
    app.say("lp", "b").await;
    let started = Instant::now();
    assert_eq!(app.history_ids("lp", "after=0&wait=30").await, vec![1, 2]);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[rocket::async_test]
async fn a_long_poll_times_out_with_an_empty_array() {
    let app = spawn_app().await;
    let started = Instant::now();
    let (status, body) = app.history("quiet", "after=0&wait=1").await;
    assert_eq!((status, body), (Status::Ok, json!([])));
    assert!(started.elapsed() >= Duration::from_millis(900));
}
