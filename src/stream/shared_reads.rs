//! Replay page reads shared between feeds: when many subscribers resume
//! the same room from the same cursor at once (a reconnect storm after a
//! network blip or a restart behind the proxy), they ask the store for the
//! same bounded page; the first asks, the others wait for its answer and
//! get the same `Arc<Delivery>` values (so each frame is also serialized
//! once). This module owns only that single flight; it must not share any
//! read whose answer depends on when it is made.
//!
//! Why a joiner gets what it would have read itself: a read is keyed by
//! (room, after, before, limit), and only bounded replay pages come here,
//! whose `before` is `to + 1` with `to` the room's newest number read
//! ([`crate::store::Store::last_id`]) by the feed *before* it asked. Every
//! caller with that key read the same `to`, so the entry numbered `to`,
//! and every one before it (numbers are taken in commit order), was
//! committed before the shared query started, whoever started it: the page
//! `(after, to]` is complete in it. What came after `to` reaches each feed
//! live, as it does today (each subscribed before reading `to`). Unbounded
//! reads (a lagging subscriber's catch-up) are never shared: their answer
//! depends on when they run.
//!
//! A flight is in the map only while its query runs: whoever asks after it
//! ended reads afresh. A failed query (or a first caller dropped while
//! waiting) poisons nothing: its waiters each read on their own, and the
//! next caller starts a new flight.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::rooms::{Delivery, RoomName};
use crate::store::StoreError;

/// A page of a room's sequence, shared by every feed that read it.
pub type Page = Arc<[Arc<Delivery>]>;

/// What identifies a bounded page read: `after < seq < before`, at most
/// `limit` entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub room: RoomName,
    pub after: i64,
    pub before: i64,
    pub limit: u32,
}

/// How a flight ended, as its waiters see it.
#[derive(Clone)]
enum Landing {
    InFlight,
    Read(Page),
    Failed,
}

/// The page reads in flight, one per key. One per hub (so per app).
pub struct SharedReads {
    /// A std mutex: held for one lookup, never across an `.await`.
    flights: Mutex<HashMap<PageKey, watch::Receiver<Landing>>>,
    metrics: Arc<Metrics>,
}

impl SharedReads {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { flights: Mutex::new(HashMap::new()), metrics }
    }

    /// The page `key` names: joins the identical read in flight if there is
    /// one, otherwise runs `read` (the store query for exactly `key`) and
    /// lets every caller meanwhile join it. A caller whose flight failed
    /// runs `read` itself.
    pub async fn page<F, Fut>(&self, key: PageKey, read: F) -> Result<Page, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<Arc<Delivery>>, StoreError>>,
    {
        let joined = {
            let mut flights = self.flights();
            match flights.get(&key) {
                Some(flight) => Err(flight.clone()),
                None => {
                    let (landing, flight) = watch::channel(Landing::InFlight);
                    flights.insert(key.clone(), flight);
                    Ok(landing)
                }
            }
        };
        match joined {
            Ok(landing) => {
                let mut leading = Leading { reads: self, key: Some(key), landing };
                self.metrics.replay_reads.inc();
                let result = read().await.map(Page::from);
                leading.land(match &result {
                    Ok(page) => Landing::Read(page.clone()),
                    Err(_) => Landing::Failed,
                });
                result
            }
            Err(mut flight) => {
                let landed = flight.wait_for(|landing| !matches!(landing, Landing::InFlight)).await.map(|l| l.clone());
                if let Ok(Landing::Read(page)) = landed {
                    self.metrics.replay_reads_shared.inc();
                    return Ok(page);
                }
                // Failed, or its first caller went away: read alone.
                self.metrics.replay_reads.inc();
                read().await.map(Page::from)
            }
        }
    }

    /// Reads in flight now.
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.flights().len()
    }

    fn flights(&self) -> MutexGuard<'_, HashMap<PageKey, watch::Receiver<Landing>>> {
        // Every change is one insert or remove: a panic elsewhere cannot
        // leave the map half updated.
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The caller whose query a flight is. It takes the flight out of the map
/// before telling the waiters (a caller arriving after that reads afresh),
/// and does so even if dropped before its query ended: the waiters then
/// see the flight gone and read on their own.
struct Leading<'a> {
    reads: &'a SharedReads,
    key: Option<PageKey>,
    landing: watch::Sender<Landing>,
}

