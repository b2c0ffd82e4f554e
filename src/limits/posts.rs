//! Post rates: token buckets (GCRA, the `governor` crate) per member
//! session, per guest, for the guests of one client address together, and
//! per client address. A guest is whoever holds a guest cookie, so clearing
//! it yields a fresh guest bucket: the guests' per-address bucket is what
//! holds such a client to a guest's rate. Addresses count by network
//! ([`super::client_network`]).
//!
//! Guests and addresses are client-chosen keys, so each class keeps at most
//! [`BUCKET_CAPACITY`] buckets, in a `moka` cache under governor's own
//! state (see [`BoundedBuckets`]). A bucket idle long enough to have
//! refilled is the same as a new one, so it is dropped then; a full cache
//! evicts by TinyLFU, keeping the buckets in steady use, and an evicted
//! bucket starts full again (the per-IP bucket still holds a flooder back).
//! Buckets run on governor's clock (monotonic wall time), not the
//! injectable [`crate::Clock`]: nothing in the tests moves post time.
//! Housekeeping drops the buckets that have filled up again
//! ([`PostLimiter::purge_expired`]), on that same clock.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use moka::sync::Cache;

use super::{LimitSettings, RetryAfter, ip_key};
use crate::auth::Visitor;
use crate::housekeeping::purge_cache;
use crate::metrics::Metrics;

/// Buckets kept at once per class (members, guests, addresses).
pub const BUCKET_CAPACITY: u64 = 10_000;

type Limiter = RateLimiter<String, BoundedBuckets<String>, DefaultClock, NoOpMiddleware>;

pub struct PostLimiter {
    enabled: bool,
    metrics: Option<Arc<Metrics>>,
    members: Class,
    guests: Class,
    /// All guests behind one address, together.
    guest_ips: Class,
    ips: Class,
    /// Each bot (its only bucket) and each incoming webhook.
    bots: Class,
    hooks: Class,
}

/// One class of buckets, and a handle on its store for counting them
/// (governor lends its store out by value only).
struct Class {
    limiter: Limiter,
    buckets: BoundedBuckets<String>,
    /// Read just after the limiter read its own start: governor keeps each
    /// bucket's time as nanoseconds since its start, which it does not
    /// show. Measured from this later instant, a time can only look
    /// earlier than it is, so a purge errs towards keeping a bucket.
    start: <DefaultClock as governor::clock::Clock>::Instant,
}

impl Class {
    fn new(quota: Quota) -> Self {
        let buckets = BoundedBuckets::new(quota);
        let clock = DefaultClock::default();
        let limiter = RateLimiter::new(quota, buckets.clone(), clock.clone());
        Self { limiter, buckets, start: clock.now() }
    }

