//! `chat-load seed`: writes a large history straight into the server's
//! database, for the `history` scenario (and anyone who needs a big one):
//! millions of messages in minutes, where posting them through the API
//! would take hours.
//!
//! The schema is the server's own: the store is opened through the chat
//! library first, which applies its migrations, and closed again. Rows are
//! then written the way the message writer writes them, only many at once
//! (one transaction per chunk): the `messages` row with its rendered HTML,
//! and the room's counter (`rooms.last_id`, `last_at_ms`) bumped in the
//! same transaction. Nothing else is written by hand: the search index
//! follows `messages` through the migrations' own triggers (SQLite: into
//! `search_docs` and FTS5) or by itself (PostgreSQL: its GIN index and the
//! `search_seq` default), exactly as for a post. A post writes nothing else
//! (no changes, versions, reactions or attachments).
//!
//! Which message goes where is `layout`'s; the engines' writers are
//! `sqlite` and `postgres`. A database that already holds messages or rooms
//! is refused: a seed is a history from scratch, so its ids and its search
//! order are those the server would have given. Progress goes to stderr,
//! as the server's own long commands show theirs (`chat::progress`: a bar
//! on a terminal, a line every two seconds otherwise); the report is the
//! usual summary and JSON line.

pub mod layout;
mod postgres;
mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use tokio::sync::mpsc;

use crate::report::Report;
use crate::sys::Usage;
use layout::{Chunk, Layout, room_name};

/// Messages written per transaction.
const CHUNK: u64 = 50_000;

/// `seed`: where to write, and how big a history.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("database").required(true).args(["sqlite_data_dir", "postgres"])))]
pub struct SeedArgs {
    /// Messages to write.
    #[arg(long, default_value_t = 10_000_000)]
    pub messages: u64,
    /// Rooms to write them to (`hist-0000`, `hist-0001`, ...).
    #[arg(long, default_value_t = 1000)]
    pub rooms: u32,
    /// The share of all messages in the first room, `hist-0000` (the rest
    /// are spread evenly over the others).
    #[arg(long, default_value_t = 0.6)]
    pub big_room_share: f64,
    /// The server's data directory (ROCKET_DATA_DIR): the database is the
    /// `chat.db` the server opens there, created if missing.
    #[arg(long, value_name = "DIR")]
    pub sqlite_data_dir: Option<PathBuf>,
    /// A PostgreSQL database URL (as the server's ROCKET_DATABASE_URL); its
    /// tables are created by the server's migrations if missing.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
}

impl SeedArgs {
    fn check(&self) -> Result<()> {
        if !(1..=1_000_000_000).contains(&self.messages) {
            bail!("--messages must be 1 to 1000000000, not {}", self.messages);
        }
        if !(1..=100_000).contains(&self.rooms) {
            bail!("--rooms must be 1 to 100000, not {}", self.rooms);
        }
        if !(self.big_room_share > 0.0 && self.big_room_share <= 1.0) {
            bail!("--big-room-share must be above 0 and at most 1, not {}", self.big_room_share);
        }
        if self.sqlite_data_dir.is_some() == self.postgres.is_some() {
            bail!("give exactly one of --sqlite-data-dir and --postgres");
        }
        Ok(())
    }

    /// The database URL, as the server would build it.
    fn database_url(&self) -> String {
        match (&self.postgres, &self.sqlite_data_dir) {
            (Some(url), _) => url.clone(),
            (None, dir) => {
                chat::Settings { data_dir: dir.clone().unwrap_or_default(), ..Default::default() }.database_url()
            }
        }
    }
}

/// What a finished seed measured on disk.
pub(crate) struct Size {
    pub bytes: u64,
    /// How `bytes` was measured.
    pub how: &'static str,
}

/// Discards what the store would publish: nothing is posted through it.
struct Nowhere;

impl chat::store::Publish for Nowhere {
    fn publish(&self, _: &Arc<chat::rooms::Delivery>) {}
}

/// Seeds the database and reports what it wrote.
pub async fn run(args: &SeedArgs) -> Result<Report> {
    args.check()?;
    let usage = Usage::start(None);
    let url = args.database_url();
    let shown = chat::config::redacted_url(&url);
    if let Some(dir) = &args.sqlite_data_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // The server's migrations make (or check) the schema; the store is
    // closed again before anything is written.
    let store = chat::store::Store::open(&url, Arc::new(Nowhere))
        .await
        .with_context(|| format!("cannot open the database {shown}"))?;
    drop(store);
    let end_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let layout = Layout::new(args.messages, args.rooms, args.big_room_share, end_ms);
    let started = Instant::now();
    let size = match &args.postgres {
        Some(url) => postgres::seed(url, &layout).await?,
        None => {
            let path = PathBuf::from(chat_sqlite_path(&url));
            tokio::task::spawn_blocking(move || sqlite::seed(&path, &layout))
                .await
                .context("the SQLite writer panicked")??
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut report = Report::new("seed");
    let engine = if args.postgres.is_some() { "postgres" } else { "sqlite" };
    let per_s = layout.messages as f64 / seconds;
    let per_message = size.bytes as f64 / layout.messages as f64;
    report.line(format!("chat-load seed into {engine} {shown}"));
    report.line(format!(
        "seeded {} messages over {} rooms ({} holds {}) in {seconds:.1} s = {per_s:.0} messages/s",
        layout.messages,
        layout.rooms,
        room_name(0),
        layout.room_size(0)
    ));
    report.line(format!(
        "on disk: {:.1} MB = {per_message:.0} bytes per message ({})",
        size.bytes as f64 / 1e6,
        size.how
    ));
    report.set("engine", engine);
    report.set("database", shown);
    report.set("messages", layout.messages);
    report.set("rooms", layout.rooms);
    report.set("big_room", room_name(0));
    report.set("big_room_messages", layout.room_size(0));
    report.set_f("seconds", seconds);
    report.set_f("messages_per_s", per_s);
    report.set("bytes", size.bytes);
    report.set_f("bytes_per_message", per_message);
    report.set("bytes_measured", size.how);
    report.set_usage(&usage.finish());
    Ok(report)
}

/// The file of a `sqlite://` URL (the server's own reading of it).
fn chat_sqlite_path(url: &str) -> &str {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    path.split('?').next().unwrap_or_default()
}

/// The history's chunks, in order, made on a thread of their own a chunk
/// or two ahead of the writer (the texts and their HTML cost a few µs a
/// message, a small part of what storing and indexing them costs).
pub(crate) struct Chunks(mpsc::Receiver<Chunk>);

impl Chunks {
    pub fn start(layout: &Layout) -> Self {
        let (tx, rx) = mpsc::channel(2);
        let layout = *layout;
        std::thread::spawn(move || {
            let mut first = 0;
            while first < layout.messages {
                let last = (first + CHUNK).min(layout.messages);
                if tx.blocking_send(layout.chunk(first..last)).is_err() {
                    return; // the writer gave up
                }
                first = last;
            }
        });
        Self(rx)
    }

    /// The next chunk (for a writer on a thread), `None` after the last.
    pub fn blocking_next(&mut self) -> Option<Chunk> {
        self.0.blocking_recv()
    }

    /// The next chunk (for a writer on the runtime), `None` after the last.
    pub async fn next(&mut self) -> Option<Chunk> {
        self.0.recv().await
    }
}
