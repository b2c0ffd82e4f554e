//! `chat-load plot`: turns run directories written by `--out` (ours, and
//! the bare floor's beside it) into two SVG charts: `latency.svg`, every
//! run's delivery latency by percentile on one chart (the x axis in
//! "nines", as HdrHistogram plots it: 0%, 90%, 99%, 99.9%...), and
//! `deliveries.svg`, deliveries per second over each run. It owns reading
//! those files back (with an error naming the file and line when one is
//! missing or malformed) and choosing axes; the drawing is [`svg`]'s. It
//! must not need anything but the files: no server, no network.

pub mod svg;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::out::{LATENCY_CSV, LATENCY_HEADER, SERIES_CSV, SERIES_HEADER, SUMMARY_JSON};
use svg::{Axis, Chart, Line, nice_ticks, number};

/// `plot`: run directories in, SVG charts out.
#[derive(Debug, Clone, clap::Args)]
pub struct PlotArgs {
    /// Run directories written with --out, ours first (e.g. the chat
    /// server's, then the bare floor's): one line each on every chart.
    #[arg(required = true, num_args = 1..=6)]
    pub runs: Vec<PathBuf>,
    /// A name for each run's line, in order [default: "chat", or "bare
    /// (floor)", from the run's summary.json; else the directory's name].
    #[arg(long)]
    pub label: Vec<String>,
    /// Where to write latency.svg and deliveries.svg [default: the first
    /// run directory].
    #[arg(long)]
    pub to: Option<PathBuf>,
    /// The line under each chart's title [default: the first run's
    /// scenario and sizes].
    #[arg(long)]
    pub caption: Option<String>,
}

/// One run directory, read back.
#[derive(Debug, Clone)]
pub struct Run {
    pub label: String,
    /// (percentile, latency ms, deliveries at or below it).
    pub latency: Vec<(f64, f64, u64)>,
    /// (second, deliveries that second).
    pub deliveries: Vec<(f64, f64)>,
    /// The run's summary.json, if it has one.
    pub summary: Option<Value>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {} (is it a run directory written by --out?)", path.display()))
}

/// The rows of a CSV file of ours: the expected header, then numbers (an
/// empty field is `None`), as many as the header has names.
fn parse_csv(path: &Path, text: &str, header: &str) -> Result<Vec<Vec<Option<f64>>>> {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().trim();
    if first != header {
        bail!("{}: the first line should be `{header}`, not `{first}`", path.display());
    }
    let columns = header.split(',').count();
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.trim().split(',').collect();
        if fields.len() != columns {
            bail!("{} line {}: {} fields, expected {columns}", path.display(), i + 2, fields.len());
        }
        let row = fields
            .iter()
            .map(|f| match f.trim() {
                "" => Ok(None),
                f => f.parse::<f64>().ok().filter(|v| v.is_finite()).map(Some).ok_or(f),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|f| anyhow::anyhow!("{} line {}: `{f}` is not a number", path.display(), i + 2))?;
        rows.push(row);
    }
    if rows.is_empty() {
        bail!("{}: no rows after the header", path.display());
    }
    Ok(rows)
}

impl Run {
    /// Reads `dir`'s latency.csv and series.csv (and summary.json, if any).
    pub fn load(dir: &Path, label: Option<&str>) -> Result<Run> {
        let path = dir.join(LATENCY_CSV);
        let latency = parse_csv(&path, &read(&path)?, LATENCY_HEADER)?
            .into_iter()
            .enumerate()
            .map(|(i, row)| match row[..] {
                [Some(p), Some(ms), Some(count)] if (0.0..=100.0).contains(&p) => Ok((p, ms, count as u64)),
                _ => bail!("{} line {}: needs a percentile (0-100), a latency and a count", path.display(), i + 2),
            })
            .collect::<Result<Vec<_>>>()?;
        let path = dir.join(SERIES_CSV);
        let deliveries = parse_csv(&path, &read(&path)?, SERIES_HEADER)?
            .into_iter()
            .enumerate()
            .map(|(i, row)| match row[..] {
                [Some(second), Some(deliveries), ..] => Ok((second, deliveries)),
                _ => bail!("{} line {}: needs a second and its deliveries", path.display(), i + 2),
            })
            .collect::<Result<Vec<_>>>()?;
        let path = dir.join(SUMMARY_JSON);
        let summary = match std::fs::read_to_string(&path) {
            Ok(text) => Some(serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?),
            Err(_) => None,
        };
        let label = match (label, summary.as_ref().and_then(|s: &Value| s["target"].as_str())) {
            (Some(label), _) => label.to_owned(),
            (None, Some("bare")) => "bare (floor)".to_owned(),
            (None, Some(target)) => target.to_owned(),
            (None, None) => dir.file_name().map_or("run".into(), |n| n.to_string_lossy().into_owned()),
        };
        Ok(Run { label, latency, deliveries, summary })
    }
}

