//! The scenarios (`fanout`, `idle`, `maxpost`, `login-storm`, `search`,
//! `upload-storm`, `soak`, `rooms`, `resume-storm`, `history`), their
//! options, and what every run shares: the target and room ([`Common`]),
//! the hard overall deadline, the checks that keep every loop bounded, and
//! the wall and CPU figures added to every report.

mod common;
pub mod corpus;
mod delivery;
pub mod fanout;
mod history;
mod idle;
mod login;
mod poster;
mod resume;
mod resumed;
mod rooms;
mod search;
mod soak;
mod upload;

use std::time::Duration;

use anyhow::{Result, anyhow, bail};

use crate::report::Report;
use crate::sys::Usage;
use crate::target::Kind;
use crate::transport::Transport;

pub use common::Common;
pub use history::HistoryArgs;
pub use login::csrf_token;

/// `fanout`: S subscribers, P posters at a total rate R for D seconds.
#[derive(Debug, Clone, clap::Args)]
pub struct FanoutArgs {
    /// Event streams (subscribers) open on the room.
    #[arg(long, short = 's', default_value_t = 1000)]
    pub subscribers: usize,
    /// Rooms the subscribers are dealt over and the posts go round (room
    /// `<room>-<i>` each when more than one).
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Posters, each on its own keep-alive connection.
    #[arg(long, short = 'p', default_value_t = 4)]
    pub posters: usize,
    /// Messages per second, all posters together.
    #[arg(long, short = 'r', default_value_t = 20.0)]
    pub rate: f64,
    /// Seconds of posting.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds to wait after posting for deliveries still on their way.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// Posts each poster may have awaiting an answer at once, each on its
    /// own keep-alive connection (so a slow server still gets the rate).
    #[arg(long, default_value_t = 8)]
    pub in_flight: usize,
    /// How subscribers receive: sse (event streams), ws (WebSockets) or
    /// poll (long polls); ws and poll need --target chat.
    #[arg(long, value_enum, default_value_t = Transport::Sse)]
    pub transport: Transport,
}

/// `idle`: N open subscriptions (streams, sockets or long polls) held for
/// T seconds.
#[derive(Debug, Clone, clap::Args)]
pub struct IdleArgs {
    /// Subscriptions to open and hold: event streams, WebSockets, or long
    /// polls (each re-issued when it returns).
    #[arg(long, short = 'n', default_value_t = 10_000)]
    pub streams: usize,
    /// Seconds to hold them open once all are open.
    #[arg(long, default_value_t = 10.0)]
    pub hold: f64,
    /// What to hold: sse (event streams), ws (WebSockets) or poll (long
    /// polls); ws and poll need --target chat.
    #[arg(long, value_enum, default_value_t = Transport::Sse)]
    pub transport: Transport,
    /// Once all are open, post this many messages (one a second) and time
    /// their delivery to every subscription; the hold then ends when all
    /// have arrived (or at --hold).
    #[arg(long, default_value_t = 0)]
    pub post: u64,
    /// Wait (up to --hold) for this many messages posted by another
    /// chat-load with the same --run and room (its poster 0), and time
    /// their delivery.
    #[arg(long, default_value_t = 0)]
    pub expect: u64,
    /// A file written once every subscription is open (for a script that
    /// starts the poster only then).
    #[arg(long)]
    pub ready_file: Option<std::path::PathBuf>,
}

/// `maxpost`: P posters as fast as they can for D seconds, one subscriber.
#[derive(Debug, Clone, clap::Args)]
pub struct MaxPostArgs {
    #[arg(long, short = 'p', default_value_t = 4)]
    pub posters: usize,
    /// Seconds of posting.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds to wait after posting for the subscriber to catch up.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// A bound on posts per poster.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_posts: u64,
}

/// `login-storm`: a fan-out with concurrent logins in the middle of it.
#[derive(Debug, Clone, clap::Args)]
pub struct LoginStormArgs {
    #[command(flatten)]
    pub fanout: FanoutArgs,
    /// Concurrent logins (accounts are registered before the run).
    #[arg(long, default_value_t = 50)]
    pub logins: usize,
}

