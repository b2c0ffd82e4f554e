//! Redis pub/sub between instances: one subscriber connection and one
//! publishing connection per instance, each reconnecting with backoff.
//!
//! Every instance publishes its commits on one channel and subscribes to it;
//! the payload is the message JSON exactly as committed (serialized once,
//! at the posting instance). While Redis is away the instance goes on
//! storing and delivering locally; the fan-out catches up from the store
//! when the subscription is back.
//!
//! Signals (typing, read positions) go on a third, `<channel>:signals`,
//! tagged like announcements and never caught up (they are about the
//! moment). Moderation announcements go on a second channel (`<channel>:control`),
//! tagged with the sending instance so it ignores its own. They are not
//! caught up after an outage: what they change is in the store, which every
//! instance re-reads within seconds; only the instant reaction of open
//! streams is lost.
//!
//! Every payload is sealed (`seal`: an HMAC over the channel and the bytes,
//! with a key derived from `secret_key`); what does not open with our key,
//! does not parse, names an id below 1 or an announcement made more than
//! [`CONTROL_FRESH_MS`] away from now (a replay) is dropped and counted in
//! `bus_rejected_total`, logged at debug level only (whoever floods the
//! channel must not flood the log too).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use rocket::futures::StreamExt;
use tokio::sync::mpsc;

use super::seal::BusKey;
use super::{BusHealth, Fanout, Notice};
use crate::clock::Clock;
use crate::moderation::Control;
use crate::rooms::Delivery;
use crate::signals::Signal;
use crate::tasks::Tasks;

/// How far an announcement's time may be from ours: a captured one replayed
/// later (a kick, say) is refused. Instances' clocks must agree this well.
pub const CONTROL_FRESH_MS: i64 = 60_000;

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

/// What travels between this instance and the Redis tasks.
pub struct BusLinks {
    /// The channel messages go on; controls go on `<channel>:control`.
    pub channel: String,
    /// Where received messages go.
    pub fanout: Fanout,
    /// This instance's commits, to publish.
    pub outbox: mpsc::Receiver<Arc<Delivery>>,
    /// This instance's moderation announcements, to publish.
    pub controls_out: mpsc::Receiver<Control>,
    /// Where the other instances' announcements go.
    pub controls_in: mpsc::Sender<Control>,
    /// This instance's signals, to publish.
    pub signals_out: mpsc::Receiver<Signal>,
    /// Where the other instances' signals go.
    pub signals_in: mpsc::Sender<Signal>,
    pub health: Arc<BusHealth>,
    /// What every payload is sealed and checked with.
    pub key: BusKey,
    /// Stamps announcements and judges their freshness.
    pub clock: Clock,
    /// Counts what was dropped unread, by reason.
    pub rejected: prometheus::IntCounterVec,
}

/// A moderation announcement on the wire, with the instance that made it
/// and when.
#[derive(serde::Serialize, serde::Deserialize)]
struct ControlNote {
    origin: u64,
    at_ms: i64,
    #[serde(flatten)]
    control: Control,
}

/// A signal on the wire, tagged like an announcement.
#[derive(serde::Serialize, serde::Deserialize)]
struct SignalNote {
    origin: u64,
    at_ms: i64,
    #[serde(flatten)]
    signal: Signal,
}

pub struct RedisBus;

impl RedisBus {
    /// Starts the subscriber and publisher tasks (the URL was checked by
    /// `bus::connect`); an unreachable server is retried in the background.
    pub fn start(url: &str, links: BusLinks, tasks: &Tasks) {
        let client = match redis::Client::open(url) {
            Ok(client) => client,
            Err(e) => return tracing::error!("bus: invalid redis_url: {e}"),
        };
        let channels = Channels {
            control: format!("{}:control", links.channel),
            signals: format!("{}:signals", links.channel),
            messages: links.channel,
            origin: rand::random(),
            key: links.key,
            clock: links.clock,
            rejected: links.rejected,
        };
        let outgoing = Outgoing { deliveries: links.outbox, controls: links.controls_out, signals: links.signals_out };
        tasks.spawn("redis publisher", publish(client.clone(), channels.clone(), outgoing, links.health.clone()));
        let incoming = Incoming { fanout: links.fanout, controls: links.controls_in, signals: links.signals_in };
        tasks.spawn("redis subscriber", subscribe(client, channels, incoming, links.health));
    }
}

/// The three channels, this instance's tag on its announcements, and what
/// seals and checks payloads.
#[derive(Clone)]
struct Channels {
    messages: String,
    control: String,
    signals: String,
    origin: u64,
    key: BusKey,
    clock: Clock,
    rejected: prometheus::IntCounterVec,
}

/// What a received payload turned out to be.
enum Heard {
    Message(Arc<Delivery>),
    Control(Control),
    Signal(Signal),
    /// Our own announcement or signal coming back.
    Echo,
}

impl Channels {
    /// Opens, parses and range-checks a payload from `channel`; the reason
    /// (a metric label) when it must be dropped.
    fn read(&self, channel: &str, payload: &[u8]) -> Result<Heard, &'static str> {
        let body = self.key.open(channel, payload).map_err(|e| e.reason())?;
        if channel == self.control {
            let note: ControlNote = serde_json::from_slice(body).map_err(|_| "malformed")?;
            if note.origin == self.origin {
                return Ok(Heard::Echo);
            }
            if (self.clock.now_ms() - note.at_ms).abs() > CONTROL_FRESH_MS {
                return Err("stale");
            }
            return Ok(Heard::Control(note.control));
        }
        if channel == self.signals {
            let note: SignalNote = serde_json::from_slice(body).map_err(|_| "malformed")?;
            if note.origin == self.origin {
                return Ok(Heard::Echo);
            }
            if (self.clock.now_ms() - note.at_ms).abs() > CONTROL_FRESH_MS {
                return Err("stale");
            }
            return Ok(Heard::Signal(note.signal));
        }
        let delivery = std::str::from_utf8(body).ok().and_then(Delivery::from_bus).ok_or("malformed")?;
        // Numbers start at 1; how far ahead one may be is the fan-out's to
        // judge (it knows the store).
        if delivery.seq() < 1 || delivery.message.id < 1 {
            return Err("out_of_range");
        }
        Ok(Heard::Message(delivery))
    }
}

