//! The `soak` scenario: a long fan-out with everything else a day brings
//! running beside it — logins at a steady pace and streams reconnecting
//! many times a second — while the server's resident memory and open
//! descriptors are sampled. It answers whether the server holds steady: RSS
//! after the warm-up against RSS at the end, descriptors at both, and the
//! fan-out's own losses and duplicates. Nothing here asserts a figure; the
//! report carries the samples so a reader can see the whole curve.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::delivery::{describe, plan};
use super::fanout;
use super::login::{register, submit};
use super::{Common, SoakArgs};
use crate::http::EventStream;
use crate::report::{Latency, Report, brief, latency, record_us};
use crate::sys::memory;

/// Reconnecting streams allowed in flight at once; beyond it a due
/// reconnect is counted as skipped rather than queued without bound.
const RECONNECTS_IN_FLIGHT: usize = 512;

/// Accounts the logins take turns with.
const ACCOUNTS: usize = 8;

/// One sample of the server.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at_s: f64,
    rss_kib: u64,
    fds: u64,
}

fn open_fds(pid: u32) -> Result<u64> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64)
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
}

/// Logins one after another at `per_minute`, until `stop`.
async fn logins(
    common: &Common,
    names: &[String],
    per_minute: f64,
    mut stop: watch::Receiver<bool>,
) -> (Counts, Latency) {
    let (counts, mut took) = (Counts::default(), latency());
    let mut tick = tokio::time::interval(Duration::from_secs_f64(60.0 / per_minute));
    for n in 0.. {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
        }
        let started = Instant::now();
        match submit(common, "/login", &names[n % names.len()]).await {
            Ok((303, _)) => {
                counts.ok.fetch_add(1, Relaxed);
                record_us(&mut took, started.elapsed().as_micros() as u64);
            }
            _ => {
                counts.failed.fetch_add(1, Relaxed);
            }
        }
    }
    (counts, took)
}

/// Opens a stream on the room `per_second` times a second, reads its first
/// answer (the latest messages) and drops it, until `stop`.
async fn reconnects(common: &Common, per_second: f64, mut stop: watch::Receiver<bool>) -> (Arc<Counts>, Latency) {
    let counts = Arc::new(Counts::default());
    let permits = Arc::new(Semaphore::new(RECONNECTS_IN_FLIGHT));
    let mut tasks = JoinSet::new();
    let mut took = latency();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let path = format!("/rooms/{}/events", common.room);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
        }
        while let Some(done) = tasks.try_join_next() {
            if let Ok(Some(us)) = done {
                record_us(&mut took, us);
            }
        }
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            counts.skipped.fetch_add(1, Relaxed);
            continue;
        };
        let (target, path, counts, timeout) = (common.target.clone(), path.clone(), counts.clone(), common.timeout);
        tasks.spawn(async move {
            let started = Instant::now();
            let first = async {
                let mut stream = EventStream::open(&target, &path, timeout, 4096).await?;
                let mut events = 0;
                while events == 0 {
                    if !stream.read_events(|_| events += 1).await? {
                        bail!("the stream ended before its first event");
                    }
                }
                Ok(())
            };
            let outcome = tokio::time::timeout(timeout, first).await;
            drop(permit);
            if matches!(outcome, Ok(Ok(()))) {
                counts.ok.fetch_add(1, Relaxed);
                Some(started.elapsed().as_micros() as u64)
            } else {
                counts.failed.fetch_add(1, Relaxed);
                None
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(Some(us)) = done {
            record_us(&mut took, us);
        }
    }
    (counts, took)
}

/// Samples the server every `every` until `stop`.
async fn sampler(pid: u32, every: Duration, started: Instant, mut stop: watch::Receiver<bool>) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
        }
        if let (Ok(m), Ok(fds)) = (memory(pid), open_fds(pid)) {
            samples.push(Sample { at_s: started.elapsed().as_secs_f64(), rss_kib: m.rss_kib, fds });
        }
    }
    samples
}

