//! Housekeeping: deleting what has outlived its use, on a timer. Old
//! messages (only when `message_retention_days` is set) with their files,
//! session rows that are over, the activity rollup's old days, uploads cut off mid-way (temporary files an
//! hour old), and the in-memory entries that are over by the injectable
//! [`Clock`]: kicks, stale room policies, login failure and registration
//! windows, refilled post buckets and cached sessions.
//!
//! [`Housekeeping::run_once`] is one pass, which tests call directly with
//! a manual clock; [`Housekeeping::start`] runs it every
//! `housekeeping_secs` as one of the server's [`Tasks`], and `chat db
//! sweep` runs the same pass once by hand ([`Housekeeping::by_hand`],
//! [`Housekeeping::run_once_telling`]). It decides what is over and when;
//! the store does the deleting and the services forget their own entries.
//!
//! Rows go in batches of [`BATCH`], each one statement through the store's
//! pool (its own short transaction), with a pause between: with SQLite the
//! message writer is another connection on the same file, and it gets the
//! write lock between two batches, so a sweep of any size delays a post by
//! at most about one batch. A pass stopped at shutdown stops between
//! statements: every batch is whole or not done.
//!
//! Messages deleted for age are not announced to open streams: clients
//! keep what they already show, and history no longer serves them. (A
//! moderator's deletion is announced, because it must leave every page at
//! once; retention only trims what nobody is looking at.) Room rows stay,
//! with their id counters, so a deleted id is never handed out again. With
//! PostgreSQL every instance runs its own passes; two deleting the same
//! rows only find less to do.

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use moka::ops::compute::{CompResult, Op};
use moka::sync::Cache;

use crate::auth::Sessions;
use crate::clock::Clock;
use crate::config::Settings;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::moderation::Moderation;
use crate::store::files::FileDir;
use crate::store::{ActivityRows, Store, StoreError};
use crate::tasks::Tasks;

/// Rows deleted per statement.
pub const BATCH: u32 = 500;

/// The pause between two batches, in which posts get the write lock.
const PAUSE: Duration = Duration::from_millis(5);

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Days of the activity rollup kept: the activity page shows a year at
/// most, and a little more lets a year's chart start on a full day.
pub const ACTIVITY_DAYS_KEPT: i64 = 400;

/// How old an upload's temporary file must be to be taken for abandoned
/// (an upload of the largest file over a slow line is done well before).
const ABANDONED_UPLOAD: Duration = Duration::from_secs(60 * 60);

/// What one pass removed, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub messages: u64,
    pub sessions: u64,
    pub cached_sessions: u64,
    pub kicks: u64,
    pub policies: u64,
    pub login_windows: u64,
    pub registration_windows: u64,
    pub post_buckets: u64,
    pub upload_temps: u64,
    /// Rows of the activity rollup (days past [`ACTIVITY_DAYS_KEPT`], and
    /// who wrote on days past the retention period).
    pub activity: u64,
}

/// The housekeeper: cheap to clone (every part is a shared handle).
#[derive(Clone)]
pub struct Housekeeping {
    store: Store,
    clock: Clock,
    sessions: Sessions,
    moderation: Moderation,
    limits: Limits,
    metrics: Arc<Metrics>,
    /// Days messages are kept; 0 keeps them for ever.
    retention_days: u32,
    /// Where uploads leave temporary files (none: nothing to sweep).
    files: Option<FileDir>,
}

impl Housekeeping {
    pub fn new(
        store: Store,
        clock: Clock,
        sessions: Sessions,
        moderation: Moderation,
        limits: Limits,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { store, clock, sessions, moderation, limits, metrics, retention_days: 0, files: None }
    }

    /// Deletes messages older than `days` days (0: none).
    pub fn keeping_messages_for(self, days: u32) -> Self {
        Self { retention_days: days, ..self }
    }

    /// Removes uploads' abandoned temporary files from `files`.
    pub fn sweeping_uploads(self, files: FileDir) -> Self {
        Self { files: Some(files), ..self }
    }

    /// A housekeeper of its own over `store`, as `settings` say, for a pass
    /// run by hand while the server may be serving: its in-memory entries
    /// are this process's (none), so only rows and files are swept. The
    /// store is given the files directory, so that a message's attached
    /// files go with it.
    pub fn by_hand(store: Store, settings: &Settings) -> std::io::Result<Self> {
        let (clock, metrics) = (Clock::system(), Metrics::new());
        let files = FileDir::open(&settings.files_dir())?;
        let store = store.with_files(files.clone());
        let sessions = Sessions::new(store.clone(), clock.clone(), settings.session_policy());
        let moderation = Moderation::new(store.clone(), clock.clone(), sessions.clone());
        let limits = Limits::new(&settings.limits, clock.clone(), metrics.clone());
        Ok(Self::new(store, clock, sessions, moderation, limits, metrics)
            .keeping_messages_for(settings.message_retention_days)
            .sweeping_uploads(files))
    }

    /// Days messages are kept; 0 keeps them for ever.
    pub fn retention_days(&self) -> u32 {
        self.retention_days
    }

    /// Messages stamped before this go (`None`: retention is off).
    fn retention_cut_off_ms(&self) -> Option<i64> {
        (self.retention_days > 0).then(|| self.clock.now_ms() - i64::from(self.retention_days) * DAY_MS)
    }

    /// How many messages a pass now would delete for age: what a pass run
    /// by hand shows its progress against.
    pub async fn messages_due(&self) -> Result<u64, StoreError> {
        match self.retention_cut_off_ms() {
            Some(before_ms) => self.store.count_messages_before(before_ms).await,
            None => Ok(0),
        }
    }

