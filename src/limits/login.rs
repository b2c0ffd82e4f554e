//! Failed-login throttling: per attempted username and per client IP.
//!
//! Failures are counted per attempted name whether or not the account
//! exists, so a throttled answer is the same for real and unknown names.
//! Counts are sliding windows against the injectable clock: they decay, and
//! the real owner is never locked out for good.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{LimitSettings, RetryAfter, ip_key};
use crate::clock::Clock;
use crate::metrics::Metrics;

/// Keys beyond which a window sweeps out everything that has aged out.
const SWEEP_ABOVE: usize = 10_000;

pub struct LoginThrottle {
    enabled: bool,
    metrics: Option<Arc<Metrics>>,
    clock: Clock,
    per_name: Window,
    per_ip: Window,
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
        let waits = [self.per_name.wait(&name_key(name), now), self.per_ip.wait(&ip_key(ip), now)];
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
        self.per_name.record(name_key(name), now);
        self.per_ip.record(ip_key(ip), now);
    }
}

/// Names are case-insensitive, so `Alice` and `alice` share a budget.
fn name_key(name: &str) -> String {
    format!("name:{}", name.to_lowercase())
}

/// A sliding window of failure times per key.
struct Window {
    limit: usize,
    span_ms: i64,
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Window {
    fn new(limit: u32, span_secs: u64) -> Self {
        Self { limit: limit.max(1) as usize, span_ms: span_secs as i64 * 1000, failures: Mutex::default() }
    }

    /// How long until `key` may fail again, if it is at its limit now.
    fn wait(&self, key: &str, now: i64) -> Option<Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let times = failures.get_mut(key)?;
        while times.front().is_some_and(|&t| t <= now - self.span_ms) {
            times.pop_front();
        }
        if times.len() < self.limit {
            return None;
        }
        let oldest = *times.front()?;
        Some(Duration::from_millis((oldest + self.span_ms - now).max(1) as u64))
    }

    fn record(&self, key: String, now: i64) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, times| times.back().is_some_and(|&t| t > now - self.span_ms));
        }
        let times = failures.entry(key).or_default();
        times.push_back(now);
        // More than `limit` old entries are never needed to decide.
        while times.len() > self.limit {
            times.pop_front();
        }
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
}
