//! Who is online in each room right now, counted from the open event streams
//! of this process.
//!
//! A stream of a known visitor (a member, or a guest whose browser has a guest
//! cookie) holds one [`PresenceGuard`] per room it carries. A visitor is online
//! while any of their guards lives and for a grace period after the last one
//! drops, so a page reload (close, then reopen) never shows as leave-and-join,
//! and three tabs count once. Each room keeps its current [`Online`] snapshot
//! in a `watch` channel, serialized to JSON once per change, which streams and
//! `GET /rooms/<room>/presence` read. Joins and leaves are rare, so all work
//! happens on them; message delivery never touches this module. It knows
//! nothing of HTTP, and nothing of other instances: with several instances
//! each one only sees its own streams.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Duration;

mod member;
mod peers;

pub use member::Member;
pub use peers::{REFRESH, REMOTE_TTL, RemoteList};

use serde::Serialize;
use tokio::sync::watch;

use crate::rooms::RoomName;

/// How long a visitor stays online after their last stream in a room closes,
/// unless `presence_grace_ms` says otherwise.
pub const DEFAULT_GRACE_MS: u64 = 5000;

/// Most people an online list names; `count` says how many there are. Every
/// join and leave sends the list to every stream of the room, so a full list
/// would make a crowd's arrival cost the square of its size (2000 sockets
/// joining one room measured 146 KiB per socket before the cap).
pub const MAX_LISTED: usize = 100;

/// How often, at most, the list of a room with more people than it names
/// is sent again. Each change wakes every stream of the room, so a crowd of
/// n arriving one by one would cost n² wake-ups (19,000 WebSockets joining
/// one room managed 23 a second before this); changes within the interval
/// go out together at its end. Smaller rooms see every change at once.
pub const CROWD_INTERVAL: Duration = Duration::from_millis(500);

/// A room's online list at one moment, with its JSON made once:
/// `{"room": "lobby", "online": [{"user": "alice", "guest": false}], "count": 1}`
/// (the first [`MAX_LISTED`] in list order, and how many are online).
#[derive(Debug, Serialize)]
pub struct Online {
    pub room: RoomName,
    #[serde(rename = "online")]
    pub members: Vec<Member>,
    pub count: usize,
    #[serde(skip)]
    pub json: Arc<str>,
    /// Its WebSocket frame, made by the first socket that sends it.
    #[serde(skip)]
    ws: OnceLock<Arc<str>>,
}

impl Online {
    fn new(room: RoomName, members: Vec<Member>, count: usize) -> Arc<Self> {
        let mut online = Self { room, members, count, json: "".into(), ws: OnceLock::new() };
        online.json = serde_json::to_string(&online).expect("always serializes").into();
        Arc::new(online)
    }

    /// The list's WebSocket frame: made by `make` once, shared by every
    /// socket of the room (like a message's).
    pub fn ws_frame(&self, make: impl FnOnce(&Self) -> Arc<str>) -> Arc<str> {
        self.ws.get_or_init(|| make(self)).clone()
    }
}

/// The presence of every room. Cloning shares the same state.
#[derive(Clone)]
pub struct Presence {
    inner: Arc<Inner>,
}

struct Inner {
    /// Itself, for the timers that send a crowd's list later.
    me: Weak<Inner>,
    /// A std mutex: held only for map updates, never across an `.await`.
    rooms: Mutex<HashMap<RoomName, RoomState>>,
    grace: Duration,
    /// How this instance tells the others of its part of each list.
    peers: OnceLock<peers::PeerLink>,
}

struct RoomState {
    /// Who is online through this instance's streams.
    members: BTreeMap<Member, Entry>,
    /// Who is online through other instances', by instance.
    remote: HashMap<u64, peers::Remote>,
    snapshot: watch::Sender<Arc<Online>>,
    /// When the list was last published, and whether a publish is waiting
    /// for [`CROWD_INTERVAL`] to pass.
    published_at: Option<tokio::time::Instant>,
    deferred: bool,
}

/// One member's open streams in a room.
struct Entry {
    streams: usize,
    /// Bumped each time the count drops to zero, so a leave timer started
    /// before a rejoin (and a later drop) knows it is stale.
    generation: u64,
}

impl Presence {
    pub fn new(grace: Duration) -> Self {
        let inner = Arc::new_cyclic(|me| Inner {
            me: me.clone(),
            rooms: Mutex::new(HashMap::new()),
            grace,
            peers: OnceLock::new(),
        });
        Self { inner }
    }

