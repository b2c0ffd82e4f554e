//! The `history` scenario: reading a large seeded history (`chat-load
//! seed`, rooms `hist-0000`...) the ways a client does, round after round,
//! each request timed on its own over one keep-alive connection:
//!
//! - the latest page of a random room, as the room page asks for it
//!   (`GET /rooms/<room>/messages?limit=50`);
//! - a page `--back` messages behind the newest of `hist-0000` (the same
//!   request with `before=<id>`), or halfway back when the room is smaller;
//! - a resume `--behind` messages behind: the room's event stream opened
//!   with `Last-Event-ID: <newest - behind>`, timed from sending the
//!   request to the arrival of the last replayed message, every id checked
//!   to follow the one before;
//! - one search (`GET /api/search`) of every class of the corpus's queries.
//!
//! Nothing is posted, so the newest ids stay put. Every answer is checked
//! (status, and ids where they are known): a failure is counted, the first
//! one shown, and the run goes on.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::Value;

use super::Common;
use super::corpus::{QUERIES, Rng};
use super::search::encode;
use crate::http::{Conn, EventStream};
use crate::report::{Latency, Report, brief, latency, p99_ms, record_us};
use crate::seed::layout::room_name;
use crate::target::Kind;

/// `history`: time reading a seeded history (see `chat-load seed`).
#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// Rounds: each asks a latest page, a page back, a resume and one
    /// search of every query class.
    #[arg(long, default_value_t = 200)]
    pub rounds: u32,
    /// The seeded rooms (`seed --rooms`): latest pages and resumes pick
    /// among `hist-0000`... at random.
    #[arg(long, default_value_t = 1000)]
    pub rooms: u32,
    /// How many messages behind the newest of `hist-0000` the deep page
    /// ends (halfway back in a room too small for it).
    #[arg(long, default_value_t = 5_000_000)]
    pub back: u64,
    /// How many messages behind its newest a resume starts (at most the
    /// server's replay cap, 1000).
    #[arg(long, default_value_t = 1000)]
    pub behind: u32,
    /// Messages per page (`limit`; the room page asks 50).
    #[arg(long, default_value_t = 50)]
    pub page: u32,
}

impl HistoryArgs {
    pub(super) fn check(&self, common: &Common) -> Result<()> {
        if !(1..=100_000).contains(&self.rounds) || !(1..=100_000).contains(&self.rooms) {
            bail!("--rounds and --rooms must be 1 to 100000");
        }
        if self.back == 0 {
            bail!("--back must be at least 1");
        }
        let cap = chat::stream::REPLAY_CAP;
        if !(1..=cap).contains(&self.behind) {
            bail!("--behind must be 1 to {cap} (a resume further back gets a reset, not a replay)");
        }
        if !(1..=200).contains(&self.page) {
            bail!("--page must be 1 to 200, not {}", self.page);
        }
        if common.target.kind != Kind::Chat {
            bail!("history needs --target chat: the bare server keeps no history");
        }
        Ok(())
    }

    /// A generous length: searches on a large history take tens of ms.
    pub(super) fn nominal_s(&self) -> f64 {
        f64::from(self.rounds) * (0.5 + 0.05 * QUERIES.len() as f64)
    }
}

/// What the run measured, and what went wrong.
struct Tally {
    latest: Latency,
    back: Latency,
    resume: Latency,
    search: Latency,
    classes: BTreeMap<&'static str, Latency>,
    latest_messages: u64,
    back_messages: u64,
    resume_messages: u64,
    resumes_in_order: u64,
    /// Resumes made in the big room because the random one was too short.
    resumes_in_big_room: u64,
    hits: BTreeMap<String, String>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn fail(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }
}

/// A page of history: ids and count, or why it failed.
async fn page(conn: &mut Conn, path: &str) -> Result<Vec<i64>, String> {
    let response = conn.get(path).await.map_err(|e| format!("GET {path}: {e:#}"))?;
    if !(200..300).contains(&response.status()) {
        return Err(format!("GET {path} answered {}: {}", response.status(), response.text()));
    }
    let messages: Value = serde_json::from_slice(&response.body).map_err(|e| format!("GET {path}: not JSON: {e}"))?;
    let ids = messages.as_array().map(|a| a.iter().filter_map(|m| m["id"].as_i64()).collect());
    ids.ok_or_else(|| format!("GET {path}: not a list of messages"))
}

/// Whether `ids` are exactly `first..=last`.
fn consecutive(ids: &[i64], first: i64, last: i64) -> bool {
    ids.iter().copied().eq(first..=last)
}

