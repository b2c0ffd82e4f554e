//! Prometheus metrics: what the server counts, and the fairing that times
//! every request.
//!
//! One [`Metrics`] per app, in managed state and handed to the parts that
//! count (no global registry, so parallel test apps never share counters).
//! Counting is an atomic add per event; a delivery is counted once per
//! message with the number of queues' receivers, not once per subscriber,
//! and its latency is observed once per message, never per subscriber.
//! A labelled counter whose labels are known up front is made to exist at
//! 0 by whoever counts it ([`zero`]), so a dashboard's `rate()` reads 0
//! rather than "no data" before the first event.

use std::sync::Arc;
use std::time::Instant;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Data, Request, Response};

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// Open streams, by transport (`sse`, `ws`, `poll`).
    pub streams_open: IntGaugeVec,
    /// Rooms with at least one local subscriber (set at scrape time).
    pub rooms_active: IntGauge,
    pub messages_posted: IntCounter,
    /// Messages put on subscribers' queues (one per receiving subscriber).
    pub deliveries: IntCounter,
    /// Seconds from a new message's server time (its `at`, taken when its
    /// batch began to commit) to its room queue here, by `path`: `local`
    /// (this instance's writer), `bus` (another instance, over Redis) or
    /// `store` (a gap filled from the store). Observed by the hub once per
    /// message per instance, and only where the room has subscribers.
    pub delivery_seconds: HistogramVec,
    /// Messages replayed to a (re)connecting subscriber, per replay.
    pub replay_size: Histogram,
    /// Times a subscriber fell behind its queue and was caught up from the store.
    pub lagged_catch_ups: IntCounter,
    /// Replay pages read from the store (one query each, however many
    /// resuming subscribers it served).
    pub replay_reads: IntCounter,
    /// Replay pages served by joining an identical read already in flight
    /// (a reconnect storm), with no store query of their own.
    pub replay_reads_shared: IntCounter,
    /// Requests refused by a limit, by limit (`post`, `login`, `streams`).
    pub rate_limited: IntCounterVec,
    /// Logins, by outcome (`success`, `failure`, `throttled`).
    pub logins: IntCounterVec,
    /// Request latency, by method, route and status class.
    pub request_seconds: HistogramVec,
    /// Time to commit one batch of messages.
    pub store_write_seconds: Histogram,
    /// Messages per committed batch.
    pub store_batch_size: Histogram,
    /// 1 when the bus is up (always, in-process), 0 when Redis is away.
    pub bus_up: IntGauge,
    /// What housekeeping removed, by kind (`messages`, `sessions`, the
    /// activity rollup's rows `activity`, and the in-memory
    /// `cached_sessions`, `kicks`, `policies`, `login_windows`,
    /// `registration_windows`, `post_buckets`).
    pub housekeeping_deleted: IntCounterVec,
    /// What arrived on the Redis bus and was dropped, by reason
    /// (`unsigned`, `bad_signature`, `malformed`, `stale`, `out_of_range`):
    /// anything but zero means something other than our instances publishes
    /// there, or instances with different `secret_key`s share a channel.
    pub bus_rejected: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let registry = Registry::new_custom(Some("chat".into()), None).expect("a valid prefix");
        let metrics = Self {
            streams_open: IntGaugeVec::new(Opts::new("streams_open", "Open streams by transport"), &["transport"])
                .expect("valid metric"),
            rooms_active: IntGauge::new("rooms_active", "Rooms with local subscribers").expect("valid metric"),
            messages_posted: IntCounter::new("messages_posted_total", "Messages stored").expect("valid metric"),
            deliveries: IntCounter::new("deliveries_total", "Messages put on subscribers' queues")
                .expect("valid metric"),
            delivery_seconds: HistogramVec::new(
                HistogramOpts::new("delivery_seconds", "From a message's server time to its room queue")
                    .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
                &["path"],
            )
            .expect("valid metric"),
            replay_size: Histogram::with_opts(
                HistogramOpts::new("replay_messages", "Messages replayed per stream (re)connection")
                    .buckets(vec![0.0, 1.0, 10.0, 50.0, 100.0, 500.0, 1000.0]),
            )
            .expect("valid metric"),
            lagged_catch_ups: IntCounter::new("lagged_catch_ups_total", "Lagging subscribers caught up from the store")
                .expect("valid metric"),
            replay_reads: IntCounter::new("replay_reads_total", "Replay pages read from the store")
                .expect("valid metric"),
            replay_reads_shared: IntCounter::new(
                "replay_reads_shared_total",
                "Replay pages served by joining an identical read in flight",
            )
            .expect("valid metric"),
            rate_limited: IntCounterVec::new(
                Opts::new("rate_limited_total", "Requests refused by a limit"),
                &["limit"],
            )
            .expect("valid metric"),
            logins: IntCounterVec::new(Opts::new("logins_total", "Login attempts by outcome"), &["outcome"])
                .expect("valid metric"),
            request_seconds: HistogramVec::new(
                HistogramOpts::new("request_seconds", "Request latency")
                    .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
                &["method", "route", "status"],
            )
            .expect("valid metric"),
            store_write_seconds: Histogram::with_opts(
                HistogramOpts::new("store_write_seconds", "Time to commit one batch of messages")
                    .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25]),
            )
            .expect("valid metric"),
            store_batch_size: Histogram::with_opts(
                HistogramOpts::new("store_batch_messages", "Messages per committed batch")
                    .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
            )
            .expect("valid metric"),
            bus_up: IntGauge::new("bus_up", "1 when the bus between instances is up").expect("valid metric"),
            housekeeping_deleted: IntCounterVec::new(
                Opts::new("housekeeping_deleted_total", "Rows and entries housekeeping removed"),
                &["kind"],
            )
            .expect("valid metric"),
            bus_rejected: IntCounterVec::new(
                Opts::new("bus_rejected_total", "Bus payloads dropped unread, by reason"),
                &["reason"],
            )
            .expect("valid metric"),
            registry,
        };
        metrics.register_all();
        // In process nothing is ever rejected: the zeros say so.
        for reason in crate::bus::REJECTED {
            zero(&metrics.bus_rejected, reason);
        }
        Arc::new(metrics)
    }

    fn register_all(&self) {
        let collectors: [Box<dyn prometheus::core::Collector>; 17] = [
            Box::new(self.streams_open.clone()),
            Box::new(self.rooms_active.clone()),
            Box::new(self.messages_posted.clone()),
            Box::new(self.deliveries.clone()),
            Box::new(self.delivery_seconds.clone()),
            Box::new(self.replay_size.clone()),
            Box::new(self.lagged_catch_ups.clone()),
            Box::new(self.replay_reads.clone()),
            Box::new(self.replay_reads_shared.clone()),
            Box::new(self.rate_limited.clone()),
            Box::new(self.logins.clone()),
            Box::new(self.request_seconds.clone()),
            Box::new(self.store_write_seconds.clone()),
            Box::new(self.store_batch_size.clone()),
            Box::new(self.bus_up.clone()),
            Box::new(self.housekeeping_deleted.clone()),
            Box::new(self.bus_rejected.clone()),
        ];
        for collector in collectors {
            self.registry.register(collector).expect("each metric is registered once");
        }
    }

    /// The Prometheus text exposition of everything.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding never fails");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// Makes `counter{label=value}` exist at 0 until its first event.
pub fn zero(counter: &IntCounterVec, value: &str) {
    counter.with_label_values(&[value]);
}

/// Counts one in a gauge for exactly as long as it lives: an open stream, a
/// waiting long poll.
pub struct Holding(IntGauge);

impl Holding {
    pub fn new(gauge: IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Times every request into `request_seconds`.
pub struct RequestTimer(pub Arc<Metrics>);

#[derive(Clone, Copy)]
struct Started(Instant);

#[rocket::async_trait]
impl Fairing for RequestTimer {
    fn info(&self) -> Info {
        Info { name: "Request latency", kind: Kind::Request | Kind::Response }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        request.local_cache(|| Started(Instant::now()));
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let started = request.local_cache(|| Started(Instant::now())).0;
        // The route's pattern, not the path: a bounded set of labels.
        let route = request.route().map_or_else(|| "none".to_owned(), |r| r.uri.path().to_string());
        let status = format!("{}xx", response.status().code / 100);
        self.0
            .request_seconds
            .with_label_values(&[request.method().as_str(), &route, &status])
            .observe(started.elapsed().as_secs_f64());
    }
}
