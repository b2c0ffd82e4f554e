//! Failed-login throttling: per attempted username and per client IP, and
//! per device for a browser that has logged in as that user before.
//!
//! Failures are counted per attempted name whether or not the account
//! exists, so a throttled answer is the same for real and unknown names.
//! Counts are sliding windows against the injectable clock
//! ([`super::window`]): they decay, and the real owner is never locked out
//! for good. Each attempt takes its place in the budgets before the
//! password is checked and gives it back if the password was right, so
//! concurrent guesses cannot overrun a budget.
//!
//! A browser holding a device cookie for the name it tries (OWASP's
//! device cookies) counts against that device's own budget instead of the
//! name's and the address's: others' wrong passwords, from anywhere, cannot
//! lock the owner's browser out, and the cookie, which only a right
//! password earns, buys no more guesses than a name has.

use std::net::IpAddr;
use std::sync::Arc;

use super::window::{Taken, Window, take_all};
use super::{LimitSettings, RetryAfter};
use crate::auth::NameKey;
use crate::clock::Clock;
use crate::metrics::Metrics;

pub struct LoginThrottle {
    enabled: bool,
    metrics: Option<Arc<Metrics>>,
    clock: Clock,
    per_name: Window<NameKey>,
    /// `None` is every client whose address is unknown, as one key.
    per_ip: Window<Option<IpAddr>>,
    /// By the device cookie's id; the same numbers as a name.
    per_device: Window<String>,
}

/// One login attempt's place in its budgets: dropped, it counts as a
/// failure; given back ([`Attempt::give_back`]) it never happened.
#[must_use = "an attempt counts as a failure unless it is given back"]
pub struct Attempt(Taken);

impl Attempt {
    /// The password was right (or never checked): the attempt is no failure.
    pub fn give_back(self) {
        self.0.give_back();
    }
}

impl LoginThrottle {
    pub fn new(settings: &LimitSettings, clock: Clock) -> Self {
        Self {
            enabled: settings.rate_limits,
            metrics: None,
            clock,
            per_name: Window::new(settings.login_failures_per_name, settings.login_name_window_secs),
            per_ip: Window::new(settings.login_failures_per_ip, settings.login_ip_window_secs),
            per_device: Window::new(settings.login_failures_per_name, settings.login_name_window_secs),
        }
    }

    /// Counts refusals into `metrics`.
    pub fn counting(self, metrics: Arc<Metrics>) -> Self {
        crate::metrics::zero(&metrics.rate_limited, "login");
        crate::metrics::zero(&metrics.logins, "throttled");
        Self { metrics: Some(metrics), ..self }
    }

    /// Takes a place for a login as `name` from `ip` in the name's and the
    /// address's budgets, or, when the browser holds a device cookie for
    /// this very name (`trusted_device`, its id), in that device's budget
    /// only; refused if a budget is spent.
    pub fn try_take(
        &self,
        name: &str,
        ip: Option<IpAddr>,
        trusted_device: Option<&str>,
    ) -> Result<Attempt, RetryAfter> {
        if !self.enabled {
            return Ok(Attempt(Taken::default()));
        }
        let now = self.clock.now_ms();
        let taken = match trusted_device {
            Some(device) => take_all(&[self.per_device.budget(device.to_owned())], now),
            // Names are case-insensitive, so `Alice` and `alice` share a
            // budget. The name's before the address's: see `take_all`.
            None => take_all(
                &[self.per_name.budget(NameKey::new(name)), self.per_ip.budget(ip.map(super::client_network))],
                now,
            ),
        };
        taken.map(Attempt).inspect_err(|_| {
            if let Some(metrics) = &self.metrics {
                metrics.rate_limited.with_label_values(&["login"]).inc();
                metrics.logins.with_label_values(&["throttled"]).inc();
            }
        })
    }

    /// Forgets the names, addresses and devices whose failures have all
    /// aged out of their window, by the injectable clock (moka's idle timer
    /// follows wall time); answers how many keys went.
    pub fn purge_expired(&self) -> u64 {
        let now = self.clock.now_ms();
        self.per_name.purge(now) + self.per_ip.purge(now) + self.per_device.purge(now)
    }

