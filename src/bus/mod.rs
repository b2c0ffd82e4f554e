//! The bus between instances, and each instance's fan-out into its rooms.
//!
//! In-process (the default) the message writer hands each commit straight to
//! the [`Hub`]: one writer commits in id order, so nothing can arrive out of
//! turn. With `redis_url` set, several instances share one PostgreSQL and
//! one Redis: after a commit the posting instance publishes the message on
//! Redis, and every instance's [`Fanout`] task receives it (its own, too) and
//! offers it to the hub's per-room gate. Only what another instance sealed
//! with the deployment's key is read (`seal`); the rest is dropped, and a
//! message whose id the store does not have yet is never offered. Redis pub/sub is at-most-once, so
//! the fan-out fills any gap from the store: when a later id shows up, when
//! the Redis connection comes back after an outage, and in a periodic sweep.
//! A subscriber therefore never misses or repeats a message.
//!
//! [`connect`] hides the plumbing: it returns this instance's publisher
//! (what the store's writer hands commits to) and, once the store exists,
//! [`Connection::start`] starts the fan-out and the Redis links as kept
//! background tasks.

mod fanout;
mod redis;
mod seal;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

pub use fanout::{Fanout, FanoutStarter, Notice};
pub use redis::{BusLinks, CONTROL_FRESH_MS, RedisBus};
pub use seal::{BusKey, Unsealed};

use crate::clock::Clock;
use crate::config::Settings;
use crate::moderation::Control;
use crate::signals::{self, Signal};
use crate::store::{Publish, Store};
use crate::stream::Hub;
use crate::tasks::Tasks;

/// Commits waiting to go out on Redis; beyond this (Redis away for long)
/// the other instances catch up from the store instead.
const OUTBOX: usize = 10_000;

/// Moderation announcements waiting to go out, or to be applied here.
const CONTROLS: usize = 1024;

/// Every reason `bus_rejected_total` counts (seal's, the Redis reader's and
/// the fan-out's), each of which starts at 0.
pub const REJECTED: [&str; 5] = ["unsigned", "bad_signature", "malformed", "stale", "out_of_range"];

/// The ends of the bus the moderation and signals services hold.
pub struct Peers {
    /// This instance's announcements, to publish.
    pub outgoing: mpsc::Sender<Control>,
    /// The other instances' announcements.
    pub incoming: mpsc::Receiver<Control>,
    /// This instance's signals (typing, read positions), to publish.
    pub signals_out: mpsc::Sender<Signal>,
    /// The other instances' signals.
    pub signals_in: mpsc::Receiver<Signal>,
}

/// This instance's end of the bus, before the store exists.
pub struct Connection {
    publish: Arc<dyn Publish>,
    bus: Bus,
    redis: Option<RedisParts>,
}

/// What the Redis links need once the store exists.
struct RedisParts {
    fanout: FanoutStarter,
    links: BusLinks,
    url: String,
    peers: Peers,
}

/// Connects this instance to the others as `settings.redis_url` says: in
/// process (the hub is the whole bus) or over Redis. Fails only on a
/// malformed URL; an unreachable server is retried in the background.
pub fn connect(settings: &Settings, hub: &Hub, clock: Clock) -> Result<Connection, ::redis::RedisError> {
    let Some(url) = &settings.redis_url else {
        return Ok(Connection { publish: Arc::new(hub.clone()), bus: Bus::InProcess, redis: None });
    };
    ::redis::Client::open(url.as_str())?;
    let no_key = (::redis::ErrorKind::InvalidClientConfig, "the bus key (derived from secret_key) is missing");
    let key = settings.bus_key.clone().ok_or_else(|| ::redis::RedisError::from(no_key))?;
    let rejected = hub.metrics().bus_rejected.clone();
    let health = Arc::new(BusHealth::connecting());
    let (outbox, outgoing) = mpsc::channel(OUTBOX);
    let (controls_out, controls_outgoing) = mpsc::channel(CONTROLS);
    let (controls_in, controls_incoming) = mpsc::channel(CONTROLS);
    let (signals_out, signals_outgoing) = mpsc::channel(signals::OUTBOX);
    let (signals_in, signals_incoming) = mpsc::channel(signals::OUTBOX);
    let (fanout, starter) = Fanout::new(hub.clone(), Some(outbox), clock.clone());
    let links = BusLinks {
        channel: settings.redis_channel.clone(),
        fanout: fanout.clone(),
        outbox: outgoing,
        controls_out: controls_outgoing,
        controls_in,
        signals_out: signals_outgoing,
        signals_in,
        health: health.clone(),
        key,
        clock,
        rejected,
    };
    let peers =
        Peers { outgoing: controls_out, incoming: controls_incoming, signals_out, signals_in: signals_incoming };
    let redis = RedisParts { fanout: starter, links, url: url.clone(), peers };
    Ok(Connection { publish: Arc::new(fanout), bus: Bus::Redis(health), redis: Some(redis) })
}

impl Connection {
    /// What the store's writer hands each commit to.
    pub fn publisher(&self) -> Arc<dyn Publish> {
        self.publish.clone()
    }

    /// Starts the fan-out and the Redis links (nothing in process), kept in
    /// `tasks`; answers the bus and, with Redis, the moderation service's
    /// ends of it.
    pub fn start(self, store: Store, tasks: &Tasks) -> (Bus, Option<Peers>) {
        let Some(redis) = self.redis else { return (self.bus, None) };
        redis.fanout.start(store, tasks);
        RedisBus::start(&redis.url, redis.links, tasks);
        (self.bus, Some(redis.peers))
    }
}

/// Whether the Redis connections are up, for `/healthz` and the log.
#[derive(Debug, Default)]
pub struct BusHealth {
    subscriber_down: AtomicBool,
    publisher_down: AtomicBool,
}

impl BusHealth {
    /// Starts "down" until the first connections succeed.
    pub fn connecting() -> Self {
        Self { subscriber_down: AtomicBool::new(true), publisher_down: AtomicBool::new(false) }
    }

    pub fn is_up(&self) -> bool {
        !self.subscriber_down.load(Ordering::Relaxed) && !self.publisher_down.load(Ordering::Relaxed)
    }

    fn set_subscriber_up(&self, up: bool) {
        self.subscriber_down.store(!up, Ordering::Relaxed);
    }

    fn set_publisher_up(&self, up: bool) {
        self.publisher_down.store(!up, Ordering::Relaxed);
    }
}

/// The bus this instance runs with.
#[derive(Clone)]
pub enum Bus {
    /// One instance: the hub is the whole bus.
    InProcess,
    /// Several instances over Redis.
    Redis(Arc<BusHealth>),
}

impl Bus {
    pub fn is_up(&self) -> bool {
        match self {
            Bus::InProcess => true,
            Bus::Redis(health) => health.is_up(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_a_seal_gives_starts_at_zero() {
        for refusal in [Unsealed::Unsigned, Unsealed::BadTag] {
            assert!(REJECTED.contains(&refusal.reason()), "{refusal:?}");
        }
    }
}
