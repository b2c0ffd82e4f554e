//! Post rates: token buckets (GCRA, the `governor` crate) per member
//! session, per guest, and per client IP.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::{LimitSettings, RetryAfter, ip_key};
use crate::auth::Visitor;
use crate::metrics::Metrics;

/// Checks between sweeps of idle buckets (they would otherwise pile up).
const SWEEP_EVERY: u64 = 4096;

pub struct PostLimiter {
    enabled: bool,
    metrics: Option<Arc<Metrics>>,
    members: DefaultKeyedRateLimiter<String>,
    guests: DefaultKeyedRateLimiter<String>,
    ips: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

fn quota(per_sec: u32, burst: u32) -> Quota {
    let nonzero = |n: u32| NonZeroU32::new(n.max(1)).expect("at least 1");
    Quota::per_second(nonzero(per_sec)).allow_burst(nonzero(burst))
}

impl PostLimiter {
    pub fn new(settings: &LimitSettings) -> Self {
        Self {
            enabled: settings.rate_limits,
            metrics: None,
            members: DefaultKeyedRateLimiter::keyed(quota(settings.posts_per_sec, settings.post_burst)),
            guests: DefaultKeyedRateLimiter::keyed(quota(settings.guest_posts_per_sec, settings.guest_post_burst)),
            ips: DefaultKeyedRateLimiter::keyed(quota(settings.ip_posts_per_sec, settings.ip_post_burst)),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts refusals into `metrics`.
    pub fn counting(self, metrics: Arc<Metrics>) -> Self {
        Self { metrics: Some(metrics), ..self }
    }

    /// Takes one post from the visitor's and the IP's buckets, or says how
    /// long to wait. A refused post takes nothing from the IP's bucket.
    pub fn check(&self, visitor: &Visitor, ip: Option<IpAddr>) -> Result<(), RetryAfter> {
        if !self.enabled {
            return Ok(());
        }
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            for limiter in [&self.members, &self.guests, &self.ips] {
                limiter.retain_recent();
            }
        }
        let own = if visitor.is_guest() { &self.guests } else { &self.members };
        let wait = |not_until: governor::NotUntil<_>| {
            if let Some(metrics) = &self.metrics {
                metrics.rate_limited.with_label_values(&["post"]).inc();
            }
            RetryAfter(not_until.wait_time_from(DefaultClock::default().now()))
        };
        own.check_key(&visitor.limit_key()).map_err(wait)?;
        self.ips.check_key(&ip_key(ip)).map_err(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::GuestName;

    #[test]
    fn a_burst_passes_then_posts_wait() {
        let limiter =
            PostLimiter::new(&LimitSettings { guest_posts_per_sec: 1, guest_post_burst: 3, ..Default::default() });
        let guest = Visitor::Guest { name: GuestName::generate() };
        for _ in 0..3 {
            assert!(limiter.check(&guest, None).is_ok());
        }
        let wait = limiter.check(&guest, None).unwrap_err();
        assert_eq!(wait.secs(), 1);
        let other = Visitor::Guest { name: GuestName::generate() };
        assert!(limiter.check(&other, None).is_ok(), "each guest has its own bucket");
    }
}