/// "fanout: 1000 subscribers, 50 msg/s for 40 s", from what the summary has.
fn default_caption(run: &Run) -> String {
    let Some(s) = &run.summary else { return run.label.clone() };
    let mut parts = Vec::new();
    if let Some(n) = s["subscribers"].as_u64() {
        parts.push(format!("{n} subscribers"));
    } else if let Some(n) = s["streams"].as_u64() {
        parts.push(format!("{n} streams"));
    }
    match (s["rate_target"].as_f64(), s["duration_s"].as_f64()) {
        (Some(rate), Some(d)) => parts.push(format!("{rate} msg/s for {d} s")),
        _ => parts.extend(s["messages"].as_u64().map(|n| format!("{n} messages"))),
    }
    let scenario = s["scenario"].as_str().unwrap_or("run");
    if parts.is_empty() { scenario.to_owned() } else { format!("{scenario}: {}", parts.join(", ")) }
}

/// Where a percentile sits on the x axis: log10 of 1 / (1 - p), so 90% is
/// 1, 99% is 2... The maximum (100%) sits where 1 - p = 1 / count: it is
/// the one-in-`count` delivery.
fn nines(percentile: f64, count: u64) -> f64 {
    let rest = (100.0 - percentile) / 100.0;
    let floor = 1.0 / count.max(1) as f64;
    (1.0 / rest.max(floor)).log10()
}

/// "0%", "90%", "99%", "99.9%"... for 0, 1, 2, 3 nines.
fn nines_label(k: u32) -> String {
    match k {
        0 => "0%".to_owned(),
        1 => "90%".to_owned(),
        2 => "99%".to_owned(),
        k => format!("99.{}%", "9".repeat(k as usize - 2)),
    }
}

/// The latency-by-percentile chart of every run.
pub fn latency_chart(runs: &[Run], caption: &str) -> Chart {
    let lines: Vec<Line> = runs
        .iter()
        .map(|run| {
            let count = run.latency.last().map_or(1, |&(_, _, c)| c);
            Line {
                label: run.label.clone(),
                points: run.latency.iter().map(|&(p, ms, _)| (nines(p, count), ms)).collect(),
            }
        })
        .collect();
    let widest = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).fold(1.0, f64::max);
    let nines_max = (widest - 1e-9).ceil().max(1.0) as u32;
    let slowest = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0, f64::max);
    let (top, ticks) = nice_ticks(slowest);
    let step = ticks.get(1).copied().unwrap_or(top);
    Chart {
        title: "Delivery latency by percentile".to_owned(),
        caption: format!("{caption} (the line ends at the maximum)"),
        x: Axis {
            label: "percentile (log scale of 1 / (1 − p))".to_owned(),
            min: 0.0,
            max: f64::from(nines_max),
            ticks: (0..=nines_max).map(|k| (f64::from(k), nines_label(k))).collect(),
        },
        y: Axis { label: "latency (ms)".to_owned(), min: 0.0, max: top, ticks: label_ticks(&ticks, step) },
        lines,
    }
}

fn label_ticks(ticks: &[f64], step: f64) -> Vec<(f64, String)> {
    ticks.iter().map(|&t| (t, number(t, step))).collect()
}

/// The deliveries-per-second chart of every run.
pub fn deliveries_chart(runs: &[Run], caption: &str) -> Chart {
    let lines: Vec<Line> =
        runs.iter().map(|run| Line { label: run.label.clone(), points: run.deliveries.clone() }).collect();
    let last = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).fold(1.0, f64::max);
    let most = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0, f64::max);
    let (x_top, x_ticks) = nice_ticks(last);
    let (y_top, y_ticks) = nice_ticks(most);
    let x_step = x_ticks.get(1).copied().unwrap_or(x_top);
    let y_step = y_ticks.get(1).copied().unwrap_or(y_top);
    Chart {
        title: "Deliveries per second".to_owned(),
        caption: caption.to_owned(),
        x: Axis {
            label: "seconds since the first post".to_owned(),
            min: 0.0,
            max: x_top,
            ticks: label_ticks(&x_ticks, x_step),
        },
        y: Axis {
            label: "deliveries received that second".to_owned(),
            min: 0.0,
            max: y_top,
            ticks: label_ticks(&y_ticks, y_step),
        },
        lines,
    }
}

/// Reads the runs and writes both charts; returns the files written.
pub fn run(args: &PlotArgs) -> Result<Vec<PathBuf>> {
    if args.label.len() > args.runs.len() {
        bail!("{} --label for {} run directories", args.label.len(), args.runs.len());
    }
    let runs = args
        .runs
        .iter()
        .enumerate()
        .map(|(i, dir)| Run::load(dir, args.label.get(i).map(String::as_str)))
        .collect::<Result<Vec<_>>>()?;
    let caption = args.caption.clone().unwrap_or_else(|| default_caption(&runs[0]));
    let to = args.to.clone().unwrap_or_else(|| args.runs[0].clone());
    std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut written = Vec::new();
    for (name, chart) in
        [("latency.svg", latency_chart(&runs, &caption)), ("deliveries.svg", deliveries_chart(&runs, &caption))]
    {
        let path = to.join(name);
        std::fs::write(&path, svg::render(&chart)).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
