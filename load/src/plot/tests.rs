//! The plotter against files like `--out` writes, and against broken ones.

use std::path::Path;

use super::*;
use crate::out::{latency_csv, series_csv};
use crate::report::{latency, record_us};
use crate::series::{Row, Table};

/// A run directory as `--out` writes it: `n` deliveries from 1 to `n` ms.
fn write_run(dir: &Path, target: &str, n: u64) {
    let mut h = latency();
    for ms in 1..=n {
        record_us(&mut h, ms * 1000);
    }
    let rows = (0..5).map(|s| Row { second: s, deliveries: n / 5, posts: 2, p50_us: None, p99_us: None }).collect();
    std::fs::write(dir.join(LATENCY_CSV), latency_csv(&h)).unwrap();
    std::fs::write(dir.join(SERIES_CSV), series_csv(&Table { rows, outside: 0 })).unwrap();
    let summary = serde_json::json!({"scenario": "fanout", "target": target, "subscribers": 10, "rate_target": 5.0, "duration_s": 5.0});
    std::fs::write(dir.join(SUMMARY_JSON), format!("{summary}\n")).unwrap();
}

/// Every element opened is closed, in order (enough to catch a broken
/// document without an XML parser).
fn assert_well_formed(svg: &str) {
    let mut open = Vec::new();
    for tag in svg.split('<').skip(1) {
        let tag = &tag[..tag.find('>').expect("every tag ends")];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name.to_owned()), "closing {name}");
        } else if !tag.ends_with('/') {
            open.push(tag.split_whitespace().next().unwrap().to_owned());
        }
    }
    assert!(open.is_empty(), "left open: {open:?}");
}

#[test]
fn percentiles_sit_on_a_scale_of_nines() {
    assert_eq!(nines(0.0, 1000), 0.0);
    assert!((nines(90.0, 1000) - 1.0).abs() < 1e-9);
    assert!((nines(99.9, 1000) - 3.0).abs() < 1e-9);
    assert!((nines(100.0, 1000) - 3.0).abs() < 1e-9, "the maximum is the one-in-1000");
    assert_eq!([0, 1, 2, 3, 4].map(nines_label), ["0%", "90%", "99%", "99.9%", "99.99%"]);
}

#[test]
fn two_runs_become_two_charts_of_two_lines() {
    let (ours, floor, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_run(ours.path(), "chat", 2000);
    write_run(floor.path(), "bare", 1000);
    let args = PlotArgs {
        runs: vec![ours.path().to_owned(), floor.path().to_owned()],
        label: Vec::new(),
        to: Some(to.path().to_owned()),
        caption: Some("tiny & <quick>".to_owned()),
    };
    let written = run(&args).expect("plots");
    assert_eq!(written, [to.path().join("latency.svg"), to.path().join("deliveries.svg")]);
    for path in &written {
        let svg = std::fs::read_to_string(path).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
        assert_well_formed(&svg);
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains(">chat</text>") && svg.contains(">bare (floor)</text>"), "the legend: {svg}");
        assert!(svg.contains("tiny &amp; &lt;quick&gt;") && !svg.contains("<quick>"), "escaped: {svg}");
    }
    let latency = std::fs::read_to_string(&written[0]).unwrap();
    assert!(latency.contains("<title id=\"title\">Delivery latency by percentile</title>"), "{latency}");
    for tick in ["0%", "90%", "99%", "99.9%", "99.99%"] {
        assert!(latency.contains(&format!(">{tick}</text>")), "{tick}: {latency}");
    }
    // 2000 deliveries: the maximum sits at log10(2000), within four nines.
    assert!(!latency.contains(">99.999%</text>"), "{latency}");
}

#[test]
fn a_run_reads_back_what_out_wrote() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), "bare", 100);
    let run = Run::load(dir.path(), None).unwrap();
    assert_eq!(run.label, "bare (floor)");
    assert_eq!(run.latency.first(), Some(&(0.0, 1.0, 1)));
    let &(p, ms, count) = run.latency.last().unwrap();
    assert!(p == 100.0 && (ms - 100.0).abs() < 0.1 && count == 100, "{:?}", run.latency);
    assert_eq!(run.deliveries, [(0.0, 20.0), (1.0, 20.0), (2.0, 20.0), (3.0, 20.0), (4.0, 20.0)]);
    assert_eq!(default_caption(&run), "fanout: 10 subscribers, 5 msg/s for 5 s");
    assert_eq!(Run::load(dir.path(), Some("mine")).unwrap().label, "mine");
}

#[test]
fn missing_or_broken_files_are_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = format!("{:#}", Run::load(dir.path(), None).unwrap_err());
    assert!(error.contains("latency.csv") && error.contains("--out"), "{error}");

    write_run(dir.path(), "chat", 10);
    std::fs::remove_file(dir.path().join(SERIES_CSV)).unwrap();
    let error = format!("{:#}", Run::load(dir.path(), None).unwrap_err());
    assert!(error.contains("series.csv"), "{error}");

    for (text, expected) in [
        ("latency,percentile\n1,2\n", "the first line should be `percentile,latency_ms,count`"),
        ("percentile,latency_ms,count\n", "no rows"),
        ("percentile,latency_ms,count\n0,1,1\n50,fast,2\n", "line 3: `fast` is not a number"),
        ("percentile,latency_ms,count\n0,1\n", "line 2: 2 fields, expected 3"),
        ("percentile,latency_ms,count\n150,1,1\n", "line 2: needs a percentile (0-100)"),
    ] {
        std::fs::write(dir.path().join(LATENCY_CSV), text).unwrap();
        let error = format!("{:#}", Run::load(dir.path(), None).unwrap_err());
        assert!(error.contains(expected) && error.contains("latency.csv"), "{text:?}: {error}");
    }

    let args =
        PlotArgs { runs: vec![dir.path().to_owned()], label: vec!["a".into(), "b".into()], to: None, caption: None };
    assert!(run(&args).unwrap_err().to_string().contains("2 --label for 1 run"));
}
