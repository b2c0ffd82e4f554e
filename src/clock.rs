//! The server's notion of "now": message times, account creation, and
//! anything with a lifetime (sessions, throttling, kicks, mutes, sweeps),
//! injectable so tests can move time instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Milliseconds since the Unix epoch, from the system or from a test.
#[derive(Clone, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: a manual clock, moved by tests.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that stands still at the current time until advanced.
    pub fn manual() -> Self {
        Self { manual: Some(Arc::new(AtomicI64::new(wall_clock_ms()))) }
    }

    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(ms) => ms.load(Ordering::SeqCst),
            None => wall_clock_ms(),
        }
    }

    /// Now, at the millisecond precision times are stored in.
    pub fn now(&self) -> time::OffsetDateTime {
        crate::rooms::from_millis(self.now_ms())
    }

    /// Moves a manual clock forward; a no-op on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(ms) = &self.manual {
            ms.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        }
    }
}

/// The one place the wall clock is read.
fn wall_clock_ms() -> i64 {
    crate::rooms::to_millis(time::OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual();
        let start = clock.now_ms();
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now_ms() - start, 90_000);
        let shared = clock.clone();
        shared.advance(Duration::from_millis(5));
        assert_eq!(clock.now_ms() - start, 90_005);
    }
}
