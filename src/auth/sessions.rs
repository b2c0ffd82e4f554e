//! Live sessions: rows in the store, cached in memory with their lifetimes.
//!
//! Most requests authenticate from the cache, without a database read; an
//! entry is re-read from the store at least every `cache_ttl` (15 s by
//! default), so a session ended on another instance stops working here too. Idle and
//! absolute lifetimes are enforced on every check, against the injectable
//! [`Clock`]. Only requests that count as activity move the idle timer
//! (stream heartbeats and reconnects do not). Housekeeping empties the
//! cache of sessions that are over or stale ([`Sessions::purge_expired`]);
//! the store's sweep deletes ended rows ([`ROW_SLACK_MS`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::clock::Clock;
use crate::i18n::Preferences;
use crate::store::{SessionRecord, Store, StoreError};

/// Activity is written to the row at most this often per session.
const TOUCH_EVERY_MS: i64 = 60_000;
/// How much later than its row says a session may have been used: the
/// activity an instance has seen but not written yet. A row is deleted as
/// idle only when it is idle by this much more, so no instance still
/// holding newer activity loses a live session.
pub const ROW_SLACK_MS: i64 = TOUCH_EVERY_MS;
/// Beyond this many cached sessions the cache starts over (it only saves reads).
const MAX_CACHED: usize = 200_000;

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after login, used or not.
    pub absolute: Duration,
    /// Longest a cached session is trusted before its row is read again:
    /// how long a session ended elsewhere (another instance, the command
    /// line) may still work here.
    pub cache_ttl: Duration,
}

/// Whether a check counts as the user being active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// A page, a post: moves the idle timer.
    Active,
    /// A stream opening or re-checking itself: does not.
    Passive,
}

/// The account behind a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub session_id: String,
    pub user_id: i64,
    pub name: String,
    /// The account's display name as its row said when the session was
    /// last read (at most `cache_ttl` ago; a change on this instance is
    /// seen at once, see [`Sessions::forget_user`]).
    pub display: String,
    /// The account's settings, read with the session (like `display`).
    pub preferences: Preferences,
}

#[derive(Debug, Clone)]
struct Cached {
    record: SessionRecord,
    /// When the row was last read, by the clock.
    loaded_ms: i64,
    /// The `last_seen` the row holds (ours may be newer, unwritten).
    written_last_seen_ms: i64,
}

/// The session table with its cache. Clones share the cache.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    clock: Clock,
    policy: SessionPolicy,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
}

impl Sessions {
    pub fn new(store: Store, clock: Clock, policy: SessionPolicy) -> Self {
        Self { store, clock, policy, cache: Arc::default() }
    }

    /// Starts a session for an account (named `name`, displayed as
    /// `display`): a new random id, a new row.
    pub async fn start(&self, user_id: i64, name: String, display: String) -> Result<SessionUser, StoreError> {
        let session_id = super::new_session_id();
        let now = self.clock.now_ms();
        self.store.create_session(&session_id, user_id, now).await?;
        let preferences = self.store.preferences(user_id).await?;
        let record = SessionRecord {
            user_id,
            name: name.clone(),
            display: display.clone(),
            preferences: preferences.clone(),
            created_ms: now,
            last_seen_ms: now,
        };
        self.cache().insert(session_id.clone(), Cached { record, loaded_ms: now, written_last_seen_ms: now });
        Ok(SessionUser { session_id, user_id, name, display, preferences })
    }

    /// Starts a session for an account whose login was proven another way
    /// than its password (a second factor's code, a passkey, a reset link),
    /// under its display name as its row says now.
    pub async fn start_for(&self, user_id: i64, name: String) -> Result<SessionUser, StoreError> {
        let display = self.store.find_user(&name).await?.map_or_else(|| name.clone(), |user| user.display);
        self.start(user_id, name, display).await
    }

