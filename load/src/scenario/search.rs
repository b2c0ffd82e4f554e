//! The `search` scenario: seeds the server with a corpus through its own
//! API (P posters, each posting as soon as its last post is answered, so
//! the writer's batches and the search index's triggers are what is timed),
//! then asks `GET /api/search` each query of every class in turn, round
//! after round, and reports the latency of each class and of all together.
//!
//! `--seed 0` skips seeding, to query a server seeded by an earlier run
//! (give both runs the same `--room`: the seeded rooms are named after it).
//! Searches run as a guest (public rooms only), S searchers at once, each
//! waiting for its answer before asking again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::task::JoinSet;

use super::corpus::{self, QUERIES, ROOM_QUERIES};
use super::{Common, SearchArgs};
use crate::http::Conn;
use crate::report::{Latency, Report, brief, latency, record_us};

/// `s` percent-encoded for a query string.
pub(super) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) async fn run(common: &Common, args: &SearchArgs) -> Result<Report> {
    let mut report = Report::new("search");
    if args.seed > 0 {
        seed(common, args, &mut report).await?;
    }
    let started = Instant::now();
    let mut searchers = JoinSet::new();
    for searcher in 0..args.searchers {
        let (common, rounds) = (common.clone(), args.rounds);
        let limit = args.limit;
        searchers.spawn(async move { ask(&common, searcher, rounds, limit).await });
    }
    let mut classes: BTreeMap<&'static str, (Latency, u64)> = BTreeMap::new();
    let mut all = latency();
    let mut hits: BTreeMap<String, String> = BTreeMap::new();
    while let Some(done) = searchers.join_next().await {
        let asked = done.context("a searcher panicked")??;
        for (class, (histogram, count)) in asked.classes {
            let entry = classes.entry(class).or_insert_with(|| (latency(), 0));
            entry.0.add(&histogram).ok();
            entry.1 += count;
            all.add(&histogram).ok();
        }
        hits.extend(asked.hits);
    }
    let querying_s = started.elapsed().as_secs_f64();
    report.line(format!(
        "searches: {} in {querying_s:.1} s by {} searcher(s), {} rounds of {} queries: {}",
        all.len(),
        args.searchers,
        args.rounds,
        QUERIES.iter().map(|(_, q)| q.len()).sum::<usize>() + ROOM_QUERIES.len(),
        brief(&all)
    ));
    report.set_latency("search", &all);
    report.set_f("querying_s", querying_s);
    for (class, (histogram, _)) in &classes {
        report.line(format!("  {class:<13} {}", brief(histogram)));
        report.set_latency(&format!("search_{}", class.replace(['-', '+'], "_")), histogram);
    }
    let found: Vec<String> = hits.iter().map(|(q, n)| format!("{q} {n}")).collect();
    report.line(format!("hits on the first page (limit {}): {}", args.limit, found.join(", ")));
    report.set("hits", hits.into_iter().map(|(q, n)| (q, Value::from(n))).collect::<serde_json::Map<_, _>>());
    Ok(report)
}

/// Posts messages `0..seed` of the corpus over `--rooms` rooms.
async fn seed(common: &Common, args: &SearchArgs, report: &mut Report) -> Result<()> {
    let started = Instant::now();
    let mut posters = JoinSet::new();
    for poster in 0..args.posters as u64 {
        let (common, seed, rooms, posters_n) = (common.clone(), args.seed, args.rooms as u64, args.posters as u64);
        posters.spawn(async move {
            let mut conn = Conn::new(&common.target, common.timeout);
            let mut n = poster;
            while n < seed {
                let path = format!("/rooms/{}-{}/messages", common.room, corpus::room_of(n, rooms));
                let body = serde_json::json!({ "text": corpus::message(n) }).to_string();
                let response = conn.post(&path, "application/json", body.as_bytes()).await?;
                if response.status() != 201 {
                    bail!("seeding: POST answered {}: {}", response.status(), response.text());
                }
                n += posters_n;
            }
            Ok(())
        });
    }
    while let Some(done) = posters.join_next().await {
        done.context("a poster panicked")??;
    }
    let seconds = started.elapsed().as_secs_f64();
    report.line(format!(
        "seeded {} messages over {} rooms (rooms {}-0..) in {seconds:.1} s = {:.0}/s by {} posters",
        args.seed,
        args.rooms,
        common.room,
        args.seed as f64 / seconds,
        args.posters
    ));
    report.set("seeded", args.seed);
    report.set_f("seed_s", seconds);
    report.set_f("seed_per_s", args.seed as f64 / seconds);
    Ok(())
}

/// What one searcher measured.
struct Asked {
    classes: BTreeMap<&'static str, (Latency, u64)>,
    /// Hits on the first page of each query (from the first searcher), with
    /// a `+` when more pages follow.
    hits: BTreeMap<String, String>,
}

/// `rounds` rounds of every query, each searcher starting at another query
/// so that searchers at once ask different things.
async fn ask(common: &Common, searcher: usize, rounds: u32, limit: u32) -> Result<Asked> {
    let mut conn = Conn::new(&common.target, common.timeout);
    let mut queries: Vec<(&'static str, String, String)> = QUERIES
        .iter()
        .flat_map(|(class, queries)| queries.iter().map(move |q| (*class, (*q).to_owned(), encode(q))))
        .collect();
    for (q, room) in ROOM_QUERIES {
        let query = format!("{}&room={}-{room}", encode(q), common.room);
        queries.push(("room", format!("{q} in {room}"), query));
    }
    let mut asked = Asked { classes: BTreeMap::new(), hits: BTreeMap::new() };
    for round in 0..rounds {
        for i in 0..queries.len() {
            let (class, q, query) = &queries[(i + searcher * 7) % queries.len()];
            let path = format!("/api/search?q={query}&limit={limit}");
            let sent = Instant::now();
            let response = conn.get(&path).await?;
            let took: Duration = sent.elapsed();
            if response.status() != 200 {
                bail!("GET {path} answered {}: {}", response.status(), response.text());
            }
            let entry = asked.classes.entry(class).or_insert_with(|| (latency(), 0));
            record_us(&mut entry.0, took.as_micros() as u64);
            entry.1 += 1;
            if round == 0 && searcher == 0 {
                let page: Value = serde_json::from_slice(&response.body).context("search answer is not JSON")?;
                let count = page["results"].as_array().map_or(0, Vec::len);
                let more = if page["next_before"].is_null() { "" } else { "+" };
                asked.hits.insert(q.clone(), format!("{count}{more}"));
            }
        }
    }
    Ok(asked)
}
