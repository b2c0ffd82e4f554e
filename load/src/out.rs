//! What `--out DIR` writes beside the printed report, so a run can be
//! plotted (`chat-load plot`, [`crate::plot`]) and kept: `summary.txt` (the
//! output as printed), `summary.json` (its JSON line), `latency.csv` (the
//! delivery latency's percentile distribution) and `series.csv` (one row per
//! second). It owns these file names and column headers, which the plotter
//! reads back; it must not measure anything itself.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::report::{Latency, Report};
use crate::series::Table;

pub const SUMMARY_TXT: &str = "summary.txt";
pub const SUMMARY_JSON: &str = "summary.json";
pub const LATENCY_CSV: &str = "latency.csv";
pub const SERIES_CSV: &str = "series.csv";

/// `percentile` in percent (0 to 100); `latency_ms` the delivery latency at
/// it; `count` the deliveries at or below that latency (of the last row's).
pub const LATENCY_HEADER: &str = "percentile,latency_ms,count";
/// Per second since the first post: deliveries received, posts sent, and
/// the p50 and p99 of that second's deliveries (empty without any; within
/// 6.25% above the true value, see [`crate::series`]).
pub const SERIES_HEADER: &str = "second,deliveries,posts,p50_ms,p99_ms";

/// Makes the directory before the run, so a bad path fails before the load.
pub fn prepare(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the --out directory {}", dir.display()))
}

/// Writes the run's files into `dir`; returns their paths. `latency.csv`
/// only if the run timed deliveries, `series.csv` only if it kept a series.
pub fn write(dir: &Path, report: &Report) -> Result<Vec<PathBuf>> {
    let mut files = vec![(SUMMARY_TXT, report.render()), (SUMMARY_JSON, format!("{}\n", report.json_line()))];
    if let Some(histogram) = report.distribution.as_ref().filter(|h| !h.is_empty()) {
        files.push((LATENCY_CSV, latency_csv(histogram)));
    }
    if let Some(table) = &report.series {
        files.push((SERIES_CSV, series_csv(table)));
    }
    files
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

/// The percentiles reported for `count` samples, in percent: the usual
/// named ones (50, 75, 90, 99, 99.9...) and five log-spaced ticks per
/// decade of 1/(1 - p) between them, as far as `count` samples can tell
/// apart (1 - p at least 1/count), then 0 and 100.
pub fn percentiles(count: u64) -> Vec<f64> {
    let named = [50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 99.9999];
    let ticks = (1..).map(|k| 100.0 * (1.0 - 10f64.powf(-f64::from(k) / 5.0)));
    let within = |p: &f64| (100.0 - p) / 100.0 * count as f64 >= 1.0 - 1e-9;
    // A tick that is a named percentile (90, 99...) leaves it to the name,
    // which is exact.
    let unnamed = |p: &f64| named.iter().all(|n| (n - p).abs() > 1e-6);
    let mut all: Vec<f64> = std::iter::once(0.0)
        .chain(named.into_iter().filter(within))
        .chain(ticks.take_while(within).filter(unnamed))
        .chain(std::iter::once(100.0))
        .collect();
    all.sort_by(f64::total_cmp);
    all
}

/// A number with up to `decimals` decimals, without trailing zeros.
fn trim(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

fn ms(us: u64) -> String {
    trim(us as f64 / 1000.0, 3)
}

/// `latency.csv`: the histogram's value at each of [`percentiles`].
pub fn latency_csv(histogram: &Latency) -> String {
    let mut csv = format!("{LATENCY_HEADER}\n");
    for p in percentiles(histogram.len()) {
        let value = histogram.value_at_quantile(p / 100.0);
        let count = histogram.count_between(0, value);
        let _ = writeln!(csv, "{},{},{count}", trim(p, 6), ms(value));
    }
    csv
}

/// `series.csv`: one row per second.
pub fn series_csv(table: &Table) -> String {
    let mut csv = format!("{SERIES_HEADER}\n");
    for row in &table.rows {
        let opt = |us: Option<u64>| us.map(ms).unwrap_or_default();
        let _ =
            writeln!(csv, "{},{},{},{},{}", row.second, row.deliveries, row.posts, opt(row.p50_us), opt(row.p99_us));
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{latency, record_us};
    use crate::series::Row;

    #[test]
    fn percentiles_go_as_far_as_the_samples_tell() {
        let few = percentiles(10);
        assert_eq!(few.first(), Some(&0.0));
        assert_eq!(few.last(), Some(&100.0));
        assert!(few.contains(&50.0) && few.contains(&90.0) && !few.contains(&99.0), "{few:?}");
        let many = percentiles(1_000_000);
        for p in [50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 99.9999] {
            assert!(many.contains(&p), "{p} in {many:?}");
        }
        assert!(!many.contains(&99.99999), "{many:?}");
        assert!(many.windows(2).all(|w| w[0] < w[1]), "{many:?}");
        // Five ticks per decade between the named ones: 1 - p = 10^(-1/5)...
        assert!(many.iter().any(|p| (p - 36.904_265).abs() < 1e-5), "{many:?}");
    }

    #[test]
    fn the_distribution_is_written_percentile_by_percentile() {
        let mut h = latency();
        for us in 1..=1000 {
            record_us(&mut h, us * 1000); // 1 ms to 1 s
        }
        let csv = latency_csv(&h);
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(LATENCY_HEADER));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows[0], ["0", "1", "1"]);
        let median = rows.iter().find(|r| r[0] == "50").expect("p50");
        assert_eq!(median[2], "500", "{csv}");
        assert!((median[1].parse::<f64>().unwrap() - 500.0).abs() < 1.0, "{csv}");
        assert_eq!(rows.last().unwrap()[0], "100");
        assert_eq!(rows.last().unwrap()[2], "1000");
        assert!(rows.iter().any(|r| r[0] == "99.9"), "{csv}");
    }

    #[test]
    fn seconds_without_deliveries_have_empty_percentiles() {
        let rows = vec![
            Row { second: 0, deliveries: 3, posts: 1, p50_us: Some(1500), p99_us: Some(20_000) },
            Row { second: 1, deliveries: 0, posts: 2, p50_us: None, p99_us: None },
        ];
        let csv = series_csv(&Table { rows, outside: 0 });
        assert_eq!(csv, format!("{SERIES_HEADER}\n0,3,1,1.5,20\n1,0,2,,\n"));
    }
}
