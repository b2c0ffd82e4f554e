//! The fan-out engine behind `fanout`, `maxpost` and `login-storm`: S
//! subscribers on one room (over any transport), P posters (at a total
//! rate, or as fast as they can) for a set time, then a bounded drain for
//! stragglers. It owns the delivery accounting: per subscriber the
//! (poster, seq) pairs received, reconciled at the end against the posts
//! the server acknowledged, and the post-to-delivery and POST latency
//! histograms; with `--out`, the per-second series as well.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::Common;
use super::poster::{self, Posted};
use crate::probe::{Bits, Seen, now_ns};
use crate::report::{Latency, latency, record_us};
use crate::series::{Series, Table};
use crate::transport::{Subscription, Transport};

/// What one fan-out run does.
#[derive(Debug, Clone)]
pub struct Plan {
    pub subscribers: usize,
    /// Rooms the subscribers are dealt over (subscriber `i` on room
    /// `i % rooms`) and the posts go round (see [`room_of`]); 1: the run's
    /// room alone.
    pub rooms: usize,
    /// How the subscribers receive.
    pub transport: Transport,
    pub posters: usize,
    /// Total messages per second over all posters; `None`: as fast as each
    /// poster's previous post is acknowledged.
    pub rate: Option<f64>,
    pub duration: Duration,
    /// How long to wait after posting for deliveries still in flight.
    pub drain: Duration,
    /// A bound on posts per poster, whatever the rate.
    pub max_posts_per_poster: u64,
    /// At a set rate, how many posts each poster may have awaiting an
    /// answer (each on its own keep-alive connection).
    pub in_flight: usize,
}

/// The room of post `n` of poster `p`: posts go round the rooms in the
/// order they are due, so each room gets `rate / rooms` posts a second.
pub fn room_of(plan: &Plan, p: usize, n: u64) -> usize {
    ((n % plan.rooms as u64) as usize * plan.posters + p) % plan.rooms
}

/// The name of room `r` of a run.
pub fn room_name(common: &Common, plan: &Plan, r: usize) -> String {
    if plan.rooms <= 1 { common.room.clone() } else { format!("{}-{r}", common.room) }
}

/// A time span (Unix nanoseconds; 0 while unset) during which messages sent
/// are counted apart, to compare delivery latency inside and outside it.
#[derive(Debug, Default)]
pub struct Window {
    start: AtomicU64,
    end: AtomicU64,
}

impl Window {
    pub fn open(&self) {
        self.start.store(now_ns(), Relaxed);
    }

    pub fn close(&self) {
        self.end.store(now_ns(), Relaxed);
    }

    /// Whether a message sent at `sent_ns` falls in the window. Called on
    /// delivery, which is after sending: a window not closed yet will close
    /// later than `sent_ns`.
    fn contains(&self, sent_ns: u64) -> bool {
        let start = self.start.load(Relaxed);
        let end = self.end.load(Relaxed);
        start != 0 && sent_ns >= start && (end == 0 || sent_ns <= end)
    }

    pub fn span_s(&self) -> f64 {
        let (start, end) = (self.start.load(Relaxed), self.end.load(Relaxed));
        if start == 0 || end < start { 0.0 } else { (end - start) as f64 / 1e9 }
    }
}

/// Everything a fan-out run measured.
#[derive(Debug)]
pub struct Outcome {
    pub subscribers_connected: usize,
    pub subscriber_errors: usize,
    pub first_subscriber_error: Option<String>,
    pub streams_ended_early: usize,
    pub setup_s: f64,
    pub posts_attempted: u64,
    pub posts_accepted: u64,
    pub posts_failed: u64,
    /// Posts sent more than one interval late (every connection was busy).
    pub posts_late: u64,
    pub posts_rejected: BTreeMap<u16, u64>,
    pub first_post_error: Option<String>,
    /// Keep-alive connections the posters opened.
    pub post_connections: u64,
    pub posting_s: f64,
    pub drain_s: f64,
    /// From the first post to the last delivery.
    pub delivery_span_s: f64,
    pub expected: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    /// Deliveries of posts whose POST failed (no acknowledgement seen).
    pub unacknowledged: u64,
    /// Events that were not this run's messages (replays, resets).
    pub foreign: u64,
    pub heartbeats: u64,
    pub delivery: Latency,
    pub delivery_in_window: Latency,
    pub delivery_out_window: Latency,
    pub post: Latency,
    /// Per second of the run, when `common.record_series` asked for it.
    pub series: Option<Table>,
}

