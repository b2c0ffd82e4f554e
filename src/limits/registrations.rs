//! Registrations per client address: every attempt, valid or not, takes a
//! place in the address's window before any work is done, so a script can
//! neither create accounts in bulk nor keep the hashing queue busy with
//! them, nor probe taken names through the form faster than the limit.

use std::net::IpAddr;
use std::sync::Arc;

use super::window::{Window, take_all};
use super::{LimitSettings, RetryAfter};
use crate::clock::Clock;
use crate::metrics::Metrics;

pub struct RegistrationLimit {
    enabled: bool,
    metrics: Option<Arc<Metrics>>,
    clock: Clock,
    /// `None` is every client whose address is unknown, as one key.
    per_ip: Window<Option<IpAddr>>,
}

impl RegistrationLimit {
    pub fn new(settings: &LimitSettings, clock: Clock) -> Self {
        Self {
            enabled: settings.rate_limits,
            metrics: None,
            clock,
            per_ip: Window::new(settings.registrations_per_ip, settings.registration_window_secs),
        }
    }

    /// Counts refusals into `metrics`.
    pub fn counting(self, metrics: Arc<Metrics>) -> Self {
        crate::metrics::zero(&metrics.rate_limited, "register");
        Self { metrics: Some(metrics), ..self }
    }

    /// Counts a registration attempt from `ip`, unless the address has
    /// spent its budget; an attempt is never given back.
    pub fn try_take(&self, ip: Option<IpAddr>) -> Result<(), RetryAfter> {
        if !self.enabled {
            return Ok(());
        }
        match take_all(&[self.per_ip.budget(ip.map(super::client_network))], self.clock.now_ms()) {
            // Kept: the attempt counts whatever its outcome.
            Ok(_taken) => Ok(()),
            Err(wait) => {
                if let Some(metrics) = &self.metrics {
                    metrics.rate_limited.with_label_values(&["register"]).inc();
                }
                Err(wait)
            }
        }
    }

    /// Forgets the addresses whose registrations have all aged out of the
    /// window, by the injectable clock; answers how many went.
    pub fn purge_expired(&self) -> u64 {
        self.per_ip.purge(self.clock.now_ms())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_address_registers_its_budget_then_waits_for_the_oldest_to_age_out() {
        let clock = Clock::manual();
        let settings = LimitSettings { registrations_per_ip: 2, ..Default::default() };
        let limit = RegistrationLimit::new(&settings, clock.clone());
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!(limit.try_take(ip).is_ok());
        clock.advance(Duration::from_secs(60));
        assert!(limit.try_take(ip).is_ok());
        assert_eq!(limit.try_take(ip).unwrap_err().secs(), 59 * 60);
        assert!(limit.try_take(Some(IpAddr::from([10, 0, 0, 2]))).is_ok(), "per address");
        clock.advance(Duration::from_secs(59 * 60));
        assert!(limit.try_take(ip).is_ok());
        clock.advance(Duration::from_secs(2 * 60 * 60));
        assert_eq!(limit.purge_expired(), 2);
    }

    #[test]
    fn the_master_switch_turns_the_limit_off() {
        let settings = LimitSettings { rate_limits: false, registrations_per_ip: 1, ..Default::default() };
        let limit = RegistrationLimit::new(&settings, Clock::manual());
        assert!((0..5).all(|_| limit.try_take(None).is_ok()));
    }
}