    /// One pass. The in-memory entries go first (that never fails), then
    /// the rows; a store error ends the pass, and the next one goes on
    /// from where this one stopped.
    pub async fn run_once(&self) -> Result<Swept, StoreError> {
        self.run_once_telling(&|_, _| {}).await
    }

    /// [`Housekeeping::run_once`], telling `removed` the kind and number of
    /// rows each batch deleted as it is done (a pass run by hand shows it).
    pub async fn run_once_telling(&self, removed: &(dyn Fn(&str, u64) + Sync)) -> Result<Swept, StoreError> {
        let mut swept = Swept::default();
        (swept.policies, swept.kicks) = self.moderation.purge_expired();
        swept.login_windows = self.limits.login.purge_expired();
        swept.registration_windows = self.limits.registrations.purge_expired();
        swept.post_buckets = self.limits.posts.purge_expired();
        self.count("policies", swept.policies);
        self.count("kicks", swept.kicks);
        self.count("login_windows", swept.login_windows);
        self.count("registration_windows", swept.registration_windows);
        self.count("post_buckets", swept.post_buckets);
        swept.cached_sessions = self.sessions.purge_expired().await?;
        self.count("cached_sessions", swept.cached_sessions);
        swept.sessions = self.batches("sessions", removed, || self.sessions.delete_ended_rows(BATCH)).await?;
        if let Some(files) = self.files.clone() {
            // A directory listing: file system work, for the blocking pool.
            match tokio::task::spawn_blocking(move || files.sweep_temp(ABANDONED_UPLOAD)).await {
                Ok(Ok(removed)) => swept.upload_temps = removed,
                Ok(Err(e)) => tracing::warn!("housekeeping: cannot sweep the uploads' temporary files: {e}"),
                Err(e) => tracing::warn!("housekeeping: sweeping the uploads' temporary files failed: {e}"),
            }
            self.count("upload_temps", swept.upload_temps);
        }
        if let Some(before_ms) = self.retention_cut_off_ms() {
            let delete = || self.store.delete_messages_before(before_ms, BATCH);
            swept.messages = self.batches("messages", removed, delete).await?;
        }
        swept.activity = self.sweep_activity(removed).await?;
        Ok(swept)
    }

    /// Trims the activity rollup: its counts after a year and a bit; who
    /// wrote (guests by name) as soon as the messages that named them go.
    async fn sweep_activity(&self, removed: &(dyn Fn(&str, u64) + Sync)) -> Result<u64, StoreError> {
        let today = self.clock.now_ms().div_euclid(DAY_MS);
        let counts_from = today - ACTIVITY_DAYS_KEPT;
        let people_from = match self.retention_days {
            0 => counts_from,
            days => counts_from.max(today - i64::from(days)),
        };
        let mut total = 0;
        for (rows, before) in [(ActivityRows::Rooms, counts_from), (ActivityRows::People, people_from)] {
            let delete = || self.store.delete_activity_before(rows, before, BATCH);
            total += self.batches("activity", removed, delete).await?;
        }
        Ok(total)
    }

    /// Runs `batch` until it deletes fewer than a full batch, pausing
    /// between batches; counts each as it is done, and tells `removed`.
    async fn batches<F, Fut>(
        &self,
        kind: &str,
        removed: &(dyn Fn(&str, u64) + Sync),
        mut batch: F,
    ) -> Result<u64, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<u64, StoreError>>,
    {
        let mut total = 0;
        loop {
            let deleted = batch().await?;
            self.count(kind, deleted);
            removed(kind, deleted);
            total += deleted;
            if deleted < u64::from(BATCH) {
                return Ok(total);
            }
            tokio::time::sleep(PAUSE).await;
        }
    }

    fn count(&self, kind: &str, removed: u64) {
        if removed > 0 {
            self.metrics.housekeeping_deleted.with_label_values(&[kind]).inc_by(removed);
        }
    }

    /// Runs a pass every `every` (the first one `every` after start) until
    /// the server stops; a failed pass is logged and the next one tries
    /// again.
    pub fn start(self, tasks: &Tasks, every: Duration) {
        let every = every.max(Duration::from_secs(1));
        tasks.spawn("housekeeping", async move {
            let mut timer = tokio::time::interval(every);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is immediate; a pass at startup finds little.
            timer.tick().await;
            loop {
                timer.tick().await;
                match self.run_once().await {
                    Ok(swept) if swept.messages > 0 || swept.sessions > 0 => tracing::info!(
                        "housekeeping: deleted {} message(s) older than {} day(s) and {} ended session(s)",
                        swept.messages,
                        self.retention_days,
                        swept.sessions
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("housekeeping: {e}"),
                }
            }
        });
    }
}

/// Removes from `cache` every entry that `over` says is over, and answers
/// how many went: the one purge the bounded caches (kicks, policies, login
/// windows, post buckets) share. Each entry found by the scan is looked at
/// again under its key's lock as it is removed, so one renewed since the
/// scan stays. (An entry taken out by a reader just before it goes may be
/// updated after: that update is lost with it; each cache says what that
/// costs.)
pub(crate) fn purge_cache<K, V>(cache: &Cache<K, V>, over: impl Fn(&V) -> bool) -> u64
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let found: Vec<Arc<K>> = cache.iter().filter(|(_, value)| over(value)).map(|(key, _)| key).collect();
    let mut purged = 0;
    for key in found {
        let removed = cache.entry_by_ref(key.as_ref()).and_compute_with(|entry| match entry {
            Some(entry) if over(entry.value()) => Op::Remove,
            _ => Op::Nop,
        });
        purged += u64::from(matches!(removed, CompResult::Removed(_)));
    }
    purged
}
