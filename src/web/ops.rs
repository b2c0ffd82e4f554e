//! Operations: liveness, readiness, and Prometheus metrics.

use std::sync::Arc;

use rocket::http::{ContentType, Status};
use rocket::response::content::RawJson;
use rocket::{State, get};

use crate::bus::Bus;
use crate::config::Settings;
use crate::messages::Chat;
use crate::metrics::Metrics;
use crate::stream::Hub;

/// Readiness, for load balancers: the store and the bus answer (503
/// naming what is down otherwise; the server still serves what it can).
#[get("/healthz/ready")]
pub async fn ready(chat: &State<Chat>, bus: &State<Bus>) -> (Status, RawJson<String>) {
    let store_up = match chat.store_answers().await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("health check: the store does not answer: {e}");
            false
        }
    };
    let word = |up: bool| if up { "ok" } else { "down" };
    let body = format!(r#"{{"store":"{}","bus":"{}"}}"#, word(store_up), word(bus.is_up()));
    let status = if store_up && bus.is_up() { Status::Ok } else { Status::ServiceUnavailable };
    (status, RawJson(body))
}

/// The core's health route: an alias of readiness.
#[get("/healthz")]
pub async fn healthz(chat: &State<Chat>, bus: &State<Bus>) -> (Status, RawJson<String>) {
    ready(chat, bus).await
}

/// Liveness: the process answers (nothing else is checked, so a slow
/// database never gets a healthy process restarted).
#[get("/healthz/live")]
pub fn live() -> RawJson<&'static str> {
    RawJson(r#"{"status":"live"}"#)
}

/// Prometheus text format, when `metrics = true` (404 otherwise).
#[get("/metrics")]
pub fn metrics(
    settings: &State<Settings>,
    metrics: &State<Arc<Metrics>>,
    hub: &State<Hub>,
    bus: &State<Bus>,
) -> Option<(ContentType, String)> {
    if !settings.metrics {
        return None;
    }
    metrics.rooms_active.set(hub.active_rooms() as i64);
    metrics.bus_up.set(i64::from(bus.is_up()));
    let text = ContentType::new("text", "plain").with_params([("version", "0.0.4"), ("charset", "utf-8")]);
    Some((text, metrics.render()))
}
