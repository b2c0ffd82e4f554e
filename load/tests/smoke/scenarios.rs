//! Every scenario at a tiny size, in-process, against the real server.

use super::*;

/// A gentle fan-out over `transport`: every post reaches every subscriber
/// exactly once.
async fn fanout_over(transport: Transport) {
    let server = spawn_chat().await;
    let json = run(&common(&server), Scenario::Fanout(FanoutArgs { transport, ..tiny_fanout() })).await;
    assert_all_delivered(&json, 3);
    assert_eq!(json["target"], "chat");
    assert_eq!(json["transport"], transport.to_string());
    assert_eq!(json["streams_ended_early"], 0, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fanout_delivers_every_post_to_every_subscriber_once() {
    fanout_over(Transport::Sse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fanout_over_websockets_delivers_every_post_once() {
    fanout_over(Transport::Ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fanout_over_long_polls_delivers_every_post_once() {
    fanout_over(Transport::Poll).await;
}

/// Holds 20 subscriptions over `transport` for a second.
async fn idle_over(transport: Transport) {
    let server = spawn_chat().await;
    let mut common = common(&server);
    common.server_pid = Some(std::process::id());
    let json = run(
        &common,
        Scenario::Idle(IdleArgs { streams: 20, hold: 1.0, transport, post: 0, expect: 0, ready_file: None }),
    )
    .await;
    assert_eq!(json["transport"], transport.to_string());
    assert_eq!(json["streams_opened"], 20, "{json}");
    assert_eq!(json["streams_open_at_end"], 20, "{json}");
    assert!(json["rss_before_kib"].as_u64().unwrap() > 0, "{json}");
    assert!(json["rss_end_kib"].as_u64().unwrap() > 0, "{json}");
    assert!(json["rss_per_stream_kib"].is_number(), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_holds_its_streams_and_reads_memory() {
    idle_over(Transport::Sse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_holds_websockets() {
    idle_over(Transport::Ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_holds_long_polls() {
    idle_over(Transport::Poll).await;
}

#[tokio::test]
async fn the_bare_server_is_only_measured_over_sse() {
    // Refused before any socket is opened: no server is needed.
    let target = Target::at("127.0.0.1:9".parse().unwrap(), Kind::Bare).unwrap();
    for transport in [Transport::Ws, Transport::Poll] {
        let scenario = Scenario::Fanout(FanoutArgs { transport, ..tiny_fanout() });
        let error = chat_load::run(&Common::new(target.clone()), &scenario).await.unwrap_err().to_string();
        assert!(error.contains("needs --target chat"), "{transport}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn maxpost_is_acknowledged_and_received_in_full() {
    let server = spawn_chat().await;
    let args = MaxPostArgs { posters: 2, duration: 1.0, drain: 5.0, max_posts: 10_000 };
    let json = run(&common(&server), Scenario::MaxPost(args)).await;
    assert_all_delivered(&json, 1);
    assert_eq!(json["subscriber_received_all"], true, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_storm_logs_everyone_in_without_losing_messages() {
    let server = spawn_chat().await;
    let args = LoginStormArgs { fanout: tiny_fanout(), logins: 5 };
    let json = run(&common(&server), Scenario::LoginStorm(args)).await;
    assert_all_delivered(&json, 3);
    assert_eq!(json["logins_ok"], 5, "{json}");
    assert_eq!(json["logins_failed"], 0, "{json}");
    assert_eq!(json["login_count"], 5, "{json}");
    let split = json["delivery_storm_count"].as_u64().unwrap() + json["delivery_outside_count"].as_u64().unwrap();
    assert_eq!(Some(split), json["delivery_count"].as_u64(), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_seeds_its_corpus_then_times_every_query_class() {
    let server = spawn_chat().await;
    let args = SearchArgs { seed: 300, rooms: 100, posters: 4, searchers: 2, rounds: 2, limit: 20 };
    let json = run(&common(&server), Scenario::Search(args)).await;
    let corpus = &chat_load::scenario::corpus::QUERIES;
    let queries: usize =
        corpus.iter().map(|(_, q)| q.len()).sum::<usize>() + chat_load::scenario::corpus::ROOM_QUERIES.len();
    assert_eq!(json["seeded"], 300, "{json}");
    assert_eq!(json["search_count"], (queries * 2 * 2) as u64, "{json}");
    assert!(json["search_cjk_2_p99_ms"].is_number(), "{json}");
    // The planted words: message 17 says "quasar", 29 "麒麟", 3 "nebula".
    for planted in ["quasar", "麒麟", "nebula"] {
        assert_eq!(json["hits"][planted], "1", "{json}");
    }
    assert_eq!(json["hits"]["xylophonist"], "0", "{json}");
    assert_eq!(json["hits"]["the"], "20+", "{json}");
    assert_eq!(json["hits"]["quasar in 17"], "1", "{json}");
    assert_eq!(json["hits"]["the in quiet"], "0", "{json}");
    assert!(json["search_room_p99_ms"].is_number(), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upload_storm_posts_every_file_without_losing_messages() {
    let server = spawn_chat().await;
    let args = UploadStormArgs { fanout: tiny_fanout(), uploads: 2, file: None, bytes: 64 * 1024, rounds: 2 };
    let json = run(&common(&server), Scenario::UploadStorm(args)).await;
    assert_all_delivered(&json, 3);
    assert_eq!(json["uploads_ok"], 4, "{json}");
    assert_eq!(json["uploads_failed"], 0, "{json}");
    let split = json["delivery_storm_count"].as_u64().unwrap() + json["delivery_outside_count"].as_u64().unwrap();
    assert_eq!(Some(split), json["delivery_count"].as_u64(), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fanout_over_many_rooms_delivers_each_post_to_its_own_room_only() {
    let server = spawn_chat().await;
    let args = FanoutArgs { subscribers: 6, rooms: 3, rate: 30.0, ..tiny_fanout() };
    let json = run(&common(&server), Scenario::Fanout(args)).await;
    let accepted = json["posts_accepted"].as_u64().unwrap();
    assert!(accepted >= 3, "{json}");
    assert_eq!(json["rooms"], 3, "{json}");
    // Each post reaches the two subscribers of its room, and nobody else.
    assert_eq!(json["deliveries_expected"], accepted * 2, "{json}");
    assert_eq!(json["deliveries_received"], accepted * 2, "{json}");
    assert_eq!(json["lost"], 0, "{json}");
    assert_eq!(json["duplicated"], 0, "{json}");
    assert_eq!(json["unacknowledged"], 0, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rooms_runs_its_passes_on_fresh_rooms_and_reads_memory_after_each() {
    let server = spawn_chat().await;
    let mut common = common(&server);
    common.server_pid = Some(std::process::id());
    let fanout = FanoutArgs { subscribers: 8, rooms: 4, rate: 40.0, ..tiny_fanout() };
    let json = run(&common, Scenario::Rooms(RoomsArgs { fanout, passes: 2, settle: 0.1 })).await;
    for pass in ["pass0", "pass1"] {
        assert_eq!(json[format!("{pass}_lost")], 0, "{json}");
        assert_eq!(json[format!("{pass}_duplicated")], 0, "{json}");
        assert!(json[format!("{pass}_delivery_count")].as_u64().unwrap() > 0, "{json}");
    }
    assert_eq!(json["rss_after_passes_kib"].as_array().unwrap().len(), 2, "{json}");
    assert!(json["held_bytes_per_room"].is_number(), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_can_post_and_time_each_message_to_every_stream() {
    let server = spawn_chat().await;
    let mut common = common(&server);
    common.server_pid = Some(std::process::id());
    let args = IdleArgs { streams: 10, hold: 20.0, transport: Transport::Sse, post: 2, expect: 0, ready_file: None };
    let json = run(&common, Scenario::Idle(args)).await;
    assert_eq!(json["messages"], 2, "{json}");
    assert_eq!(json["deliveries_expected"], 20, "{json}");
    assert_eq!(json["deliveries_received"], 20, "{json}");
    assert_eq!(json["lost"], 0, "{json}");
    assert_eq!(json["duplicated"], 0, "{json}");
    assert_eq!(json["delivery_count"], 20, "{json}");
    assert!(json["waited_s"].as_f64().unwrap() < 20.0, "it stops waiting once all arrived: {json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_counts_the_posts_of_another_run_sharing_its_run_id() {
    let server = spawn_chat().await;
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mut listener = common(&server);
    listener.server_pid = Some(std::process::id());
    let mut poster = listener.clone();
    // Another instance in a real run: here the same server, from another address.
    poster.target = poster.target.clone().from_source("127.0.0.2".parse().unwrap()).unwrap();
    let args = IdleArgs {
        streams: 6,
        hold: 20.0,
        transport: Transport::Sse,
        post: 0,
        expect: 3,
        ready_file: Some(ready.clone()),
    };
    let listening = tokio::spawn(async move { run(&listener, Scenario::Idle(args)).await });
    while !ready.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let args = IdleArgs { streams: 2, hold: 20.0, transport: Transport::Sse, post: 3, expect: 0, ready_file: None };
    let posted = run(&poster, Scenario::Idle(args)).await;
    assert_eq!(posted["deliveries_received"], 6, "{posted}");
    let json = listening.await.unwrap();
    assert_eq!(json["deliveries_expected"], 18, "{json}");
    assert_eq!(json["deliveries_received"], 18, "{json}");
    assert_eq!(json["lost"], 0, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_soak_samples_memory_and_descriptors_beside_logins_and_reconnects() {
    let server = spawn_chat().await;
    let mut common = common(&server);
    common.server_pid = Some(std::process::id());
    let args = SoakArgs {
        fanout: FanoutArgs { duration: 2.0, ..tiny_fanout() },
        logins_per_minute: 120.0,
        reconnects: 20.0,
        sample: 0.25,
        warmup: 0.5,
    };
    let json = run(&common, Scenario::Soak(args)).await;
    assert_all_delivered(&json, 3);
    assert!(json["logins_ok"].as_u64().unwrap() >= 1, "{json}");
    assert_eq!(json["logins_failed"], 0, "{json}");
    assert!(json["reconnects_ok"].as_u64().unwrap() >= 10, "{json}");
    assert_eq!(json["reconnects_failed"], 0, "{json}");
    assert!(json["samples_at_s_rss_kib_fds"].as_array().unwrap().len() >= 4, "{json}");
    assert!(json["rss_growth_pct"].is_number(), "{json}");
    assert!(json["fds_end"].as_u64().unwrap() > 0, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resume_storm_gets_every_stream_exactly_what_it_missed() {
    let server = spawn_chat().await;
    let mut common = common(&server);
    common.server_pid = Some(std::process::id());
    let json = run(&common, Scenario::ResumeStorm(ResumeStormArgs { streams: 20, behind: 10, wait: 20.0 })).await;
    assert_eq!(json["streams_opened"], 20, "{json}");
    assert_eq!(json["streams_synced"], 20, "{json}");
    assert_eq!(json["reconnect_concurrency"], 20, "all at once by default: {json}");
    assert_eq!(json["reconnect_errors"], 0, "{json}");
    assert_eq!(json["resumed"], 20, "{json}");
    assert_eq!(json["all_resumed"], true, "{json}");
    assert!(json["all_resumed_within_s"].is_number(), "{json}");
    assert_eq!(json["resume_count"], 20, "{json}");
    for zero in ["resets", "gaps", "duplicates", "missing", "foreign_events", "streams_ended_early"] {
        assert_eq!(json[zero], 0, "{zero}: {json}");
    }
    // Each resume replayed one page (10 messages), read or shared.
    assert_eq!(json["server_replays"], 20, "{json}");
    assert_eq!(json["server_replayed_messages"], 200, "{json}");
    let reads = json["replay_reads"].as_u64().unwrap() + json["replay_reads_shared"].as_u64().unwrap();
    assert_eq!(reads, 20, "{json}");
    assert!(json["storm_server_cpu_s"].is_number(), "{json}");
}
