//! One task per instance that puts every committed message (its own and
//! other instances') on the local room queues in id order, filling gaps from
//! the store.
//!
//! A message heard on the bus is offered only if the store has its id: one
//! that would start a room's queue is checked against the room's last id,
//! and one still ahead after filling the gap is dropped. A sealed but wrong
//! id (a bug, or a leaked key) can then neither jump a room's cursor to
//! `i64::MAX`, freezing it, nor take an id a real message will need.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::rooms::{Delivery, RoomName};
use crate::store::{Publish, Store, StoreError};
use crate::stream::{Gate, Hub, Via};
use crate::tasks::Tasks;

/// How often the fan-out compares the store with what it has delivered, to
/// catch a message whose bus notice was lost and that no later one exposed.
const SWEEP_EVERY: Duration = Duration::from_secs(3);

/// Most messages read from the store to fill one gap.
const FILL_BATCH: u32 = 1000;

/// Notices waiting for the fan-out task. The writer never waits on it: a
/// notice that finds it full is dropped and counted, and the message comes
/// from the store at the next gap or sweep; the Redis subscriber waits
/// instead (holding back reading Redis, never memory).
const QUEUE: usize = 65_536;

/// What the fan-out task is told.
pub enum Notice {
    /// A committed message from this instance's writer.
    Committed(Arc<Delivery>),
    /// A message from the bus, sealed by an instance: offered only if the
    /// store has its id.
    Heard(Arc<Delivery>),
    /// The bus was away and is back: catch every active room up.
    Resync,
}

/// The sending side: the writer's [`Publish`] in scale-out mode, and the bus
/// subscriber's way in.
#[derive(Clone)]
pub struct Fanout {
    notices: mpsc::Sender<Notice>,
    /// Where this instance's own commits also go: out to the other instances.
    outbox: Option<mpsc::Sender<Arc<Delivery>>>,
}

impl Fanout {
    /// Starts the fan-out task; `store` is given later (it needs this
    /// `Fanout` as its publisher first), through the returned starter.
    pub fn new(hub: Hub, outbox: Option<mpsc::Sender<Arc<Delivery>>>, clock: Clock) -> (Self, FanoutStarter) {
        let (notices, inbox) = mpsc::channel(QUEUE);
        (Self { notices, outbox }, FanoutStarter { hub, inbox, clock })
    }

    /// Tells the task without waiting; a full queue drops the notice (see
    /// [`QUEUE`]): the store has what it said.
    pub fn notify(&self, notice: Notice) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.notices.try_send(notice) {
            tracing::warn!("fan-out queue full: a notice is left to the next gap or sweep");
        }
    }

    /// Hands over a message from the bus, waiting while the queue is full.
    pub async fn deliver(&self, delivery: Arc<Delivery>) {
        // Only fails when the task has stopped, i.e. the server is going away.
        let _ = self.notices.send(Notice::Heard(delivery)).await;
    }
}

impl Publish for Fanout {
    fn publish(&self, delivery: &Arc<Delivery>) {
        self.notify(Notice::Committed(delivery.clone()));
        if let Some(outbox) = &self.outbox {
            // A full outbox (Redis away for long) drops the notice; the other
            // instances fill it from the store at their next gap or sweep.
            if outbox.try_send(delivery.clone()).is_err() {
                tracing::warn!(
                    "bus outbox full: message {} of #{} left to the sweep",
                    delivery.seq(),
                    delivery.message.room
                );
            }
        }
    }
}

/// Holds the receiving side until the store exists.
pub struct FanoutStarter {
    hub: Hub,
    inbox: mpsc::Receiver<Notice>,
    clock: Clock,
}

impl FanoutStarter {
    pub fn start(self, store: Store, tasks: &Tasks) {
        let last_sweep_ms = self.clock.now_ms();
        let task = FanoutTask { hub: self.hub, store, clock: self.clock, last_sweep_ms };
        tasks.spawn("fan-out", task.run(self.inbox));
    }
}

struct FanoutTask {
    hub: Hub,
    store: Store,
    clock: Clock,
    last_sweep_ms: i64,
}

impl FanoutTask {
    async fn run(mut self, mut inbox: mpsc::Receiver<Notice>) {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        loop {
            let result = tokio::select! {
                notice = inbox.recv() => match notice {
                    Some(Notice::Committed(delivery)) => self.offer(delivery).await,
                    Some(Notice::Heard(delivery)) => self.offer_heard(delivery).await,
                    Some(Notice::Resync) => self.resync().await,
                    None => return,
                },
                _ = sweep.tick() => self.sweep().await,
            };
            if let Err(e) = result {
                // The next gap, resync or sweep retries.
                tracing::warn!("fan-out could not read the store: {e}");
            }
        }
    }

    /// Delivers one message, first filling any gap before it.
    async fn offer(&mut self, delivery: Arc<Delivery>) -> Result<(), StoreError> {
        if let Gate::Gap { after } = self.hub.deliver(&delivery, Via::Local) {
            self.fill(&delivery.message.room, after).await?;
            let _ = self.hub.deliver(&delivery, Via::Local);
        }
        Ok(())
    }

    /// Delivers a message from the bus if the store has its id (see the
    /// module's docs); counts the ones dropped.
    async fn offer_heard(&mut self, delivery: Arc<Delivery>) -> Result<(), StoreError> {
        let room = &delivery.message.room;
        let in_range = match self.hub.deliver_unless_first(&delivery, Via::Bus) {
            Gate::Delivered | Gate::NoSubscribers | Gate::Duplicate => true,
            // The room's queue is new: its first id sets the cursor.
            Gate::Fresh => {
                delivery.seq() <= self.store.last_id(room).await?
                    && self.hub.deliver(&delivery, Via::Bus) == Gate::Delivered
            }
            Gate::Gap { after } => {
                self.fill(room, after).await?;
                !matches!(self.hub.deliver(&delivery, Via::Bus), Gate::Gap { .. })
            }
        };
        if !in_range {
            self.hub.metrics().bus_rejected.with_label_values(&["out_of_range"]).inc();
            tracing::debug!("bus: dropped message {} of #{room}: the store has no such id", delivery.seq());
        }
        Ok(())
    }

    /// Delivers every stored message of `room` after `after`.
    async fn fill(&mut self, room: &RoomName, mut after: i64) -> Result<(), StoreError> {
        loop {
            let missed = self.store.sequence_after(room, after, None, FILL_BATCH).await?;
            let complete = missed.len() < FILL_BATCH as usize;
            for delivery in missed {
                after = delivery.seq();
                let _ = self.hub.deliver(&delivery, Via::Store);
            }
            if complete {
                return Ok(());
            }
        }
    }

    /// After a bus outage: every active room may have missed messages.
    async fn resync(&mut self) -> Result<(), StoreError> {
        for (room, last) in self.hub.cursors() {
            if let Some(last) = last {
                self.fill(&room, last).await?;
            }
        }
        Ok(())
    }

    /// Rooms whose stored last id is ahead of what was delivered here.
    async fn sweep(&mut self) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        // Look back a little further than the last sweep: a transaction can
        // commit a timestamp taken just before it.
        let changed = self.store.rooms_active_since(self.last_sweep_ms - 10_000).await?;
        self.last_sweep_ms = now;
        let delivered: HashMap<RoomName, Option<i64>> = self.hub.cursors().into_iter().collect();
        for (name, stored_last) in changed {
            let Ok(room) = RoomName::parse(&name) else { continue };
            if let Some(Some(last)) = delivered.get(&room)
                && *last < stored_last
            {
                self.fill(&room, *last).await?;
            }
        }
        Ok(())
    }
}