/// `rooms`: a fan-out over many rooms, in passes on fresh rooms, for the
/// memory a room still holds once its subscribers have left.
#[derive(Debug, Clone, clap::Args)]
pub struct RoomsArgs {
    #[command(flatten)]
    pub fanout: FanoutArgs,
    /// Passes, each on rooms of its own.
    #[arg(long, default_value_t = 3)]
    pub passes: usize,
    /// Seconds to wait after a pass's subscribers left before reading memory.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
}

/// `soak`: a long fan-out with logins and stream reconnects beside it,
/// sampling the server's memory and descriptors.
#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    #[command(flatten)]
    pub fanout: FanoutArgs,
    /// Logins per minute (accounts registered before the run); 0: none.
    #[arg(long, default_value_t = 30.0)]
    pub logins_per_minute: f64,
    /// Streams opened (to their first event) and dropped per second; 0: none.
    #[arg(long, default_value_t = 100.0)]
    pub reconnects: f64,
    /// Seconds between samples of the server's RSS and descriptors.
    #[arg(long, default_value_t = 10.0)]
    pub sample: f64,
    /// Seconds of warm-up: RSS growth is measured from the first sample after it.
    #[arg(long, default_value_t = 300.0)]
    pub warmup: f64,
}

/// `search`: seed a corpus through the API, then time searches.
#[derive(Debug, Clone, clap::Args)]
pub struct SearchArgs {
    /// Messages to post before searching (0: search what is there).
    #[arg(long, default_value_t = 1_000_000)]
    pub seed: u64,
    /// Rooms the seeded messages are spread over.
    #[arg(long, default_value_t = 100)]
    pub rooms: usize,
    /// Posters seeding at once, each on its own keep-alive connection.
    #[arg(long, short = 'p', default_value_t = 16)]
    pub posters: usize,
    /// Searchers asking at once, each waiting for its answer.
    #[arg(long, short = 's', default_value_t = 1)]
    pub searchers: usize,
    /// Rounds of every query, per searcher.
    #[arg(long, default_value_t = 50)]
    pub rounds: u32,
    /// Hits per page (`limit`).
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

/// `upload-storm`: a fan-out with concurrent file uploads in the middle.
#[derive(Debug, Clone, clap::Args)]
pub struct UploadStormArgs {
    #[command(flatten)]
    pub fanout: FanoutArgs,
    /// Concurrent uploads, each by an account of its own (registered before
    /// the run), to a room of their own.
    #[arg(long, default_value_t = 4)]
    pub uploads: usize,
    /// The file each one sends (e.g. a large image); default: --bytes of
    /// random bytes (a download, no decoding).
    #[arg(long)]
    pub file: Option<std::path::PathBuf>,
    /// The size of the generated file.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub bytes: usize,
    /// Uploads each account makes, one after another (one 10 MiB upload
    /// over loopback takes about 50 ms: too short for a fan-out at 20
    /// msg/s to send a message during it).
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
}

/// `resume-storm`: S streams dropped at once and reconnecting with
/// `Last-Event-ID`, B messages behind.
#[derive(Debug, Clone, clap::Args)]
pub struct ResumeStormArgs {
    /// Event streams on the room, all dropped and reconnected at once.
    #[arg(long, short = 'n', default_value_t = 5000)]
    pub streams: usize,
    /// Messages posted while they are away (at most the server's replay
    /// cap, 1000: further behind, a resume is a reset).
    #[arg(long, default_value_t = 100)]
    pub behind: usize,
    /// Seconds from the reconnect to wait for every stream to resume.
    #[arg(long, default_value_t = 30.0)]
    pub wait: f64,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Scenario {
    /// S subscribers on one room (over --transport), P posters at R msgs/s
    /// for D s: delivery counts, losses, duplicates, post-to-delivery and
    /// POST latency.
    Fanout(FanoutArgs),
    /// Hold N subscriptions open (over --transport): the server's RSS before
    /// and after, and per connection (needs --server-pid).
    Idle(IdleArgs),
    /// P posters as fast as they can, one subscriber: acknowledged posts/s,
    /// POST latency, and that the subscriber got them all.
    #[command(name = "maxpost")]
    MaxPost(MaxPostArgs),
    /// A fan-out with concurrent logins in its middle: delivery p99 during
    /// the storm vs outside it, and login latency (chat only).
    LoginStorm(LoginStormArgs),
    /// Seed a chat-like corpus (Latin and CJK) through the API, then time
    /// GET /api/search by query class: common, rare and absent words,
    /// two-character and longer CJK words, several words at once.
    Search(SearchArgs),
    /// A fan-out with concurrent uploads (10 MiB by default) in its middle:
    /// delivery p99 during them vs outside, and upload latency (chat only).
    UploadStorm(UploadStormArgs),
    /// A long fan-out with logins and stream reconnects beside it: the
    /// server's RSS and open descriptors sampled throughout, RSS growth
    /// after the warm-up, and the fan-out's losses (needs --server-pid).
    Soak(SoakArgs),
    /// A fan-out over --rooms rooms (subscribers dealt over them, posts
    /// going round them), in passes on fresh rooms: losses, delivery
    /// latency, and the server memory a room holds after its subscribers
    /// left (needs --server-pid).
    Rooms(RoomsArgs),
    /// S event streams dropped at once, B messages posted, then all
    /// reconnected at once with their Last-Event-ID: time until each had
    /// all B (exactly, in order, no reset), reconnect errors, and the
    /// server's replay store reads (chat only).
    ResumeStorm(ResumeStormArgs),
    /// Read a seeded history (`chat-load seed`): latest pages, a page far
    /// back, resumes of the event stream, searches; p50/p99 of each.
    History(HistoryArgs),
}

impl Scenario {
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Fanout(_) => "fanout",
            Scenario::Idle(_) => "idle",
            Scenario::MaxPost(_) => "maxpost",
            Scenario::LoginStorm(_) => "login-storm",
            Scenario::Search(_) => "search",
            Scenario::UploadStorm(_) => "upload-storm",
            Scenario::Soak(_) => "soak",
            Scenario::Rooms(_) => "rooms",
            Scenario::ResumeStorm(_) => "resume-storm",
            Scenario::History(_) => "history",
        }
    }