    /// Counts one more open stream of `member` in `room` until the guard drops.
    pub fn join(&self, room: &RoomName, member: Member) -> PresenceGuard {
        let mut rooms = self.inner.rooms();
        let state = rooms.entry(room.clone()).or_insert_with(|| RoomState::new(room));
        // Already online (another tab, or back within the grace period) is
        // no change, unless they come back under another display name: the
        // newest stream's name is the one shown.
        let known = state.members.get_key_value(&member).map(|(key, _)| key.same_as_shown(&member));
        // A map keeps the key first inserted: out and back in, under the
        // newest name.
        let entry = state.members.remove(&member).unwrap_or(Entry { streams: 0, generation: 0 });
        state.members.insert(member.clone(), Entry { streams: entry.streams + 1, ..entry });
        if known != Some(true) {
            self.inner.local_changed(state, room);
        }
        PresenceGuard { room: room.clone(), member, inner: Arc::downgrade(&self.inner) }
    }

    /// Subscribes to a room's online list; see [`PresenceWatch`].
    pub fn watch(&self, room: &RoomName) -> PresenceWatch {
        let mut rooms = self.inner.rooms();
        let state = rooms.entry(room.clone()).or_insert_with(|| RoomState::new(room));
        let receiver = state.snapshot.subscribe();
        PresenceWatch { receiver: Some(receiver), room: room.clone(), inner: self.inner.clone() }
    }

    /// Who is online in `room` now.
    pub fn online(&self, room: &RoomName) -> Arc<Online> {
        match self.inner.rooms().get(room) {
            Some(state) => state.snapshot.borrow().clone(),
            None => Online::new(room.clone(), Vec::new(), 0),
        }
    }

    /// How many rooms have presence state (someone online or watching).
    pub fn tracked_rooms(&self) -> usize {
        self.inner.rooms().len()
    }
}

impl RoomState {
    fn new(room: &RoomName) -> Self {
        let (snapshot, _) = watch::channel(Online::new(room.clone(), Vec::new(), 0));
        Self { members: BTreeMap::new(), remote: HashMap::new(), snapshot, published_at: None, deferred: false }
    }

    /// Publishes the room's list (this instance's members and the other
    /// instances'), unless it is the one already published.
    fn publish(&self, room: &RoomName) {
        // Only the names listed are copied: a crowd's change costs no more
        // than a small room's.
        let (listed, count): (Vec<Member>, usize) = if self.remote.is_empty() {
            (self.members.keys().take(MAX_LISTED).cloned().collect(), self.members.len())
        } else {
            let mut all: std::collections::BTreeSet<&Member> = self.members.keys().collect();
            all.extend(self.remote.values().flat_map(|remote| remote.members.iter()));
            (all.iter().take(MAX_LISTED).map(|m| (*m).clone()).collect(), all.len())
        };
        let current = self.snapshot.borrow().clone();
        let unchanged = current.count == count
            && current.members.len() == listed.len()
            && current.members.iter().zip(&listed).all(|(a, b)| a.same_as_shown(b));
        if unchanged {
            return;
        }
        // `send_replace` stores the value even when nobody watches yet.
        self.snapshot.send_replace(Online::new(room.clone(), listed, count));
    }

    fn is_idle(&self) -> bool {
        self.members.is_empty() && self.remote.is_empty() && self.snapshot.receiver_count() == 0
    }
}

type Rooms = HashMap<RoomName, RoomState>;

impl Inner {
    fn rooms(&self) -> MutexGuard<'_, Rooms> {
        // Every change is a single insert, remove or counter update, so a
        // panic elsewhere cannot leave the map half updated.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// After a change to this instance's members of `room`: the list
    /// again, and the other instances told.
    fn local_changed(&self, state: &mut RoomState, room: &RoomName) {
        self.publish_soon(state, room);
        if let Some(link) = self.peers.get() {
            link.tell(room, state.members.keys());
        }
    }

    /// Publishes the room's list now, or, for a crowd whose list went out
    /// less than [`CROWD_INTERVAL`] ago, once that interval has passed.
    fn publish_soon(&self, state: &mut RoomState, room: &RoomName) {
        let now = tokio::time::Instant::now;
        let runtime = tokio::runtime::Handle::try_current();
        let wait = match (&runtime, state.published_at) {
            (Ok(_), Some(at)) if state.members.len() > MAX_LISTED => CROWD_INTERVAL.saturating_sub(at.elapsed()),
            _ => Duration::ZERO,
        };
        match runtime {
            Ok(runtime) if !wait.is_zero() => {
                if !state.deferred {
                    state.deferred = true;
                    let (me, room) = (self.me.clone(), room.clone());
                    runtime.spawn(async move {
                        tokio::time::sleep(wait).await;
                        let Some(inner) = me.upgrade() else { return };
                        let mut rooms = inner.rooms();
                        if let Some(state) = rooms.get_mut(&room).filter(|state| state.deferred) {
                            state.deferred = false;
                            state.publish(&room);
                            state.published_at = Some(now());
                        }
                    });
                }
            }
            _ => {
                state.deferred = false;
                state.publish(room);
                state.published_at = Some(now());
            }
        }
    }

