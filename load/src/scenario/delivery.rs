//! The `fanout` and `maxpost` scenarios (both thin plans over the fan-out
//! engine) and how a fan-out's outcome is written into a report, which
//! `login-storm`, `upload-storm`, `soak` and `rooms` reuse (with what
//! `--out` writes: the whole delivery distribution and the series).

use std::time::Duration;

use anyhow::Result;
use serde_json::{Map, Value};

use super::fanout::{self, Outcome, Plan};
use super::{Common, FanoutArgs, MaxPostArgs};
use crate::report::{Report, brief};
use crate::transport::Transport;

pub(super) fn plan(args: &FanoutArgs) -> Plan {
    // Every poster sends at most its share of rate × duration (plus one).
    let per_poster = (args.rate * args.duration / args.posters as f64).ceil() as u64 + 1;
    Plan {
        subscribers: args.subscribers,
        rooms: args.rooms,
        transport: args.transport,
        posters: args.posters,
        rate: Some(args.rate),
        duration: Duration::from_secs_f64(args.duration),
        drain: Duration::from_secs_f64(args.drain),
        max_posts_per_poster: per_poster,
        in_flight: args.in_flight,
    }
}

pub(super) async fn fanout(common: &Common, args: &FanoutArgs) -> Result<Report> {
    let plan = plan(args);
    let outcome = fanout::run(common, &plan, None, None).await?;
    let mut report = Report::new("fanout");
    describe(&mut report, &plan, &outcome);
    Ok(report)
}

pub(super) async fn maxpost(common: &Common, args: &MaxPostArgs) -> Result<Report> {
    let plan = Plan {
        subscribers: 1,
        rooms: 1,
        transport: Transport::Sse,
        posters: args.posters,
        rate: None,
        duration: Duration::from_secs_f64(args.duration),
        drain: Duration::from_secs_f64(args.drain),
        max_posts_per_poster: args.max_posts,
        in_flight: 1,
    };
    let outcome = fanout::run(common, &plan, None, None).await?;
    let mut report = Report::new("maxpost");
    describe(&mut report, &plan, &outcome);
    let all = outcome.subscribers_connected == 1 && outcome.lost == 0 && outcome.received == outcome.posts_accepted;
    report.set("subscriber_received_all", all);
    report.line(format!(
        "the subscriber {} all {} acknowledged posts",
        if all { "received" } else { "did NOT receive" },
        outcome.posts_accepted
    ));
    Ok(report)
}

fn per_s(count: u64, secs: f64) -> f64 {
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// Writes a fan-out's figures (flat keys) and summary lines.
pub(super) fn describe(report: &mut Report, plan: &Plan, o: &Outcome) {
    let posts_per_s = per_s(o.posts_accepted, o.posting_s);
    let deliveries_per_s = per_s(o.received, o.delivery_span_s);
    let rejected: Map<String, Value> = o.posts_rejected.iter().map(|(k, v)| (k.to_string(), (*v).into())).collect();
    let rejected_total: u64 = o.posts_rejected.values().sum();

    let mut line = format!(
        "subscribers ({}): {} of {} connected in {:.2} s",
        plan.transport, o.subscribers_connected, plan.subscribers, o.setup_s
    );
    if plan.rooms > 1 {
        line.push_str(&format!(" over {} rooms", plan.rooms));
    }
    if o.subscriber_errors > 0 {
        line.push_str(&format!(
            "; {} failed ({})",
            o.subscriber_errors,
            o.first_subscriber_error.as_deref().unwrap_or("?")
        ));
    }
    if o.streams_ended_early > 0 {
        line.push_str(&format!("; {} ended early", o.streams_ended_early));
    }
    report.line(line);
    let target_rate = plan.rate.map_or("as fast as possible".to_owned(), |r| format!("target {r} msgs/s"));
    let mut line = format!(
        "posts: {} accepted of {} over {:.2} s = {:.1}/s ({target_rate}, {} posters)",
        o.posts_accepted, o.posts_attempted, o.posting_s, posts_per_s, plan.posters
    );
    if o.posts_late > 0 {
        line.push_str(&format!(
            "; {} sent late (all {} connections busy)",
            o.posts_late,
            plan.in_flight * plan.posters
        ));
    }
    if o.posts_failed + rejected_total > 0 {
        line.push_str(&format!(
            "; {} failed, {} rejected {:?}: {}",
            o.posts_failed,
            rejected_total,
            o.posts_rejected,
            o.first_post_error.as_deref().unwrap_or("?")
        ));
    }
    report.line(line);
    report.line(format!(
        "deliveries: {} of {} expected, {} lost (not there by the end of the drain), {} duplicated, \
         {} unacknowledged; {:.0}/s; drain {:.2} s",
        o.received, o.expected, o.lost, o.duplicated, o.unacknowledged, deliveries_per_s, o.drain_s
    ));
    report.line(format!("post-to-delivery latency: {}", brief(&o.delivery)));
    report.line(format!("POST latency: {}", brief(&o.post)));

    report.set("subscribers", plan.subscribers);
    report.set("subscribers_connected", o.subscribers_connected);
    report.set("rooms", plan.rooms);
    report.set("subscriber_errors", o.subscriber_errors);
    report.set("first_subscriber_error", o.first_subscriber_error.clone());
    report.set("streams_ended_early", o.streams_ended_early);
    report.set_f("setup_s", o.setup_s);
    report.set("posters", plan.posters);
    report.set("rate_target", plan.rate);
    report.set_f("duration_s", plan.duration.as_secs_f64());
    report.set("posts_attempted", o.posts_attempted);
    report.set("posts_accepted", o.posts_accepted);
    report.set("posts_failed", o.posts_failed);
    report.set("posts_rejected", rejected);
    report.set("first_post_error", o.first_post_error.clone());
    report.set("posts_late", o.posts_late);
    report.set("post_connections", o.post_connections);
    report.set_f("posting_s", o.posting_s);
    report.set_f("posts_per_s", posts_per_s);
    report.set("deliveries_expected", o.expected);
    report.set("deliveries_received", o.received);
    report.set("lost", o.lost);
    report.set("duplicated", o.duplicated);
    report.set("unacknowledged", o.unacknowledged);
    report.set("foreign_events", o.foreign);
    report.set("heartbeats", o.heartbeats);
    report.set_f("delivery_span_s", o.delivery_span_s);
    report.set_f("deliveries_per_s", deliveries_per_s);
    report.set_f("drain_s", o.drain_s);
    report.set_latency("delivery", &o.delivery);
    report.set_latency("post", &o.post);
    report.distribution = Some(o.delivery.clone());
    if let Some(series) = &o.series {
        report.set("series_outside", series.outside);
        report.series = Some(series.clone());
    }
}
