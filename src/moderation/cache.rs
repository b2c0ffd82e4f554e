//! What the moderation service remembers between requests: room policies,
//! the ban list and recent kicks.
//!
//! Policies are keyed by room name, and any visitor can name any room in a
//! URL, so that cache is bounded ([`POLICY_CAPACITY`] rooms) as well as
//! re-read every [`POLICY_TTL_MS`]; the kick list is bounded the same way
//! ([`KICK_CAPACITY`]) and forgets a kick when it ends. Both are `moka`
//! caches: when full, its TinyLFU policy keeps the entries in steady use
//! rather than the flood's one-offs. An evicted policy is only re-read; an
//! evicted kick ends early (the kicked stream is already closed, so at worst
//! a reconnect inside the minute succeeds). The ban list is one value,
//! re-read whole.
//!
//! Every freshness decision reads the injectable [`Clock`]. moka's own
//! timers run on wall time and only free memory: they are set to the same
//! lifetimes, so on the system clock they agree, and under a manual clock
//! they can only drop an entry after that much real time has passed (a
//! re-read, or a kick ending after a real minute). [`Caches::purge_expired`]
//! (called by housekeeping) drops what is over by the injectable clock, so
//! memory is freed on that clock too.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use moka::sync::Cache;

use crate::auth::NameKey;
use crate::clock::Clock;
use crate::housekeeping::purge_cache;
use crate::rooms::RoomName;
use crate::store::RoomPolicy;

/// Longest a cached policy or ban list is trusted.
pub const POLICY_TTL_MS: i64 = 2_000;
/// Rooms whose policies are kept at once.
pub const POLICY_CAPACITY: u64 = 10_000;
/// How long a kicked visitor's reconnects to the room are refused.
pub const KICK_MS: i64 = 60 * 1000;
/// Kicks remembered at once (per instance).
pub const KICK_CAPACITY: u64 = 10_000;

/// A value and when it was read from the store (by the injectable clock).
#[derive(Clone)]
pub struct Cached<T> {
    pub value: T,
    pub loaded_ms: i64,
}

impl<T> Cached<T> {
    fn fresh(&self, now_ms: i64) -> bool {
        now_ms - self.loaded_ms < POLICY_TTL_MS
    }
}

/// The three memories, shared by every clone of the service.
pub struct Caches {
    clock: Clock,
    policies: Cache<RoomName, Cached<RoomPolicy>>,
    bans: Mutex<Option<Cached<HashSet<NameKey>>>>,
    /// The end of each kick (ms, by the injectable clock).
    kicks: Cache<(RoomName, NameKey), i64>,
}