    /// Ends a member's grace period: gone, unless they came back since.
    fn expire(&self, room: &RoomName, member: &Member, generation: u64) {
        let mut rooms = self.rooms();
        self.expire_locked(&mut rooms, room, member, generation);
    }

    fn expire_locked(&self, rooms: &mut Rooms, room: &RoomName, member: &Member, generation: u64) {
        let Some(state) = rooms.get_mut(room) else { return };
        let stale = state.members.get(member).is_none_or(|e| e.streams > 0 || e.generation != generation);
        if stale {
            return;
        }
        state.members.remove(member);
        self.local_changed(state, room);
        if state.is_idle() {
            rooms.remove(room);
        }
    }
}

/// One open stream's place in a room's presence; dropping it starts the
/// member's grace period if it was their last stream there.
pub struct PresenceGuard {
    room: RoomName,
    member: Member,
    /// Weak: a stream outliving the server's state must not keep it alive.
    inner: Weak<Inner>,
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        let Some(inner) = self.inner.upgrade() else { return };
        let mut rooms = inner.rooms();
        let Some(entry) = rooms.get_mut(&self.room).and_then(|s| s.members.get_mut(&self.member)) else { return };
        entry.streams -= 1;
        if entry.streams > 0 {
            return;
        }
        entry.generation += 1;
        let generation = entry.generation;
        let runtime = tokio::runtime::Handle::try_current();
        match runtime {
            Ok(runtime) if !inner.grace.is_zero() => {
                drop(rooms);
                let (room, member, weak, grace) =
                    (self.room.clone(), self.member.clone(), self.inner.clone(), inner.grace);
                runtime.spawn(async move {
                    tokio::time::sleep(grace).await;
                    if let Some(inner) = weak.upgrade() {
                        inner.expire(&room, &member, generation);
                    }
                });
            }
            // No grace, or no runtime to wait on (the server is gone): now.
            _ => inner.expire_locked(&mut rooms, &self.room, &self.member, generation),
        }
    }
}

/// A subscription to one room's online list, for as long as a stream lives.
pub struct PresenceWatch {
    receiver: Option<watch::Receiver<Arc<Online>>>,
    room: RoomName,
    inner: Arc<Inner>,
}

impl PresenceWatch {
    /// The current list, marking it seen.
    pub fn current(&mut self) -> Arc<Online> {
        self.receiver().borrow_and_update().clone()
    }

    /// Waits for the list to change and returns the newest one (changes that
    /// come in a burst are seen once, as their result). Cancel-safe.
    pub async fn changed(&mut self) -> Arc<Online> {
        let receiver = self.receiver();
        if receiver.changed().await.is_err() {
            // The room's state only goes away once nobody watches it, which
            // cannot happen while this receiver exists.
            return std::future::pending().await;
        }
        receiver.borrow_and_update().clone()
    }

    fn receiver(&mut self) -> &mut watch::Receiver<Arc<Online>> {
        self.receiver.as_mut().expect("receiver present until drop")
    }
}

