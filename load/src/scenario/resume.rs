//! The `resume-storm` scenario: S event streams on one room, each noting
//! the last event id it saw (as a browser does); one message that all of
//! them get; then every stream closed at once, B messages posted, and every
//! stream reconnected at once with its own `Last-Event-ID`. Each must then
//! receive exactly those B messages, in order, with no reset (what each one
//! saw is judged in [`Resumed`]). It reports how long after the reconnect
//! began each stream had them all, the reconnect errors, the server's CPU
//! during the storm and, from the server's `/metrics` (when it serves
//! them), how many store reads the replays took.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::resumed::{Resumed, ServerFigures, Storm};
use super::{Common, ResumeStormArgs};
use crate::http::{Conn, EventStream};
use crate::probe::{Probe, now_ns};
use crate::report::{Report, brief, latency, record_us};
use crate::sys::cpu_time;

/// Each stream reads with this much: a replay of 100 messages is ~30 KiB.
const READ_SIZE: usize = 16 * 1024;

/// The poster of the first message (which every stream must get before
/// the storm); the messages posted while the streams are away are poster 1.
const MARKER: u32 = 0;
const AWAY: u32 = 1;

/// How long the streams keep reading after the last one resumed, so that
/// a duplicate or a stray event arriving late is still counted.
const SETTLE: Duration = Duration::from_secs(1);

/// One stream before the storm: open, and the last event id it saw.
struct Held {
    stream: EventStream,
    last_id: Option<String>,
    marked: bool,
}