/// Where what is heard on the bus goes.
struct Incoming {
    fanout: Fanout,
    controls: mpsc::Sender<Control>,
    signals: mpsc::Sender<Signal>,
}

async fn subscribe(client: redis::Client, channels: Channels, incoming: Incoming, health: Arc<BusHealth>) {
    let Incoming { fanout, controls: controls_in, signals: signals_in } = incoming;
    let channel = &channels.messages;
    let mut backoff = Backoff::new();
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&[channel, &channels.control, &channels.signals]).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match subscribed.await {
            Ok(mut pubsub) => {
                health.set_subscriber_up(true);
                backoff.reset();
                tracing::info!("bus: subscribed to Redis channel {channel:?}");
                // Whatever was published while we were away is in the store.
                fanout.notify(Notice::Resync);
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    let from = message.get_channel_name();
                    match channels.read(from, message.get_payload_bytes()) {
                        Ok(Heard::Message(delivery)) => fanout.deliver(delivery).await,
                        // Waiting here holds back reading Redis, never memory.
                        Ok(Heard::Control(control)) => {
                            let _ = controls_in.send(control).await;
                        }
                        // A signal is about the moment: dropped rather than
                        // waited for when its queue is full.
                        Ok(Heard::Signal(signal)) => {
                            let _ = signals_in.try_send(signal);
                        }
                        Ok(Heard::Echo) => {}
                        Err(reason) => {
                            channels.rejected.with_label_values(&[reason]).inc();
                            tracing::debug!("bus: dropped a payload on {from:?}: {reason}");
                        }
                    }
                }
                health.set_subscriber_up(false);
                tracing::warn!("bus: lost the Redis subscription; delivering locally and catching up when it is back");
            }
            Err(e) => {
                health.set_subscriber_up(false);
                tracing::warn!("bus: cannot subscribe on Redis ({e}); retrying");
            }
        }
        backoff.wait().await;
    }
}

/// What this instance publishes: its commits, its announcements, its
/// signals.
struct Outgoing {
    deliveries: mpsc::Receiver<Arc<Delivery>>,
    controls: mpsc::Receiver<Control>,
    signals: mpsc::Receiver<Signal>,
}

/// One publication: the channel and the sealed bytes.
struct Publication {
    channel: String,
    payload: Vec<u8>,
}

impl Outgoing {
    /// The next thing to publish; `None` once the server is going away.
    async fn next(&mut self, channels: &Channels) -> Option<Publication> {
        tokio::select! {
            // Announcements are rare and should not wait behind a burst.
            biased;
            Some(control) = self.controls.recv() => {
                let note = ControlNote { origin: channels.origin, at_ms: channels.clock.now_ms(), control };
                let body = serde_json::to_string(&note).expect("a control serializes");
                Some(Publication { payload: channels.key.seal(&channels.control, &body), channel: channels.control.clone() })
            }
            delivery = self.deliveries.recv() => delivery.map(|d| Publication {
                payload: channels.key.seal(&channels.messages, &d.bus_json()),
                channel: channels.messages.clone(),
            }),
            // Signals last: a burst of presence refreshes must not hold up
            // messages.
            Some(signal) = self.signals.recv() => {
                let note = SignalNote { origin: channels.origin, at_ms: channels.clock.now_ms(), signal };
                let body = serde_json::to_string(&note).expect("a signal serializes");
                Some(Publication { payload: channels.key.seal(&channels.signals, &body), channel: channels.signals.clone() })
            }
        }
    }
}

async fn publish(client: redis::Client, channels: Channels, mut outgoing: Outgoing, health: Arc<BusHealth>) {
    let mut backoff = Backoff::new();
    let mut connection: Option<ConnectionManager> = None;
    let mut unsent: Option<Publication> = None;
    loop {
        let publication = match unsent.take() {
            Some(publication) => publication,
            None => match outgoing.next(&channels).await {
                Some(publication) => publication,
                None => return,
            },
        };
        if connection.is_none() {
            match ConnectionManager::new(client.clone()).await {
                Ok(connected) => connection = Some(connected),
                Err(e) => {
                    health.set_publisher_up(false);
                    tracing::warn!("bus: cannot connect to Redis to publish ({e}); retrying");
                    unsent = Some(publication);
                    backoff.wait().await;
                    continue;
                }
            }
        }
        let Some(conn) = connection.as_mut() else { continue };
        let sent: redis::RedisResult<i64> =
            redis::cmd("PUBLISH").arg(&publication.channel).arg(&publication.payload).query_async(conn).await;
        match sent {
            Ok(_) => {
                health.set_publisher_up(true);
                backoff.reset();
            }
            Err(e) => {
                health.set_publisher_up(false);
                tracing::warn!("bus: publishing on Redis failed ({e}); retrying");
                unsent = Some(publication);
                connection = None;
                backoff.wait().await;
            }
        }
    }
}
