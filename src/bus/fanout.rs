//! One task per instance that puts every committed message (its own and
//! other instances') on the local room queues in id order, filling gaps from
//! the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::rooms::{self, Delivery, RoomName};
use crate::store::{Publish, Store, StoreError};
use crate::stream::{Gate, Hub};

/// How often the fan-out compares the store with what it has delivered, to
/// catch a message whose bus notice was lost and that no later one exposed.
const SWEEP_EVERY: Duration = Duration::from_secs(3);

/// Most messages read from the store to fill one gap.
const FILL_BATCH: u32 = 1000;

/// What the fan-out task is told.
pub enum Notice {
    /// A committed message, from this instance's writer or from the bus.
    Committed(Arc<Delivery>),
    /// The bus was away and is back: catch every active room up.
    Resync,
}

/// The sending side: the writer's [`Publish`] in scale-out mode, and the bus
/// subscriber's way in.
#[derive(Clone)]
pub struct Fanout {
    notices: mpsc::UnboundedSender<Notice>,
    /// Where this instance's own commits also go: out to the other instances.
    outbox: Option<mpsc::Sender<Arc<Delivery>>>,
}

impl Fanout {
    /// Starts the fan-out task; `store` is given later (it needs this
    /// `Fanout` as its publisher first), through the returned starter.
    pub fn new(hub: Hub, outbox: Option<mpsc::Sender<Arc<Delivery>>>) -> (Self, FanoutStarter) {
        let (notices, inbox) = mpsc::unbounded_channel();
        (Self { notices, outbox }, FanoutStarter { hub, inbox })
    }

    pub fn notify(&self, notice: Notice) {
        // Only fails when the task has stopped, i.e. the server is going away.
        let _ = self.notices.send(notice);
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
                    delivery.id(),
                    delivery.message.room
                );
            }
        }
    }
}

/// Holds the receiving side until the store exists.
pub struct FanoutStarter {
    hub: Hub,
    inbox: mpsc::UnboundedReceiver<Notice>,
}

impl FanoutStarter {
    pub fn start(self, store: Store) {
        let task = FanoutTask { hub: self.hub, store, last_sweep_ms: rooms::to_millis(rooms::now()) };
        tokio::spawn(task.run(self.inbox));
    }
}

struct FanoutTask {
    hub: Hub,
    store: Store,
    last_sweep_ms: i64,
}

impl FanoutTask {
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Notice>) {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        loop {
            let result = tokio::select! {
                notice = inbox.recv() => match notice {
                    Some(Notice::Committed(delivery)) => self.offer(delivery).await,
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
        if let Gate::Gap { after } = self.hub.deliver(&delivery) {
            self.fill(&delivery.message.room, after).await?;
            let _ = self.hub.deliver(&delivery);
        }
        Ok(())
    }

    /// Delivers every stored message of `room` after `after`.
    async fn fill(&mut self, room: &RoomName, mut after: i64) -> Result<(), StoreError> {
        loop {
            let missed = self.store.after(room, after, None, FILL_BATCH).await?;
            let complete = missed.len() < FILL_BATCH as usize;
            for message in missed {
                after = message.id;
                let _ = self.hub.deliver(&Delivery::new(message));
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
        let now = rooms::to_millis(rooms::now());
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
