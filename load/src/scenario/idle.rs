//! The `idle` scenario: open N subscriptions over one transport (event
//! streams, WebSockets, or long polls re-issued as they return) with
//! bounded concurrency, hold them for T seconds, and measure what they cost
//! the server in resident memory (VmRSS before opening, once all are open,
//! and at the end of the hold), hence the RSS per connection.
//!
//! It can also time what such a crowd costs a message: with `--post` it
//! posts a few messages once all are open and times their arrival at every
//! subscription; with `--expect` another process (sharing `--run`) posts
//! them, so one message can be timed across several processes and
//! instances. Deliveries are kept as a few numbers per subscription, not a
//! histogram each: there may be tens of thousands. With `--out`, they are
//! also counted per second from the first post (or, with `--expect`, from
//! the end of opening).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::fanout::Plan;
use super::poster;
use super::{Common, IdleArgs};
use crate::probe::{Seen, now_ns};
use crate::report::{Report, brief, latency, record_us};
use crate::series::Series;
use crate::sys::memory;
use crate::transport::{Subscription, Transport};

/// What one held subscription saw.
struct Held {
    ended_early: bool,
    events: u64,
    heartbeats: u64,
    seen: Seen,
    /// Post-to-delivery times of this run's messages, in µs.
    delivery_us: Vec<u64>,
}

/// A poster of `count` messages, one a second, for `--post`.
fn post_plan(count: u64) -> Plan {
    Plan {
        subscribers: 0,
        rooms: 1,
        transport: Transport::Sse,
        posters: 1,
        rate: Some(1.0),
        duration: Duration::from_secs_f64(count as f64),
        drain: Duration::ZERO,
        max_posts_per_poster: count,
        in_flight: 1,
    }
}

/// Each idle stream or socket reads with a small buffer: they only get
/// heartbeats.
const IDLE_READ_SIZE: usize = 512;