    /// Keys remembered now: (names, addresses), after pending evictions.
    #[doc(hidden)]
    pub fn entry_counts(&self) -> (u64, u64) {
        (self.per_name.entry_count(), self.per_ip.entry_count())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::limits::WINDOW_CAPACITY;

    fn throttle(clock: &Clock) -> LoginThrottle {
        let settings = LimitSettings { login_failures_per_name: 3, login_failures_per_ip: 5, ..Default::default() };
        LoginThrottle::new(&settings, clock.clone())
    }

    /// A failed attempt: taken and kept.
    fn fail(throttle: &LoginThrottle, name: &str, ip: Option<IpAddr>) {
        drop(throttle.try_take(name, ip, None).expect("not throttled yet"));
    }

    #[test]
    fn a_name_is_throttled_after_its_failures_and_recovers_as_they_age() {
        let clock = Clock::manual();
        let throttle = throttle(&clock);
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..3 {
            fail(&throttle, "Alice", ip);
        }
        let wait = throttle.try_take("alice", ip, None).err().unwrap();
        assert_eq!(wait.secs(), 15 * 60);
        clock.advance(Duration::from_secs(15 * 60));
        assert!(throttle.try_take("alice", ip, None).is_ok(), "limits decay");
    }

    #[test]
    fn a_successful_login_gives_its_place_back() {
        let throttle = throttle(&Clock::manual());
        for _ in 0..10 {
            throttle.try_take("alice", None, None).unwrap().give_back();
        }
        assert!(throttle.try_take("alice", None, None).is_ok());
    }

    #[test]
    fn an_ip_is_throttled_across_names() {
        let clock = Clock::manual();
        let throttle = throttle(&clock);
        let ip = Some(IpAddr::from([10, 0, 0, 2]));
        for i in 0..5 {
            fail(&throttle, &format!("user{i}"), ip);
        }
        assert!(throttle.try_take("someone-else", ip, None).is_err());
        assert!(throttle.try_take("someone-else", Some(IpAddr::from([10, 0, 0, 3])), None).is_ok());
    }

    #[test]
    fn a_trusted_device_has_its_own_budget_apart_from_the_name_and_the_address() {
        let throttle = throttle(&Clock::manual());
        let ip = Some(IpAddr::from([10, 0, 0, 5]));
        for _ in 0..5 {
            drop(throttle.try_take("alice", ip, None));
        }
        assert!(throttle.try_take("alice", ip, None).is_err(), "the name and the address are spent");
        for _ in 0..3 {
            drop(throttle.try_take("alice", ip, Some("device-1")).expect("the device's own budget"));
        }
        assert!(throttle.try_take("alice", ip, Some("device-1")).is_err(), "and it runs out too");
        assert!(throttle.try_take("alice", ip, Some("device-2")).is_ok(), "per device");
    }

    #[test]
    fn the_master_switch_turns_throttling_off() {
        let settings = LimitSettings { rate_limits: false, login_failures_per_name: 1, ..Default::default() };
        let throttle = LoginThrottle::new(&settings, Clock::manual());
        for _ in 0..5 {
            fail(&throttle, "alice", None);
        }
        assert!(throttle.try_take("alice", None, None).is_ok());
    }

    #[test]
    fn purging_forgets_keys_whose_failures_aged_out_by_the_injected_clock() {
        let clock = Clock::manual();
        let throttle = throttle(&clock);
        let ip = Some(IpAddr::from([10, 0, 0, 4]));
        fail(&throttle, "alice", ip);
        clock.advance(Duration::from_secs(10 * 60));
        fail(&throttle, "bob", ip);
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
            fail(&throttle, &format!("user{i}"), Some(IpAddr::from(i.to_be_bytes())));
        }
        let (names, addresses) = throttle.entry_counts();
        assert!(names <= WINDOW_CAPACITY, "{names} names");
        assert!(addresses <= WINDOW_CAPACITY, "{addresses} addresses");
        // A name new to a full cache may need a second look to be admitted.
        for i in 0..6u8 {
            drop(throttle.try_take("victim", Some(IpAddr::from([10, 8, 8, i])), None));
            clock.advance(Duration::from_secs(1));
        }
        let refused = throttle.try_take("VICTIM", Some(IpAddr::from([10, 9, 9, 9])), None);
        assert!(refused.is_err(), "still counted when full");
    }

    #[test]
    fn an_ipv6_client_has_one_login_budget_for_its_whole_64() {
        let throttle = throttle(&Clock::manual());
        for i in 0..5u16 {
            let ip = IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, i]);
            fail(&throttle, &format!("user{i}"), Some(ip));
        }
        let next = IpAddr::from([0x2001, 0xdb8, 0, 1, 0xffff, 0, 0, 99]);
        assert!(throttle.try_take("someone", Some(next), None).is_err(), "the same /64");
        let other = IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1]);
        assert!(throttle.try_take("someone", Some(other), None).is_ok(), "another /64");
    }
}
