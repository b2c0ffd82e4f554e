//! What every benchmark message carries and how deliveries are tallied.
//! A message's text is `t=<unix nanos> p=<poster> n=<seq> r=<run>`: its
//! send time (for post-to-delivery latency), who sent it and its number
//! (to count losses and duplicates), and the run (so messages of other runs
//! a stream replays are not counted). [`Seen`] is the per-subscriber set of
//! (poster, seq) pairs received.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;

/// Nanoseconds since the Unix epoch, the clock both ends of a probe use.
pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// A run id: distinct enough between runs on one machine.
pub fn run_id() -> u32 {
    let nanos = now_ns();
    ((nanos ^ (nanos >> 32)) as u32).wrapping_mul(2_654_435_761) ^ std::process::id()
}

/// One benchmark message's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub sent_ns: u64,
    pub poster: u32,
    pub seq: u64,
    pub run: u32,
}

impl Probe {
    pub fn text(&self) -> String {
        format!("t={} p={} n={} r={:08x}", self.sent_ns, self.poster, self.seq, self.run)
    }

    /// The JSON body of the post carrying this probe.
    pub fn post_body(&self) -> String {
        format!("{{\"text\":\"{}\"}}", self.text())
    }

    pub fn parse(text: &str) -> Option<Probe> {
        let mut fields = text.split_ascii_whitespace();
        let mut field = |name: &str| fields.next()?.strip_prefix(name)?.strip_prefix('=');
        let sent_ns = field("t")?.parse().ok()?;
        let poster = field("p")?.parse().ok()?;
        let seq = field("n")?.parse().ok()?;
        let run = u32::from_str_radix(field("r")?, 16).ok()?;
        Some(Probe { sent_ns, poster, seq, run })
    }

    /// The probe in a delivered event's data: the message JSON's `text`
    /// (the chat server's stored message, or the bare server's post body).
    pub fn from_event_data(data: &str) -> Option<Probe> {
        #[derive(Deserialize)]
        struct Delivered<'a> {
            #[serde(borrow)]
            text: Cow<'a, str>,
        }
        let delivered: Delivered<'_> = serde_json::from_str(data).ok()?;
        Probe::parse(&delivered.text)
    }
}

/// A growable bit set of sequence numbers.
#[derive(Debug, Clone, Default)]
pub struct Bits {
    words: Vec<u64>,
    count: u64,
}

impl Bits {
    /// Sets bit `n`; returns whether it was newly set.
    pub fn insert(&mut self, n: u64) -> bool {
        let (word, bit) = ((n / 64) as usize, n % 64);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let fresh = self.words[word] & (1 << bit) == 0;
        self.words[word] |= 1 << bit;
        self.count += u64::from(fresh);
        fresh
    }

    pub fn contains(&self, n: u64) -> bool {
        self.words.get((n / 64) as usize).is_some_and(|w| w & (1 << (n % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words
            .iter()
            .enumerate()
            .flat_map(|(i, &w)| (0..64).filter(move |b| w & (1 << b) != 0).map(move |b| i as u64 * 64 + b))
    }
}

/// The (poster, seq) pairs one subscriber has received.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    per_poster: Vec<Bits>,
    pub duplicates: u64,
}

impl Seen {
    /// Records a delivery; returns `false` (and counts it) for a duplicate.
    pub fn record(&mut self, poster: u32, seq: u64) -> bool {
        let poster = poster as usize;
        if poster >= self.per_poster.len() {
            self.per_poster.resize_with(poster + 1, Bits::default);
        }
        let fresh = self.per_poster[poster].insert(seq);
        self.duplicates += u64::from(!fresh);
        fresh
    }

    pub fn contains(&self, poster: u32, seq: u64) -> bool {
        self.per_poster.get(poster as usize).is_some_and(|bits| bits.contains(seq))
    }

    /// Compares with the posts the server accepted (per poster): returns
    /// (accepted and received, accepted but never received, received but
    /// never acknowledged).
    pub fn reconcile(&self, accepted: &[Bits]) -> (u64, u64, u64) {
        let mut received = 0;
        for (poster, bits) in accepted.iter().enumerate() {
            received += bits.iter().filter(|&seq| self.contains(poster as u32, seq)).count() as u64;
        }
        let accepted_total: u64 = accepted.iter().map(Bits::len).sum();
        let unique_total: u64 = self.per_poster.iter().map(Bits::len).sum();
        (received, accepted_total - received, unique_total - received)
    }
}

impl Seen {
    /// [`Seen::reconcile`] against a list of the (poster, seq) pairs this
    /// subscriber was owed (its room's posts, when a run has several).
    pub fn reconcile_list(&self, owed: &[(u32, u64)]) -> (u64, u64, u64) {
        let received = owed.iter().filter(|&&(poster, seq)| self.contains(poster, seq)).count() as u64;
        let unique_total: u64 = self.per_poster.iter().map(Bits::len).sum();
        (received, owed.len() as u64 - received, unique_total - received)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_round_trip_through_the_message_json() {
        let probe = Probe { sent_ns: 1_732_250_000_123_456_789, poster: 3, seq: 41, run: 0xdead_beef };
        assert_eq!(probe.text(), "t=1732250000123456789 p=3 n=41 r=deadbeef");
        assert_eq!(Probe::parse(&probe.text()), Some(probe));
        let stored =
            format!(r#"{{"id":9,"room":"r","user":"guest-abc123","guest":true,"text":"{}","at":"x"}}"#, probe.text());
        assert_eq!(Probe::from_event_data(&stored), Some(probe));
        assert_eq!(Probe::from_event_data(&probe.post_body()), Some(probe));
        assert_eq!(Probe::from_event_data(r#"{"text":"hello"}"#), None);
        assert_eq!(Probe::from_event_data(r#"{"room":"lobby"}"#), None);
        assert_eq!(Probe::parse("t=1 p=2 n=3"), None);
    }

    #[test]
    fn losses_duplicates_and_strays_are_told_apart() {
        let mut accepted = vec![Bits::default(), Bits::default()];
        for seq in 0..5 {
            accepted[0].insert(seq);
        }
        accepted[1].insert(0);
        let mut seen = Seen::default();
        for (poster, seq) in [(0, 0), (0, 1), (0, 1), (0, 4), (1, 0), (1, 7), (5, 0)] {
            seen.record(poster, seq);
        }
        assert_eq!(seen.duplicates, 1);
        assert_eq!(seen.reconcile(&accepted), (4, 2, 2));
        assert_eq!(accepted[0].iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        let mut big = Bits::default();
        assert!(big.insert(1000) && !big.insert(1000) && big.contains(1000) && !big.contains(999));
    }
}
