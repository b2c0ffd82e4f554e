//! The per-room broadcast queues, and the gate that keeps each room's
//! deliveries in id order, once each. The hub also carries what every feed
//! of the app shares besides the queues: the metrics and the replay reads
//! in flight ([`SharedReads`]).
//!
//! The gate is also where a new message's delivery latency is observed
//! (`delivery_seconds`): once per message here, as it goes on its queue,
//! whatever the number of subscribers; never in a subscriber's task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use prometheus::Histogram;
use tokio::sync::broadcast;

use super::shared_reads::SharedReads;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::rooms::{Delivery, Kind, RoomName};
use crate::store::Publish;

/// The set of live room queues. Cloning shares the same set.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    /// A std mutex: it is never held across an `.await`, only for a lookup.
    rooms: Mutex<RoomQueues>,
    metrics: Arc<Metrics>,
    /// Replay page reads in flight, for feeds resuming alike to join.
    replays: SharedReads,
    /// Messages a room's queue holds for its slowest subscriber before that
    /// subscriber lags (and is then caught up from the store).
    capacity: usize,
    /// What a message's latency is measured against (its `at` came from the
    /// same clock, on this instance or another).
    clock: Clock,
    /// `delivery_seconds` by [`Via`], looked up once rather than per message.
    latency: [Histogram; 3],
}

/// How a message reached the hub: the `path` label of `delivery_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// This instance's writer (straight, or through its own fan-out).
    Local,
    /// Another instance, heard on the Redis bus.
    Bus,
    /// Read from the store to fill a gap (a lost bus notice, a resync, the
    /// fan-out's sweep).
    Store,
}

impl Via {
    const ALL: [Via; 3] = [Via::Local, Via::Bus, Via::Store];

    pub fn label(self) -> &'static str {
        match self {
            Via::Local => "local",
            Via::Bus => "bus",
            Via::Store => "store",
        }
    }
}

/// One active room: its queue and the last id put on it.
struct RoomQueue {
    sender: broadcast::Sender<Arc<Delivery>>,
    /// `None` until the first delivery after the queue was created (its
    /// subscribers replayed history from the store up to then).
    last: Option<i64>,
}

/// What [`Hub::deliver`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Put on the room's queue.
    Delivered,
    /// Nobody here subscribes to the room: nothing to do.
    NoSubscribers,
    /// Already delivered (it came back over the bus, say): dropped.
    Duplicate,
    /// Ids after `after` and before this one have not been delivered: the
    /// caller fills them from the store, then offers this one again.
    Gap { after: i64 },
    /// Not delivered: it would be the first on its room's new queue, and set
    /// the cursor every later id is judged by. Only
    /// [`Hub::deliver_unless_first`] answers this.
    Fresh,
}

impl Hub {
    pub fn new(capacity: usize) -> Self {
        Self::with_metrics(capacity, Metrics::new(), Clock::system())
    }

