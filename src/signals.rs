//! Signals: what open streams are told that is not part of any room's
//! sequence: who is typing in a room, and how far an account has read; and,
//! between instances, each one's part of the rooms' online lists (handed to
//! `presence`).
//!
//! A signal is never stored and never replayed (a stream that was away
//! missed it, as it should: it was about that moment). Each goes to this
//! instance's streams of its room (typing) or of its account (read) and,
//! with several instances, out on the bus to the others, which hand it to
//! their own streams ([`Signals::follow_peers`]). Typing is forwarded at
//! most once per person per room each [`TYPING_EVERY`]. Each signal's JSON
//! and WebSocket frame are made once, however many streams send it.
//!
//! Channels exist per room and per account while streams listen; a map that
//! grew past twice its live size is pruned at the next listen. Delivering
//! costs one map lookup, whatever the number of rooms. This module knows
//! nothing of HTTP or Redis.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rocket::futures::stream::{self, BoxStream, SelectAll, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use crate::presence::{Member, RemoteList};
use crate::rooms::{RoomName, tagged_json};
use crate::tasks::Tasks;

/// The shortest time between two typing signals of one person in one room
/// that are both forwarded.
pub const TYPING_EVERY: Duration = Duration::from_secs(2);

/// Signals a stream may fall behind by before it skips some (they are
/// about the moment: a late one is worth nothing).
const CAPACITY: usize = 64;

/// Most typing limits remembered; beyond it the expired ones are forgotten.
const TYPING_ENTRIES: usize = 10_000;

/// Signals waiting to go out on the bus.
pub const OUTBOX: usize = 1024;

/// A signal, as it travels between instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Signal {
    /// `user` (whom the page calls `display`) is typing in `room`.
    Typing {
        room: RoomName,
        user: String,
        /// Empty only from an instance that predates display names.
        #[serde(default)]
        display: String,
    },
    /// Account `user_id` has read `room` up to `id`.
    Read { user_id: i64, room: RoomName, id: i64 },
    /// Instance `instance`'s part of `room`'s online list (see `presence`).
    Presence { instance: u64, room: RoomName, members: Vec<Member> },
}

/// A signal as streams send it: the SSE event name, the data, made once.
#[derive(Debug)]
pub struct Note {
    /// The SSE event name and WebSocket `type`: `typing` or `read`.
    pub kind: &'static str,
    /// For typing, who: a stream does not tell its own viewer.
    pub user: Option<String>,
    pub json: Arc<str>,
    /// Its WebSocket frame, `{"type": kind, ...}`.
    ws: Arc<str>,
}

/// What a stream is told, in the order clients read it.
#[derive(Serialize)]
#[serde(untagged)]
enum NoteData<'a> {
    Typing { room: &'a RoomName, user: &'a str, display: &'a str },
    Read { room: &'a RoomName, id: i64 },
}

impl Note {
    fn of(signal: &Signal) -> Arc<Self> {
        let (kind, user, data) = match signal {
            Signal::Typing { room, user, display } => {
                // An older peer's signal names no display name: the handle.
                let display = if display.is_empty() { user } else { display };
                ("typing", Some(user.clone()), NoteData::Typing { room, user, display })
            }
            Signal::Read { room, id, .. } => ("read", None, NoteData::Read { room, id: *id }),
            Signal::Presence { .. } => unreachable!("presence is never a stream's note"),
        };
        let json = serde_json::to_string(&data).expect("a signal always serializes");
        let ws = tagged_json(kind, &data).into();
        Arc::new(Self { kind, user, json: json.into(), ws })
    }

    /// `{"type": kind, ...}`, made with the note (every socket of the
    /// room sends the same).
    pub fn ws_frame(&self) -> Arc<str> {
        self.ws.clone()
    }
}

/// The signals service. Clones share everything.
#[derive(Clone)]
pub struct Signals {
    inner: Arc<Inner>,
}

struct Inner {
    rooms: Channels<RoomName>,
    users: Channels<i64>,
    typing: Mutex<HashMap<(RoomName, String), Instant>>,
    peers: Option<mpsc::Sender<Signal>>,
}

impl Signals {
    /// The service; `peers` is where signals made here go out to the other
    /// instances (none in process).
    pub fn new(peers: Option<mpsc::Sender<Signal>>) -> Self {
        let inner = Inner { rooms: Channels::new(), users: Channels::new(), typing: Mutex::default(), peers };
        Self { inner: Arc::new(inner) }
    }

    /// Hands the other instances' signals to this instance's streams, and
    /// their parts of online lists to `presence`.
    pub fn follow_peers(
        &self,
        mut incoming: mpsc::Receiver<Signal>,
        presence: mpsc::Sender<RemoteList>,
        tasks: &Tasks,
    ) {
        let signals = self.clone();
        tasks.spawn("signals from peers", async move {
            while let Some(signal) = incoming.recv().await {
                match signal {
                    Signal::Presence { instance, room, members } => {
                        let _ = presence.send(RemoteList { instance, room, members }).await;
                    }
                    signal => signals.deliver(&signal),
                }
            }
        });
    }

    /// `user` (displayed as `display`) is typing in `room`: told to the
    /// room's streams unless the same person's last signal there is under
    /// [`TYPING_EVERY`] old. Answers whether it was forwarded.
    pub fn typing(&self, room: &RoomName, user: &str, display: &str) -> bool {
        let now = Instant::now();
        {
            let mut typing = self.inner.typing.lock().unwrap_or_else(PoisonError::into_inner);
            let key = (room.clone(), user.to_lowercase());
            if typing.get(&key).is_some_and(|last| now.duration_since(*last) < TYPING_EVERY) {
                return false;
            }
            if typing.len() >= TYPING_ENTRIES {
                typing.retain(|_, last| now.duration_since(*last) < TYPING_EVERY);
            }
            typing.insert(key, now);
        }
        self.send(Signal::Typing { room: room.clone(), user: user.to_owned(), display: display.to_owned() });
        true
    }

    /// Account `user_id` has read `room` up to `id`: told to its streams.
    pub fn read(&self, user_id: i64, room: &RoomName, id: i64) {
        self.send(Signal::Read { user_id, room: room.clone(), id });
    }

    fn send(&self, signal: Signal) {
        self.deliver(&signal);
        if let Some(peers) = &self.inner.peers
            && peers.try_send(signal).is_err()
        {
            tracing::debug!("signals: the bus outbox is full; a signal stays on this instance");
        }
    }

    fn deliver(&self, signal: &Signal) {
        match signal {
            Signal::Typing { room, .. } => self.inner.rooms.send(room, || Note::of(signal)),
            Signal::Read { user_id, .. } => self.inner.users.send(user_id, || Note::of(signal)),
            // Parts of online lists go to `presence`, not to streams.
            Signal::Presence { .. } => {}
        }
    }

    /// The signals of `rooms` and, for a member, of their account, as one
    /// stream.
    pub fn listen(&self, rooms: &[RoomName], user_id: Option<i64>) -> SelectAll<BoxStream<'static, Arc<Note>>> {
        let mut all = SelectAll::new();
        for room in rooms {
            all.push(notes(self.inner.rooms.subscribe(room)));
        }
        if let Some(user_id) = user_id {
            all.push(notes(self.inner.users.subscribe(&user_id)));
        }
        all
    }
}