pub(super) async fn run(common: &Common, args: &ResumeStormArgs) -> Result<Report> {
    let path = format!("/rooms/{}/events", common.room);
    let run = common.run;

    // 1. Open the streams, a bounded number connecting at once.
    let opening = Instant::now();
    let permits = Arc::new(Semaphore::new(common.connect_concurrency.max(1)));
    let marked = Arc::new(AtomicUsize::new(0));
    let (close_tx, close_rx) = watch::channel(false);
    let (opened_tx, mut opened_rx) = tokio::sync::mpsc::channel(args.streams);
    let mut holders = JoinSet::new();
    for _ in 0..args.streams {
        let (common, path, permits, marked, opened) =
            (common.clone(), path.clone(), permits.clone(), marked.clone(), opened_tx.clone());
        let mut close = close_rx.clone();
        holders.spawn(async move {
            let permit = permits.acquire_owned().await;
            let result = EventStream::open(&common.target, &path, common.timeout, READ_SIZE).await;
            drop(permit);
            let mut held = match result {
                Ok(stream) => Held { stream, last_id: None, marked: false },
                Err(e) => {
                    let _ = opened.send(Err(format!("{e:#}"))).await;
                    return None;
                }
            };
            let _ = opened.send(Ok(())).await;
            loop {
                let Held { stream, last_id, marked: seen } = &mut held;
                let read = stream.read_events(|event| {
                    // The browser's rule: the id persists until an event sets another.
                    if let Some(id) = event.id {
                        last_id.replace(id.to_owned());
                    }
                    let probe = Probe::from_event_data(event.data);
                    if !*seen && probe.is_some_and(|p| p.run == run && p.poster == MARKER) {
                        *seen = true;
                        marked.fetch_add(1, Relaxed);
                    }
                });
                let more = tokio::select! {
                    biased;
                    _ = close.changed() => break,
                    more = read => more,
                };
                if !matches!(more, Ok(true)) {
                    return None;
                }
            }
            Some(held)
        });
    }
    drop(opened_tx);
    let (mut opened, mut open_errors, mut first_open_error) = (0usize, 0usize, None);
    let open_deadline = Instant::now() + common.timeout + Duration::from_millis(10 * args.streams as u64);
    while opened + open_errors < args.streams {
        match tokio::time::timeout_at(open_deadline, opened_rx.recv()).await {
            Ok(Some(Ok(()))) => opened += 1,
            Ok(Some(Err(e))) => {
                open_errors += 1;
                first_open_error.get_or_insert(e);
            }
            Ok(None) => break,
            Err(_) => bail!("only {opened} of {} streams opened in time", args.streams),
        }
    }
    if opened == 0 {
        bail!("no stream could be opened: {}", first_open_error.unwrap_or_default());
    }
    let open_s = opening.elapsed().as_secs_f64();

    // 2. One message, until every stream has it (and so knows its id).
    let mut conn = Conn::new(&common.target, common.timeout);
    let posts = format!("/rooms/{}/messages", common.room);
    let syncing = Instant::now();
    post(&mut conn, &posts, Probe { sent_ns: now_ns(), poster: MARKER, seq: 0, run }).await?;
    while marked.load(Relaxed) < opened && syncing.elapsed() < common.timeout {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sync_s = syncing.elapsed().as_secs_f64();

    // 3. Every stream closed at once: stopped, then dropped together.
    let _ = close_tx.send(true);
    let mut held = Vec::with_capacity(opened);
    while let Some(done) = holders.join_next().await {
        held.extend(done?);
    }
    // The rest failed to open, or the server ended them.
    let ended_before_storm = opened - held.len();
    let cursors: Vec<String> = held.iter().filter(|h| h.marked).filter_map(|h| h.last_id.clone()).collect();
    let unmarked = held.len() - cursors.len();
    drop(held);

    // 4. B messages posted while they are away, each acknowledged.
    let posting = Instant::now();
    let mut post_latency = latency();
    for seq in 0..args.behind as u64 {
        let sent = Instant::now();
        post(&mut conn, &posts, Probe { sent_ns: now_ns(), poster: AWAY, seq, run }).await?;
        record_us(&mut post_latency, sent.elapsed().as_micros() as u64);
    }
    let posting_s = posting.elapsed().as_secs_f64();
    // The server drops a closed stream when it next writes to it: let it,
    // so the storm's figures are the reconnects' alone.
    let server_before = ServerFigures::settled(&mut conn, Duration::from_secs(5)).await;

    // 5. Every stream reconnects at once, each with its own last id.
    let concurrency = if common.connect_concurrency_given { common.connect_concurrency } else { cursors.len() };
    let storm = Arc::new(Storm::new(run, AWAY, args.behind as u64, Instant::now()));
    let cpu_before = common.server_pid.and_then(|pid| cpu_time(Some(pid)).ok());
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut streams = JoinSet::new();
    for cursor in &cursors {
        let (common, path, cursor, storm, permits) =
            (common.clone(), path.clone(), cursor.clone(), storm.clone(), permits.clone());
        let mut stop = stop_rx.clone();
        streams.spawn(async move {
            let mut resumed = Resumed::default();
            let permit = permits.acquire_owned().await;
            let headers = [("Last-Event-ID", cursor.as_str())];
            let opened = EventStream::open_with(&common.target, &path, &headers, common.timeout, READ_SIZE).await;
            drop(permit);
            let mut stream = match opened {
                Ok(stream) => stream,
                Err(e) => {
                    storm.failed(&mut resumed, format!("{e:#}"));
                    return resumed;
                }
            };
            resumed.opened_after = Some(storm.start.elapsed());
            loop {
                let read = stream.read_events(|event| storm.event(&mut resumed, event));
                let more = tokio::select! {
                    biased;
                    _ = stop.changed() => break,
                    more = read => more,
                };
                if !matches!(more, Ok(true)) {
                    resumed.ended_early = 1;
                    break;
                }
            }
            resumed
        });
    }
    let wait = Duration::from_secs_f64(args.wait);
    while storm.settled() < cursors.len() && storm.start.elapsed() < wait {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let storm_s = storm.start.elapsed().as_secs_f64();
    let cpu_storm = match (common.server_pid, cpu_before) {
        (Some(pid), Some(before)) => cpu_time(Some(pid)).ok().map(|now| now.since(before)),
        _ => None,
    };
    tokio::time::sleep(SETTLE).await;
    let _ = stop_tx.send(true);
    let mut all = Resumed::default();
    let (mut reconnect, mut resume) = (latency(), latency());
    let collect_deadline = Instant::now() + common.timeout;
    while let Ok(Some(done)) = tokio::time::timeout_at(collect_deadline, streams.join_next()).await {
        let one = done?;
        if let Some(at) = one.opened_after {
            record_us(&mut reconnect, at.as_micros() as u64);
        }
        if let Some(at) = one.done_after {
            record_us(&mut resume, at.as_micros() as u64);
        }
        all.add(&one, args.behind as u64);
    }
    if !streams.is_empty() {
        bail!("{} streams did not stop within {:?}", streams.len(), common.timeout);
    }
    let server_after = ServerFigures::scrape(&mut conn).await;

    // 6. The report.
    let mut report = Report::new("resume-storm");
    report.line(format!(
        "streams (sse): {opened} of {} open in {open_s:.2} s{}; {} of them got the first message in {sync_s:.2} s",
        args.streams,
        first_open_error.as_deref().map(|e| format!(" ({open_errors} failed: {e})")).unwrap_or_default(),
        cursors.len()
    ));
    report.line(format!(
        "closed all {} at once; posted {} messages in {posting_s:.2} s (POST {})",
        cursors.len(),
        args.behind,
        brief(&post_latency)
    ));
    report.line(format!(
        "reconnected {} at once (at most {concurrency} connecting), each with its Last-Event-ID: {} opened, {} failed{}; \
         open {}",
        cursors.len(),
        reconnect.len(),
        all.errors,
        all.first_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default(),
        brief(&reconnect)
    ));
    let everyone = resume.len() as usize == cursors.len() && !cursors.is_empty();
    let max_s = (!resume.is_empty()).then(|| resume.max() as f64 / 1e6);
    report.line(match (everyone, max_s) {
        (true, Some(max)) => format!("all {} resumed within {max:.3} s: {}", cursors.len(), brief(&resume)),
        _ => format!(
            "NOT all resumed: {} of {} had all {} messages within {:.1} s ({})",
            resume.len(),
            cursors.len(),
            args.behind,
            args.wait,
            brief(&resume)
        ),
    });
    report.line(format!(
        "checks: {} resets, {} gaps, {} duplicates, {} missing, {} foreign events, {} streams ended early",
        all.resets, all.gaps, all.duplicates, all.missing, all.foreign, all.ended_early
    ));
    server_before.describe(&server_after, &mut report);
    if let Some(cpu) = cpu_storm {
        let pct = if storm_s > 0.0 { 100.0 * cpu.total() / storm_s } else { 0.0 };
        report.line(format!(
            "server CPU during the storm: {:.2} s over {storm_s:.2} s = {pct:.0}% of one core",
            cpu.total()
        ));
        report.set_f("storm_server_cpu_s", cpu.total());
        report.set_f("storm_server_cpu_pct", pct);
    }
    report.set("streams", args.streams);
    report.set("behind", args.behind);
    report.set("streams_opened", opened);
    report.set("open_errors", open_errors);
    report.set("first_open_error", first_open_error);
    report.set_f("open_s", open_s);
    report.set("streams_synced", cursors.len());
    report.set("streams_not_synced", unmarked);
    report.set("streams_ended_before_storm", ended_before_storm);
    report.set_f("sync_s", sync_s);
    report.set("posts_accepted", args.behind);
    report.set_f("posting_s", posting_s);
    report.set_latency("post", &post_latency);
    report.set("reconnect_concurrency", concurrency);
    report.set("reconnect_errors", all.errors);
    report.set("first_reconnect_error", all.first_error.clone());
    report.set_latency("reconnect", &reconnect);
    report.set("resumed", resume.len());
    report.set("all_resumed", everyone);
    report.set("all_resumed_within_s", if everyone { max_s } else { None });
    report.set_latency("resume", &resume);
    report.set_f("storm_s", storm_s);
    report.set("resets", all.resets);
    report.set("gaps", all.gaps);
    report.set("duplicates", all.duplicates);
    report.set("missing", all.missing);
    report.set("foreign_events", all.foreign);
    report.set("streams_ended_early", all.ended_early);
    Ok(report)
}

/// Posts one probe; anything but a 2xx ends the run (the storm's checks
/// need every message acknowledged).
async fn post(conn: &mut Conn, path: &str, probe: Probe) -> Result<()> {
    let response = conn.post(path, "application/json", probe.post_body().as_bytes()).await?;
    if !(200..300).contains(&response.status()) {
        bail!("POST {path} answered {}: {}", response.status(), response.text().trim());
    }
    Ok(())
}
