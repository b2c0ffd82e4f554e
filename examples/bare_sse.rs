//! A bare Rocket 0.5 SSE broadcast, the baseline the chat server is
//! benchmarked against (with `chat-load --target bare`): no auth, no store,
//! no ids. One POST route sends its body into a single broadcast queue and
//! one event-stream route relays the queue, like Rocket's own chat example.
//! Rooms are accepted in the paths but ignored: there is one queue.
//!
//! Run it with `ROCKET_PORT=8300 cargo run --release --example bare_sse`.
//! It reads Rocket's own settings (`ROCKET_PORT`, `ROCKET_ADDRESS`,
//! `ROCKET_LOG_LEVEL`, `Rocket.toml`) and ignores the chat app's keys.

use base64::Engine;
use rand::RngCore;
use rand::rngs::OsRng;
use rocket::config::SecretKey;
use rocket::figment::Figment;
use rocket::http::Status;
use rocket::response::stream::{Event, EventStream};
use rocket::tokio::select;
use rocket::tokio::sync::broadcast::{Sender, channel, error::RecvError};
use rocket::{Shutdown, State, get, launch, post, routes};

/// Messages the queue holds for a slow subscriber before it skips ahead.
const QUEUE_CAPACITY: usize = 1024;

/// Sends the JSON body, as received, to every open stream.
#[post("/rooms/<_room>/messages", format = "json", data = "<body>")]
fn post_message(_room: &str, body: String, queue: &State<Sender<String>>) -> Status {
    // An error only means no stream is open.
    let _ = queue.send(body);
    Status::Created
}

/// Relays the queue as `data:` events until the server shuts down.
#[get("/rooms/<_room>/events")]
fn events(_room: &str, queue: &State<Sender<String>>, mut end: Shutdown) -> EventStream![] {
    // Subscribed before the response starts, so every message posted after
    // the client has the response head reaches it.
    let mut rx = queue.subscribe();
    EventStream! {
        loop {
            let message = select! {
                message = rx.recv() => match message {
                    Ok(message) => message,
                    Err(RecvError::Closed) => break,
                    Err(RecvError::Lagged(_)) => continue,
                },
                _ = &mut end => break,
            };
            yield Event::data(message);
        }
    }
}

#[launch]
fn rocket() -> _ {
    rocket::custom(figment()).manage(channel::<String>(QUEUE_CAPACITY).0).mount("/", routes![post_message, events])
}

/// Rocket's own figment. The root package turns on Rocket's `secrets`
/// feature, so a release build refuses to start without a secret key; this
/// server sets no cookies, so a fresh random key will do when none is set.
fn figment() -> Figment {
    let figment = rocket::Config::figment();
    if figment.extract_inner::<SecretKey>("secret_key").is_ok_and(|key| !key.is_zero()) {
        return figment;
    }
    let mut key = [0u8; 64];
    OsRng.fill_bytes(&mut key);
    figment.merge(("secret_key", base64::engine::general_purpose::STANDARD.encode(key)))
}
