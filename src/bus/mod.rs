//! The bus between instances, and each instance's fan-out into its rooms.
//!
//! In-process (the default) the message writer hands each commit straight to
//! the [`Hub`]: one writer commits in id order, so nothing can arrive out of
//! turn. With `redis_url` set, several instances share one PostgreSQL and
//! one Redis: after a commit the posting instance publishes the message on
//! Redis, and every instance's [`Fanout`] task receives it (its own, too) and
//! offers it to the hub's per-room gate. Redis pub/sub is at-most-once, so
//! the fan-out fills any gap from the store: when a later id shows up, when
//! the Redis connection comes back after an outage, and in a periodic sweep.
//! A subscriber therefore never misses or repeats a message.

mod fanout;
mod redis;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use fanout::{Fanout, FanoutStarter, Notice};
pub use redis::{BusLinks, RedisBus};

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
