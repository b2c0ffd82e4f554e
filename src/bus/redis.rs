//! Redis pub/sub between instances: one subscriber connection and one
//! publishing connection per instance, each reconnecting with backoff.
//!
//! Every instance publishes its commits on one channel and subscribes to it;
//! the payload is the message JSON exactly as committed (serialized once,
//! at the posting instance). While Redis is away the instance goes on
//! storing and delivering locally; the fan-out catches up from the store
//! when the subscription is back.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use rocket::futures::StreamExt;
use tokio::sync::mpsc;

use super::{BusHealth, Fanout, Notice};
use crate::rooms::Delivery;

const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Doubling waits between reconnection attempts, up to a cap.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(BACKOFF_FIRST)
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
    }

    fn reset(&mut self) {
        self.0 = BACKOFF_FIRST;
    }
}

pub struct RedisBus;

impl RedisBus {
    /// Starts the subscriber and publisher tasks. Fails only on a malformed
    /// URL; an unreachable server is retried in the background.
    pub fn start(
        url: &str,
        channel: String,
        fanout: Fanout,
        outbox: mpsc::Receiver<Arc<Delivery>>,
        health: Arc<BusHealth>,
    ) -> Result<(), redis::RedisError> {
        let client = redis::Client::open(url)?;
        tokio::spawn(publish(client.clone(), channel.clone(), outbox, health.clone()));
        tokio::spawn(subscribe(client, channel, fanout, health));
        Ok(())
    }
}

async fn subscribe(client: redis::Client, channel: String, fanout: Fanout, health: Arc<BusHealth>) {
    let mut backoff = Backoff::new();
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match subscribed.await {
            Ok(mut pubsub) => {
                health.set_subscriber_up(true);
                backoff.reset();
                log::info!("bus: subscribed to Redis channel {channel:?}");
                // Whatever was published while we were away is in the store.
                fanout.notify(Notice::Resync);
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    match std::str::from_utf8(message.get_payload_bytes()).ok().and_then(Delivery::from_json) {
                        Some(delivery) => fanout.notify(Notice::Committed(delivery)),
                        None => log::warn!("bus: ignored a malformed message on {channel:?}"),
                    }
                }
                health.set_subscriber_up(false);
                log::warn!("bus: lost the Redis subscription; delivering locally and catching up when it is back");
            }
            Err(e) => {
                health.set_subscriber_up(false);
                log::warn!("bus: cannot subscribe on Redis ({e}); retrying");
            }
        }
        backoff.wait().await;
    }
}

async fn publish(
    client: redis::Client,
    channel: String,
    mut outbox: mpsc::Receiver<Arc<Delivery>>,
    health: Arc<BusHealth>,
) {
    let mut backoff = Backoff::new();
    let mut connection: Option<ConnectionManager> = None;
    let mut unsent: Option<Arc<Delivery>> = None;
    loop {
        let delivery = match unsent.take() {
            Some(delivery) => delivery,
            None => match outbox.recv().await {
                Some(delivery) => delivery,
                None => return,
            },
        };
        if connection.is_none() {
            match ConnectionManager::new(client.clone()).await {
                Ok(connected) => connection = Some(connected),
                Err(e) => {
                    health.set_publisher_up(false);
                    log::warn!("bus: cannot connect to Redis to publish ({e}); retrying");
                    unsent = Some(delivery);
                    backoff.wait().await;
                    continue;
                }
            }
        }
        let Some(conn) = connection.as_mut() else { continue };
        let sent: redis::RedisResult<i64> =
            redis::cmd("PUBLISH").arg(&channel).arg(delivery.json.as_bytes()).query_async(conn).await;
        match sent {
            Ok(_) => {
                health.set_publisher_up(true);
                backoff.reset();
            }
            Err(e) => {
                health.set_publisher_up(false);
                log::warn!("bus: publishing on Redis failed ({e}); retrying");
                unsent = Some(delivery);
                connection = None;
                backoff.wait().await;
            }
        }
    }
}