/// A receiver as a stream that skips what it fell behind on.
fn notes(receiver: broadcast::Receiver<Arc<Note>>) -> BoxStream<'static, Arc<Note>> {
    stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(note) => return Some((note, receiver)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .boxed()
}

/// One broadcast channel per key that has listeners.
struct Channels<K> {
    map: Mutex<ChannelMap<K>>,
}

struct ChannelMap<K> {
    senders: HashMap<K, broadcast::Sender<Arc<Note>>>,
    prune_at: usize,
}

impl<K: Hash + Eq + Clone> Channels<K> {
    fn new() -> Self {
        Self { map: Mutex::new(ChannelMap { senders: HashMap::new(), prune_at: 64 }) }
    }

    fn lock(&self) -> MutexGuard<'_, ChannelMap<K>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn subscribe(&self, key: &K) -> broadcast::Receiver<Arc<Note>> {
        let mut map = self.lock();
        let receiver = match map.senders.get(key) {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = broadcast::channel(CAPACITY);
                map.senders.insert(key.clone(), sender);
                receiver
            }
        };
        if map.senders.len() > map.prune_at {
            map.senders.retain(|_, sender| sender.receiver_count() > 0);
            map.prune_at = 2 * map.senders.len() + 64;
        }
        receiver
    }

    /// Sends the note `make` makes to `key`'s listeners, if it has any.
    fn send(&self, key: &K, make: impl FnOnce() -> Arc<Note>) {
        let map = self.lock();
        if let Some(sender) = map.senders.get(key)
            && sender.receiver_count() > 0
        {
            let _ = sender.send(make());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn typing_reaches_the_rooms_listeners_at_most_once_each_two_seconds() {
        let signals = Signals::new(None);
        let room = RoomName::parse("r").unwrap();
        let other = RoomName::parse("o").unwrap();
        let mut here = signals.listen(std::slice::from_ref(&room), None);
        let mut there = signals.listen(std::slice::from_ref(&other), None);
        assert!(signals.typing(&room, "alice", "Alice L."));
        assert!(!signals.typing(&room, "Alice", "Alice L."), "the same person within two seconds");
        assert!(signals.typing(&room, "bob", "bob"));
        let first = here.next().await.unwrap();
        assert_eq!((first.kind, &*first.json), ("typing", r#"{"room":"r","user":"alice","display":"Alice L."}"#));
        assert_eq!(&*first.ws_frame(), r#"{"type":"typing","room":"r","user":"alice","display":"Alice L."}"#);
        assert_eq!(here.next().await.unwrap().user.as_deref(), Some("bob"));
        assert!(there.next().now_or_never().is_none(), "another room hears nothing");
    }

    #[tokio::test]
    async fn reads_reach_only_that_accounts_streams() {
        let signals = Signals::new(None);
        let room = RoomName::parse("r").unwrap();
        let mut mine = signals.listen(&[], Some(1));
        let mut theirs = signals.listen(&[], Some(2));
        signals.read(1, &room, 7);
        assert_eq!(&*mine.next().await.unwrap().json, r#"{"room":"r","id":7}"#);
        assert!(theirs.next().now_or_never().is_none());
    }

    use rocket::futures::FutureExt;
}
