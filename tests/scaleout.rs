//! Several instances on one PostgreSQL and one Redis: nothing lost, nothing
//! repeated, across nodes and across a bus outage.
//!
//! Needs real services: `CHAT_TEST_POSTGRES_URL` and `CHAT_TEST_REDIS_URL`
//! (`.ci/run` sets both and makes sure both answer). Without them the tests
//! print why and pass, so plain `cargo test` works on a bare machine. They
//! run one at a time: the outage test kills every pub/sub connection on the
//! Redis server.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "api/http.rs"]
mod http;

use std::time::Duration;

use base64::Engine;
use helpers::{LiveApp, spawn_server_with};
use serde_json::Value;
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());
const WAIT: Duration = Duration::from_secs(20);

struct Services {
    postgres: String,
    redis: String,
}

fn services(test: &str) -> Option<Services> {
    match (std::env::var("CHAT_TEST_POSTGRES_URL"), std::env::var("CHAT_TEST_REDIS_URL")) {
        (Ok(postgres), Ok(redis)) => Some(Services { postgres, redis }),
        _ => {
            println!("skipping {test}: set CHAT_TEST_POSTGRES_URL and CHAT_TEST_REDIS_URL to run it (.ci/run does)");
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{:016x}", rand::random::<u64>())
}

/// Two instances sharing a fresh schema, a fresh Redis channel and a key.
async fn cluster(services: &Services) -> (LiveApp, LiveApp) {
    let (a, b, _) = cluster_and_database(services).await;
    (a, b)
}

/// A cluster, and the URL of the database both instances use.
async fn cluster_and_database(services: &Services) -> (LiveApp, LiveApp, String) {
    let (a, b, database_url, _) = cluster_on_channel(services).await;
    (a, b, database_url)
}

/// A cluster, its database's URL and its Redis channel.
async fn cluster_on_channel(services: &Services) -> (LiveApp, LiveApp, String, String) {
    cluster_with(services, |f| f).await
}

/// [`cluster_on_channel`] with `more` settings on both instances.
async fn cluster_with(
    services: &Services,
    more: impl Fn(rocket::figment::Figment) -> rocket::figment::Figment,
) -> (LiveApp, LiveApp, String, String) {
    let database_url = helpers::postgres_schema(&services.postgres, &unique("chat_s_"));
    let channel = unique("chat:test:");
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let configure = |f: rocket::figment::Figment| {
        more(
            f.merge(("database_url", database_url.clone()))
                .merge(("redis_url", services.redis.clone()))
                .merge(("redis_channel", channel.clone()))
                .merge(("secret_key", key.clone()))
                .merge(("metrics", true)),
        )
    };
    let a = spawn_server_with(configure).await;
    let b = spawn_server_with(configure).await;
    for app in [&a, &b] {
        wait_for_bus(app).await;
    }
    (a, b, database_url, channel)
}

async fn wait_for_bus(app: &LiveApp) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let health = app.browser().get("/healthz").await;
        if health.status == 200 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the bus did not come up: {}", health.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ids(messages: &[Value]) -> Vec<i64> {
    messages.iter().map(|m| m["id"].as_i64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_posted_on_one_instance_reaches_subscribers_on_both_once() {
    let Some(services) = services("a_message_posted_on_one_instance_reaches_subscribers_on_both_once") else { return };
    let _turn = ONE_AT_A_TIME.lock().await;
    let (a, b) = cluster(&services).await;
    let mut on_a = a.browser().events("/rooms/x/events", &[]).await;
    let mut on_b = b.browser().events("/rooms/x/events", &[]).await;
    let mut poster = a.browser();
    for i in 1..=3 {
        poster.say("x", &format!("m{i}")).await;
    }
    assert_eq!(ids(&on_a.messages_until(3, WAIT).await), vec![1, 2, 3]);
    assert_eq!(ids(&on_b.messages_until(3, WAIT).await), vec![1, 2, 3]);
    let id = b.browser().say("x", "from b").await;
    assert_eq!(ids(&on_a.messages_until(id, WAIT).await), vec![4]);
    assert_eq!(ids(&on_b.messages_until(id, WAIT).await), vec![4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_from_posters_on_both_instances_reach_everyone_in_order() {
    let Some(services) = services("a_thousand_messages_from_posters_on_both_instances_reach_everyone_in_order") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let (a, b) = cluster(&services).await;
    let mut subscribers = Vec::new();
    for app in [&a, &b, &a, &b] {
        subscribers.push(app.browser().events("/rooms/busy/events", &[]).await);
    }
    // Four posters, alternating between the instances, 250 messages each.
    let posters: Vec<_> = (0..4)
        .map(|p| {
            let mut browser = if p % 2 == 0 { a.browser() } else { b.browser() };
            tokio::spawn(async move {
                for i in 0..250 {
                    browser.say("busy", &format!("p{p} m{i}")).await;
                }
            })
        })
        .collect();
    for poster in posters {
        poster.await.unwrap();
    }
    for subscriber in &mut subscribers {
        let seen = subscriber.messages_until(1000, WAIT).await;
        assert_eq!(ids(&seen), (1..=1000).collect::<Vec<_>>(), "strictly increasing, none missing or repeated");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_resumes_on_either_instance_with_exactly_the_missed_messages() {
    let Some(services) = services("a_subscriber_resumes_on_either_instance_with_exactly_the_missed_messages") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let (a, b) = cluster(&services).await;
    let mut poster = a.browser();
    let mut on_b = b.browser().events("/rooms/r/events", &[]).await;
    for i in 1..=5 {
        poster.say("r", &format!("m{i}")).await;
    }
    on_b.messages_until(5, WAIT).await;
    drop(on_b);
    for i in 6..=12 {
        poster.say("r", &format!("m{i}")).await;
    }
    for app in [&a, &b] {
        let mut resumed = app.browser().events("/rooms/r/events", &[("Last-Event-ID", "5")]).await;
        assert_eq!(ids(&resumed.messages_until(12, WAIT).await), (6..=12).collect::<Vec<_>>());
    }
    let mut waiter = b.browser();
    let long_poll = waiter.get("/rooms/r/messages?after=12&wait=10");
    let post = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        poster.say("r", "late").await
    };
    let (answer, _) = tokio::join!(long_poll, post);
    assert_eq!(ids(answer.json().as_array().unwrap()), vec![13], "a long poll on B wakes for a post on A");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_outage_loses_nothing_and_repeats_nothing() {
    let Some(services) = services("a_bus_outage_loses_nothing_and_repeats_nothing") else { return };
    let _turn = ONE_AT_A_TIME.lock().await;
    let (a, b) = cluster(&services).await;
    let mut on_b = b.browser().events("/rooms/o/events", &[]).await;
    let mut on_a = a.browser().events("/rooms/o/events", &[]).await;
    let mut poster = a.browser();
    for i in 1..=5 {
        poster.say("o", &format!("before {i}")).await;
    }
    on_b.messages_until(5, WAIT).await;

    let client = redis::Client::open(services.redis.as_str()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut admin).await.unwrap();
    assert!(killed >= 2, "both instances' subscriptions were killed ({killed})");
    for i in 6..=40 {
        poster.say("o", &format!("during {i}")).await;
    }
    wait_for_bus(&b).await;
    let id = poster.say("o", "after").await;
    let seen_b = on_b.messages_until(id, WAIT).await;
    assert_eq!(ids(&seen_b), (6..=id).collect::<Vec<_>>(), "every id exactly once on B");
    let seen_a = on_a.messages_until(id, WAIT).await;
    assert_eq!(ids(&seen_a), (1..=id).collect::<Vec<_>>(), "and on A");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_unreachable_health_is_503_but_posting_and_local_delivery_go_on() {
    // No services needed: a Redis that never answers.
    let app = spawn_server_with(|f| f.merge(("redis_url", "redis://127.0.0.1:1/"))).await;
    let health = app.browser().get("/healthz").await;
    assert_eq!(health.status, 503);
    assert_eq!(health.json(), serde_json::json!({ "store": "ok", "bus": "down" }));
    let mut stream = app.browser().events("/rooms/solo/events", &[]).await;
    let id = app.browser().say("solo", "still works").await;
    assert_eq!(ids(&stream.messages_until(id, WAIT).await), vec![id]);
    let history = app.browser().get("/rooms/solo/messages").await;
    assert_eq!(history.status, 200);
}

async fn member_on(app: &LiveApp, name: &str) -> http::Browser {
    let mut browser = app.browser();
    let registered = browser.post_form("/register", &[("username", name), ("password", "correct horse battery")]).await;
    assert_eq!(registered.status, 303, "{name}");
    browser
}

async fn make_moderator(database_url: &str, name: &str) {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(database_url).await.unwrap();
    sqlx::query("UPDATE users SET role = 'moderator' WHERE name = $1").bind(name).execute(&mut db).await.unwrap();
}

/// Reads events until one of kind `kind`, skipping the rest.
async fn next_of_kind(stream: &mut http::EventStream, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = stream.next_event_within(left).await.expect("the stream ended early");
        if event.event.as_deref() == Some(kind) {
            return event.json();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderation_on_one_instance_reaches_open_streams_on_the_other_at_once() {
    let Some(services) = services("moderation_on_one_instance_reaches_open_streams_on_the_other_at_once") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let (a, b, database_url) = cluster_and_database(&services).await;
    let mut moderator = member_on(&a, "mod").await;
    make_moderator(&database_url, "mod").await;
    let mut alice = member_on(&b, "alice").await;
    let mut bob = member_on(&b, "bob").await;
    let mut reader_on_b = b.browser().events("/rooms/m/events", &[]).await;
    let mut alice_on_b = alice.events("/rooms/m/events", &[]).await;
    let mut bob_on_b = bob.events("/rooms/m/events", &[]).await;
    let id = alice.say("m", "regrettable").await;
    reader_on_b.messages_until(id, WAIT).await;

    let deleted = moderator.post_json(&format!("/rooms/m/messages/{id}/delete"), &serde_json::json!({})).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let deletion = next_of_kind(&mut reader_on_b, "delete").await;
    assert_eq!((deletion["room"].as_str(), deletion["id"].as_i64()), (Some("m"), Some(id)));

    let kicked = moderator.post_json("/rooms/m/kick", &serde_json::json!({ "user": "alice" })).await;
    assert_eq!(kicked.status, 200, "{}", kicked.body);
    let ended =
        tokio::time::timeout(Duration::from_secs(5), async { while alice_on_b.next_event().await.is_some() {} });
    ended.await.expect("alice's stream on B ends");
    let again = alice.send("GET", "/rooms/m/events", &[], None).await;
    assert_eq!(again.status, 204, "B refuses alice's reconnect too");

    let banned = moderator.post_json("/admin/ban", &serde_json::json!({ "user": "bob" })).await;
    assert_eq!(banned.status, 200, "{}", banned.body);
    let ended = tokio::time::timeout(Duration::from_secs(5), async { while bob_on_b.next_event().await.is_some() {} });
    ended.await.expect("bob's stream on B ends");
    assert_eq!(bob.get("/api/me").await.json()["guest"], true, "bob's session is gone on B at once");
}

/// A message as the instances put it on the bus, unsealed.
fn forged_message(id: i64, room: &str, user: &str, text: &str) -> String {
    serde_json::json!({ "id": id, "room": room, "user": user, "guest": false, "text": text,
                        "at": "2026-01-01T00:00:00.000Z" })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_publishes_on_the_bus_change_nothing_and_real_posts_still_flow() {
    let Some(services) = services("forged_publishes_on_the_bus_change_nothing_and_real_posts_still_flow") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let (a, b, _, channel) = cluster_on_channel(&services).await;
    let control = format!("{channel}:control");
    let mut alice = member_on(&b, "alice").await;
    let mut poster = member_on(&a, "poster").await;
    let mut alice_on_b = alice.events("/rooms/f/events", &[]).await;
    let mut reader_on_b = b.browser().events("/rooms/f/events", &[]).await;
    // A room whose queue on B has delivered nothing yet: its first id sets
    // the cursor every later one is judged by.
    let mut fresh_on_b = b.browser().events("/rooms/fresh/events", &[]).await;
    let client = redis::Client::open(services.redis.as_str()).unwrap();
    let mut listener = client.get_async_pubsub().await.unwrap();
    listener.subscribe(&channel).await.unwrap();
    let first = poster.say("f", "real one").await;
    for stream in [&mut alice_on_b, &mut reader_on_b] {
        assert_eq!(ids(&stream.messages_until(first, WAIT).await), vec![first]);
    }
    let sealed: Vec<u8> = {
        use rocket::futures::StreamExt;
        listener.on_message().next().await.unwrap().get_payload_bytes().to_vec()
    };

    let tag = "A".repeat(43);
    let forgeries: Vec<(&str, Vec<u8>)> = vec![
        (&control, br#"{"origin":1,"control":"kicked","room":"f","name":"alice"}"#.to_vec()),
        (&control, br#"{"origin":1,"control":"banned","name":"alice"}"#.to_vec()),
        (&control, format!(r#"v1.{tag}.{{"origin":1,"at_ms":0,"control":"banned","name":"alice"}}"#).into_bytes()),
        // A real instance's sealed message, replayed as an announcement.
        (&control, sealed),
        (&channel, forged_message(first + 1, "f", "admin", "forged: as admin").into_bytes()),
        (&channel, format!("v1.{tag}.{}", forged_message(first + 1, "f", "admin", "wrongly signed")).into_bytes()),
        (&channel, forged_message(i64::MAX, "fresh", "admin", "freeze").into_bytes()),
        (&channel, forged_message(i64::MAX, "f", "admin", "freeze").into_bytes()),
    ];
    let mut publisher = client.get_multiplexed_async_connection().await.unwrap();
    for (on, payload) in forgeries {
        let heard: i64 = redis::cmd("PUBLISH").arg(on).arg(payload).query_async(&mut publisher).await.unwrap();
        assert!(heard >= 2, "both instances are subscribed");
    }

    let second = poster.say("f", "real two").await;
    assert_eq!(second, first + 1);
    for stream in [&mut alice_on_b, &mut reader_on_b] {
        let seen = stream.messages_until(second, WAIT).await;
        assert_eq!(ids(&seen), vec![second], "no forged message arrives");
        assert_eq!((seen[0]["user"].as_str(), seen[0]["text"].as_str()), (Some("poster"), Some("real two")));
    }
    let in_fresh = poster.say("fresh", "not frozen").await;
    assert_eq!(ids(&fresh_on_b.messages_until(in_fresh, WAIT).await), vec![in_fresh], "i64::MAX froze nothing");
    let third = poster.say("f", "real three").await;
    assert_eq!(ids(&alice_on_b.messages_until(third, WAIT).await), vec![third], "alice was neither kicked nor banned");
    assert_eq!(alice.get("/api/me").await.json()["guest"], false, "her session is intact");
    let poll = alice.get(&format!("/rooms/f/messages?after={third}&wait=1")).await;
    assert_eq!(poll.status, 200, "not shut out of the room (a kick answers 204)");
    let metrics = b.browser().get("/metrics").await.body;
    for reason in ["unsigned", "bad_signature"] {
        // Every reason's series exists from the start, at 0: these counted.
        let series = format!(r#"chat_bus_rejected_total{{reason="{reason}"}} "#);
        let count = metrics.lines().find_map(|line| line.strip_prefix(&series)?.parse::<f64>().ok());
        assert!(count.is_some_and(|count| count > 0.0), "{reason}: {metrics}");
    }
    // Posted on a, delivered on b: b timed them as arrived on the bus.
    let bus = r#"chat_delivery_seconds_count{path="bus"} "#;
    let timed = metrics.lines().find_map(|line| line.strip_prefix(bus)?.parse::<u64>().ok());
    assert!(timed.is_some_and(|n| n >= 1), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_typing_and_reads_cross_instances_and_changes_resume_on_either() {
    let Some(services) = services("changes_typing_and_reads_cross_instances_and_changes_resume_on_either") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let (a, b) = cluster(&services).await;
    let mut alice = member_on(&a, "alice").await;
    let mut bob = member_on(&b, "bob").await;
    let id = alice.say("c", "first draft").await;
    let mut reader_on_b = b.browser().events("/rooms/c/events", &[("Last-Event-ID", &id.to_string())]).await;
    let mut bob_on_a = a.browser();
    bob_on_a.cookies_from(&bob);
    let mut bobs_phone_on_a = bob_on_a.events("/rooms/elsewhere/events", &[]).await;

    let edited =
        alice.post_json(&format!("/rooms/c/messages/{id}/edit"), &serde_json::json!({ "text": "final" })).await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let reacted =
        bob.post_json(&format!("/rooms/c/messages/{id}/reactions"), &serde_json::json!({ "emoji": "🎉" })).await;
    assert_eq!(reacted.status, 200, "{}", reacted.body);
    assert_eq!(next_of_kind(&mut reader_on_b, "edit").await["text"], "final");
    assert_eq!(next_of_kind(&mut reader_on_b, "reaction").await["reactions"][0]["users"], serde_json::json!(["bob"]));

    assert_eq!(alice.post_json("/rooms/c/typing", &serde_json::json!({})).await.status, 204);
    assert_eq!(
        next_of_kind(&mut reader_on_b, "typing").await,
        serde_json::json!({ "room": "c", "user": "alice", "display": "alice" })
    );
    assert_eq!(bob.post_json("/rooms/c/read", &serde_json::json!({ "id": id })).await.status, 204);
    assert_eq!(next_of_kind(&mut bobs_phone_on_a, "read").await, serde_json::json!({ "room": "c", "id": id }));

    // A client that was away resumes on the other instance with the changes.
    for app in [&a, &b] {
        let mut resumed = app.browser().events("/rooms/c/events", &[("Last-Event-ID", &id.to_string())]).await;
        let mut replayed = Vec::new();
        while replayed.len() < 2 {
            let event = resumed.next_event_within(WAIT).await.unwrap();
            if let (Some(kind), Some(seq)) = (event.event, event.id) {
                replayed.push((kind, seq));
            }
        }
        let expected = [("edit".to_string(), (id + 1).to_string()), ("reaction".to_string(), (id + 2).to_string())];
        assert_eq!(replayed, expected);
    }
}

/// Waits for a presence event on `stream` whose names satisfy `wanted`.
async fn presence_until(
    stream: &mut http::EventStream,
    wanted: impl Fn(&[&str]) -> bool,
    within: Duration,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "the online list never became what was wanted");
        let event = stream.next_event_within(left).await.expect("the stream stays open");
        if event.event.as_deref() != Some("presence") {
            continue;
        }
        let online = event.json();
        let names: Vec<&str> =
            online["online"].as_array().unwrap().iter().map(|m| m["user"].as_str().unwrap()).collect();
        if wanted(&names) {
            return names.iter().map(|n| n.to_string()).collect();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_online_list_is_the_union_of_instances_and_a_dead_ones_people_drop_off() {
    let Some(services) = services("the_online_list_is_the_union_of_instances_and_a_dead_ones_people_drop_off") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let (a, b) = cluster(&services).await;
    let mut alice = member_on(&a, "alice").await;
    let mut bob = member_on(&b, "bob").await;
    let mut alice_on_a = alice.events("/rooms/p/events", &[]).await;
    let _bob_on_b = bob.events("/rooms/p/events", &[]).await;
    let both = presence_until(&mut alice_on_a, |names| names == ["alice", "bob"], WAIT).await;
    assert_eq!(both, ["alice", "bob"]);
    let on_b = b.browser().get("/rooms/p/presence").await.json();
    assert_eq!(on_b["count"], 2, "B shows A's people too: {on_b}");

    // B stops with bob's stream open; its tasks (the bus among them) stop
    // with it, so A hears no goodbye, only silence.
    let started = std::time::Instant::now();
    b.shutdown.clone().notify();
    presence_until(&mut alice_on_a, |names| names == ["alice"], Duration::from_secs(15)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(12), "bob dropped off after {took:?}");
}

/// A PNG upload as a page sends it: (content type, body, the PNG's bytes).
fn png_upload(width: u32, height: u32) -> (String, Vec<u8>, Vec<u8>) {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb([10, 200, 90]));
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image).write_to(&mut png, image::ImageFormat::Png).unwrap();
    let boundary = "scaleout-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"shared.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(png.get_ref());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body, png.into_inner())
}

/// The files in a files directory (its shards), leaving out uploads in progress.
fn stored_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name() != "tmp")
        .flat_map(|shard| std::fs::read_dir(shard.path()).unwrap().flatten().map(|file| file.path()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_on_one_instance_is_served_by_the_other_from_the_shared_directory() {
    let test = "a_file_uploaded_on_one_instance_is_served_by_the_other_from_the_shared_directory";
    let Some(services) = services(test) else { return };
    let _turn = ONE_AT_A_TIME.lock().await;
    let shared = tempfile::tempdir().unwrap();
    let (a, b, _, _) = cluster_with(&services, |f| f.merge(("files_dir", shared.path()))).await;
    let mut alice = member_on(&a, "alice").await;
    let mut on_b = b.browser().events("/rooms/pics/events", &[]).await;
    let token = alice.csrf_token().await;
    let (content_type, body, png) = png_upload(640, 480);
    let headers = [("X-CSRF-Token", token.as_str())];
    let sent = alice.fetch("POST", "/rooms/pics/attachments", &headers, Some((&content_type, &body))).await;
    assert_eq!(sent.status, 201, "{}", String::from_utf8_lossy(&sent.body));
    let message = sent.json();
    let file = &message["attachments"][0];
    let (url, thumb) = (file["url"].as_str().unwrap(), file["thumb_url"].as_str().unwrap());
    assert_eq!(stored_files(shared.path()).len(), 2, "the file and its thumbnail, in the shared directory");

    let live = on_b.messages_until(message["id"].as_i64().unwrap(), WAIT).await;
    assert_eq!(live.last().unwrap()["attachments"], message["attachments"], "B's stream carries the attachment");
    let mut alice_on_b = b.browser();
    alice_on_b.cookies_from(&alice);
    let original = alice_on_b.fetch("GET", url, &[], None).await;
    assert_eq!((original.status, original.header("Content-Type")), (200, Some("image/png")));
    assert_eq!(original.body, png, "B serves the bytes A received");
    let small = alice_on_b.fetch("GET", thumb, &[], None).await;
    assert_eq!(small.status, 200);
    assert_eq!(image::load_from_memory(&small.body).unwrap().width(), 320);

    // Deleted through B: gone for A too, and from the shared directory.
    let delete = format!("/rooms/pics/messages/{}/delete", message["id"]);
    let deleted = alice_on_b.post_json(&delete, &serde_json::json!({})).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(alice.fetch("GET", url, &[], None).await.status, 404);
    assert!(stored_files(shared.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_message_says_bot_true_on_the_other_instance_and_its_token_works_on_both() {
    let Some(services) = services("a_bots_message_says_bot_true_on_the_other_instance_and_its_token_works_on_both")
    else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let (a, b, database_url) = cluster_and_database(&services).await;
    let store = chat::store::Store::open(&database_url, std::sync::Arc::new(chat::stream::Hub::new(1))).await.unwrap();
    let (_, token) = chat::bots::Bots::new(store).add("ci-bot", "alerts").await.unwrap();
    let auth = format!("Bearer {}", token.expose());
    let mut bot_on_b = b.browser().events("/rooms/alerts/events", &[("Authorization", &auth)]).await;
    let mut person_on_b = b.browser().events("/rooms/alerts/events", &[]).await;
    assert_eq!((bot_on_b.status, person_on_b.status), (200, 200));

    let body = Some(("application/json", r#"{"text":"from a bot on A"}"#.to_owned()));
    let posted = a.browser().send("POST", "/rooms/alerts/messages", &[("Authorization", &auth)], body).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let heard = person_on_b.messages_until(posted.json()["id"].as_i64().unwrap(), WAIT).await;
    assert_eq!((heard[0]["user"].clone(), heard[0]["bot"].clone()), (Value::from("ci-bot"), Value::from(true)));
    let id = a.browser().say("alerts", "a person on A").await;
    let heard = bot_on_b.messages_until(id, WAIT).await;
    assert_eq!(heard.last().unwrap()["bot"], false, "{heard:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_names_cross_instances_in_messages_presence_and_typing() {
    let Some(services) = services("display_names_cross_instances_in_messages_presence_and_typing") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let (a, b) = cluster(&services).await;
    let mut alice = a.browser();
    let form = [("username", "alice"), ("password", "correct horse battery"), ("display", "Алиса")];
    assert_eq!(alice.post_form("/register", &form).await.status, 303);
    let mut bob = member_on(&b, "bob").await;
    let mut bob_on_b = bob.events("/rooms/d/events", &[]).await;
    let _alice_on_a = alice.events("/rooms/d/events", &[]).await;
    let online = loop {
        let presence = next_of_kind(&mut bob_on_b, "presence").await;
        if presence["count"] == 2 {
            break presence["online"].clone();
        }
    };
    assert_eq!(online[0], serde_json::json!({ "user": "alice", "display": "Алиса", "guest": false }), "from A");
    assert_eq!(alice.post_json("/rooms/d/typing", &serde_json::json!({})).await.status, 204);
    assert_eq!(next_of_kind(&mut bob_on_b, "typing").await["display"], "Алиса");
    alice.say("d", "привет").await;
    let message = next_of_kind(&mut bob_on_b, "message").await;
    assert_eq!((&message["user"], &message["display"]), (&serde_json::json!("alice"), &serde_json::json!("Алиса")));
}