    /// Governor's "now" for this class's buckets (never later than its own).
    fn elapsed(&self) -> Nanos {
        use governor::clock::Reference;
        self.limiter.clock().now().duration_since(self.start)
    }
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
            members: Class::new(quota(settings.posts_per_sec, settings.post_burst)),
            guests: Class::new(quota(settings.guest_posts_per_sec, settings.guest_post_burst)),
            guest_ips: Class::new(quota(settings.guest_ip_posts_per_sec, settings.guest_ip_post_burst)),
            ips: Class::new(quota(settings.ip_posts_per_sec, settings.ip_post_burst)),
            bots: Class::new(quota(settings.bot_posts_per_sec, settings.bot_post_burst)),
            hooks: Class::new(quota(settings.hook_posts_per_sec, settings.hook_post_burst)),
        }
    }

    /// Counts refusals into `metrics`.
    pub fn counting(self, metrics: Arc<Metrics>) -> Self {
        crate::metrics::zero(&metrics.rate_limited, "post");
        Self { metrics: Some(metrics), ..self }
    }

    /// Takes one post from the visitor's and the IP's buckets (and, for a
    /// guest, the address's guest bucket), or says how long to wait. A
    /// refused post takes nothing from the buckets after the one that
    /// refused it.
    pub fn check(&self, visitor: &Visitor, ip: Option<IpAddr>) -> Result<(), RetryAfter> {
        if !self.enabled {
            return Ok(());
        }
        let own = match visitor {
            Visitor::Guest { .. } => &self.guests,
            Visitor::User(_) => &self.members,
            // A bot has its own rate and nothing else: it shares no
            // address bucket with the people behind its address.
            Visitor::Bot(_) => return self.bots.limiter.check_key(&visitor.limit_key()).map_err(|w| self.wait(w)),
        };
        let wait = |not_until| self.wait(not_until);
        own.limiter.check_key(&visitor.limit_key()).map_err(wait)?;
        let address = ip_key(ip);
        if visitor.is_guest() {
            self.guest_ips.limiter.check_key(&address).map_err(wait)?;
        }
        self.ips.limiter.check_key(&address).map_err(wait)
    }

    /// Takes one post from incoming webhook `hook`'s bucket, or says how
    /// long to wait.
    pub fn check_hook(&self, hook: i64) -> Result<(), RetryAfter> {
        if !self.enabled {
            return Ok(());
        }
        self.hooks.limiter.check_key(&format!("h:{hook}")).map_err(|w| self.wait(w))
    }

    /// Counts a refusal and says how long to wait.
    fn wait(&self, not_until: governor::NotUntil<<DefaultClock as governor::clock::Clock>::Instant>) -> RetryAfter {
        if let Some(metrics) = &self.metrics {
            metrics.rate_limited.with_label_values(&["post"]).inc();
        }
        RetryAfter(not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Drops every bucket that has filled up again: it is the same as the
    /// new one the next post would get. (Buckets follow governor's
    /// monotonic clock, not the injectable one; moka drops them too, a
    /// second later.) Answers how many went.
    pub fn purge_expired(&self) -> u64 {
        [&self.members, &self.guests, &self.guest_ips, &self.ips, &self.bots, &self.hooks]
            .into_iter()
            .map(|class| class.buckets.purge_full(class.elapsed()))
            .sum()
    }

    /// Buckets held now: (members, guests, guests' addresses, addresses).
    #[doc(hidden)]
    pub fn entry_counts(&self) -> (u64, u64, u64, u64) {
        let [members, guests, guest_ips, ips] =
            [&self.members, &self.guests, &self.guest_ips, &self.ips].map(|class| class.buckets.entry_count());
        (members, guests, guest_ips, ips)
    }
}

/// governor's per-key state in a bounded cache instead of its unbounded
/// map: one atomic GCRA state per key, shared with the limiter while it
/// decides, so eviction only ever forgets a bucket, never corrupts one.
/// Clones share the cache.
#[derive(Clone)]
struct BoundedBuckets<K> {
    buckets: Cache<K, Arc<InMemoryState>>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> BoundedBuckets<K> {
    fn new(quota: Quota) -> Self {
        // The time an empty bucket takes to fill again: idle that long, a
        // bucket is indistinguishable from a new one.
        let refill = quota.replenish_interval() * quota.burst_size().get();
        let buckets =
            Cache::builder().max_capacity(BUCKET_CAPACITY).time_to_idle(refill + Duration::from_secs(1)).build();
        Self { buckets }
    }

    /// Drops the buckets that are full at `now` (governor's time since the
    /// limiter started): a bucket's state is the time its next cell
    /// conforms with a full burst, so it is full once that time has come.
    /// A post that took a bucket just before it went is counted on a bucket
    /// nobody keeps: one cell of a full bucket.
    fn purge_full(&self, now: Nanos) -> u64 {
        purge_cache(&self.buckets, |bucket| peek(bucket).is_none_or(|tat| tat <= now))
    }

    fn entry_count(&self) -> u64 {
        self.buckets.run_pending_tasks();
        self.buckets.entry_count()
    }
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> StateStore for BoundedBuckets<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let bucket = self.buckets.get_with_by_ref(key, Arc::default);
        bucket.measure_and_replace(&NotKeyed::NonKey, f)
    }
}

/// A bucket's state (its theoretical arrival time), read without changing
/// it: governor's only accessor replaces the value unless told not to.
fn peek(bucket: &InMemoryState) -> Option<Nanos> {
    bucket.measure_and_replace(&NotKeyed::NonKey, Err::<((), Nanos), _>).err().flatten()
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

    #[test]
    fn guests_who_clear_their_cookie_still_count_against_their_address() {
        let settings = LimitSettings { guest_post_burst: 2, guest_ip_post_burst: 3, ..Default::default() };
        let limiter = PostLimiter::new(&settings);
        let ip = Some(IpAddr::from([192, 0, 2, 1]));
        let mut allowed = 0;
        // A fresh guest cookie for every post.
        for _ in 0..10 {
            if limiter.check(&Visitor::Guest { name: GuestName::generate() }, ip).is_ok() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 3, "the address's guest burst, however many cookies");
        let elsewhere = Some(IpAddr::from([192, 0, 2, 2]));
        assert!(limiter.check(&Visitor::Guest { name: GuestName::generate() }, elsewhere).is_ok());
    }

    #[test]
    fn an_ipv6_client_has_one_budget_for_its_whole_64() {
        let settings = LimitSettings { ip_post_burst: 3, guest_ip_post_burst: 100, ..Default::default() };
        let limiter = PostLimiter::new(&settings);
        let mut allowed = 0;
        // A fresh address in the same /64, and a fresh guest, every post.
        for i in 0..10u16 {
            let ip = IpAddr::from([0x2001, 0xdb8, 7, 7, i, i, i, i]);
            if limiter.check(&Visitor::Guest { name: GuestName::generate() }, Some(ip)).is_ok() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 3, "the /64's burst");
        let next_64 = IpAddr::from([0x2001, 0xdb8, 7, 8, 0, 0, 0, 1]);
        assert!(limiter.check(&Visitor::Guest { name: GuestName::generate() }, Some(next_64)).is_ok());
    }

    #[test]
    fn purging_drops_the_buckets_that_have_filled_up_again() {
        let settings = LimitSettings {
            guest_posts_per_sec: 1,
            guest_post_burst: 3,
            ip_posts_per_sec: 1,
            ip_post_burst: 10,
            ..Default::default()
        };
        let limiter = PostLimiter::new(&settings);
        for _ in 0..3 {
            limiter.check(&Visitor::Guest { name: GuestName::generate() }, None).unwrap();
        }
        assert_eq!(limiter.entry_counts(), (0, 3, 1, 1));
        assert_eq!(limiter.purge_expired(), 0, "each bucket was just used");
        let far = limiter.guests.elapsed() + Nanos::from(Duration::from_secs(3600));
        assert_eq!(limiter.guests.buckets.purge_full(far), 3);
        assert_eq!(limiter.guest_ips.buckets.purge_full(far), 1);
        assert_eq!(limiter.ips.buckets.purge_full(far), 1);
        assert_eq!(limiter.entry_counts(), (0, 0, 0, 0));
    }

    #[test]
    fn a_flood_of_guests_and_addresses_stays_within_the_bound() {
        let limiter = PostLimiter::new(&LimitSettings::default());
        for i in 0..50_000u32 {
            let guest = Visitor::Guest { name: GuestName::generate() };
            assert!(limiter.check(&guest, Some(IpAddr::from(i.to_be_bytes()))).is_ok());
        }
        let (members, guests, guest_addresses, addresses) = limiter.entry_counts();
        assert_eq!(members, 0);
        assert!(guests <= BUCKET_CAPACITY, "{guests} guests");
        assert!(guest_addresses <= BUCKET_CAPACITY, "{guest_addresses} guests' addresses");
        assert!(addresses <= BUCKET_CAPACITY, "{addresses} addresses");
    }
}
