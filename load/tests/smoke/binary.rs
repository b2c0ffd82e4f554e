//! The `chat-load` binary: its command line, its summary and JSON line,
//! `--out` files and `plot`, loopback-only URLs.

use super::*;

/// Runs the `chat-load` binary with `args` (off the runtime's threads),
/// requires success, and answers its standard output.
async fn run_binary(args: Vec<&str>) -> String {
    let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_chat-load")).args(&args).output().expect("the binary runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_deals_over_instances_from_its_own_source_address() {
    let server = spawn_chat().await;
    let url = format!("http://{}", server.addr);
    let stdout = run_binary(vec![
        "--url",
        &url,
        "--also-url",
        &url,
        "--source",
        "127.0.0.3",
        "--run",
        "0000abcd",
        "--deadline",
        "50",
        "fanout",
        "-s",
        "4",
        "-p",
        "2",
        "-r",
        "10",
        "-d",
        "1",
    ])
    .await;
    let json: Value = serde_json::from_str(stdout.lines().last().unwrap()).expect("the last line is JSON");
    assert_all_delivered(&json, 4);
    assert_eq!(json["run"], "0000abcd", "{json}");
    assert_eq!(json["room"], "load-0000abcd", "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_a_summary_then_one_json_line() {
    let server = spawn_chat().await;
    let url = format!("http://{}", server.addr);
    let stdout =
        run_binary(vec!["--url", &url, "--deadline", "50", "fanout", "-s", "2", "-p", "1", "-r", "10", "-d", "1"])
            .await;
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
