//! Sliding windows of attempt times per key: the budgets that failed
//! logins (per name, per address, per device) and registrations count in.
//!
//! An attempt is taken from its budgets *before* the work it guards, under
//! the keys' locks ([`take_all`]), so any number of concurrent attempts
//! can never overrun a budget: checking first and counting after would let
//! every attempt that arrives before the first one is counted through. An
//! attempt that turns out not to count (a login that succeeds) is given
//! back ([`Taken::give_back`]).
//!
//! Anyone can send any key, so each window remembers at most
//! [`WINDOW_CAPACITY`] keys (a `moka` cache: when full, its TinyLFU policy
//! keeps the keys under repeated attack over a flood of one-off keys), and
//! drops a key idle for a whole window span (all its attempts have aged out
//! by then), by wall time; housekeeping also drops keys whose attempts aged
//! out by the injectable clock ([`Window::purge`]). An evicted key starts
//! again from an empty budget.

use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use moka::sync::Cache;

use super::RetryAfter;
use crate::housekeeping::purge_cache;

/// Keys each window remembers at once.
pub const WINDOW_CAPACITY: u64 = 10_000;

/// One key's attempt times, oldest first. Shared (not copied out of the
/// cache) so that every attempt on the same key sees the others.
type Times = Arc<Mutex<VecDeque<i64>>>;

/// A sliding window of attempt times per key, over a bounded cache.
pub struct Window<K> {
    limit: usize,
    span_ms: i64,
    times: Cache<K, Times>,
}

/// One key's budget in one window, ready to be taken from.
pub struct Budget {
    limit: usize,
    span_ms: i64,
    times: Times,
}

/// Attempts taken from their budgets. Dropped, they stay counted (the
/// safe default: an attempt that ends any other way than by a give-back
/// counts); [`Taken::give_back`] removes them.
#[must_use = "an attempt stays counted unless it is given back"]
#[derive(Default)]
pub struct Taken {
    at: i64,
    from: Vec<Times>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> Window<K> {
    pub fn new(limit: u32, span_secs: u64) -> Self {
        // Idle means not attempted: after a whole span of that, every
        // attempt the key had is outside the window.
        let times =
            Cache::builder().max_capacity(WINDOW_CAPACITY).time_to_idle(Duration::from_secs(span_secs.max(1))).build();
        Self { limit: limit.max(1) as usize, span_ms: span_secs as i64 * 1000, times }
    }

    /// `key`'s budget (an empty one if the key is new).
    pub fn budget(&self, key: K) -> Budget {
        Budget { limit: self.limit, span_ms: self.span_ms, times: self.times.get_with(key, Times::default) }
    }

    /// Drops every key with no attempt inside the window at `now`: such a
    /// key decides nothing a new, empty one would not. An attempt taken
    /// from a list in the instant it goes is lost with it: the key starts
    /// again from an empty budget, one attempt short.
    pub fn purge(&self, now: i64) -> u64 {
        purge_cache(&self.times, |times| {
            let times = times.lock().unwrap_or_else(PoisonError::into_inner);
            times.back().is_none_or(|&newest| newest <= now - self.span_ms)
        })
    }

    pub fn entry_count(&self) -> u64 {
        self.times.run_pending_tasks();
        self.times.entry_count()
    }
}

/// Takes one attempt at `now` from every budget, or from none: all their
/// locks are held while deciding. The locks are taken in the order given,
/// and every caller passes a name's budget before an address's (and never
/// one list twice), so two attempts never wait for each other in a cycle.
/// Refused, the answer is the longest wait among the full budgets.
pub fn take_all(budgets: &[Budget], now: i64) -> Result<Taken, RetryAfter> {
    let mut locked: Vec<_> = budgets.iter().map(|b| b.times.lock().unwrap_or_else(PoisonError::into_inner)).collect();
    let mut wait = None;
    for (budget, times) in budgets.iter().zip(locked.iter_mut()) {
        while times.front().is_some_and(|&t| t <= now - budget.span_ms) {
            times.pop_front();
        }
        if times.len() >= budget.limit
            && let Some(&oldest) = times.front()
        {
            let this = Duration::from_millis((oldest + budget.span_ms - now).max(1) as u64);
            wait = wait.max(Some(this));
        }
    }
    if let Some(wait) = wait {
        return Err(RetryAfter(wait));
    }
    for times in &mut locked {
        times.push_back(now);
    }
    Ok(Taken { at: now, from: budgets.iter().map(|b| b.times.clone()).collect() })
}

impl Taken {
    /// Removes the attempts again, so they never counted.
    pub fn give_back(self) {
        for times in &self.from {
            let mut times = times.lock().unwrap_or_else(PoisonError::into_inner);
            // Attempts taken at the same time are interchangeable.
            if let Some(at) = times.iter().rposition(|&t| t == self.at) {
                times.remove(at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refuses_when_full_and_frees_as_attempts_age() {
        let window = Window::new(2, 60);
        let _first = take_all(&[window.budget("a")], 0).unwrap();
        let _second = take_all(&[window.budget("a")], 10_000).unwrap();
        let wait = take_all(&[window.budget("a")], 20_000).err().unwrap();
        assert_eq!(wait, RetryAfter(Duration::from_secs(40)), "until the oldest ages out");
        assert!(take_all(&[window.budget("a")], 60_000).is_ok());
    }

    #[test]
    fn a_given_back_attempt_frees_its_place() {
        let window = Window::new(1, 60);
        take_all(&[window.budget("a")], 0).unwrap().give_back();
        assert!(take_all(&[window.budget("a")], 0).is_ok());
        assert!(take_all(&[window.budget("a")], 0).is_err());
    }

    #[test]
    fn a_refusal_by_one_budget_takes_from_none() {
        let names = Window::new(5, 60);
        let addresses = Window::new(1, 60);
        let _taken = take_all(&[addresses.budget(1)], 0).unwrap();
        assert!(take_all(&[names.budget(1), addresses.budget(1)], 0).is_err());
        assert!(take_all(&[names.budget(1)], 0).is_ok());
        let _taken = take_all(&[names.budget(1)], 0).unwrap();
        assert_eq!(names.budget(1).times.lock().unwrap().len(), 2, "the refused attempt left nothing behind");
    }

    #[test]
    fn concurrent_attempts_never_overrun_a_budget() {
        let window = Arc::new(Window::new(10, 60));
        let taken: usize = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..40)
                .map(|_| {
                    let window = window.clone();
                    scope.spawn(move || take_all(&[window.budget("a")], 0).is_ok())
                })
                .collect();
            threads.into_iter().map(|t| usize::from(t.join().unwrap())).sum()
        });
        assert_eq!(taken, 10);
    }
}
