//! Announcements of moderation actions that open streams must react to (a
//! kick, a ban, a changed allow list; a deletion is a change in its room's
//! sequence, delivered like a message), and where they go: to
//! this instance's streams through a broadcast channel, and, with several
//! instances, out on the bus so the others' streams react too.
//!
//! Announcements are rare, so each stream filtering them costs nothing on
//! the message path. This module does not decide who may do what (that is
//! [`super::Moderation`]) and knows nothing of Redis: the bus takes and
//! gives plain [`Control`] values.

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use crate::auth::NameKey;
use crate::rooms::RoomName;

/// Announcements held for streams that have not read them yet.
const LOCAL_CAPACITY: usize = 256;

/// Something open streams must react to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "control", rename_all = "snake_case")]
pub enum Control {
    /// A visitor was kicked from a room.
    Kicked { room: RoomName, name: NameKey },
    /// A name was banned site-wide.
    Banned { name: NameKey },
    /// A room's allow list changed: streams re-check who may read.
    AccessChanged { room: RoomName },
}

/// Sends announcements to this instance's streams and to the other
/// instances. Clones share both channels.
#[derive(Clone)]
pub struct Announcer {
    local: broadcast::Sender<Control>,
    peers: Option<mpsc::Sender<Control>>,
}

impl Announcer {
    pub fn local_only() -> Self {
        Self { local: broadcast::channel(LOCAL_CAPACITY).0, peers: None }
    }

    /// Also sends every announcement made here to `peers` (the bus).
    pub fn with_peers(self, peers: mpsc::Sender<Control>) -> Self {
        Self { peers: Some(peers), ..self }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Control> {
        self.local.subscribe()
    }

    /// An action taken on this instance: every instance's streams hear it.
    pub fn announce(&self, control: Control) {
        if let Some(peers) = &self.peers
            && peers.try_send(control.clone()).is_err()
        {
            // Redis away for long: the other instances still pick the change
            // up from the store (policies and bans within seconds, tombstones
            // in history); only their open streams react late.
            tracing::warn!("bus outbox full: moderation announcement {control:?} not sent to other instances");
        }
        self.tell_streams(control);
    }

    /// An action another instance announced: only this instance's streams.
    pub fn tell_streams(&self, control: Control) {
        // Fails only when no stream is open, which is fine.
        let _ = self.local.send(control);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_round_trip_through_their_wire_form() {
        let room = RoomName::parse("lobby").unwrap();
        for control in [
            Control::Kicked { room: room.clone(), name: NameKey::new("bob") },
            Control::Banned { name: NameKey::new("eve") },
            Control::AccessChanged { room },
        ] {
            let wire = serde_json::to_string(&control).unwrap();
            assert_eq!(serde_json::from_str::<Control>(&wire).unwrap(), control, "{wire}");
        }
    }

    #[test]
    fn names_on_the_wire_are_the_same_strings_and_fold_when_read() {
        let control = Control::Kicked { room: RoomName::parse("lobby").unwrap(), name: NameKey::new("Bob") };
        let wire = serde_json::to_string(&control).unwrap();
        assert_eq!(wire, r#"{"control":"kicked","room":"lobby","name":"bob"}"#);
        let shouted = r#"{"control":"banned","name":"EVE"}"#;
        assert_eq!(serde_json::from_str::<Control>(shouted).unwrap(), Control::Banned { name: NameKey::new("eve") });
    }

    #[test]
    fn a_control_naming_an_invalid_room_is_refused() {
        let wire = r#"{"control":"deleted","room":"No Such Room!","id":1}"#;
        assert!(serde_json::from_str::<Control>(wire).is_err());
    }

    #[tokio::test]
    async fn an_announcement_reaches_local_streams_and_the_peers() {
        let (peers, mut outbox) = mpsc::channel(4);
        let announcer = Announcer::local_only().with_peers(peers);
        let mut stream = announcer.subscribe();
        announcer.announce(Control::Banned { name: NameKey::new("eve") });
        assert_eq!(stream.recv().await.unwrap(), Control::Banned { name: NameKey::new("eve") });
        assert_eq!(outbox.recv().await.unwrap(), Control::Banned { name: NameKey::new("eve") });
    }

    #[tokio::test]
    async fn an_announcement_from_a_peer_is_not_sent_back_out() {
        let (peers, mut outbox) = mpsc::channel(4);
        let announcer = Announcer::local_only().with_peers(peers);
        let mut stream = announcer.subscribe();
        announcer.tell_streams(Control::Banned { name: NameKey::new("eve") });
        assert!(stream.recv().await.is_ok());
        assert!(outbox.try_recv().is_err());
    }
}
