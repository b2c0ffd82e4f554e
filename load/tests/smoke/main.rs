//! Smoke runs of every scenario at tiny sizes against the real chat server,
//! started in-process on an ephemeral port (as `tests/api/helpers.rs` does),
//! `fanout` and `idle` over each transport, plus the binary's command line
//! (with `--out` and `plot`), and `seed` (into SQLite before the server
//! starts on it, and into PostgreSQL when `CHAT_TEST_POSTGRES_URL` names
//! one). Only correctness is asserted (nothing lost or duplicated, counts
//! above zero, the JSON line parses): timings belong to the benchmark, not
//! to tests.
//!
//! The runs are in `scenarios` (each scenario in-process), `binary` (the
//! `chat-load` binary: its command line, output files and plots) and `seed`.

mod binary;
mod scenarios;
mod seed;

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
