//! A run's per-second time series, for `--out`: per second since the first
//! post, the deliveries received, the posts sent, and the p50/p99 latency
//! of that second's deliveries. It owns the recording (shared by every
//! subscriber and poster of a run) and the finished rows; it must not
//! allocate, lock or block when a delivery is recorded, because it is on
//! the client's hot path, on the same cores as the server it measures.
//!
//! So every second is a fixed block of atomic counters made before the run:
//! a delivery is three relaxed atomic adds, a post one. Its latency goes
//! into a coarse log-linear histogram of 16 buckets per doubling (each
//! bucket at most 1/16 = 6.25% wide), read back as the bucket's upper edge:
//! the per-second p50 and p99 are within 6.25% above the true value. The
//! whole run's distribution is the subscribers' own HDR histograms, merged
//! at the end ([`crate::report::Latency`]), not this.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Values below this many µs have a bucket each; above, 16 per doubling.
const LINEAR: u64 = 32;
/// Buckets per doubling above [`LINEAR`] (the bits kept after the top one).
const SUB_BITS: u32 = 4;
/// Enough buckets for 2^32 µs (71 minutes); longer delays are clamped.
const BUCKETS: usize = LINEAR as usize + (32 - 5) * (1 << SUB_BITS);

/// The bucket of a latency in µs.
fn bucket_of(us: u64) -> usize {
    let us = us.min(u64::from(u32::MAX));
    if us < LINEAR {
        return us as usize;
    }
    let top = 63 - us.leading_zeros(); // 5 and up
    let sub = (us >> (top - SUB_BITS)) - (1 << SUB_BITS);
    LINEAR as usize + ((top - 5) << SUB_BITS) as usize + sub as usize
}

/// The highest latency (µs) that falls in bucket `i`.
fn bucket_top(i: usize) -> u64 {
    if i < LINEAR as usize {
        return i as u64;
    }
    let above = (i - LINEAR as usize) as u32;
    let top = 5 + (above >> SUB_BITS);
    let sub = u64::from(above & ((1 << SUB_BITS) - 1));
    let width = 1u64 << (top - SUB_BITS);
    ((1 << SUB_BITS) + sub) * width + width - 1
}

/// One second's counters.
struct Second {
    deliveries: AtomicU64,
    posts: AtomicU64,
    latency: [AtomicU32; BUCKETS],
}

impl Second {
    fn new() -> Self {
        Self {
            deliveries: AtomicU64::new(0),
            posts: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }

    /// The latency (µs) at quantile `q` of this second's deliveries.
    fn quantile_us(&self, counts: &[u32], total: u64, q: f64) -> Option<u64> {
        if total == 0 {
            return None;
        }
        // The smallest value with at least ceil(q × total) at or below it.
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0u64;
        counts.iter().enumerate().find_map(|(i, &n)| {
            seen += u64::from(n);
            (seen >= rank).then(|| bucket_top(i))
        })
    }
}

/// A run's series while it runs, shared by its subscribers and posters.
pub struct Series {
    /// Unix nanoseconds of second 0 (the first post); 0 until started.
    origin_ns: AtomicU64,
    seconds: Box<[Second]>,
    /// Deliveries and posts after the last second kept (or before the start).
    outside: AtomicU64,
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series").field("seconds", &self.seconds.len()).finish_non_exhaustive()
    }
}

/// One row of a finished series.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Seconds since the first post (this row covers [second, second + 1)).
    pub second: u64,
    pub deliveries: u64,
    pub posts: u64,
    /// The latency of this second's deliveries, in µs (`None` without any).
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
}

/// A finished series: its rows, and what fell outside them.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub rows: Vec<Row>,
    /// Deliveries and posts recorded before second 0 or after the last
    /// second kept (none in a run that ends when planned).
    pub outside: u64,
}

impl Series {
    /// Room for a run of `length` (plus a second for the partial last one);
    /// about 2 KB per second.
    pub fn new(length: Duration) -> Self {
        let seconds = length.as_secs() as usize + 2;
        Self {
            origin_ns: AtomicU64::new(0),
            seconds: (0..seconds).map(|_| Second::new()).collect(),
            outside: AtomicU64::new(0),
        }
    }

