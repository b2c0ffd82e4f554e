//! Presence across instances: each instance tells the others its own part
//! of a room's online list whenever that part changes, and again every
//! [`REFRESH`] for every room it has someone in; each shows the union. A
//! part not refreshed for [`REMOTE_TTL`] (its instance died, or lost the
//! bus) is dropped, so someone whose instance dies drops off within the
//! presence grace period plus a few seconds.
//!
//! Parts travel as signals (`signals::Signal::Presence`) on the bus; this
//! file only makes and applies them.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{Inner, Member, Presence, RoomState};
use crate::rooms::RoomName;
use crate::signals::Signal;
use crate::tasks::Tasks;

/// How often an instance repeats its part of every room it has someone in.
pub const REFRESH: Duration = Duration::from_secs(2);

/// How long another instance's part counts without being repeated.
pub const REMOTE_TTL: Duration = Duration::from_secs(5);

/// Most names one instance's part of a list carries.
const MAX_SHARED: usize = 1000;

/// Another instance's part of a room's list, as it arrives.
#[derive(Debug, Clone)]
pub struct RemoteList {
    pub instance: u64,
    pub room: RoomName,
    pub members: Vec<Member>,
}

/// Another instance's part, kept until it expires.
pub(super) struct Remote {
    pub(super) members: Vec<Member>,
    expires: Instant,
}

/// This instance's way to the others.
pub(super) struct PeerLink {
    instance: u64,
    out: mpsc::Sender<Signal>,
}

impl PeerLink {
    /// Tells the others this instance's part of `room` (dropped if the bus
    /// is backed up: the next refresh repeats it).
    pub(super) fn tell<'a>(&self, room: &RoomName, members: impl Iterator<Item = &'a Member>) {
        let _ = self.out.try_send(self.part(room, members));
    }

    fn part<'a>(&self, room: &RoomName, members: impl Iterator<Item = &'a Member>) -> Signal {
        let members = members.take(MAX_SHARED).cloned().collect();
        Signal::Presence { instance: self.instance, room: room.clone(), members }
    }
}

impl Presence {
    /// Shares presence with the other instances: this instance's parts go
    /// to `out`, the others' come from `incoming`. Call once.
    pub fn share(&self, out: mpsc::Sender<Signal>, mut incoming: mpsc::Receiver<RemoteList>, tasks: &Tasks) {
        let link = PeerLink { instance: rand::random(), out };
        if self.inner.peers.set(link).is_err() {
            return;
        }
        let inner = self.inner.clone();
        tasks.spawn("presence across instances", async move {
            let mut refresh = tokio::time::interval(REFRESH);
            loop {
                tokio::select! {
                    remote = incoming.recv() => match remote {
                        Some(remote) => inner.apply_remote(remote),
                        None => return,
                    },
                    _ = refresh.tick() => {
                        // Sent outside the lock, waiting for the bus: a
                        // thousand rooms must not be dropped for a full queue.
                        for part in inner.refresh() {
                            if link_out(&inner).send(part).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
    }
}

impl Inner {
    fn apply_remote(&self, remote: RemoteList) {
        let mut rooms = self.rooms();
        let RemoteList { instance, room, members } = remote;
        if members.is_empty() && !rooms.contains_key(&room) {
            return;
        }
        let state = rooms.entry(room.clone()).or_insert_with(|| RoomState::new(&room));
        if members.is_empty() {
            state.remote.remove(&instance);
        } else {
            state.remote.insert(instance, Remote { members, expires: Instant::now() + REMOTE_TTL });
        }
        state.publish(&room);
        if state.is_idle() {
            rooms.remove(&room);
        }
    }

    /// Drops the other instances' parts that expired; answers this
    /// instance's parts, to repeat.
    fn refresh(&self) -> Vec<Signal> {
        let now = Instant::now();
        let mut parts = Vec::new();
        let mut rooms = self.rooms();
        for (room, state) in rooms.iter_mut() {
            if !state.members.is_empty()
                && let Some(link) = self.peers.get()
            {
                parts.push(link.part(room, state.members.keys()));
            }
            let before = state.remote.len();
            state.remote.retain(|_, remote| remote.expires > now);
            if state.remote.len() != before {
                state.publish(room);
            }
        }
        rooms.retain(|_, state| !state.is_idle());
        parts
    }
}

fn link_out(inner: &Inner) -> &mpsc::Sender<Signal> {
    &inner.peers.get().expect("set before the task starts").out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_list_is_the_union_of_every_instances_part_until_one_goes_quiet() {
        let presence = Presence::new(Duration::ZERO);
        let tasks = Tasks::new();
        let (out, mut told) = mpsc::channel(16);
        let (remote, incoming) = mpsc::channel(16);
        presence.share(out, incoming, &tasks);
        let lobby = RoomName::parse("lobby").unwrap();
        let mut watch = presence.watch(&lobby);
        let _alice = presence.join(&lobby, Member::new("alice", false));
        match told.recv().await.unwrap() {
            Signal::Presence { room, members, .. } => {
                assert_eq!((room, members), (lobby.clone(), vec![Member::new("alice", false)]))
            }
            other => panic!("{other:?}"),
        }
        remote
            .send(RemoteList {
                instance: 7,
                room: lobby.clone(),
                members: vec![Member::new("bob", false), Member::new("alice", false)],
            })
            .await
            .unwrap();
        let merged = loop {
            let online = watch.changed().await;
            if online.count == 2 {
                break online;
            }
        };
        assert_eq!(merged.members, [Member::new("alice", false), Member::new("bob", false)]);
        presence.inner.rooms().get_mut(&lobby).unwrap().remote.get_mut(&7).unwrap().expires = Instant::now();
        let parts = presence.inner.refresh();
        assert_eq!(parts.len(), 1, "alice's part is repeated");
        assert_eq!(presence.online(&lobby).count, 1, "bob's instance went quiet");
    }
}
