//! Abuse limits: login throttling, registrations per address, post rates,
//! and caps on open streams.
//!
//! Every number is a config key (see [`LimitSettings`]) and one master key,
//! `rate_limits = false`, turns all of them off at once (for load benchmarks
//! and test rigs where every client is 127.0.0.1). This module decides; the
//! web layer turns a refusal into a 429 with `Retry-After`.
//!
//! Every map here is keyed by something a client chooses (a name, a guest,
//! an address), so none grows without bound: the login and registration
//! windows and the post buckets keep at most [`WINDOW_CAPACITY`] and
//! [`BUCKET_CAPACITY`] keys each and drop idle ones, and a stream count
//! lives only while a stream holds it. Addresses count by client network
//! ([`client_network`]: an IPv6 client by its /64).

mod address;
mod login;
mod posts;
mod registrations;
mod streams;
mod window;

use std::time::Duration;

use serde::Deserialize;

pub use address::{IPV6_CLIENT_PREFIX, client_network, ip_key};
pub use login::{Attempt, LoginThrottle};
pub use posts::{BUCKET_CAPACITY, PostLimiter};
pub use registrations::RegistrationLimit;
pub use streams::{StreamCaps, StreamSlot};
pub use window::WINDOW_CAPACITY;

use std::sync::Arc;

use crate::clock::Clock;
use crate::metrics::Metrics;

/// The limits' settings, read from the same figment as everything else.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct LimitSettings {
    /// The master switch: `false` turns every limit below off.
    pub rate_limits: bool,
    /// Failed logins allowed per attempted username per window.
    pub login_failures_per_name: u32,
    pub login_name_window_secs: u64,
    /// Failed logins allowed per client IP per window.
    pub login_failures_per_ip: u32,
    pub login_ip_window_secs: u64,
    /// Registration attempts allowed per client IP per window.
    pub registrations_per_ip: u32,
    pub registration_window_secs: u64,
    /// Posts per second and burst, per member session.
    pub posts_per_sec: u32,
    pub post_burst: u32,
    /// Posts per second and burst, per guest.
    pub guest_posts_per_sec: u32,
    pub guest_post_burst: u32,
    /// Posts per second and burst of all the guests behind one client
    /// address together: a guest who clears its cookie gets a new guest
    /// bucket, but not a new one of these.
    pub guest_ip_posts_per_sec: u32,
    pub guest_ip_post_burst: u32,
    /// Posts per second and burst, per client IP (all visitors behind it).
    pub ip_posts_per_sec: u32,
    pub ip_post_burst: u32,
    /// Open event streams per session (or guest) and per client IP.
    pub streams_per_session: u32,
    pub streams_per_ip: u32,
    /// Posts per second and burst, per bot (its only post limit: a bot is
    /// not held to its address's bucket, nor people to its posts).
    pub bot_posts_per_sec: u32,
    pub bot_post_burst: u32,
    /// Posts per second and burst, per incoming webhook.
    pub hook_posts_per_sec: u32,
    pub hook_post_burst: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            rate_limits: true,
            login_failures_per_name: 10,
            login_name_window_secs: 15 * 60,
            login_failures_per_ip: 100,
            login_ip_window_secs: 60 * 60,
            registrations_per_ip: 20,
            registration_window_secs: 60 * 60,
            posts_per_sec: 5,
            post_burst: 10,
            guest_posts_per_sec: 2,
            guest_post_burst: 5,
            guest_ip_posts_per_sec: 2,
            guest_ip_post_burst: 10,
            ip_posts_per_sec: 20,
            ip_post_burst: 40,
            streams_per_session: 16,
            streams_per_ip: 64,
            bot_posts_per_sec: 2,
            bot_post_burst: 10,
            hook_posts_per_sec: 1,
            hook_post_burst: 5,
        }
    }
}

/// A refusal: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for the `Retry-After` header, never 0.
    pub fn secs(&self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// All the limits, shared by every route (and by open sockets: cloning
/// shares them).
#[derive(Clone)]
pub struct Limits {
    pub login: Arc<LoginThrottle>,
    pub registrations: Arc<RegistrationLimit>,
    pub posts: Arc<PostLimiter>,
    pub streams: Arc<StreamCaps>,
}

impl Limits {
    pub fn new(settings: &LimitSettings, clock: Clock, metrics: Arc<Metrics>) -> Self {
        Self {
            login: Arc::new(LoginThrottle::new(settings, clock.clone()).counting(metrics.clone())),
            registrations: Arc::new(RegistrationLimit::new(settings, clock).counting(metrics.clone())),
            posts: Arc::new(PostLimiter::new(settings).counting(metrics.clone())),
            streams: Arc::new(StreamCaps::new(settings).counting(metrics)),
        }
    }
}