    /// A hub that counts deliveries, lags and replays into `metrics`, and
    /// times deliveries by `clock`.
    pub fn with_metrics(capacity: usize, metrics: Arc<Metrics>, clock: Clock) -> Self {
        let replays = SharedReads::new(metrics.clone());
        let latency = Via::ALL.map(|via| metrics.delivery_seconds.with_label_values(&[via.label()]));
        let rooms = Mutex::new(HashMap::new());
        let inner = HubInner { rooms, metrics, replays, capacity: capacity.max(1), clock, latency };
        Self { inner: Arc::new(inner) }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The replay page reads in flight, shared by the feeds on this hub.
    pub(super) fn replays(&self) -> &SharedReads {
        &self.inner.replays
    }

    /// Subscribes to a room's queue, creating the queue if this is its first
    /// subscriber. Messages published after this call are received.
    pub fn subscribe(&self, room: &RoomName) -> RoomSubscription {
        let mut rooms = self.inner.rooms();
        let receiver = match rooms.get(room) {
            Some(queue) => queue.sender.subscribe(),
            None => {
                let (sender, receiver) = broadcast::channel(self.inner.capacity);
                rooms.insert(room.clone(), RoomQueue { sender, last: None });
                receiver
            }
        };
        RoomSubscription { receiver: Some(receiver), room: room.clone(), hub: self.inner.clone() }
    }

    /// How many rooms have at least one subscriber.
    pub fn active_rooms(&self) -> usize {
        self.inner.rooms().len()
    }

    /// The active rooms and the last id each has delivered, for catching up
    /// after the bus was away.
    pub fn cursors(&self) -> Vec<(RoomName, Option<i64>)> {
        self.inner.rooms().iter().map(|(room, queue)| (room.clone(), queue.last)).collect()
    }

    /// The last id put on `room`'s queue, if the room has subscribers and
    /// has delivered since its queue was made.
    pub fn last_delivered(&self, room: &RoomName) -> Option<i64> {
        self.inner.rooms().get(room).and_then(|queue| queue.last)
    }

    /// Puts a committed message, come `via` there, on its room's queue if
    /// it is the next one that room's queue is owed: one map lookup,
    /// whatever the number of rooms.
    pub fn deliver(&self, delivery: &Arc<Delivery>, via: Via) -> Gate {
        self.offer_at(delivery, via, true, false)
    }

    /// [`Hub::deliver`], except that a message that would be the first on
    /// its room's queue is left for the caller to vouch for ([`Gate::Fresh`]):
    /// a message heard on the bus whose id the store may not have.
    pub fn deliver_unless_first(&self, delivery: &Arc<Delivery>, via: Via) -> Gate {
        self.offer_at(delivery, via, false, false)
    }

    /// In-process delivery: [`Hub::deliver`], except that a gap does not
    /// hold the entry back. A gap in one process means a change committed
    /// just before this entry is still on its way to the hub; it is in the
    /// store already (its transaction held the room before this one could
    /// take a number), so each subscriber fills it from there, and the
    /// change itself is then dropped as a duplicate when it arrives.
    pub fn deliver_over_gap(&self, delivery: &Arc<Delivery>) -> Gate {
        match self.deliver(delivery, Via::Local) {
            Gate::Gap { .. } => self.offer_at(delivery, Via::Local, true, true),
            gate => gate,
        }
    }

    fn offer_at(&self, delivery: &Arc<Delivery>, via: Via, first_ok: bool, over_gap: bool) -> Gate {
        let gate = self.gate(delivery, first_ok, over_gap);
        // Outside the lock: a clock read and a histogram's atomic adds, for
        // new messages only (a change's `at` is its message's, not its own).
        if gate == Gate::Delivered && delivery.kind == Kind::Message {
            let age_ms = self.inner.clock.now_ms() - crate::rooms::to_millis(delivery.message.at);
            // Another instance's clock may be a little ahead of ours.
            self.inner.latency[via as usize].observe(age_ms.max(0) as f64 / 1000.0);
        }
        gate
    }

    /// The gate itself, under the rooms' lock.
    fn gate(&self, delivery: &Arc<Delivery>, first_ok: bool, over_gap: bool) -> Gate {
        let mut rooms = self.inner.rooms();
        let Some(queue) = rooms.get_mut(&delivery.message.room) else {
            return Gate::NoSubscribers;
        };
        let id = delivery.seq();
        match queue.last {
            Some(last) if id <= last => return Gate::Duplicate,
            Some(last) if id > last + 1 && !over_gap => return Gate::Gap { after: last },
            None if !first_ok => return Gate::Fresh,
            _ => {}
        }
        queue.last = Some(id);
        // An error only means every receiver has just gone; the message is
        // stored, so nothing is lost.
        if let Ok(receivers) = queue.sender.send(delivery.clone()) {
            self.inner.metrics.deliveries.inc_by(receivers as u64);
        }
        Gate::Delivered
    }
}

/// In-process mode: the writer and the changes publish straight to the
/// hub; see [`Hub::deliver_over_gap`] for the one way they can interleave.
impl Publish for Hub {
    fn publish(&self, delivery: &Arc<Delivery>) {
        let _ = self.deliver_over_gap(delivery);
    }
}

/// A receiver on one room's queue; dropping the last one drops the queue.
pub struct RoomSubscription {
    receiver: Option<broadcast::Receiver<Arc<Delivery>>>,
    room: RoomName,
    hub: Arc<HubInner>,
}

impl RoomSubscription {
    pub fn room(&self) -> &RoomName {
        &self.room
    }

    pub async fn recv(&mut self) -> Result<Arc<Delivery>, broadcast::error::RecvError> {
        self.receiver.as_mut().expect("receiver present until drop").recv().await
    }

    /// The next delivery if one is already queued.
    pub fn try_recv(&mut self) -> Result<Arc<Delivery>, broadcast::error::TryRecvError> {
        self.receiver.as_mut().expect("receiver present until drop").try_recv()
    }
}

impl Drop for RoomSubscription {
    fn drop(&mut self) {
        // Drop our receiver before counting, then count under the lock that
        // `subscribe` also takes, so a concurrent subscriber is never orphaned.
        drop(self.receiver.take());
        let mut rooms = self.hub.rooms();
        if rooms.get(&self.room).is_some_and(|queue| queue.sender.receiver_count() == 0) {
            rooms.remove(&self.room);
        }
    }
}

type RoomQueues = HashMap<RoomName, RoomQueue>;

impl HubInner {
    fn rooms(&self) -> MutexGuard<'_, RoomQueues> {
        // A panic elsewhere while holding the lock cannot leave the map half
        // updated (every change is one insert or remove), so keep using it.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::rooms::{Author, Message, MessageText, from_millis};

    /// Message `id` of `room`, by alice (also `shared_reads`' tests').
    pub(in crate::stream) fn delivery(room: &RoomName, id: i64) -> Arc<Delivery> {
        let alice = Author { name: "alice".into(), display: "alice".into(), guest: false, user_id: None, bot: false };
        let text = MessageText::parse(&format!("m{id}")).unwrap();
        Delivery::new(Message::committed(id, room.clone(), &alice, &text, "", None, from_millis(0)))
    }