impl Caches {
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            policies: Cache::builder()
                .max_capacity(POLICY_CAPACITY)
                .time_to_live(Duration::from_millis(POLICY_TTL_MS as u64))
                .build(),
            bans: Mutex::default(),
            kicks: Cache::builder()
                .max_capacity(KICK_CAPACITY)
                .time_to_live(Duration::from_millis(KICK_MS as u64))
                .build(),
        }
    }

    /// The room's policy if it was read less than [`POLICY_TTL_MS`] ago.
    pub fn policy(&self, room: &RoomName) -> Option<RoomPolicy> {
        let now = self.clock.now_ms();
        self.policies.get(room).filter(|cached| cached.fresh(now)).map(|cached| cached.value)
    }

    pub fn keep_policy(&self, room: &RoomName, value: RoomPolicy, loaded_ms: i64) {
        self.policies.insert(room.clone(), Cached { value, loaded_ms });
    }

    pub fn forget_policy(&self, room: &RoomName) {
        self.policies.invalidate(room);
    }

    /// Whether `name` is banned, if the ban list was read less than
    /// [`POLICY_TTL_MS`] ago (looked up in place: the list is not copied).
    pub fn banned(&self, name: &NameKey) -> Option<bool> {
        let now = self.clock.now_ms();
        lock(&self.bans).as_ref().filter(|cached| cached.fresh(now)).map(|cached| cached.value.contains(name))
    }

    pub fn keep_bans(&self, value: HashSet<NameKey>, loaded_ms: i64) {
        *lock(&self.bans) = Some(Cached { value, loaded_ms });
    }

    pub fn forget_bans(&self) {
        *lock(&self.bans) = None;
    }

    /// Refuses `name`'s streams to `room` for [`KICK_MS`] from now.
    pub fn kick(&self, room: &RoomName, name: &NameKey) {
        self.kicks.insert((room.clone(), name.clone()), self.clock.now_ms() + KICK_MS);
    }

    pub fn kicked(&self, room: &RoomName, name: &NameKey) -> bool {
        let now = self.clock.now_ms();
        self.kicks.get(&(room.clone(), name.clone())).is_some_and(|until| until > now)
    }

    /// Drops the kicks that are over and the policies too old to be
    /// trusted, by the injectable clock (moka's own timers follow wall
    /// time); answers how many of each went: (policies, kicks).
    pub fn purge_expired(&self) -> (u64, u64) {
        let now = self.clock.now_ms();
        let policies = purge_cache(&self.policies, |cached| !cached.fresh(now));
        let kicks = purge_cache(&self.kicks, |until| *until <= now);
        (policies, kicks)
    }

    /// Entries held now: (policies, kicks), after moka's pending evictions.
    pub fn entry_counts(&self) -> (u64, u64) {
        self.policies.run_pending_tasks();
        self.kicks.run_pending_tasks();
        (self.policies.entry_count(), self.kicks.entry_count())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    #[test]
    fn freshness_follows_the_injected_clock() {
        let clock = Clock::manual();
        let caches = Caches::new(clock.clone());
        caches.keep_policy(&room("r"), RoomPolicy { locked: true, ..Default::default() }, clock.now_ms());
        assert!(caches.policy(&room("r")).is_some_and(|p| p.locked));
        clock.advance(Duration::from_millis(POLICY_TTL_MS as u64));
        assert!(caches.policy(&room("r")).is_none(), "stale by the manual clock");

        caches.kick(&room("r"), &NameKey::new("Bob"));
        assert!(caches.kicked(&room("r"), &NameKey::new("bob")));
        assert!(!caches.kicked(&room("other"), &NameKey::new("bob")));
        clock.advance(Duration::from_millis(KICK_MS as u64));
        assert!(!caches.kicked(&room("r"), &NameKey::new("bob")), "a kick ends by the manual clock");
    }

    #[test]
    fn purging_drops_kicks_and_policies_that_are_over_by_the_injected_clock() {
        let clock = Clock::manual();
        let caches = Caches::new(clock.clone());
        caches.kick(&room("r"), &NameKey::new("early"));
        caches.keep_policy(&room("r"), RoomPolicy::default(), clock.now_ms());
        clock.advance(Duration::from_millis(KICK_MS as u64 / 2));
        caches.kick(&room("r"), &NameKey::new("late"));
        assert_eq!(caches.purge_expired(), (1, 0), "the policy is stale, both kicks still run");
        clock.advance(Duration::from_millis(KICK_MS as u64 / 2));
        assert_eq!(caches.purge_expired(), (0, 1), "the first kick is over");
        assert_eq!(caches.entry_counts(), (0, 1));
        assert!(caches.kicked(&room("r"), &NameKey::new("late")));
        clock.advance(Duration::from_millis(KICK_MS as u64 / 2));
        assert_eq!(caches.purge_expired(), (0, 1));
        assert_eq!(caches.entry_counts(), (0, 0));
    }

    #[test]
    fn a_flood_of_kicks_stays_within_the_bound() {
        let caches = Caches::new(Clock::manual());
        let r = room("r");
        for i in 0..(KICK_CAPACITY * 3) {
            caches.kick(&r, &NameKey::new(&format!("user{i}")));
        }
        assert!(caches.entry_counts().1 <= KICK_CAPACITY);
    }
}
