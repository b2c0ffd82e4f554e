//! The `idle` scenario: open N subscriptions over one transport (event
//! streams, WebSockets, or long polls re-issued as they return) with
//! bounded concurrency, hold them for T seconds, and measure what they cost
//! the server in resident memory (VmRSS before opening, once all are open,
//! and at the end of the hold), hence the RSS per connection.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{Common, IdleArgs};
use crate::report::Report;
use crate::sys::memory;
use crate::transport::Subscription;

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
    let mut streams = JoinSet::new();
    for _ in 0..args.streams {
        let (common, permits, ready, transport) = (common.clone(), permits.clone(), ready_tx.clone(), args.transport);
        let mut stop = stop_rx.clone();
        streams.spawn(async move {
            let permit = permits.acquire_owned().await;
            let opened =
                Subscription::open(transport, &common.target, &common.room, common.timeout, IDLE_READ_SIZE).await;
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
            let mut events = 0u64;
            loop {
                let more = tokio::select! {
                    biased;
                    _ = stop.changed() => break,
                    more = stream.read(|_| events += 1) => more,
                };
                if !matches!(more, Ok(true)) {
                    return Some((true, events, stream.heartbeats()));
                }
            }
            Some((false, events, stream.heartbeats()))
        });
    }
    drop(ready_tx);
    let (mut opened, mut errors, mut first_error) = (0usize, 0usize, None);
    let open_deadline = Instant::now() + common.timeout + Duration::from_millis(10 * args.streams as u64);
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
    tokio::time::sleep(Duration::from_secs_f64(args.hold)).await;
    let at_end = memory(pid)?;
    let _ = stop_tx.send(true);

    let (mut ended_early, mut events, mut heartbeats) = (0usize, 0u64, 0u64);
    let collect_deadline = Instant::now() + common.timeout;
    while let Ok(Some(done)) = tokio::time::timeout_at(collect_deadline, streams.join_next()).await {
        if let Some((early, n, comments)) = done? {
            ended_early += usize::from(early);
            events += n;
            heartbeats += comments;
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
        args.hold
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
    Ok(report)
}