    /// Sets second 0 (Unix nanoseconds), once posting starts.
    pub fn start(&self, origin_ns: u64) {
        self.origin_ns.store(origin_ns, Relaxed);
    }

    fn second(&self, at_ns: u64) -> Option<&Second> {
        let origin = self.origin_ns.load(Relaxed);
        let slot = (origin != 0 && at_ns >= origin).then(|| ((at_ns - origin) / 1_000_000_000) as usize);
        let second = slot.and_then(|s| self.seconds.get(s));
        if second.is_none() {
            self.outside.fetch_add(1, Relaxed);
        }
        second
    }

    /// A delivery received at `at_ns` (Unix nanoseconds), `latency_us` after
    /// it was sent.
    pub fn delivery(&self, at_ns: u64, latency_us: u64) {
        if let Some(second) = self.second(at_ns) {
            second.deliveries.fetch_add(1, Relaxed);
            second.latency[bucket_of(latency_us)].fetch_add(1, Relaxed);
        }
    }

    /// A post sent at `at_ns`.
    pub fn post(&self, at_ns: u64) {
        if let Some(second) = self.second(at_ns) {
            second.posts.fetch_add(1, Relaxed);
        }
    }

    /// The rows from second 0 through the last second with a delivery or a
    /// post (none if nothing was recorded). Read once the run is over.
    pub fn finish(&self) -> Table {
        let mut rows: Vec<Row> = self
            .seconds
            .iter()
            .enumerate()
            .map(|(i, second)| {
                let counts: Vec<u32> = second.latency.iter().map(|n| n.load(Relaxed)).collect();
                let timed: u64 = counts.iter().map(|&n| u64::from(n)).sum();
                Row {
                    second: i as u64,
                    deliveries: second.deliveries.load(Relaxed),
                    posts: second.posts.load(Relaxed),
                    p50_us: second.quantile_us(&counts, timed, 0.5),
                    p99_us: second.quantile_us(&counts, timed, 0.99),
                }
            })
            .collect();
        let last = rows.iter().rposition(|r| r.deliveries + r.posts > 0);
        rows.truncate(last.map_or(0, |i| i + 1));
        Table { rows, outside: self.outside.load(Relaxed) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_latency_lands_in_a_bucket_at_most_a_sixteenth_wide() {
        let mut previous_top = None;
        for i in 0..BUCKETS {
            let top = bucket_top(i);
            assert_eq!(bucket_of(top), i, "bucket {i} tops at {top}");
            if i + 1 < BUCKETS {
                assert_eq!(bucket_of(top + 1), i + 1, "bucket {i} ends at {top}");
            }
            if let Some(prev) = previous_top {
                let low: u64 = prev + 1;
                assert!((top - low) as f64 <= low as f64 / 16.0, "bucket {i}: {low}..={top}");
            }
            previous_top = Some(top);
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_top(BUCKETS - 1), u64::from(u32::MAX));
    }

    #[test]
    fn seconds_count_deliveries_and_posts_with_their_quantiles() {
        let series = Series::new(Duration::from_secs(3));
        let origin = 1_000_000_000_000;
        series.delivery(origin - 1, 5); // before the start: not kept
        series.start(origin);
        for us in 1..=1000 {
            series.delivery(origin + 10, us * 10); // 10 µs to 10 ms in second 0
        }
        series.post(origin + 5);
        series.post(origin + 2_500_000_000);
        series.delivery(origin + 99_000_000_000, 1); // past the end: not kept
        let Table { rows, outside } = series.finish();
        assert_eq!(rows.len(), 3, "through the last second with anything: {rows:?}");
        assert_eq!((rows[0].deliveries, rows[0].posts), (1000, 1));
        let p50 = rows[0].p50_us.unwrap();
        let p99 = rows[0].p99_us.unwrap();
        assert!((5000..=5000 + 5000 / 16).contains(&p50), "{p50}");
        assert!((9900..=9900 + 9900 / 16).contains(&p99), "{p99}");
        assert_eq!(rows[1], Row { second: 1, deliveries: 0, posts: 0, p50_us: None, p99_us: None });
        assert_eq!((rows[2].deliveries, rows[2].posts), (0, 1));
        assert_eq!(outside, 2);
    }
}
