//! Smoke runs of every scenario at tiny sizes against the real chat server,
//! started in-process on an ephemeral port (as `tests/api/helpers.rs` does),
//! `fanout` and `idle` over each transport, plus the binary's command line
//! (with `--out` and `plot`), and `seed` (into SQLite before the server
//! starts on it, and into PostgreSQL when `CHAT_TEST_POSTGRES_URL` names
//! one). Only correctness is asserted (nothing lost or duplicated, counts
//! above zero, the JSON line parses): timings belong to the benchmark, not
//! to tests.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use chat_load::{
    Common, FanoutArgs, HistoryArgs, IdleArgs, Kind, LoginStormArgs, MaxPostArgs, ResumeStormArgs, RoomsArgs, Scenario,
    SearchArgs, SeedArgs, SoakArgs, Target, Transport, UploadStormArgs,
};
use rocket::Shutdown;
use rocket::fairing::AdHoc;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The chat server on an ephemeral port, on its own database.
struct Server {
    addr: SocketAddr,
    shutdown: Shutdown,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.clone().notify();
    }
}

async fn spawn_chat() -> Server {
    spawn_chat_on(tempfile::tempdir().expect("temp dir")).await
}

/// The chat server on the data directory `dir` (and so on its database).
async fn spawn_chat_on(dir: TempDir) -> Server {
    // The tests run in load/: the app's templates and static files are one up.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root");
    let figment = chat::figment()
        .merge(("data_dir", dir.path()))
        .merge(("template_dir", root.join("templates")))
        .merge(("static_dir", root.join("static")))
        .merge(("rate_limits", false))
        // For resume-storm's server figures.
        .merge(("metrics", true))
        .merge(("port", 0))
        .merge(("log_level", "off"))
        .merge(("cli_colors", false));
    let (port_tx, port_rx) = oneshot::channel();
    let port_tx = Mutex::new(Some(port_tx));
    let rocket = chat::build(figment)
        .expect("config is valid")
        .attach(AdHoc::on_liftoff("Report the port", move |rocket| {
            if let Some(tx) = port_tx.lock().unwrap().take() {
                let _ = tx.send(rocket.config().port);
            }
            Box::pin(async {})
        }))
        .ignite()
        .await
        .expect("the app ignites");
    let shutdown = rocket.shutdown();
    tokio::spawn(rocket.launch());
    let port = tokio::time::timeout(Duration::from_secs(10), port_rx)
        .await
        .expect("the server starts within 10 s")
        .expect("liftoff reports the port");
    Server { addr: SocketAddr::from(([127, 0, 0, 1], port)), shutdown, _dir: dir }
}

fn common(server: &Server) -> Common {
    let mut common = Common::new(Target::at(server.addr, Kind::Chat).expect("a loopback address"));
    common.deadline = Some(Duration::from_secs(50));
    common
}

/// Runs a scenario and returns its JSON line, parsed.
async fn run(common: &Common, scenario: Scenario) -> Value {
    let report = chat_load::run(common, &scenario).await.unwrap_or_else(|e| panic!("{}: {e:#}", scenario.name()));
    let rendered = report.render();
    let last = rendered.lines().last().expect("output");
    let json: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("the last line is not JSON ({e}): {last}"));
    assert_eq!(json["scenario"], scenario.name());
    assert!(json["wall_s"].as_f64().unwrap() > 0.0);
    assert!(json["client_cpu_pct"].is_number());
    json
}

fn tiny_fanout() -> FanoutArgs {
    FanoutArgs {
        subscribers: 3,
        rooms: 1,
        posters: 2,
        rate: 20.0,
        duration: 1.0,
        drain: 5.0,
        in_flight: 4,
        transport: Transport::Sse,
    }
}

