//! Failed-login throttling: per attempted username and per client IP.
//!
//! Failures are counted per attempted name whether or not the account
//! exists, so a throttled answer is the same for real and unknown names.
//! Counts are sliding windows against the injectable clock: they decay, and
//! the real owner is never locked out for good.
//!
//! Anyone can try any name, so each window remembers at most
//! [`WINDOW_CAPACITY`] keys (a `moka` cache: when full, its TinyLFU policy
//! keeps the names under repeated attack over a flood of one-off names), and
//! drops a key idle for a whole window span (all its failures have aged
//! out by then), by wall time; housekeeping also drops keys whose failures
//! aged out by the injectable clock ([`LoginThrottle::purge_expired`]).
//! An evicted key starts again from no failures; the per-IP
//! window still holds its attacker back.

use std::collections::VecDeque;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use moka::sync::Cache;

use super::{LimitSettings, RetryAfter};
use crate::auth::NameKey;
use crate::clock::Clock;
use crate::housekeeping::purge_cache;
use crate::metrics::Metrics;

/// Names (and, separately, addresses) whose failures are remembered at once.
pub const WINDOW_CAPACITY: u64 = 10_000;

pub struct LoginThrottle {
    enabled: bool,
    metrics: Option<Arc<Metrics>>,
    clock: Clock,
    per_name: Window<NameKey>,
    /// `None` is every client whose address is unknown, as one key.
    per_ip: Window<Option<IpAddr>>,
}

impl LoginThrottle {
    pub fn new(settings: &LimitSettings, clock: Clock) -> Self {
        Self {
            enabled: settings.rate_limits,
            metrics: None,
            clock,
            per_name: Window::new(settings.login_failures_per_name, settings.login_name_window_secs),
            per_ip: Window::new(settings.login_failures_per_ip, settings.login_ip_window_secs),
        }
    }

    /// Counts refusals into `metrics`.
    pub fn counting(self, metrics: Arc<Metrics>) -> Self {
        Self { metrics: Some(metrics), ..self }
    }

