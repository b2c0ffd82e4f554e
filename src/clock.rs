//! The server's notion of "now" for anything with a lifetime (sessions,
//! login throttling), injectable so tests can move time instead of sleeping.
//!
//! Message timestamps use the wall clock directly (`rooms::now`); this clock
//! is for deciding when things expire.

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
        Self { manual: Some(Arc::new(AtomicI64::new(crate::rooms::to_millis(crate::rooms::now())))) }
    }

    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(ms) => ms.load(Ordering::SeqCst),
            None => crate::rooms::to_millis(crate::rooms::now()),
        }
    }

    /// Moves a manual clock forward; a no-op on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(ms) = &self.manual {
            ms.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        }
    }
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
