//! A scenario's result: a short human summary, then exactly one JSON line
//! (one flat object holding every figure) for machines. Also the latency
//! histograms (microseconds, `hdrhistogram`) and how they are reported:
//! `<name>_p50_ms`, `_p90_ms`, `_p99_ms`, `_max_ms` and `_count`. A report
//! may also carry what `--out` writes beside it ([`crate::out`]): the whole
//! delivery latency histogram and the per-second series.

use hdrhistogram::Histogram;
use serde_json::{Map, Value};

use crate::series::Table;
use crate::sys::UsageReport;

/// A latency histogram in microseconds, from 1 µs to 10 minutes at three
/// significant figures.
pub type Latency = Histogram<u64>;

pub fn latency() -> Latency {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Records a duration, clamped into the histogram's range.
pub fn record_us(histogram: &mut Latency, micros: u64) {
    histogram.saturating_record(micros.max(1));
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// `p50/p90/p99/max` in milliseconds, for the summary.
pub fn brief(histogram: &Latency) -> String {
    if histogram.is_empty() {
        return "no samples".to_owned();
    }
    let q = |q: f64| ms(histogram.value_at_quantile(q));
    format!("p50 {} ms, p90 {} ms, p99 {} ms, max {} ms", q(0.5), q(0.9), q(0.99), ms(histogram.max()))
}

/// The 99th percentile in ms, or `None` without samples.
pub fn p99_ms(histogram: &Latency) -> Option<f64> {
    (!histogram.is_empty()).then(|| ms(histogram.value_at_quantile(0.99)))
}

/// A scenario's figures and summary.
#[derive(Debug, Clone)]
pub struct Report {
    pub summary: Vec<String>,
    pub figures: Map<String, Value>,
    /// Post-to-delivery latency over the whole run, for `latency.csv`
    /// (scenarios that time deliveries).
    pub distribution: Option<Latency>,
    /// The per-second series, for `series.csv` (recorded only with `--out`).
    pub series: Option<Table>,
}

impl Report {
    pub fn new(scenario: &str) -> Self {
        let mut figures = Map::new();
        figures.insert("scenario".into(), scenario.into());
        Self { summary: Vec::new(), figures, distribution: None, series: None }
    }

    pub fn line(&mut self, text: impl Into<String>) {
        self.summary.push(text.into());
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.figures.insert(key.to_owned(), value.into());
    }

    /// Rounds to milliseconds-friendly precision (3 decimals).
    pub fn set_f(&mut self, key: &str, value: f64) {
        self.set(key, (value * 1000.0).round() / 1000.0);
    }

    /// `<name>_count`, `_p50_ms`, `_p90_ms`, `_p99_ms`, `_max_ms` (null
    /// without samples).
    pub fn set_latency(&mut self, name: &str, histogram: &Latency) {
        self.set(&format!("{name}_count"), histogram.len());
        let empty = histogram.is_empty();
        for (label, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
            let value = (!empty).then(|| ms(histogram.value_at_quantile(q)));
            self.set(&format!("{name}_{label}_ms"), value);
        }
        self.set(&format!("{name}_max_ms"), (!empty).then(|| ms(histogram.max())));
    }

    /// The wall time and CPU figures every scenario reports.
    pub fn set_usage(&mut self, usage: &UsageReport) {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let pct = |cpu: f64| if usage.wall_s > 0.0 { 100.0 * cpu / usage.wall_s } else { 0.0 };
        self.set_f("wall_s", usage.wall_s);
        self.set_f("client_cpu_user_s", usage.client.user);
        self.set_f("client_cpu_sys_s", usage.client.sys);
        self.set_f("client_cpu_pct", pct(usage.client.total()));
        self.set("cores", cores);
        let mut line = format!(
            "run: {:.1} s wall; client CPU {:.2} s user + {:.2} s sys = {:.0}% of one core ({cores} cores)",
            usage.wall_s,
            usage.client.user,
            usage.client.sys,
            pct(usage.client.total())
        );
        if let Some(server) = usage.server {
            self.set_f("server_cpu_user_s", server.user);
            self.set_f("server_cpu_sys_s", server.sys);
            self.set_f("server_cpu_pct", pct(server.total()));
            line.push_str(&format!("; server CPU {:.2} s = {:.0}% of one core", server.total(), pct(server.total())));
        }
        if let Some(memory) = usage.server_memory {
            self.set("server_rss_end_kib", memory.rss_kib);
            self.set("server_rss_peak_kib", memory.hwm_kib);
            self.set("server_threads", memory.threads);
        }
        self.line(line);
    }

    /// The JSON line.
    pub fn json_line(&self) -> String {
        Value::Object(self.figures.clone()).to_string()
    }

    /// The summary lines, then the JSON line, as printed.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.summary {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&self.json_line());
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_become_flat_figures() {
        let mut h = latency();
        for us in 1..=1000 {
            record_us(&mut h, us * 1000);
        }
        let mut report = Report::new("test");
        report.set_latency("delivery", &h);
        report.set_latency("post", &latency());
        let json: Value = serde_json::from_str(&report.json_line()).unwrap();
        assert_eq!(json["scenario"], "test");
        assert_eq!(json["delivery_count"], 1000);
        assert!((json["delivery_p50_ms"].as_f64().unwrap() - 500.0).abs() < 1.0);
        assert!((json["delivery_max_ms"].as_f64().unwrap() - 1000.0).abs() < 1.0);
        assert!(json["post_p99_ms"].is_null());
        assert!(report.render().ends_with(&format!("{}\n", report.json_line())));
    }
}