    /// Whether a login for `name` from `ip` may be tried now.
    pub fn check(&self, name: &str, ip: Option<IpAddr>) -> Result<(), RetryAfter> {
        if !self.enabled {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let waits = [self.per_name.wait(&NameKey::new(name), now), self.per_ip.wait(&ip, now)];
        match waits.into_iter().flatten().max() {
            Some(wait) => {
                if let Some(metrics) = &self.metrics {
                    metrics.rate_limited.with_label_values(&["login"]).inc();
                    metrics.logins.with_label_values(&["throttled"]).inc();
                }
                Err(RetryAfter(wait))
            }
            None => Ok(()),
        }
    }

    /// Counts a failed login against the name and the IP.
    pub fn record_failure(&self, name: &str, ip: Option<IpAddr>) {
        if !self.enabled {
            return;
        }
        let now = self.clock.now_ms();
        // Names are case-insensitive, so `Alice` and `alice` share a budget.
        self.per_name.record(NameKey::new(name), now);
        self.per_ip.record(ip, now);
    }

    /// Forgets the names and addresses whose failures have all aged out of
    /// their window, by the injectable clock (moka's idle timer follows
    /// wall time); answers how many keys went.
    pub fn purge_expired(&self) -> u64 {
        let now = self.clock.now_ms();
        self.per_name.purge(now) + self.per_ip.purge(now)
    }

    /// Keys remembered now: (names, addresses), after pending evictions.
    #[doc(hidden)]
    pub fn entry_counts(&self) -> (u64, u64) {
        (self.per_name.entry_count(), self.per_ip.entry_count())
    }
}

/// One key's failure times, oldest first. Shared (not copied out of the
/// cache) so that a check and a record on the same key see each other.
type Failures = Arc<Mutex<VecDeque<i64>>>;

/// A sliding window of failure times per key, over a bounded cache.
struct Window<K> {
    limit: usize,
    span_ms: i64,
    failures: Cache<K, Failures>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> Window<K> {
    fn new(limit: u32, span_secs: u64) -> Self {
        // Idle means neither checked nor failed: after a whole span of that,
        // every failure the key had is outside the window.
        let failures =
            Cache::builder().max_capacity(WINDOW_CAPACITY).time_to_idle(Duration::from_secs(span_secs.max(1))).build();
        Self { limit: limit.max(1) as usize, span_ms: span_secs as i64 * 1000, failures }
    }

    /// How long until `key` may fail again, if it is at its limit now.
    fn wait(&self, key: &K, now: i64) -> Option<Duration> {
        let failures = self.failures.get(key)?;
        let mut times = failures.lock().unwrap_or_else(PoisonError::into_inner);
        while times.front().is_some_and(|&t| t <= now - self.span_ms) {
            times.pop_front();
        }
        if times.len() < self.limit {
            return None;
        }
        let oldest = *times.front()?;
        Some(Duration::from_millis((oldest + self.span_ms - now).max(1) as u64))
    }

    fn record(&self, key: K, now: i64) {
        let failures = self.failures.get_with(key, Failures::default);
        let mut times = failures.lock().unwrap_or_else(PoisonError::into_inner);
        times.push_back(now);
        // More than `limit` old entries are never needed to decide.
        while times.len() > self.limit {
            times.pop_front();
        }
    }

    /// Drops every key with no failure inside the window at `now`: such a
    /// key decides nothing a new, empty one would not. A failure recorded
    /// into a list in the instant it goes is lost with it; the per-IP
    /// window still counts that one.
    fn purge(&self, now: i64) -> u64 {
        purge_cache(&self.failures, |failures| {
            let times = failures.lock().unwrap_or_else(PoisonError::into_inner);
            times.back().is_none_or(|&newest| newest <= now - self.span_ms)
        })
    }

    fn entry_count(&self) -> u64 {
        self.failures.run_pending_tasks();
        self.failures.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(clock: &Clock) -> LoginThrottle {
        let settings = LimitSettings { login_failures_per_name: 3, login_failures_per_ip: 5, ..Default::default() };
        LoginThrottle::new(&settings, clock.clone())
    }

    #[test]
    fn a_name_is_throttled_after_its_failures_and_recovers_as_they_age() {
        let clock = Clock::manual();
        let throttle = throttle(&clock);
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..3 {
            assert!(throttle.check("Alice", ip).is_ok());
            throttle.record_failure("Alice", ip);
        }
        let wait = throttle.check("alice", ip).unwrap_err();
        assert_eq!(wait.secs(), 15 * 60);
        clock.advance(Duration::from_secs(15 * 60));
        assert!(throttle.check("alice", ip).is_ok(), "limits decay");
    }

    #[test]
    fn an_ip_is_throttled_across_names() {
        let clock = Clock::manual();
        let throttle = throttle(&clock);
        let ip = Some(IpAddr::from([10, 0, 0, 2]));
        for i in 0..5 {
            throttle.record_failure(&format!("user{i}"), ip);
        }
        assert!(throttle.check("someone-else", ip).is_err());
        assert!(throttle.check("someone-else", Some(IpAddr::from([10, 0, 0, 3]))).is_ok());
    }

    #[test]
    fn the_master_switch_turns_throttling_off() {
        let settings = LimitSettings { rate_limits: false, login_failures_per_name: 1, ..Default::default() };
        let throttle = LoginThrottle::new(&settings, Clock::manual());
        for _ in 0..5 {
            throttle.record_failure("alice", None);
        }
        assert!(throttle.check("alice", None).is_ok());
    }

    #[test]
    fn purging_forgets_keys_whose_failures_aged_out_by_the_injected_clock() {
        let clock = Clock::manual();
        let throttle = throttle(&clock);
        let ip = Some(IpAddr::from([10, 0, 0, 4]));
        throttle.record_failure("alice", ip);
        clock.advance(Duration::from_secs(10 * 60));
        throttle.record_failure("bob", ip);
        assert_eq!(throttle.purge_expired(), 0, "every window still holds a failure");
        assert_eq!(throttle.entry_counts(), (2, 1));
        clock.advance(Duration::from_secs(5 * 60));
        assert_eq!(throttle.purge_expired(), 1, "alice's 15-minute window is empty");
        assert_eq!(throttle.entry_counts(), (1, 1));
        clock.advance(Duration::from_secs(60 * 60));
        assert_eq!(throttle.purge_expired(), 2, "bob's name and the address's hour are over");
        assert_eq!(throttle.entry_counts(), (0, 0));
    }

    #[test]
    fn a_flood_of_names_and_addresses_stays_within_the_bound() {
        let clock = Clock::manual();
        let throttle = throttle(&clock);
        for i in 0..50_000u32 {
            let ip = Some(IpAddr::from(i.to_be_bytes()));
            throttle.record_failure(&format!("user{i}"), ip);
        }
        let (names, addresses) = throttle.entry_counts();
        assert!(names <= WINDOW_CAPACITY, "{names} names");
        assert!(addresses <= WINDOW_CAPACITY, "{addresses} addresses");
        // A name new to a full cache may need a second look to be admitted.
        for _ in 0..6 {
            throttle.record_failure("victim", None);
            clock.advance(Duration::from_secs(1));
        }
        assert!(throttle.check("VICTIM", Some(IpAddr::from([10, 9, 9, 9]))).is_err(), "still counted when full");
    }
}