struct Shared {
    run: u32,
    unique: AtomicU64,
    last_delivery_ns: AtomicU64,
    window: Option<Arc<Window>>,
    series: Option<Arc<Series>>,
}

/// What one subscriber saw.
struct Subscriber {
    seen: Seen,
    ended_early: bool,
    foreign: u64,
    heartbeats: u64,
    delivery: Latency,
    in_window: Latency,
    out_window: Latency,
}

/// Runs one fan-out. `window`, if any, splits delivery latencies by send
/// time; `posting` is told when posting starts.
pub async fn run(
    common: &Common,
    plan: &Plan,
    window: Option<Arc<Window>>,
    posting: Option<oneshot::Sender<()>>,
) -> Result<Outcome> {
    // Deliveries end by the end of the drain; a few seconds spare.
    let series =
        common.record_series.then(|| Arc::new(Series::new(plan.duration + plan.drain + Duration::from_secs(5))));
    let shared = Arc::new(Shared {
        run: common.run,
        unique: AtomicU64::new(0),
        last_delivery_ns: AtomicU64::new(0),
        window,
        series: series.clone(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::channel(plan.subscribers.max(1));
    let permits = Arc::new(Semaphore::new(common.connect_concurrency.max(1)));
    let setup_started = Instant::now();
    let mut subscribers = JoinSet::new();
    for i in 0..plan.subscribers {
        let (common, shared, stop, ready) = (common.clone(), shared.clone(), stop_rx.clone(), ready_tx.clone());
        let (permits, transport) = (permits.clone(), plan.transport);
        let room = i % plan.rooms.max(1);
        let room_name = room_name(&common, plan, room);
        subscribers.spawn(async move {
            let permit = permits.acquire_owned().await;
            let target = common.target_for(i);
            let opened = Subscription::open(transport, target, &room_name, common.timeout, 16 * 1024).await;
            drop(permit);
            match opened {
                Ok(stream) => {
                    let _ = ready.send(Ok(room)).await;
                    Some((room, subscribe(stream, &shared, stop).await))
                }
                Err(e) => {
                    let _ = ready.send(Err(format!("{e:#}"))).await;
                    None
                }
            }
        });
    }
    drop(ready_tx);
    let (mut connected, mut errors, mut first_error) = (0, 0, None);
    let mut connected_in = vec![0u64; plan.rooms.max(1)];
    let setup_deadline = Instant::now() + common.timeout + Duration::from_millis(10 * plan.subscribers as u64);
    while connected + errors < plan.subscribers {
        match tokio::time::timeout_at(setup_deadline, ready_rx.recv()).await {
            Ok(Some(Ok(room))) => {
                connected += 1;
                connected_in[room] += 1;
            }
            Ok(Some(Err(e))) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
            Ok(None) => break,
            Err(_) => bail!("only {connected} of {} subscribers connected in time", plan.subscribers),
        }
    }
    if connected == 0 && plan.subscribers > 0 {
        bail!("no subscriber could connect: {}", first_error.unwrap_or_default());
    }
    let setup_s = setup_started.elapsed().as_secs_f64();

    let start = Instant::now();
    let started_ns = now_ns();
    if let Some(series) = &series {
        series.start(started_ns);
    }
    if let Some(posting) = posting {
        let _ = posting.send(());
    }
    let mut posters = JoinSet::new();
    for p in 0..plan.posters {
        let (common, plan, series) = (common.clone(), plan.clone(), series.clone());
        posters.spawn(async move { (p, poster::run(&common, &plan, p, start, series.as_deref()).await) });
    }
    let mut totals = Posted::default();
    let mut accepted: Vec<Bits> = vec![Bits::default(); plan.posters];
    while let Some(done) = posters.join_next().await {
        let (p, mut posted) = done?;
        totals.merge(&posted);
        accepted[p] = std::mem::take(&mut posted.accepted);
    }
    let posting_s = start.elapsed().as_secs_f64();
    let posts_accepted: u64 = accepted.iter().map(Bits::len).sum();
    // With several rooms, each subscriber is owed only its room's posts.
    let per_room: Vec<Vec<(u32, u64)>> = if plan.rooms > 1 {
        let mut per_room = vec![Vec::new(); plan.rooms];
        for (p, bits) in accepted.iter().enumerate() {
            for n in bits.iter() {
                per_room[room_of(plan, p, n)].push((p as u32, n));
            }
        }
        per_room
    } else {
        Vec::new()
    };
    let expected = if plan.rooms > 1 {
        per_room.iter().zip(&connected_in).map(|(posts, subs)| posts.len() as u64 * subs).sum()
    } else {
        posts_accepted * connected as u64
    };

    let drain_started = Instant::now();
    while shared.unique.load(Relaxed) < expected && drain_started.elapsed() < plan.drain {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drain_s = drain_started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);

    let mut outcome = Outcome {
        subscribers_connected: connected,
        subscriber_errors: errors,
        first_subscriber_error: first_error,
        streams_ended_early: 0,
        setup_s,
        posts_attempted: totals.attempted,
        posts_accepted,
        posts_failed: totals.failed,
        posts_late: totals.late,
        posts_rejected: totals.rejected,
        first_post_error: totals.first_error,
        post_connections: totals.connections,
        posting_s,
        drain_s,
        delivery_span_s: 0.0,
        expected,
        received: 0,
        lost: 0,
        duplicated: 0,
        unacknowledged: 0,
        foreign: 0,
        heartbeats: 0,
        delivery: latency(),
        delivery_in_window: latency(),
        delivery_out_window: latency(),
        post: totals.post,
        series: None,
    };
    let collect_deadline = Instant::now() + common.timeout;
    while let Ok(Some(done)) = tokio::time::timeout_at(collect_deadline, subscribers.join_next()).await {
        let Some((room, sub)) = done? else { continue };
        let (received, lost, unacknowledged) = match per_room.get(room) {
            Some(posts) => sub.seen.reconcile_list(posts),
            None => sub.seen.reconcile(&accepted),
        };
        outcome.received += received;
        outcome.lost += lost;
        outcome.unacknowledged += unacknowledged;
        outcome.duplicated += sub.seen.duplicates;
        outcome.foreign += sub.foreign;
        outcome.heartbeats += sub.heartbeats;
        outcome.streams_ended_early += usize::from(sub.ended_early);
        outcome.delivery.add(&sub.delivery)?;
        outcome.delivery_in_window.add(&sub.in_window)?;
        outcome.delivery_out_window.add(&sub.out_window)?;
    }
    if !subscribers.is_empty() {
        bail!("{} subscribers did not stop within {:?}", subscribers.len(), common.timeout);
    }
    let last = shared.last_delivery_ns.load(Relaxed);
    outcome.delivery_span_s = if last > started_ns { (last - started_ns) as f64 / 1e9 } else { 0.0 };
    outcome.series = series.map(|series| series.finish());
    Ok(outcome)
}

/// Reads one subscription until told to stop (or the server ends it).
async fn subscribe(mut subscription: Subscription, shared: &Shared, mut stop: watch::Receiver<bool>) -> Subscriber {
    let mut sub = Subscriber {
        seen: Seen::default(),
        ended_early: false,
        foreign: 0,
        heartbeats: 0,
        delivery: latency(),
        in_window: latency(),
        out_window: latency(),
    };
    loop {
        let read = subscription.read(|probe| {
            let now = now_ns();
            let probe = match probe {
                Some(probe) if probe.run == shared.run => probe,
                _ => {
                    sub.foreign += 1;
                    return;
                }
            };
            if !sub.seen.record(probe.poster, probe.seq) {
                return;
            }
            shared.unique.fetch_add(1, Relaxed);
            shared.last_delivery_ns.fetch_max(now, Relaxed);
            let micros = now.saturating_sub(probe.sent_ns) / 1000;
            record_us(&mut sub.delivery, micros);
            if let Some(series) = &shared.series {
                series.delivery(now, micros);
            }
            if let Some(window) = &shared.window {
                let part = if window.contains(probe.sent_ns) { &mut sub.in_window } else { &mut sub.out_window };
                record_us(part, micros);
            }
        });
        let more = tokio::select! {
            biased;
            _ = stop.changed() => break,
            more = read => more,
        };
        if !matches!(more, Ok(true)) {
            sub.ended_early = true;
            break;
        }
    }
    sub.heartbeats = subscription.heartbeats();
    sub
}