pub(super) async fn run(common: &Common, args: &IdleArgs) -> Result<Report> {
    let pid = common.server_pid.context("idle needs --server-pid")?;
    let before = memory(pid).with_context(|| format!("cannot read the memory of process {pid}"))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::channel(args.streams);
    let permits = Arc::new(Semaphore::new(common.connect_concurrency.max(1)));
    let opening = Instant::now();
    let unique = Arc::new(AtomicU64::new(0));
    let run = common.run;
    let series = common.record_series.then(|| Arc::new(Series::new(Duration::from_secs_f64(args.hold))));
    let mut streams = JoinSet::new();
    for i in 0..args.streams {
        let (common, permits, ready, transport) = (common.clone(), permits.clone(), ready_tx.clone(), args.transport);
        let (mut stop, unique, series) = (stop_rx.clone(), unique.clone(), series.clone());
        streams.spawn(async move {
            let permit = permits.acquire_owned().await;
            let opened =
                Subscription::open(transport, common.target_for(i), &common.room, common.timeout, IDLE_READ_SIZE).await;
            drop(permit);
            // A poller is ready once its first visit is answered; its first
            // long poll goes out at once below, well within the settling
            // pause before memory is read.
            let mut stream = match opened {
                Ok(stream) => stream,
                Err(e) => {
                    let _ = ready.send(Err(format!("{e:#}"))).await;
                    return None;
                }
            };
            let _ = ready.send(Ok(())).await;
            let mut held =
                Held { ended_early: false, events: 0, heartbeats: 0, seen: Seen::default(), delivery_us: Vec::new() };
            loop {
                let read = stream.read(|probe| {
                    held.events += 1;
                    let Some(probe) = probe.filter(|p| p.run == run) else { return };
                    if held.seen.record(probe.poster, probe.seq) {
                        let now = now_ns();
                        let us = now.saturating_sub(probe.sent_ns) / 1000;
                        held.delivery_us.push(us);
                        if let Some(series) = &series {
                            series.delivery(now, us);
                        }
                        unique.fetch_add(1, Relaxed);
                    }
                });
                let more = tokio::select! {
                    biased;
                    _ = stop.changed() => break,
                    more = read => more,
                };
                if !matches!(more, Ok(true)) {
                    held.ended_early = true;
                    break;
                }
            }
            held.heartbeats = stream.heartbeats();
            Some(held)
        });
    }
    drop(ready_tx);
    let (mut opened, mut errors, mut first_error) = (0usize, 0usize, None);
    // A WebSocket or poller first visits like a page (a guest of its own):
    // each opens slower than a bare stream.
    let per_open_ms = if args.transport == Transport::Sse { 10 } else { 50 };
    let open_deadline = Instant::now() + common.timeout + Duration::from_millis(per_open_ms * args.streams as u64);
    while opened + errors < args.streams {
        match tokio::time::timeout_at(open_deadline, ready_rx.recv()).await {
            Ok(Some(Ok(()))) => opened += 1,
            Ok(Some(Err(e))) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
            Ok(None) => break,
            Err(_) => bail!("only {opened} of {} {} subscriptions opened in time", args.streams, args.transport),
        }
    }
    let open_s = opening.elapsed().as_secs_f64();
    if opened == 0 {
        bail!("no {} subscription could be opened: {}", args.transport, first_error.unwrap_or_default());
    }
    // A moment for the server to finish setting up the last streams (and
    // to receive the last pollers' first long polls).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_open = memory(pid)?;
    if let Some(path) = &args.ready_file {
        std::fs::write(path, format!("{opened}\n")).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let hold_end = Instant::now() + Duration::from_secs_f64(args.hold);
    if let Some(series) = &series {
        series.start(now_ns());
    }
    // The messages every subscription is owed: (poster 0, seq) pairs.
    let owed: Vec<(u32, u64)> = if args.post > 0 {
        let posted = poster::run(common, &post_plan(args.post), 0, Instant::now(), series.as_deref()).await;
        if let Some(e) = &posted.first_error {
            bail!("posting failed: {e}");
        }
        posted.accepted.iter().map(|seq| (0, seq)).collect()
    } else {
        (0..args.expect).map(|seq| (0, seq)).collect()
    };
    let want = owed.len() as u64 * opened as u64;
    while Instant::now() < hold_end && (want == 0 || unique.load(Relaxed) < want) {
        tokio::time::sleep(Duration::from_millis(if want == 0 { 100 } else { 5 })).await;
    }
    let waited_s = opening.elapsed().as_secs_f64() - open_s;
    let at_end = memory(pid)?;
    let _ = stop_tx.send(true);

    let (mut ended_early, mut events, mut heartbeats) = (0usize, 0u64, 0u64);
    let (mut received, mut lost, mut duplicated, mut strays) = (0u64, 0u64, 0u64, 0u64);
    let mut delivery = latency();
    let collect_deadline = Instant::now() + common.timeout;
    while let Ok(Some(done)) = tokio::time::timeout_at(collect_deadline, streams.join_next()).await {
        if let Some(held) = done? {
            ended_early += usize::from(held.ended_early);
            events += held.events;
            heartbeats += held.heartbeats;
            let (got, missed, stray) = held.seen.reconcile_list(&owed);
            (received, lost, strays) = (received + got, lost + missed, strays + stray);
            duplicated += held.seen.duplicates;
            for us in held.delivery_us {
                record_us(&mut delivery, us);
            }
        }
    }
    streams.abort_all();

    let per_stream = |rss: u64| (rss as f64 - before.rss_kib as f64) / opened as f64;
    let client = memory(std::process::id()).ok();
    let mut report = Report::new("idle");
    report.line(format!(
        "{} subscriptions: {opened} of {} open in {open_s:.2} s ({errors} failed{}); {} still open after {:.1} s",
        args.transport,
        args.streams,
        first_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default(),
        opened - ended_early,
        waited_s
    ));
    report.line(format!(
        "server RSS: {} KiB before, {} KiB once open, {} KiB at the end = {:.1} KiB per connection (peak {} KiB, {} threads)",
        before.rss_kib,
        after_open.rss_kib,
        at_end.rss_kib,
        per_stream(at_end.rss_kib),
        at_end.hwm_kib,
        at_end.threads
    ));
    if !owed.is_empty() {
        report.line(format!(
            "deliveries of {} message(s): {received} of {want}, {lost} lost, {duplicated} duplicated; \
             post-to-delivery {}; waited {waited_s:.2} s",
            owed.len(),
            brief(&delivery)
        ));
    }
    report.set("messages", owed.len());
    report.set("deliveries_expected", want);
    report.set("deliveries_received", received);
    report.set("lost", lost);
    report.set("duplicated", duplicated);
    report.set("unexpected", strays);
    report.set_latency("delivery", &delivery);
    report.set_f("waited_s", waited_s);
    report.set("streams", args.streams);
    report.set("streams_opened", opened);
    report.set("stream_errors", errors);
    report.set("first_stream_error", first_error);
    report.set("streams_ended_early", ended_early);
    report.set("streams_open_at_end", opened - ended_early);
    report.set_f("open_s", open_s);
    report.set_f("opens_per_s", if open_s > 0.0 { opened as f64 / open_s } else { 0.0 });
    report.set_f("hold_s", args.hold);
    report.set("server_pid", pid);
    report.set("rss_before_kib", before.rss_kib);
    report.set("rss_after_open_kib", after_open.rss_kib);
    report.set("rss_end_kib", at_end.rss_kib);
    report.set("rss_peak_kib", at_end.hwm_kib);
    report.set_f("rss_per_stream_kib", per_stream(at_end.rss_kib));
    report.set_f("rss_per_stream_after_open_kib", per_stream(after_open.rss_kib));
    report.set("events_received", events);
    report.set("heartbeats", heartbeats);
    report.set("client_rss_kib", client.map(|m| m.rss_kib));
    report.distribution = Some(delivery);
    if let Some(series) = series {
        let table = series.finish();
        report.set("series_outside", table.outside);
        report.series = Some(table);
    }
    Ok(report)
}
