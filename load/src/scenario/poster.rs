//! The posters of a fan-out. At a set rate a poster is open-loop: post `n`
//! of poster `p` (of `P`, total rate `R`) is due at `start + (p/P + n) * P/R`
//! and is sent then on any free keep-alive connection of the poster's pool,
//! up to `in_flight` at once, so a slow answer does not lower the offered
//! rate (only a full pool does, and such posts are counted as late).
//! Without a rate a poster is closed-loop: one connection, each post sent
//! when the previous one is answered. Posting stops at the end of the
//! duration, whatever is left of the schedule. Each post sent is counted
//! in the run's per-second series, if it keeps one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::Common;
use super::fanout::{Plan, room_name, room_of};
use crate::http::Conn;
use crate::probe::{Bits, Probe, now_ns};
use crate::report::{Latency, latency, record_us};
use crate::series::Series;

/// What one poster (or all of them, merged) did.
#[derive(Debug)]
pub struct Posted {
    pub accepted: Bits,
    pub attempted: u64,
    pub failed: u64,
    /// Posts sent more than one interval after they were due.
    pub late: u64,
    pub rejected: BTreeMap<u16, u64>,
    pub first_error: Option<String>,
    pub post: Latency,
    pub connections: u64,
}

impl Default for Posted {
    fn default() -> Self {
        Self {
            accepted: Bits::default(),
            attempted: 0,
            failed: 0,
            late: 0,
            rejected: BTreeMap::new(),
            first_error: None,
            post: latency(),
            connections: 0,
        }
    }
}

impl Posted {
    /// Adds another poster's counts (not its accepted set, kept per poster).
    pub fn merge(&mut self, other: &Posted) {
        self.attempted += other.attempted;
        self.failed += other.failed;
        self.late += other.late;
        self.connections += other.connections;
        for (status, n) in &other.rejected {
            *self.rejected.entry(*status).or_default() += n;
        }
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        let _ = self.post.add(&other.post);
    }

    fn tally(&mut self, n: u64, result: Result<u16, String>, took: Duration, body: impl FnOnce() -> String) {
        match result {
            Ok(status) => {
                record_us(&mut self.post, took.as_micros() as u64);
                if (200..300).contains(&status) {
                    self.accepted.insert(n);
                } else {
                    *self.rejected.entry(status).or_default() += 1;
                    self.first_error.get_or_insert_with(|| format!("POST answered {status}: {}", body()));
                }
            }
            Err(e) => {
                self.failed += 1;
                self.first_error.get_or_insert_with(|| format!("POST failed: {e}"));
            }
        }
    }
}

type Pool = Arc<Mutex<Vec<Conn>>>;

fn take(pool: &Pool) -> Option<Conn> {
    pool.lock().unwrap_or_else(PoisonError::into_inner).pop()
}

fn give_back(pool: &Pool, conn: Conn) {
    pool.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
}

/// Sends one probe; returns the status (or the error, with a short pause
/// so a server that refuses connections is not hammered) and the body.
async fn send(conn: &mut Conn, path: &str, probe: Probe) -> (Result<u16, String>, String) {
    match conn.post(path, "application/json", probe.post_body().as_bytes()).await {
        Ok(response) => (Ok(response.status()), response.text().trim().to_owned()),
        Err(e) => {
            tokio::time::sleep(Duration::from_millis(10)).await;
            (Err(format!("{e:#}")), String::new())
        }
    }
}

/// Runs poster `p` from `start` for `plan.duration`.
pub async fn run(common: &Common, plan: &Plan, p: usize, start: Instant, series: Option<&Series>) -> Posted {
    let count = |probe: &Probe| {
        if let Some(series) = series {
            series.post(probe.sent_ns);
        }
    };
    let paths: Vec<String> =
        (0..plan.rooms.max(1)).map(|r| format!("/rooms/{}/messages", room_name(common, plan, r))).collect();
    let path_of = |n: u64| &paths[if plan.rooms > 1 { room_of(plan, p, n) } else { 0 }];
    let end = start + plan.duration;
    let mut posted = Posted::default();
    let Some(rate) = plan.rate else {
        let mut conn = Conn::new(common.target_for(p), common.timeout);
        for n in 0..plan.max_posts_per_poster {
            if Instant::now() >= end {
                break;
            }
            let probe = Probe { sent_ns: now_ns(), poster: p as u32, seq: n, run: common.run };
            let sent = Instant::now();
            posted.attempted += 1;
            count(&probe);
            let (result, body) = send(&mut conn, path_of(n), probe).await;
            posted.tally(n, result, sent.elapsed(), || body);
        }
        posted.connections = conn.reconnects() + 1;
        return posted;
    };

    let interval = Duration::from_secs_f64(plan.posters as f64 / rate.max(1e-3));
    let offset = interval.mul_f64(p as f64 / plan.posters as f64);
    let pool: Pool = Arc::new(Mutex::new(Vec::new()));
    let free = Arc::new(Semaphore::new(plan.in_flight.max(1)));
    let mut inflight = JoinSet::new();
    for n in 0..plan.max_posts_per_poster {
        let due = start + offset + interval.mul_f64(n as f64);
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due).await;
        let Ok(permit) = free.clone().acquire_owned().await else { break };
        let now = Instant::now();
        if now >= end {
            break;
        }
        posted.late += u64::from(now > due + interval);
        let mut conn = take(&pool).unwrap_or_else(|| {
            posted.connections += 1;
            Conn::new(common.target_for(p), common.timeout)
        });
        let (path, pool) = (path_of(n).clone(), pool.clone());
        let probe = Probe { sent_ns: now_ns(), poster: p as u32, seq: n, run: common.run };
        posted.attempted += 1;
        count(&probe);
        inflight.spawn(async move {
            let (result, body) = send(&mut conn, &path, probe).await;
            let took = now.elapsed();
            give_back(&pool, conn);
            drop(permit);
            (n, result, took, body)
        });
        while let Some(Ok((n, result, took, body))) = inflight.try_join_next() {
            posted.tally(n, result, took, || body);
        }
    }
    while let Some(done) = inflight.join_next().await {
        match done {
            Ok((n, result, took, body)) => posted.tally(n, result, took, || body),
            Err(e) => posted.tally(u64::MAX, Err(e.to_string()), Duration::ZERO, String::new),
        }
    }
    let pool = std::mem::take(&mut *pool.lock().unwrap_or_else(PoisonError::into_inner));
    posted.connections += pool.iter().map(Conn::reconnects).sum::<u64>();
    posted
}