fn assert_all_delivered(json: &Value, subscribers: u64) {
    let accepted = json["posts_accepted"].as_u64().unwrap();
    assert!(accepted > 0, "{json}");
    assert_eq!(json["posts_failed"], 0, "{json}");
    assert_eq!(json["subscribers_connected"], subscribers, "{json}");
    assert_eq!(json["deliveries_expected"], accepted * subscribers, "{json}");
    assert_eq!(json["deliveries_received"], accepted * subscribers, "{json}");
    assert_eq!(json["lost"], 0, "{json}");
    assert_eq!(json["duplicated"], 0, "{json}");
    assert_eq!(json["unacknowledged"], 0, "{json}");
    assert_eq!(json["delivery_count"], accepted * subscribers, "{json}");
    assert_eq!(json["post_count"], json["posts_attempted"], "{json}");
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_deals_over_instances_from_its_own_source_address() {
    let server = spawn_chat().await;
    let url = format!("http://{}", server.addr);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_chat-load"))
            .args(["--url", &url, "--also-url", &url, "--source", "127.0.0.3", "--run", "0000abcd"])
            .args(["--deadline", "50", "fanout", "-s", "4", "-p", "2", "-r", "10", "-d", "1"])
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let json: Value = serde_json::from_str(stdout.lines().last().unwrap()).expect("the last line is JSON");
    assert_all_delivered(&json, 4);
    assert_eq!(json["run"], "0000abcd", "{json}");
    assert_eq!(json["room"], "load-0000abcd", "{json}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_a_summary_then_one_json_line() {
    let server = spawn_chat().await;
    let url = format!("http://{}", server.addr);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_chat-load"))
            .args(["--url", &url, "--deadline", "50", "fanout", "-s", "2", "-p", "1", "-r", "10", "-d", "1"])
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() >= 3, "{stdout}");
    assert!(lines[..lines.len() - 1].iter().all(|l| serde_json::from_str::<Value>(l).is_err()), "{stdout}");
    let json: Value = serde_json::from_str(lines[lines.len() - 1]).expect("the last line is JSON");
    assert_all_delivered(&json, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_writes_a_fanout_as_files_that_plot_turns_into_svg() {
    let server = spawn_chat().await;
    let (url, dir) = (format!("http://{}", server.addr), tempfile::tempdir().unwrap());
    let (run_dir, charts) = (dir.path().join("run"), dir.path().join("charts"));
    let (run_arg, charts_arg) = (run_dir.clone(), charts.clone());
    let (ran, plotted) = tokio::task::spawn_blocking(move || {
        let ran = Command::new(env!("CARGO_BIN_EXE_chat-load"))
            .args(["--url", &url, "--deadline", "50", "--out"])
            .arg(&run_arg)
            .args(["fanout", "-s", "3", "-p", "2", "-r", "20", "-d", "2"])
            .output()
            .expect("the binary runs");
        let plotted = Command::new(env!("CARGO_BIN_EXE_chat-load"))
            .arg("plot")
            .arg(&run_arg)
            .arg("--to")
            .arg(&charts_arg)
            .output();
        (ran, plotted.expect("the binary runs"))
    })
    .await
    .unwrap();
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert_eq!(std::fs::read_to_string(run_dir.join("summary.txt")).unwrap(), stdout);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap()).unwrap();
    assert_all_delivered(&json, 3);
    let latency = std::fs::read_to_string(run_dir.join("latency.csv")).unwrap();
    assert!(latency.starts_with("percentile,latency_ms,count\n0,"), "{latency}");
    let total = format!(",{}\n", json["deliveries_received"]);
    assert!(latency.lines().last().unwrap().starts_with("100,") && latency.ends_with(&total), "{latency}");
    // Every delivery and post is in some second of the series.
    let series = std::fs::read_to_string(run_dir.join("series.csv")).unwrap();
    let mut lines = series.lines();
    assert_eq!(lines.next(), Some("second,deliveries,posts,p50_ms,p99_ms"));
    let sums = lines.map(|l| l.split(',').map(|f| f.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>());
    let (deliveries, posts) = sums.fold((0, 0), |(d, p), row| (d + row[1], p + row[2]));
    assert_eq!(
        (Some(deliveries), Some(posts)),
        (json["deliveries_received"].as_u64(), json["posts_attempted"].as_u64())
    );
    assert_eq!(json["series_outside"], 0, "{json}");

    assert!(plotted.status.success(), "{}", String::from_utf8_lossy(&plotted.stderr));
    for name in ["latency.svg", "deliveries.svg"] {
        let svg = std::fs::read_to_string(charts.join(name)).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 1, "{svg}");
    }
}

#[test]
fn the_binary_refuses_non_loopback_urls() {
    for url in ["http://10.1.2.3:8000", "http://example.com", "http://[::ffff:127.0.0.1]:80"] {
        let output = Command::new(env!("CARGO_BIN_EXE_chat-load"))
            .args(["--url", url, "fanout", "-s", "1", "-d", "1"])
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{url}: {stderr}");
        assert!(stderr.contains("refusing") && stderr.contains("loopback"), "{url}: {stderr}");
        assert!(output.stdout.is_empty(), "{url}");
    }
}

/// The JSON line of a report.
fn json_of(report: &chat_load::Report) -> Value {
    let rendered = report.render();
    serde_json::from_str(rendered.lines().last().expect("output")).expect("the last line is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_seeded_history_is_served_like_a_posted_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = SeedArgs {
        messages: 3000,
        rooms: 4,
        big_room_share: 0.5,
        sqlite_data_dir: Some(dir.path().to_owned()),
        postgres: None,
    };
    let json = json_of(&chat_load::seed::run(&seed).await.expect("seeding"));
    assert_eq!(json["messages"], 3000, "{json}");
    assert_eq!(json["big_room_messages"], 1500, "{json}");
    assert!(json["bytes_per_message"].as_f64().unwrap() > 50.0, "{json}");
    // A seed is a history from scratch: a second one is refused.
    let again = chat_load::seed::run(&seed).await.expect_err("seeding twice").to_string();
    assert!(again.contains("already holds"), "{again}");

    let server = spawn_chat_on(dir).await;
    let args = HistoryArgs { rounds: 2, rooms: 4, back: 1000, behind: 100, page: 50 };
    let json = run(&common(&server), Scenario::History(args)).await;
    assert_eq!(json["errors"], 0, "{json}");
    assert_eq!(json["big_room_newest"], 1500, "{json}");
    assert_eq!(json["back_distance"], 1000, "{json}");
    assert_eq!(json["back_halfway"], false, "{json}");
    for (what, messages) in [("latest", 100), ("back", 100), ("resume", 200)] {
        assert_eq!(json[format!("{what}_count")], 2, "{json}");
        assert_eq!(json[format!("{what}_messages")], messages, "{json}");
    }
    assert_eq!(json["resumes_in_order"], 2, "{json}");
    // Every room holds more than --behind: no resume had to move.
    assert_eq!(json["resumes_in_big_room"], 0, "{json}");
    let classes = chat_load::scenario::corpus::QUERIES.len() as u64;
    assert_eq!(json["search_count"], 2 * classes, "{json}");
    // Messages 17 and 3 carry the planted words; "the" is everywhere.
    assert_eq!(json["hits"]["quasar"], "1", "{json}");
    assert_eq!(json["hits"]["the"], "20+", "{json}");
    assert_eq!(json["hits"]["xylophonist"], "0", "{json}");

    // A post after the seed takes the room's next id, and is found first.
    let target = Target::at(server.addr, Kind::Chat).unwrap();
    let mut conn = chat_load::http::Conn::new(&target, Duration::from_secs(10));
    let posted = conn.post("/rooms/hist-0001/messages", "application/json", br#"{"text":"the quasar again"}"#);
    let posted = posted.await.expect("posting");
    assert_eq!(posted.status(), 201, "{}", posted.text());
    let message: Value = serde_json::from_slice(&posted.body).unwrap();
    assert_eq!(message["id"], 501, "{message}");
    let found = conn.get("/api/search?q=quasar").await.expect("searching");
    let found: Value = serde_json::from_slice(&found.body).unwrap();
    let rooms: Vec<&str> = found["results"].as_array().unwrap().iter().map(|h| h["room"].as_str().unwrap()).collect();
    assert_eq!(rooms.len(), 2, "{found}");
    assert_eq!(rooms[0], "hist-0001", "{found}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_postgres_writes_every_row() {
    use sqlx::{Connection, Executor};
    let Ok(base) = std::env::var("CHAT_TEST_POSTGRES_URL") else {
        return; // no PostgreSQL to test against
    };
    // A schema of its own (as tests/api does), dropped at the end.
    let schema = format!("chat_load_seed_{:08x}", chat_load::probe::run_id());
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("PostgreSQL answers");
    admin.execute(format!("CREATE SCHEMA {schema}").as_str()).await.unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    let seed =
        SeedArgs { messages: 300, rooms: 3, big_room_share: 0.5, sqlite_data_dir: None, postgres: Some(url.clone()) };
    let seeded = chat_load::seed::run(&seed).await;
    let again = chat_load::seed::run(&seed).await;
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let counts: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT r.name, r.last_id, (SELECT count(*) FROM messages m WHERE m.room = r.name) FROM rooms r ORDER BY 1",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    // Numbered for search in time order, and found by the trigram index.
    let ordered: bool = sqlx::query_scalar(
        "SELECT bool_and(seq > prev) FROM (SELECT search_seq AS seq, lag(search_seq, 1, 0::int8) \
         OVER (ORDER BY at_ms) AS prev FROM messages) AS s",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    let quasar: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE text ILIKE '%quasar%'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    admin.execute(format!("DROP SCHEMA {schema} CASCADE").as_str()).await.unwrap();
    let json = json_of(&seeded.expect("seeding"));
    assert_eq!(json["engine"], "postgres", "{json}");
    assert!(json["bytes"].as_u64().unwrap() > 0, "{json}");
    assert!(again.expect_err("seeding twice").to_string().contains("already holds"));
    let expected =
        [("hist-0000".to_owned(), 150, 150), ("hist-0001".to_owned(), 75, 75), ("hist-0002".to_owned(), 75, 75)];
    assert_eq!(counts, expected);
    assert!(ordered);
    assert_eq!(quasar, 1);
}