pub(super) async fn run(common: &Common, args: &HistoryArgs) -> Result<Report> {
    let mut conn = Conn::new(&common.target, common.timeout);
    let big = room_name(0);
    let newest_big = match page(&mut conn, &format!("/rooms/{big}/messages?limit=1")).await {
        Ok(ids) if !ids.is_empty() => ids[0],
        Ok(_) => bail!("{big} has no messages: seed the server's database first (chat-load seed)"),
        Err(e) => bail!("{e}"),
    };
    if newest_big <= i64::from(args.behind) {
        bail!("{big} holds {newest_big} messages: --behind must be below that");
    }
    let limit = i64::from(args.page);
    // The deep page ends `back` behind the newest, or halfway back.
    let halfway = newest_big <= args.back as i64 + limit;
    let before = if halfway { newest_big / 2 + 1 } else { newest_big - args.back as i64 + 1 };
    let mut rng = Rng::new(u64::from(common.run));
    let mut tally = Tally {
        latest: latency(),
        back: latency(),
        resume: latency(),
        search: latency(),
        classes: BTreeMap::new(),
        latest_messages: 0,
        back_messages: 0,
        resume_messages: 0,
        resumes_in_order: 0,
        resumes_in_big_room: 0,
        hits: BTreeMap::new(),
        errors: 0,
        first_error: None,
    };
    let started = Instant::now();
    for round in 0..args.rounds {
        // (a) the latest page of a random room.
        let room = room_name(rng.below(args.rooms as usize) as u32);
        let path = format!("/rooms/{room}/messages?limit={limit}");
        let sent = Instant::now();
        let newest = match page(&mut conn, &path).await {
            Ok(ids) => {
                record_us(&mut tally.latest, sent.elapsed().as_micros() as u64);
                tally.latest_messages += ids.len() as u64;
                let newest = ids.last().copied().unwrap_or(0);
                if ids.is_empty() || !consecutive(&ids, newest - ids.len() as i64 + 1, newest) {
                    tally.fail(format!("GET {path}: ids {ids:?} are not a room's newest"));
                }
                newest
            }
            Err(e) => {
                tally.fail(e);
                0
            }
        };
        // (b) the page far back in the big room.
        let path = format!("/rooms/{big}/messages?limit={limit}&before={before}");
        let sent = Instant::now();
        match page(&mut conn, &path).await {
            Ok(ids) => {
                record_us(&mut tally.back, sent.elapsed().as_micros() as u64);
                tally.back_messages += ids.len() as u64;
                if !consecutive(&ids, (before - limit).max(1), before - 1) {
                    tally.fail(format!("GET {path}: ids {:?}.. are not the page before {before}", ids.first()));
                }
            }
            Err(e) => tally.fail(e),
        }
        // (c) a resume in the same room (the big one if this one is short).
        let (room, newest) = if newest > i64::from(args.behind) {
            (room, newest)
        } else {
            tally.resumes_in_big_room += 1;
            (big.clone(), newest_big)
        };
        resume(common, &room, newest - i64::from(args.behind), args.behind, &mut tally).await;
        // (d) one search of every class, a different query each round.
        for (class, queries) in QUERIES {
            let q = queries[round as usize % queries.len()];
            let path = format!("/api/search?q={}&limit=20", encode(q));
            let sent = Instant::now();
            let response = match conn.get(&path).await {
                Ok(response) => response,
                Err(e) => {
                    tally.fail(format!("GET {path}: {e:#}"));
                    continue;
                }
            };
            let took = sent.elapsed().as_micros() as u64;
            if !(200..300).contains(&response.status()) {
                tally.fail(format!("GET {path} answered {}: {}", response.status(), response.text()));
                continue;
            }
            record_us(&mut tally.search, took);
            record_us(tally.classes.entry(class).or_insert_with(latency), took);
            if !tally.hits.contains_key(q) {
                let page: Value = serde_json::from_slice(&response.body).unwrap_or_default();
                let count = page["results"].as_array().map_or(0, Vec::len);
                let more = if page["next_before"].is_null() { "" } else { "+" };
                tally.hits.insert(q.to_owned(), format!("{count}{more}"));
            }
        }
    }
    let mut report = Report::new("history");
    let distance = newest_big - before + 1;
    let deep = if halfway {
        format!("page {distance} back (halfway: {big} is too small for {}) in {big}", args.back)
    } else {
        format!("page {distance} back in {big}")
    };
    summarize(&mut report, args, &tally, &deep, started.elapsed());
    report.line(format!("  the deep page: before id {before} of {big}'s {newest_big}"));
    report.set("big_room_newest", newest_big);
    report.set("back_before_id", before);
    report.set("back_distance", distance);
    report.set("back_halfway", halfway);
    Ok(report)
}