impl Leading<'_> {
    fn land(&mut self, landing: Landing) {
        self.leave();
        // No receiver left is fine: nobody joined.
        let _ = self.landing.send(landing);
    }

    fn leave(&mut self) {
        // Only the leader removes its key, and nobody inserts a key that
        // is present: the entry under it is this flight.
        if let Some(key) = self.key.take() {
            self.reads.flights().remove(&key);
        }
    }
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use rocket::futures::FutureExt;
    use rocket::futures::future::join_all;

    use super::*;
    use crate::rooms::{Author, MessageText};
    use crate::stream::hub::tests::delivery;

    fn key(after: i64) -> PageKey {
        PageKey { room: RoomName::parse("storm").unwrap(), after, before: after + 4, limit: 100 }
    }

    /// A read that yields before answering (as a store query does), and
    /// counts how often it ran.
    async fn slow_read(ran: &AtomicUsize, after: i64, fail: bool) -> Result<Vec<Arc<Delivery>>, StoreError> {
        ran.fetch_add(1, Ordering::SeqCst);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        if fail {
            return Err(StoreError::WriterStopped);
        }
        let room = RoomName::parse("storm").unwrap();
        Ok((after + 1..after + 4).map(|id| delivery(&room, id)).collect())
    }

    fn counts(metrics: &Metrics) -> (u64, u64) {
        (metrics.replay_reads.get(), metrics.replay_reads_shared.get())
    }

    #[tokio::test]
    async fn identical_reads_at_once_make_one_query_and_share_its_entries() {
        let metrics = Metrics::new();
        let reads = SharedReads::new(metrics.clone());
        let ran = AtomicUsize::new(0);
        let pages = join_all((0..50).map(|_| reads.page(key(7), || slow_read(&ran, 7, false)))).await;
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(counts(&metrics), (1, 49));
        let first = pages[0].as_ref().unwrap();
        assert_eq!(first.iter().map(|d| d.seq()).collect::<Vec<_>>(), [8, 9, 10]);
        for page in &pages {
            assert!(Arc::ptr_eq(page.as_ref().unwrap(), first), "the same entries, serialized once");
        }
        assert_eq!(reads.in_flight(), 0);
        // Over: the next caller reads afresh.
        reads.page(key(7), || slow_read(&ran, 7, false)).await.unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 2);
        assert_eq!(counts(&metrics), (2, 49));
    }

    #[tokio::test]
    async fn different_keys_do_not_share() {
        let metrics = Metrics::new();
        let reads = SharedReads::new(metrics.clone());
        let ran = AtomicUsize::new(0);
        let mut keys: Vec<PageKey> = (0..5).map(key).collect();
        keys.push(PageKey { before: 99, ..key(0) });
        keys.push(PageKey { limit: 1, ..key(0) });
        keys.push(PageKey { room: RoomName::parse("other").unwrap(), ..key(0) });
        let pages = join_all(keys.iter().map(|k| reads.page(k.clone(), || slow_read(&ran, k.after, false)))).await;
        assert!(pages.iter().all(Result::is_ok));
        assert_eq!(ran.load(Ordering::SeqCst), keys.len());
        assert_eq!(counts(&metrics), (keys.len() as u64, 0));
    }

    #[tokio::test]
    async fn a_failed_read_fails_its_caller_only_and_poisons_nothing() {
        let metrics = Metrics::new();
        let reads = SharedReads::new(metrics.clone());
        let ran = AtomicUsize::new(0);
        let failing = reads.page(key(3), || slow_read(&ran, 3, true));
        let joiners = join_all((0..4).map(|_| reads.page(key(3), || slow_read(&ran, 3, false))));
        let (failed, joined) = tokio::join!(failing, joiners);
        assert!(matches!(failed, Err(StoreError::WriterStopped)));
        // Each waiter read on its own (their first answer was the failure).
        assert!(joined.iter().all(|page| page.as_ref().is_ok_and(|p| p.len() == 3)));
        assert_eq!(ran.load(Ordering::SeqCst), 5);
        assert_eq!(reads.in_flight(), 0);
        reads.page(key(3), || slow_read(&ran, 3, false)).await.unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn a_first_caller_that_goes_away_leaves_its_waiters_to_read() {
        let metrics = Metrics::new();
        let reads = SharedReads::new(metrics.clone());
        let ran = AtomicUsize::new(0);
        let never = || async {
            std::future::pending::<()>().await;
            Ok(Vec::new())
        };
        let mut leader = Box::pin(reads.page(key(1), never));
        assert!(leader.as_mut().now_or_never().is_none());
        let mut waiter = Box::pin(reads.page(key(1), || slow_read(&ran, 1, false)));
        assert!(waiter.as_mut().now_or_never().is_none(), "joined the flight");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        drop(leader);
        assert_eq!(reads.in_flight(), 0);
        assert_eq!(waiter.await.unwrap().len(), 3);
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(reads.in_flight(), 0);
    }

    /// Feeds on a real store (a temporary SQLite database).
    mod feeds {
        use super::*;
        use crate::store::{NewMessage, Store};
        use crate::stream::{Feed, FeedItem, Hub, Start};

        const BEHIND: i64 = 30;

        /// A store whose room `storm` holds messages 1 to 10 + [`BEHIND`].
        async fn room_with_backlog() -> (Store, Hub, RoomName, tempfile::TempDir) {
            let dir = tempfile::tempdir().unwrap();
            let hub = Hub::new(16);
            let url = format!("sqlite://{}", dir.path().join("chat.db").display());
            let store = Store::open(&url, Arc::new(hub.clone())).await.unwrap();
            let room = RoomName::parse("storm").unwrap();
            let author =
                Author { name: "alice".into(), display: "alice".into(), guest: false, user_id: None, bot: false };
            for i in 0..10 + BEHIND {
                let text = format!("m{i}");
                let html = crate::rooms::format::render(&text);
                let text = MessageText::parse(&text).unwrap();
                let message = NewMessage {
                    room: room.clone(),
                    author: author.clone(),
                    text,
                    html,
                    reply_to: None,
                    attachments: Vec::new(),
                };
                store.append(message).await.unwrap();
            }
            (store, hub, room, dir)
        }

        /// Everything a feed replays, up to the room's newest id.
        async fn replay(feed: &mut Feed, newest: i64) -> Vec<Arc<Delivery>> {
            let mut got: Vec<Arc<Delivery>> = Vec::new();
            while got.last().is_none_or(|d| d.seq() < newest) {
                match feed.next().await.unwrap().unwrap() {
                    FeedItem::Message(delivery) => got.push(delivery),
                    FeedItem::Reset => panic!("a reset instead of the replay"),
                }
            }
            got
        }

        #[tokio::test]
        async fn feeds_resuming_alike_at_once_share_their_reads_and_each_gets_all_in_order() {
            let (store, hub, room, _dir) = room_with_backlog().await;
            let feeds = 40;
            let opened = join_all((0..feeds).map(|_| Feed::open(store.clone(), &hub, room.clone(), Start::After(10))));
            let mut opened: Vec<Feed> = opened.await.into_iter().map(Result::unwrap).collect();
            let (queries, shared) = counts(hub.metrics());
            assert_eq!(queries + shared, feeds, "one page each (30 < REPLAY_PAGE)");
            assert!(queries <= feeds / 4, "{queries} store queries for {feeds} feeds");
            let first = replay(&mut opened[0], 10 + BEHIND).await;
            assert_eq!(first.iter().map(|d| d.seq()).collect::<Vec<_>>(), (11..=10 + BEHIND).collect::<Vec<_>>());
            for feed in &mut opened[1..] {
                let got = replay(feed, 10 + BEHIND).await;
                assert_eq!(got.iter().map(|d| d.seq()).collect::<Vec<_>>(), (11..=10 + BEHIND).collect::<Vec<_>>());
            }
            // A resume once those reads are over reads afresh.
            let mut later = Feed::open(store.clone(), &hub, room.clone(), Start::After(10)).await.unwrap();
            assert_eq!(counts(hub.metrics()), (queries + 1, shared));
            assert_eq!(replay(&mut later, 10 + BEHIND).await.len(), BEHIND as usize);
        }

        #[tokio::test]
        async fn feeds_resuming_from_different_cursors_do_not_share() {
            let (store, hub, room, _dir) = room_with_backlog().await;
            let cursors: Vec<i64> = (1..=10).collect();
            let opened =
                join_all(cursors.iter().map(|&c| Feed::open(store.clone(), &hub, room.clone(), Start::After(c))));
            let opened: Vec<Feed> = opened.await.into_iter().map(Result::unwrap).collect();
            assert_eq!(counts(hub.metrics()), (cursors.len() as u64, 0));
            for (mut feed, cursor) in opened.into_iter().zip(cursors) {
                let got = replay(&mut feed, 10 + BEHIND).await;
                assert_eq!(got.first().map(|d| d.seq()), Some(cursor + 1));
                assert_eq!(got.len() as i64, 10 + BEHIND - cursor);
            }
        }
    }
}