    /// How the scenario's subscribers receive (`maxpost` has one SSE
    /// subscriber).
    pub fn transport(&self) -> Transport {
        match self {
            Scenario::Fanout(a)
            | Scenario::LoginStorm(LoginStormArgs { fanout: a, .. })
            | Scenario::UploadStorm(UploadStormArgs { fanout: a, .. })
            | Scenario::Soak(SoakArgs { fanout: a, .. })
            | Scenario::Rooms(RoomsArgs { fanout: a, .. }) => a.transport,
            Scenario::Idle(a) => a.transport,
            Scenario::MaxPost(_) | Scenario::Search(_) | Scenario::ResumeStorm(_) | Scenario::History(_) => {
                Transport::Sse
            }
        }
    }

    /// How long the scenario should take, without setup.
    fn nominal(&self) -> Duration {
        let secs = match self {
            Scenario::Fanout(a)
            | Scenario::LoginStorm(LoginStormArgs { fanout: a, .. })
            | Scenario::UploadStorm(UploadStormArgs { fanout: a, .. })
            | Scenario::Soak(SoakArgs { fanout: a, .. }) => a.duration + a.drain,
            Scenario::Rooms(a) => (a.fanout.duration + a.fanout.drain + a.settle) * a.passes as f64,
            Scenario::Idle(a) => a.hold + a.streams as f64 / 100.0,
            Scenario::MaxPost(a) => a.duration + a.drain,
            Scenario::Search(a) => {
                let queries: usize = search_queries();
                a.seed as f64 / 1000.0 + f64::from(a.rounds) * queries as f64 * 0.05
            }
            // Opening at ~100/s at worst, the posts, the wait, the checks.
            Scenario::ResumeStorm(a) => a.streams as f64 / 100.0 + a.behind as f64 / 100.0 + a.wait + 10.0,
            Scenario::History(a) => a.nominal_s(),
        };
        Duration::from_secs_f64(secs)
    }