impl Drop for PresenceWatch {
    fn drop(&mut self) {
        // Drop our receiver before counting, under the lock `watch` takes too.
        drop(self.receiver.take());
        let mut rooms = self.inner.rooms();
        if rooms.get(&self.room).is_some_and(RoomState::is_idle) {
            rooms.remove(&self.room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    fn names(online: &Online) -> Vec<(&str, bool)> {
        online.members.iter().map(|m| (m.user.as_str(), m.guest)).collect()
    }

    #[test]
    fn a_crowd_is_listed_up_to_the_cap_and_counted_in_full() {
        let presence = Presence::new(Duration::ZERO);
        let lobby = room("lobby");
        let _guards: Vec<_> =
            (0..MAX_LISTED + 5).map(|i| presence.join(&lobby, Member::new(format!("user{i:03}"), false))).collect();
        let online = presence.online(&lobby);
        assert_eq!(online.count, MAX_LISTED + 5);
        assert_eq!(online.members.len(), MAX_LISTED);
        assert_eq!(online.members[0].user, "user000", "the list keeps its order");
    }

    #[tokio::test(start_paused = true)]
    async fn a_crowds_list_goes_out_at_most_once_per_interval() {
        let presence = Presence::new(Duration::ZERO);
        let lobby = room("lobby");
        let mut watch = presence.watch(&lobby);
        let mut guards: Vec<_> =
            (0..MAX_LISTED).map(|i| presence.join(&lobby, Member::new(format!("user{i:03}"), false))).collect();
        assert_eq!(presence.online(&lobby).count, MAX_LISTED, "a room the list can name sees each change at once");
        watch.current();
        guards.extend((MAX_LISTED..MAX_LISTED + 50).map(|i| presence.join(&lobby, Member::new(format!("u{i}"), true))));
        assert_eq!(presence.online(&lobby).count, MAX_LISTED, "a crowd's changes wait for the interval");
        let online = tokio::time::timeout(CROWD_INTERVAL * 2, watch.changed()).await.expect("sent after the interval");
        assert_eq!(online.count, MAX_LISTED + 50, "all fifty arrivals in one change");
        drop(guards.pop());
        assert_eq!(presence.online(&lobby).count, MAX_LISTED + 50);
        tokio::time::sleep(CROWD_INTERVAL + Duration::from_millis(1)).await;
        assert_eq!(presence.online(&lobby).count, MAX_LISTED + 49, "the leave goes out at the interval's end");
    }

    #[tokio::test]
    async fn three_streams_of_one_member_count_once_and_members_come_first() {
        let presence = Presence::new(Duration::ZERO);
        let lobby = room("lobby");
        let tabs: Vec<_> = (0..3).map(|_| presence.join(&lobby, Member::new("alice", false))).collect();
        let _guest = presence.join(&lobby, Member::new("guest-abc123", true));
        let _bob = presence.join(&lobby, Member::new("bob", false));
        assert_eq!(names(&presence.online(&lobby)), [("alice", false), ("bob", false), ("guest-abc123", true)]);
        drop(tabs);
        assert_eq!(names(&presence.online(&lobby)), [("bob", false), ("guest-abc123", true)]);
        assert_eq!(
            &*presence.online(&lobby).json,
            r#"{"room":"lobby","online":[{"user":"bob","display":"bob","guest":false},{"user":"guest-abc123","display":"guest-abc123","guest":true}],"count":2}"#
        );
    }

    #[tokio::test]
    async fn a_member_stays_through_the_grace_period_and_a_quick_return_is_no_change() {
        let presence = Presence::new(Duration::from_millis(100));
        let lobby = room("lobby");
        let mut watch = presence.watch(&lobby);
        assert!(watch.current().members.is_empty());
        let first = presence.join(&lobby, Member::new("alice", false));
        assert_eq!(names(&*watch.changed().await), [("alice", false)]);
        drop(first);
        // A reload: back within the grace period.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let second = presence.join(&lobby, Member::new("alice", false));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(names(&presence.online(&lobby)), [("alice", false)], "the stale timer did nothing");
        assert!(!watch.receiver().has_changed().unwrap(), "no leave and join was published");
        drop(second);
        assert_eq!(names(&presence.online(&lobby)), [("alice", false)], "still online during the grace period");
        let gone = tokio::time::timeout(Duration::from_secs(2), watch.changed()).await.unwrap();
        assert!(gone.members.is_empty());
    }

    #[tokio::test]
    async fn a_stream_opened_under_a_new_display_name_shows_it_without_counting_twice() {
        let presence = Presence::new(Duration::ZERO);
        let lobby = room("lobby");
        let old = presence.join(&lobby, Member::displayed("alice", "Alice", false));
        assert_eq!(
            &*presence.online(&lobby).json,
            r#"{"room":"lobby","online":[{"user":"alice","display":"Alice","guest":false}],"count":1}"#
        );
        let new = presence.join(&lobby, Member::displayed("alice", "艾丽丝", false));
        let online = presence.online(&lobby);
        assert_eq!((online.count, online.members[0].display.as_str()), (1, "艾丽丝"));
        drop(old);
        assert_eq!(presence.online(&lobby).count, 1, "still online through the newer stream");
        drop(new);
        assert_eq!(presence.online(&lobby).count, 0);
    }

    #[tokio::test]
    async fn idle_rooms_are_forgotten() {
        let presence = Presence::new(Duration::ZERO);
        let lobby = room("lobby");
        let watch = presence.watch(&lobby);
        let guard = presence.join(&lobby, Member::new("alice", false));
        assert_eq!(presence.tracked_rooms(), 1);
        drop(guard);
        assert_eq!(presence.tracked_rooms(), 1, "still watched");
        drop(watch);
        assert_eq!(presence.tracked_rooms(), 0);
        assert!(presence.online(&lobby).members.is_empty());
    }
}