    /// The account behind `session_id` if the session is live; ends it (and
    /// answers `None`) if it has outlived either lifetime.
    pub async fn authenticate(&self, session_id: &str, activity: Activity) -> Result<Option<SessionUser>, StoreError> {
        let now = self.clock.now_ms();
        let cached = self.cache().get(session_id).cloned();
        let mut entry = match cached {
            Some(entry) if now - entry.loaded_ms < self.policy.cache_ttl.as_millis() as i64 => entry,
            stale => match self.store.session(session_id).await? {
                None => {
                    self.cache().remove(session_id);
                    return Ok(None);
                }
                Some(mut record) => {
                    let written = record.last_seen_ms;
                    // Keep activity seen here but not yet written.
                    if let Some(stale) = stale {
                        record.last_seen_ms = record.last_seen_ms.max(stale.record.last_seen_ms);
                    }
                    Cached { record, loaded_ms: now, written_last_seen_ms: written }
                }
            },
        };
        if self.expired(&entry.record, now) {
            self.end(session_id).await?;
            return Ok(None);
        }
        if activity == Activity::Active {
            entry.record.last_seen_ms = now;
            if now - entry.written_last_seen_ms >= TOUCH_EVERY_MS {
                self.store.touch_session(session_id, now).await?;
                entry.written_last_seen_ms = now;
            }
        }
        let user = SessionUser {
            session_id: session_id.to_owned(),
            user_id: entry.record.user_id,
            name: entry.record.name.clone(),
            display: entry.record.display.clone(),
            preferences: entry.record.preferences.clone(),
        };
        let mut cache = self.cache();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(session_id.to_owned(), entry);
        Ok(Some(user))
    }

    fn expired(&self, record: &SessionRecord, now: i64) -> bool {
        let idle = now - record.last_seen_ms > self.policy.idle.as_millis() as i64;
        let too_old = now - record.created_ms > self.policy.absolute.as_millis() as i64;
        idle || too_old
    }

    /// Ends one session: its id stops authenticating at once.
    pub async fn end(&self, session_id: &str) -> Result<(), StoreError> {
        self.store.delete_session(session_id).await?;
        self.cache().remove(session_id);
        Ok(())
    }

    /// Ends every session of an account (log out everywhere, password change,
    /// account deletion).
    pub async fn end_all(&self, user_id: i64) -> Result<(), StoreError> {
        let ended = self.store.delete_sessions_of(user_id).await?;
        let mut cache = self.cache();
        for id in ended {
            cache.remove(&id);
        }
        // Rows deleted by a concurrent login's race are caught by the TTL;
        // drop any cached entry of this user too.
        cache.retain(|_, entry| entry.record.user_id != user_id);
        Ok(())
    }

    /// Drops the cached sessions of an account whose sessions another
    /// instance ended: the next check reads the store.
    pub fn forget_user(&self, user_id: i64) {
        self.cache().retain(|_, entry| entry.record.user_id != user_id);
    }

    /// Drops the cached sessions that are over (either lifetime) or stale
    /// (not read from the store for `cache_ttl`, so their next use reads
    /// the row anyway), by the injectable clock; answers how many went.
    /// Activity seen here but not yet written is written first (in one
    /// transaction), so forgetting an entry never makes a session look
    /// idler than it is.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let now = self.clock.now_ms();
        let stale = |entry: &Cached| now - entry.loaded_ms >= self.policy.cache_ttl.as_millis() as i64;
        let mut unwritten = Vec::new();
        let mut purged = {
            let mut cache = self.cache();
            let before = cache.len();
            cache.retain(|id, entry| {
                if self.expired(&entry.record, now) {
                    return false;
                }
                if !stale(entry) {
                    return true;
                }
                if entry.record.last_seen_ms > entry.written_last_seen_ms {
                    unwritten.push((id.clone(), entry.record.last_seen_ms, entry.loaded_ms));
                    return true;
                }
                false
            });
            (before - cache.len()) as u64
        };
        if unwritten.is_empty() {
            return Ok(purged);
        }
        let seen: Vec<(String, i64)> = unwritten.iter().map(|(id, last_seen, _)| (id.clone(), *last_seen)).collect();
        self.store.touch_sessions(&seen).await?;
        let mut cache = self.cache();
        for (id, last_seen, loaded) in unwritten {
            // Used again meanwhile: it stays, with what it saw since.
            if cache.get(&id).is_some_and(|e| e.record.last_seen_ms == last_seen && e.loaded_ms == loaded) {
                cache.remove(&id);
                purged += 1;
            }
        }
        Ok(purged)
    }

    /// Deletes up to `limit` session rows that are over: idle for the idle
    /// lifetime and [`ROW_SLACK_MS`] more, or older than the absolute
    /// lifetime. Answers how many went (fewer than `limit`: none are left).
    pub async fn delete_ended_rows(&self, limit: u32) -> Result<u64, StoreError> {
        let now = self.clock.now_ms();
        let seen_before = now - self.policy.idle.as_millis() as i64 - ROW_SLACK_MS;
        let started_before = now - self.policy.absolute.as_millis() as i64;
        self.store.delete_sessions_ended(seen_before, started_before, limit).await
    }

    /// Sessions held in memory now.
    #[doc(hidden)]
    pub fn cached(&self) -> usize {
        self.cache().len()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