    /// Refuses sizes that would make a loop unbounded or absurd.
    fn check(&self, common: &Common) -> Result<()> {
        let seconds = |what: &str, value: f64| -> Result<()> {
            if !(value.is_finite() && (0.0..=3600.0).contains(&value)) {
                bail!("{what} must be 0 to 3600 seconds, not {value}");
            }
            Ok(())
        };
        let count = |what: &str, value: usize, max: usize| -> Result<()> {
            if !(1..=max).contains(&value) {
                bail!("{what} must be 1 to {max}, not {value}");
            }
            Ok(())
        };
        match self {
            Scenario::Fanout(a)
            | Scenario::LoginStorm(LoginStormArgs { fanout: a, .. })
            | Scenario::UploadStorm(UploadStormArgs { fanout: a, .. })
            | Scenario::Soak(SoakArgs { fanout: a, .. })
            | Scenario::Rooms(RoomsArgs { fanout: a, .. }) => {
                count("--subscribers", a.subscribers, 100_000)?;
                count("--rooms", a.rooms, a.subscribers.max(1))?;
                count("--posters", a.posters, 1000)?;
                count("--in-flight", a.in_flight, 1000)?;
                seconds("--duration", a.duration)?;
                seconds("--drain", a.drain)?;
                if !(a.rate.is_finite() && a.rate > 0.0 && a.rate <= 1_000_000.0) {
                    bail!("--rate must be above 0 and at most 1000000 msgs/s, not {}", a.rate);
                }
            }
            Scenario::Idle(a) => {
                count("--streams", a.streams, 100_000)?;
                seconds("--hold", a.hold)?;
                if a.post > 3600 || a.expect > 100_000 || (a.post > 0 && a.expect > 0) {
                    bail!("--post (at most 3600) and --expect (at most 100000) are for one run each, not both");
                }
                if common.server_pid.is_none() {
                    bail!("idle needs --server-pid (the server process whose memory is measured)");
                }
            }
            Scenario::MaxPost(a) => {
                count("--posters", a.posters, 1000)?;
                seconds("--duration", a.duration)?;
                seconds("--drain", a.drain)?;
                if a.max_posts == 0 {
                    bail!("--max-posts must be at least 1");
                }
            }
            Scenario::Search(a) => {
                count("--rooms", a.rooms, 10_000)?;
                count("--posters", a.posters, 1000)?;
                count("--searchers", a.searchers, 64)?;
                count("--rounds", a.rounds as usize, 10_000)?;
                count("--limit", a.limit as usize, 100)?;
                if a.seed > 10_000_000 {
                    bail!("--seed must be at most 10000000, not {}", a.seed);
                }
                if common.target.kind != Kind::Chat {
                    bail!("search needs --target chat: the bare server has no search");
                }
            }
            Scenario::ResumeStorm(a) => {
                count("--streams", a.streams, 100_000)?;
                count("--behind", a.behind, 1000)?;
                seconds("--wait", a.wait)?;
                if common.target.kind != Kind::Chat {
                    bail!("resume-storm needs --target chat: the bare server neither numbers nor replays messages");
                }
            }
            Scenario::History(a) => a.check(common)?,
        }
        if self.transport() != Transport::Sse && common.target.kind != Kind::Chat {
            bail!("--transport {} needs --target chat: the bare server only has event streams", self.transport());
        }
        if let Scenario::LoginStorm(a) = self {
            count("--logins", a.logins, 10_000)?;
            if common.target.kind != Kind::Chat {
                bail!("login-storm needs --target chat: the bare server has no accounts");
            }
        }
        if let Scenario::Rooms(a) = self {
            count("--passes", a.passes, 100)?;
            seconds("--settle", a.settle)?;
            if common.server_pid.is_none() {
                bail!("rooms needs --server-pid (the server process whose memory is measured)");
            }
        }
        if let Scenario::Soak(a) = self {
            let rate = |what: &str, value: f64, max: f64| -> Result<()> {
                if !(value.is_finite() && (0.0..=max).contains(&value)) {
                    bail!("{what} must be 0 to {max}, not {value}");
                }
                Ok(())
            };
            rate("--logins-per-minute", a.logins_per_minute, 600.0)?;
            rate("--reconnects", a.reconnects, 10_000.0)?;
            seconds("--warmup", a.warmup)?;
            if !(a.sample.is_finite() && (0.1..=600.0).contains(&a.sample)) {
                bail!("--sample must be 0.1 to 600 seconds, not {}", a.sample);
            }
            if common.server_pid.is_none() {
                bail!("soak needs --server-pid (the server process whose memory and descriptors are sampled)");
            }
            if a.logins_per_minute > 0.0 && common.target.kind != Kind::Chat {
                bail!("soak with logins needs --target chat: the bare server has no accounts");
            }
        }
        if let Scenario::UploadStorm(a) = self {
            count("--uploads", a.uploads, 100)?;
            count("--bytes", a.bytes, 1 << 30)?;
            count("--rounds", a.rounds, 1000)?;
            if common.target.kind != Kind::Chat {
                bail!("upload-storm needs --target chat: the bare server takes no files");
            }
        }
        Ok(())
    }
}