/// Opens `room`'s stream after `cursor` and waits for `behind` messages,
/// each the next id.
async fn resume(common: &Common, room: &str, cursor: i64, behind: u32, tally: &mut Tally) {
    let path = format!("/rooms/{room}/events");
    let id = cursor.to_string();
    let sent = Instant::now();
    let replayed = async {
        let mut stream =
            EventStream::open_with(&common.target, &path, &[("Last-Event-ID", &id)], common.timeout, 64 * 1024)
                .await
                .map_err(|e| format!("{e:#}"))?;
        let (mut next, mut got, mut wrong) = (cursor + 1, 0u32, None);
        while got < behind && wrong.is_none() {
            let open = stream
                .read_events(|event| match event.event {
                    Some("message") if got < behind => match event.id.and_then(|id| id.parse::<i64>().ok()) {
                        Some(id) if id == next => (got, next) = (got + 1, next + 1),
                        other => wrong = Some(format!("message id {other:?} where {next} was due")),
                    },
                    Some("reset") => wrong = Some("a reset instead of the replay".to_owned()),
                    _ => {}
                })
                .await
                .map_err(|e| format!("{e:#}"))?;
            if !open && got < behind {
                wrong = Some("the stream ended".to_owned());
            }
        }
        Ok::<_, String>((got, wrong))
    };
    let outcome = tokio::time::timeout(common.timeout, replayed).await;
    let took = sent.elapsed();
    let what = format!("resuming {room} after {cursor}");
    match outcome {
        Err(_) => tally.fail(format!("{what}: not replayed within {:?}", common.timeout)),
        Ok(Err(e)) => tally.fail(format!("{what}: {e}")),
        Ok(Ok((got, wrong))) => {
            tally.resume_messages += u64::from(got);
            match wrong {
                Some(wrong) => tally.fail(format!("{what}: {wrong} after {got} in order")),
                None => {
                    tally.resumes_in_order += 1;
                    record_us(&mut tally.resume, took.as_micros() as u64);
                }
            }
        }
    }
}

/// A latency line, with whether its p99 meets `target_ms`.
fn line(what: &str, histogram: &Latency, target_ms: f64) -> String {
    let met = match p99_ms(histogram) {
        Some(p99) if p99 <= target_ms => "met",
        Some(_) => "NOT met",
        None => "no samples",
    };
    format!("{what}: {} ({} requests; target p99 ≤ {target_ms} ms: {met})", brief(histogram), histogram.len())
}

fn summarize(report: &mut Report, args: &HistoryArgs, tally: &Tally, deep: &str, wall: Duration) {
    let rooms = format!("{}..{}", room_name(0), room_name(args.rooms - 1));
    for text in [
        line(&format!("latest page (limit {}) of random rooms {rooms}", args.page), &tally.latest, 5.0),
        line(deep, &tally.back, 5.0),
        line(&format!("resume {} behind, to its last message", args.behind), &tally.resume, 20.0),
        line("search (limit 20), every class", &tally.search, 50.0),
    ] {
        report.line(text);
    }
    for (class, histogram) in &tally.classes {
        report.line(format!("  {class:<13} {}", brief(histogram)));
        report.set_latency(&format!("search_{}", class.replace(['-', '+'], "_")), histogram);
    }
    let found: Vec<String> = tally.hits.iter().map(|(q, n)| format!("{q} {n}")).collect();
    report.line(format!("search hits on the first page: {}", found.join(", ")));
    report.line(format!(
        "messages: {} in latest pages, {} in deep pages, {} replayed ({} of {} resumes whole and in order; \
         {} in {} as the random room was shorter than --behind)",
        tally.latest_messages,
        tally.back_messages,
        tally.resume_messages,
        tally.resumes_in_order,
        args.rounds,
        tally.resumes_in_big_room,
        room_name(0)
    ));
    match &tally.first_error {
        None => report.line(format!("errors: none in {} rounds ({:.1} s)", args.rounds, wall.as_secs_f64())),
        Some(first) => report.line(format!("errors: {} (the first: {first})", tally.errors)),
    }
    report.set_latency("latest", &tally.latest);
    report.set_latency("back", &tally.back);
    report.set_latency("resume", &tally.resume);
    report.set_latency("search", &tally.search);
    report.set("rounds", args.rounds);
    report.set("rooms", args.rooms);
    report.set("page", args.page);
    report.set("back", args.back);
    report.set("behind", args.behind);
    report.set("latest_messages", tally.latest_messages);
    report.set("back_messages", tally.back_messages);
    report.set("resume_messages", tally.resume_messages);
    report.set("resumes_in_order", tally.resumes_in_order);
    report.set("resumes_in_big_room", tally.resumes_in_big_room);
    report.set("errors", tally.errors);
    report.set("first_error", tally.first_error.clone());
    report.set(
        "hits",
        tally.hits.iter().map(|(q, n)| (q.clone(), Value::from(n.clone()))).collect::<serde_json::Map<_, _>>(),
    );
}