    #[tokio::test]
    async fn a_room_queue_lives_exactly_as_long_as_its_subscribers() {
        let hub = Hub::new(16);
        let room = RoomName::parse("a").unwrap();
        assert_eq!(hub.active_rooms(), 0);
        let first = hub.subscribe(&room);
        let second = hub.subscribe(&room);
        assert_eq!(hub.active_rooms(), 1);
        drop(first);
        assert_eq!(hub.active_rooms(), 1);
        drop(second);
        assert_eq!(hub.active_rooms(), 0);
    }

    #[tokio::test]
    async fn the_gate_drops_duplicates_and_reports_gaps() {
        let hub = Hub::new(16);
        let room = RoomName::parse("g").unwrap();
        assert_eq!(hub.deliver(&delivery(&room, 1), Via::Local), Gate::NoSubscribers);
        let mut subscriber = hub.subscribe(&room);
        assert_eq!(hub.deliver(&delivery(&room, 5), Via::Local), Gate::Delivered, "the first delivery sets the cursor");
        assert_eq!(hub.deliver(&delivery(&room, 5), Via::Local), Gate::Duplicate);
        assert_eq!(hub.deliver(&delivery(&room, 8), Via::Local), Gate::Gap { after: 5 });
        assert_eq!(hub.deliver(&delivery(&room, 6), Via::Local), Gate::Delivered);
        assert_eq!(subscriber.recv().await.unwrap().seq(), 5);
        assert_eq!(subscriber.recv().await.unwrap().seq(), 6);
        assert_eq!(hub.cursors(), vec![(room.clone(), Some(6))]);
        assert_eq!(
            hub.deliver_over_gap(&delivery(&room, 9)),
            Gate::Delivered,
            "in process, a gap is the subscribers' to fill"
        );
        assert_eq!(hub.deliver_over_gap(&delivery(&room, 7)), Gate::Duplicate);
        assert_eq!(subscriber.recv().await.unwrap().seq(), 9);
    }

    #[tokio::test]
    async fn a_first_delivery_can_be_held_back_for_the_caller_to_vouch_for() {
        let hub = Hub::new(16);
        let room = RoomName::parse("f").unwrap();
        let _subscriber = hub.subscribe(&room);
        assert_eq!(hub.deliver_unless_first(&delivery(&room, i64::MAX), Via::Bus), Gate::Fresh);
        assert_eq!(hub.cursors(), vec![(room.clone(), None)], "the cursor is not set");
        assert_eq!(hub.deliver(&delivery(&room, 3), Via::Local), Gate::Delivered);
        assert_eq!(
            hub.deliver_unless_first(&delivery(&room, 4), Via::Bus),
            Gate::Delivered,
            "only the first is held back"
        );
    }

    #[tokio::test]
    async fn publishing_reaches_only_that_rooms_subscribers() {
        let hub = Hub::new(16);
        let a = RoomName::parse("a").unwrap();
        let b = RoomName::parse("b").unwrap();
        let mut on_a = hub.subscribe(&a);
        let mut on_b = hub.subscribe(&b);
        hub.publish(&delivery(&a, 1));
        hub.publish(&delivery(&b, 7));
        assert_eq!(on_a.recv().await.unwrap().seq(), 1);
        assert_eq!(on_b.recv().await.unwrap().seq(), 7);
    }

    #[tokio::test]
    async fn a_new_messages_latency_is_observed_once_whatever_the_subscribers() {
        let clock = Clock::manual();
        let hub = Hub::with_metrics(16, Metrics::new(), clock.clone());
        let room = RoomName::parse("t").unwrap();
        let latency = |via: Via| hub.metrics().delivery_seconds.with_label_values(&[via.label()]);
        assert_eq!(hub.deliver(&delivery(&room, 1), Via::Local), Gate::NoSubscribers);
        let (_one, _two, _three) = (hub.subscribe(&room), hub.subscribe(&room), hub.subscribe(&room));
        let sent = Message::committed(
            2,
            room.clone(),
            &Author { name: "a".into(), display: "a".into(), guest: false, user_id: None, bot: false },
            &MessageText::parse("hi").unwrap(),
            "",
            None,
            clock.now(),
        );
        clock.advance(std::time::Duration::from_millis(250));
        assert_eq!(hub.deliver(&Delivery::new(sent.clone()), Via::Bus), Gate::Delivered);
        assert_eq!(hub.deliver(&Delivery::new(sent.clone()), Via::Bus), Gate::Duplicate);
        assert_eq!(latency(Via::Bus).get_sample_count(), 1, "once for three subscribers, not for the duplicate");
        assert_eq!(latency(Via::Bus).get_sample_sum(), 0.25);
        assert_eq!(latency(Via::Local).get_sample_count(), 0, "nobody subscribed to the first");
        let edit = Delivery::change(Kind::Edit, 3, sent);
        assert_eq!(hub.deliver(&edit, Via::Store), Gate::Delivered);
        assert_eq!(latency(Via::Store).get_sample_count(), 0, "a change is not a new message");
    }
}