/// Queries one round of the `search` scenario asks.
fn search_queries() -> usize {
    corpus::QUERIES.iter().map(|(_, queries)| queries.len()).sum::<usize>() + corpus::ROOM_QUERIES.len()
}

/// Runs a scenario against `common.target` and returns its report. The
/// whole run is bounded by the hard deadline.
pub async fn run(common: &Common, scenario: &Scenario) -> Result<Report> {
    scenario.check(common)?;
    let deadline = common.deadline.unwrap_or(scenario.nominal() + Duration::from_secs(120));
    let usage = Usage::start(common.server_pid);
    let work = async {
        match scenario {
            Scenario::Fanout(args) => delivery::fanout(common, args).await,
            Scenario::Idle(args) => idle::run(common, args).await,
            Scenario::MaxPost(args) => delivery::maxpost(common, args).await,
            Scenario::LoginStorm(args) => login::storm(common, args).await,
            Scenario::Search(args) => search::run(common, args).await,
            Scenario::UploadStorm(args) => upload::storm(common, args).await,
            Scenario::Soak(args) => soak::run(common, args).await,
            Scenario::Rooms(args) => rooms::run(common, args).await,
            Scenario::ResumeStorm(args) => resume::run(common, args).await,
            Scenario::History(args) => history::run(common, args).await,
        }
    };
    let mut report = tokio::time::timeout(deadline, work)
        .await
        .map_err(|_| anyhow!("{}: hard deadline of {deadline:?} reached; stopped", scenario.name()))??;
    // A search has no subscribers to carry anything; a history run reads
    // the seeded rooms, not one of its own.
    let over = match scenario {
        Scenario::Search(_) | Scenario::History(_) => String::new(),
        _ => format!(" over {}", scenario.transport()),
    };
    let (rooms, room) = match scenario {
        Scenario::History(_) => ("rooms", format!("{}-*", crate::seed::layout::ROOM_PREFIX)),
        _ => ("room", common.room.clone()),
    };
    report.summary.insert(
        0,
        format!(
            "chat-load {}{over} against {} at {} ({rooms} {room}, run {:08x})",
            scenario.name(),
            common.target.kind,
            common.target.url(),
            common.run
        ),
    );
    report.set("scenario", scenario.name());
    report.set("transport", scenario.transport().to_string());
    report.set("target", common.target.kind.to_string());
    report.set("url", common.target.url());
    report.set("room", room);
    report.set("run", format!("{:08x}", common.run));
    report.set_usage(&usage.finish());
    Ok(report)
}
