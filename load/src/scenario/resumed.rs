//! How `resume-storm` judges what it sees: [`Storm`] and [`Resumed`] check
//! each reconnected stream's events as they arrive (exactly the messages
//! posted while it was away, in order, no reset), and [`ServerFigures`]
//! reads the server's own counts of replays and of the store reads they
//! took from its Prometheus `/metrics`, when it serves them.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use tokio::time::Instant;

use crate::http::Conn;
use crate::probe::{Bits, Probe};
use crate::report::Report;
use crate::wire::SseEvent;

/// The reconnect storm every resumed stream belongs to.
pub struct Storm {
    run: u32,
    /// The poster of the messages posted while the streams were away.
    poster: u32,
    behind: u64,
    /// When the reconnects began.
    pub start: Instant,
    /// Streams that have all their messages, or failed to reconnect.
    settled: AtomicUsize,
}

/// What one reconnected stream saw (or, added up, all of them).
#[derive(Debug, Default)]
pub struct Resumed {
    /// From the storm's start to the stream's response head.
    pub opened_after: Option<Duration>,
    /// From the storm's start to its last missing message.
    pub done_after: Option<Duration>,
    seen: Bits,
    highest: Option<u64>,
    pub resets: u64,
    /// Messages that arrived out of order (some before them were skipped).
    pub gaps: u64,
    /// Messages received twice, or received again from before the cursor.
    pub duplicates: u64,
    /// Messages posted while away and never received (reconnected streams).
    pub missing: u64,
    /// Message events that are not this run's.
    pub foreign: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Streams the server ended (one, or a count once added up).
    pub ended_early: u64,
}

impl Storm {
    pub fn new(run: u32, poster: u32, behind: u64, start: Instant) -> Self {
        Self { run, poster, behind, start, settled: AtomicUsize::new(0) }
    }

    /// Streams done: resumed in full, or failed to reconnect.
    pub fn settled(&self) -> usize {
        self.settled.load(Relaxed)
    }

    pub fn failed(&self, resumed: &mut Resumed, error: String) {
        resumed.errors += 1;
        resumed.first_error.get_or_insert(error);
        self.settled.fetch_add(1, Relaxed);
    }

    /// Judges one event of a reconnected stream.
    pub fn event(&self, resumed: &mut Resumed, event: SseEvent<'_>) {
        if event.event == Some("reset") {
            resumed.resets += 1;
            return;
        }
        let probe = Probe::from_event_data(event.data).filter(|p| p.run == self.run);
        let Some(probe) = probe else {
            // Presence lists and typing carry no probe and are not messages.
            resumed.foreign += u64::from(event.event == Some("message"));
            return;
        };
        if probe.poster != self.poster || !resumed.seen.insert(probe.seq) {
            // A message from before the cursor (the first one), or again.
            resumed.duplicates += 1;
            return;
        }
        if probe.seq != resumed.highest.map_or(0, |h| h + 1) {
            resumed.gaps += 1;
        }
        resumed.highest = resumed.highest.max(Some(probe.seq));
        if resumed.seen.len() == self.behind && resumed.done_after.is_none() {
            resumed.done_after = Some(self.start.elapsed());
            self.settled.fetch_add(1, Relaxed);
        }
    }
}

impl Resumed {
    /// Adds up one stream's counts (not its latencies, kept apart).
    pub fn add(&mut self, one: &Resumed, behind: u64) {
        self.resets += one.resets;
        self.gaps += one.gaps;
        self.duplicates += one.duplicates;
        self.foreign += one.foreign;
        self.errors += one.errors;
        self.ended_early += one.ended_early;
        if one.opened_after.is_some() {
            self.missing += behind.saturating_sub(one.seen.len());
        }
        if self.first_error.is_none() {
            self.first_error.clone_from(&one.first_error);
        }
    }
}

/// The server's counters that tell what a storm cost it; all `None` when
/// it does not serve `/metrics` (`ROCKET_METRICS=true` turns it on).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerFigures {
    /// Replay pages read from the store (servers with shared replay reads).
    replay_reads: Option<f64>,
    /// Replay pages served by joining a read in flight.
    replay_reads_shared: Option<f64>,
    /// Stream (re)connections that replayed, and the messages they did.
    replays: Option<f64>,
    replayed: Option<f64>,
    streams_open: Option<f64>,
}

impl ServerFigures {
    pub async fn scrape(conn: &mut Conn) -> Self {
        let text = match conn.get("/metrics").await {
            Ok(response) if response.status() == 200 => response.text(),
            _ => return Self::default(),
        };
        let value = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        Self {
            replay_reads: value("chat_replay_reads_total"),
            replay_reads_shared: value("chat_replay_reads_shared_total"),
            replays: value("chat_replay_messages_count"),
            replayed: value("chat_replay_messages_sum"),
            streams_open: value(r#"chat_streams_open{transport="sse"}"#),
        }
    }

    /// Scrapes until the server holds no event stream (the closed ones are
    /// gone), for at most `wait`; at once without `/metrics`.
    pub async fn settled(conn: &mut Conn, wait: Duration) -> Self {
        let started = Instant::now();
        loop {
            let figures = Self::scrape(conn).await;
            if figures.streams_open.is_none_or(|open| open == 0.0) || started.elapsed() >= wait {
                return figures;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Writes what changed from `self` to `after`.
    pub fn describe(&self, after: &ServerFigures, report: &mut Report) {
        let delta = |before: Option<f64>, after: Option<f64>| Some((after? - before?).max(0.0) as u64);
        let reads = delta(self.replay_reads, after.replay_reads);
        let shared = delta(self.replay_reads_shared, after.replay_reads_shared);
        let replays = delta(self.replays, after.replays);
        let replayed = delta(self.replayed, after.replayed);
        let open = self.streams_open.map(|n| n as u64);
        report.set("streams_open_at_storm", open);
        report.set("server_replays", replays);
        report.set("server_replayed_messages", replayed);
        report.set("replay_reads", reads);
        report.set("replay_reads_shared", shared);
        let Some(replays) = replays else {
            report.line("server figures: none (its /metrics is off: start it with ROCKET_METRICS=true)");
            return;
        };
        let reads = match (reads, shared) {
            (Some(reads), Some(shared)) => format!("{reads} replay page reads from the store, {shared} shared"),
            _ => "no replay read counters (a server without shared replay reads: a store read per page)".to_owned(),
        };
        report.line(format!(
            "server: {replays} replays of {} messages; {reads}; {} streams still open when the storm began",
            replayed.unwrap_or_default(),
            open.map_or("?".to_owned(), |n| n.to_string())
        ));
    }
}