pub(super) async fn run(common: &Common, args: &SoakArgs) -> Result<Report> {
    let pid = common.server_pid.context("soak needs --server-pid")?;
    let names: Vec<String> = (0..ACCOUNTS).map(|i| format!("soak{:08x}u{i}", common.run)).collect();
    if args.logins_per_minute > 0.0 {
        register(common, &names).await?;
    }
    let plan = plan(&args.fanout);
    let (posting_tx, posting_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let sampling = sampler(pid, Duration::from_secs_f64(args.sample), started, stop_rx.clone());
    let side = async {
        // If the fan-out fails before posting, nothing else runs.
        posting_rx.await.ok()?;
        let mut ended = stop_rx.clone();
        let stopper = async {
            tokio::select! {
                _ = tokio::time::sleep(plan.duration) => {}
                _ = ended.changed() => {}
            }
            let _ = stop_tx.send(true);
        };
        let logins = async {
            if args.logins_per_minute > 0.0 {
                Some(logins(common, &names, args.logins_per_minute, stop_rx.clone()).await)
            } else {
                None
            }
        };
        let reconnects = async {
            if args.reconnects > 0.0 { Some(reconnects(common, args.reconnects, stop_rx.clone()).await) } else { None }
        };
        let ((), logins, reconnects) = tokio::join!(stopper, logins, reconnects);
        Some((logins, reconnects))
    };
    let fanning = async {
        let outcome = fanout::run(common, &plan, None, Some(posting_tx)).await;
        // The sampler (and anything still going) stops with the fan-out.
        let _ = stop_tx.send(true);
        outcome
    };
    let (outcome, side, samples) = tokio::join!(fanning, side, sampling);
    let outcome = outcome?;
    let Some((logins, reconnects)) = side else { bail!("the fan-out ended before posting") };

    let mut report = Report::new("soak");
    describe(&mut report, &plan, &outcome);
    let warm = samples.iter().find(|s| s.at_s >= args.warmup).or(samples.first()).copied();
    let last = samples.last().copied();
    let max_rss = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let max_fds = samples.iter().map(|s| s.fds).max().unwrap_or(0);
    if let (Some(warm), Some(last)) = (warm, last) {
        let growth = (last.rss_kib as f64 - warm.rss_kib as f64) / warm.rss_kib.max(1) as f64 * 100.0;
        report.line(format!(
            "server RSS: {} KiB at {:.0} s (after the warm-up), {} KiB at the end ({:.0} s): {growth:+.2}%; peak {max_rss} KiB",
            warm.rss_kib, warm.at_s, last.rss_kib, last.at_s
        ));
        report.line(format!(
            "server descriptors: {} after the warm-up, {} at the end, at most {max_fds}",
            warm.fds, last.fds
        ));
        report.set("rss_warm_kib", warm.rss_kib);
        report.set_f("rss_warm_at_s", warm.at_s);
        report.set("rss_end_kib", last.rss_kib);
        report.set_f("rss_growth_pct", growth);
        report.set("fds_warm", warm.fds);
        report.set("fds_end", last.fds);
    }
    report.set("rss_max_kib", max_rss);
    report.set("fds_max", max_fds);
    if let Some((counts, took)) = &logins {
        report.line(format!(
            "logins: {} ok, {} failed; {}",
            counts.ok.load(Relaxed),
            counts.failed.load(Relaxed),
            brief(took)
        ));
        report.set("logins_ok", counts.ok.load(Relaxed));
        report.set("logins_failed", counts.failed.load(Relaxed));
        report.set_latency("login", took);
    }
    if let Some((counts, took)) = &reconnects {
        report.line(format!(
            "stream reconnects: {} ok, {} failed, {} skipped (over {RECONNECTS_IN_FLIGHT} in flight); to first event {}",
            counts.ok.load(Relaxed),
            counts.failed.load(Relaxed),
            counts.skipped.load(Relaxed),
            brief(took)
        ));
        report.set("reconnects_ok", counts.ok.load(Relaxed));
        report.set("reconnects_failed", counts.failed.load(Relaxed));
        report.set("reconnects_skipped", counts.skipped.load(Relaxed));
        report.set_latency("reconnect", took);
    }
    let series: Vec<Value> =
        samples.iter().map(|s| serde_json::json!([(s.at_s * 10.0).round() / 10.0, s.rss_kib, s.fds])).collect();
    report.set("samples_at_s_rss_kib_fds", Value::Array(series));
    Ok(report)
}
