//! Live delivery over real sockets: SSE framing, fan-out, resume, slow
//! subscribers, shutdown.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{spawn_server, spawn_server_with, within};

const WAIT: Duration = Duration::from_secs(10);

fn ids(messages: &[serde_json::Value]) -> Vec<i64> {
    messages.iter().map(|m| m["id"].as_i64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_has_sse_headers_and_starts_with_retry() {
    let app = spawn_server().await;
    let mut stream = app.browser().events("/rooms/lobby/events", &[]).await;
    assert_eq!(stream.status, 200);
    assert!(stream.header("Content-Type").unwrap().starts_with("text/event-stream"));
    assert_eq!(stream.header("Cache-Control"), Some("no-cache"));
    assert_eq!(stream.header("X-Accel-Buffering"), Some("no"));
    let first = stream.next_event_within(WAIT).await.unwrap();
    assert_eq!(first.retry, Some(2000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_chat_live_a_member_and_a_guest() {
    let app = spawn_server().await;
    let mut alice = app.browser();
    let registered =
        alice.post_form("/register", &[("username", "alice"), ("password", "correct horse battery")]).await;
    assert_eq!(registered.status, 303);
    assert_eq!(registered.header("Location"), Some("/"));
    let mut guest = app.browser();
    let page = guest.get("/rooms/live").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("guest-"));
    let mut watching = guest.events("/rooms/live/events", &[]).await;

    alice.say("live", "hello from alice").await;
    let seen = watching.messages_until(1, WAIT).await;
    assert_eq!(seen[0]["user"], "alice");
    assert_eq!(seen[0]["guest"], false);
    assert_eq!(seen[0]["text"], "hello from alice");

    let mut alice_watching = alice.events("/rooms/live/events?last_event_id=1", &[]).await;
    let guest_message = guest.say("live", "hi alice").await;
    let seen = alice_watching.messages_until(guest_message, WAIT).await;
    assert!(seen[0]["user"].as_str().unwrap().starts_with("guest-"));
    assert_eq!(seen[0]["guest"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_subscriber_gets_the_latest_50_then_live_messages() {
    let app = spawn_server().await;
    let mut poster = app.browser();
    for i in 1..=60 {
        poster.say("r", &format!("m{i}")).await;
    }
    let mut stream = app.browser().events("/rooms/r/events", &[]).await;
    let replay = stream.messages_until(60, WAIT).await;
    assert_eq!(ids(&replay), (11..=60).collect::<Vec<_>>());
    poster.say("r", "live").await;
    let live = stream.next_event_within(WAIT).await.unwrap();
    assert_eq!(live.event.as_deref(), Some("message"));
    assert_eq!(live.id.as_deref(), Some("61"));
    assert_eq!(live.json()["text"], "live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_gets_every_message_in_order() {
    let app = spawn_server().await;
    let mut streams = Vec::new();
    for _ in 0..20 {
        streams.push(app.browser().events("/rooms/fan/events", &[]).await);
    }
    // Several posters at once: the server orders them, subscribers must agree.
    let posters = (0..4).map(|p| {
        let mut browser = app.browser();
        tokio::spawn(async move {
            for i in 0..25 {
                browser.say("fan", &format!("p{p} m{i}")).await;
            }
        })
    });
    for poster in posters.collect::<Vec<_>>() {
        poster.await.unwrap();
    }
    for stream in &mut streams {
        let seen = stream.messages_until(100, WAIT).await;
        assert_eq!(ids(&seen), (1..=100).collect::<Vec<_>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_with_last_event_id_has_no_gap_and_no_duplicate_while_posts_go_on() {
    let app = spawn_server().await;
    let total = 300;
    let mut poster = app.browser();
    let posting = tokio::spawn(async move {
        for i in 1..=total {
            poster.say("resume", &format!("m{i}")).await;
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let mut first = app.browser().events("/rooms/resume/events", &[]).await;
    let mut seen = Vec::new();
    // Read some of the messages, then drop the connection mid-stream.
    while seen.len() < 40 {
        let event = first.next_event_within(WAIT).await.unwrap();
        if event.event.as_deref() == Some("message") {
            seen.push(event.json());
        }
    }
    drop(first);
    let last = ids(&seen).last().copied().unwrap().to_string();
    let mut second = app.browser().events("/rooms/resume/events", &[("Last-Event-ID", &last)]).await;
    seen.extend(second.messages_until(total, Duration::from_secs(30)).await);
    posting.await.unwrap();
    let all = ids(&seen);
    let start = all[0];
    assert_eq!(all, (start..=total).collect::<Vec<_>>(), "no gap, no duplicate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_parameter_resumes_like_the_header_and_the_header_wins() {
    let app = spawn_server().await;
    let mut poster = app.browser();
    for i in 1..=5 {
        poster.say("q", &format!("m{i}")).await;
    }
    let mut by_query = app.browser().events("/rooms/q/events?last_event_id=3", &[]).await;
    assert_eq!(ids(&by_query.messages_until(5, WAIT).await), vec![4, 5]);
    let mut both = app.browser().events("/rooms/q/events?last_event_id=1", &[("Last-Event-ID", "4")]).await;
    assert_eq!(ids(&both.messages_until(5, WAIT).await), vec![5]);
    let bad = app.browser().send("GET", "/rooms/q/events", &[("Last-Event-ID", "abc")], None).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_beyond_the_replay_cap_gets_a_reset_and_the_latest_50() {
    let app = spawn_server().await;
    let mut posters = Vec::new();
    for p in 0..8 {
        let mut browser = app.browser();
        posters.push(tokio::spawn(async move {
            for i in 0..130 {
                browser.say("big", &format!("p{p} m{i}")).await;
            }
        }));
    }
    for poster in posters {
        poster.await.unwrap();
    }
    let mut stream = app.browser().events("/rooms/big/events", &[("Last-Event-ID", "10")]).await;
    let mut reset = false;
    let mut after_reset = Vec::new();
    while after_reset.last().and_then(|m: &serde_json::Value| m["id"].as_i64()) != Some(1040) {
        let event = stream.next_event_within(WAIT).await.unwrap();
        match event.event.as_deref() {
            Some("reset") => reset = true,
            Some("message") => {
                assert!(reset, "the reset comes before any message");
                after_reset.push(event.json());
            }
            _ => {}
        }
    }
    assert_eq!(ids(&after_reset), (991..=1040).collect::<Vec<_>>());
    let mut near = app.browser().events("/rooms/big/events", &[("Last-Event-ID", "40")]).await;
    let replay = near.messages_until(1040, WAIT).await;
    assert_eq!(ids(&replay), (41..=1040).collect::<Vec<_>>(), "1000 is within the cap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_caught_up_and_misses_nothing() {
    // A queue of 4 messages makes the slow reader lag almost at once.
    let app = spawn_server_with(|f| f.merge(("room_queue_capacity", 4))).await;
    let mut slow = app.browser().events("/rooms/slow/events", &[]).await;
    let mut fast = app.browser().events("/rooms/slow/events", &[]).await;
    let mut posters = Vec::new();
    for p in 0..4 {
        let mut browser = app.browser();
        posters.push(tokio::spawn(async move {
            for i in 0..50 {
                browser.say("slow", &format!("p{p} m{i}")).await;
            }
        }));
    }
    let fast_seen = fast.messages_until(200, WAIT).await;
    let mut slow_seen = Vec::new();
    while slow_seen.last().and_then(|m: &serde_json::Value| m["id"].as_i64()) != Some(200) {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let event = slow.next_event_within(WAIT).await.unwrap();
        if event.event.as_deref() == Some("message") {
            slow_seen.push(event.json());
        }
    }
    for poster in posters {
        poster.await.unwrap();
    }
    assert_eq!(ids(&fast_seen), (1..=200).collect::<Vec<_>>());
    assert_eq!(ids(&slow_seen), (1..=200).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_that_looks_like_sse_framing_arrives_as_one_identical_message() {
    let app = spawn_server().await;
    let mut stream = app.browser().events("/rooms/inj/events", &[]).await;
    let text = "a\n\nevent: x\ndata: y\rid: 99\r\nb";
    let mut poster = app.browser();
    let response = poster.post_json("/rooms/inj/messages", &json!({ "text": text })).await;
    assert_eq!(response.status, 201);
    let seen = stream.messages_until(1, WAIT).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["text"], text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_ends_open_streams_promptly() {
    let app = spawn_server().await;
    let mut streams = Vec::new();
    for room in ["a", "b", "c"] {
        let mut stream = app.browser().events(&format!("/rooms/{room}/events"), &[]).await;
        stream.next_event_within(WAIT).await.unwrap();
        streams.push(stream);
    }
    app.shutdown.clone().notify();
    for stream in &mut streams {
        let end = within(5, "the stream ends", async { while stream.next_event().await.is_some() {} });
        end.await;
    }
    let stopped = within(10, "the server stops", app.stopped).await;
    assert!(stopped.unwrap().is_ok());
}
