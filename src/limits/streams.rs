//! Caps on open event streams per session (or guest) and per client IP, so
//! one client cannot hold all of the server's connections.
//!
//! The counts are bounded by the streams themselves, not by eviction: a key
//! has an entry exactly while a [`StreamSlot`] holds it (at most two keys
//! per open stream), and the last slot to go removes it. Nothing may evict
//! an entry with live slots, since forgetting a held count would let a
//! client past its cap, so this is a plain map rather than a cache.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use super::{LimitSettings, ip_key};
use crate::metrics::Metrics;

/// Open streams per key; a key with no open stream has no entry.
type Counts = Arc<Mutex<HashMap<String, u32>>>;

pub struct StreamCaps {
    enabled: bool,
    metrics: Option<Arc<Metrics>>,
    per_visitor: u32,
    per_ip: u32,
    open: Counts,
}

impl StreamCaps {
    pub fn new(settings: &LimitSettings) -> Self {
        Self {
            enabled: settings.rate_limits,
            metrics: None,
            per_visitor: settings.streams_per_session,
            per_ip: settings.streams_per_ip,
            open: Counts::default(),
        }
    }

    /// Counts refusals into `metrics`.
    pub fn counting(self, metrics: Arc<Metrics>) -> Self {
        crate::metrics::zero(&metrics.rate_limited, "streams");
        Self { metrics: Some(metrics), ..self }
    }

    /// A slot for one more stream, held until the stream ends; `None` when
    /// the visitor or the IP is at its cap.
    pub fn acquire(&self, visitor_key: Option<String>, ip: Option<IpAddr>) -> Option<StreamSlot> {
        if !self.enabled {
            return Some(StreamSlot { keys: Vec::new(), open: self.open.clone() });
        }
        let mut keys = vec![(ip_key(ip), self.per_ip)];
        keys.extend(visitor_key.map(|key| (key, self.per_visitor)));
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.iter().any(|(key, cap)| open.get(key).copied().unwrap_or(0) >= *cap) {
            if let Some(metrics) = &self.metrics {
                metrics.rate_limited.with_label_values(&["streams"]).inc();
            }
            return None;
        }
        for (key, _) in &keys {
            *open.entry(key.clone()).or_default() += 1;
        }
        Some(StreamSlot { keys: keys.into_iter().map(|(key, _)| key).collect(), open: self.open.clone() })
    }

    /// Keys with open streams now.
    #[doc(hidden)]
    pub fn entry_count(&self) -> usize {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// One open stream's place in the counts; freed on drop.
pub struct StreamSlot {
    keys: Vec<String>,
    open: Counts,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        for key in &self.keys {
            if let Some(count) = open.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    open.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_and_freed_on_drop() {
        let caps = StreamCaps::new(&LimitSettings { streams_per_session: 2, streams_per_ip: 3, ..Default::default() });
        let a1 = caps.acquire(Some("a".into()), None).unwrap();
        let _a2 = caps.acquire(Some("a".into()), None).unwrap();
        assert!(caps.acquire(Some("a".into()), None).is_none(), "per-session cap");
        let _b1 = caps.acquire(Some("b".into()), None).unwrap();
        assert!(caps.acquire(Some("c".into()), None).is_none(), "per-IP cap");
        drop(a1);
        assert!(caps.acquire(Some("a".into()), None).is_some());
    }

    #[test]
    fn an_ipv6_client_is_capped_for_its_whole_64() {
        let caps = StreamCaps::new(&LimitSettings { streams_per_ip: 2, ..Default::default() });
        let held: Vec<StreamSlot> = (0..2u16)
            .map(|i| caps.acquire(None, Some(IpAddr::from([0x2001, 0xdb8, 0, 1, i, 0, 0, 1]))).unwrap())
            .collect();
        assert!(caps.acquire(None, Some(IpAddr::from([0x2001, 0xdb8, 0, 1, 9, 9, 9, 9]))).is_none());
        assert!(caps.acquire(None, Some(IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1]))).is_some());
        drop(held);
    }

    #[test]
    fn counts_live_exactly_as_long_as_their_slots() {
        let caps = StreamCaps::new(&LimitSettings::default());
        for i in 0..50_000u32 {
            let slot = caps.acquire(Some(format!("g:{i}")), Some(IpAddr::from(i.to_be_bytes())));
            drop(slot.expect("under the caps"));
        }
        assert_eq!(caps.entry_count(), 0, "idle keys leave nothing behind");

        let held: Vec<StreamSlot> =
            (0..3).map(|_| caps.acquire(Some("s:held".into()), None).expect("under the caps")).collect();
        for i in 0..1_000u32 {
            drop(caps.acquire(Some(format!("g:{i}")), Some(IpAddr::from(i.to_be_bytes()))));
        }
        assert_eq!(caps.entry_count(), 2, "the held key and its address");
        assert_eq!(caps.open.lock().unwrap().get("s:held"), Some(&3), "a held count is never lost");
        drop(held);
        assert_eq!(caps.entry_count(), 0);
    }
}
