//! The `rooms` scenario: a fan-out over many rooms at once (subscribers
//! dealt over the rooms, posts going round them), run in passes, each on
//! rooms of its own. Between passes every subscriber has left, so what the
//! server's resident memory gained from one pass's end to the next is what
//! a room it no longer serves still costs it: that growth over the rooms of
//! the later passes is reported as the memory held per room after its
//! subscribers leave. Freed memory the allocator keeps for reuse shows up
//! after the first pass and is reused by the next, so it is not counted.

use std::time::Duration;

use anyhow::{Context, Result};

use super::delivery::{describe, plan};
use super::fanout;
use super::{Common, RoomsArgs};
use crate::report::{Report, brief};
use crate::sys::memory;

pub(super) async fn run(common: &Common, args: &RoomsArgs) -> Result<Report> {
    let pid = common.server_pid.context("rooms needs --server-pid")?;
    let plan = plan(&args.fanout);
    let before = memory(pid)?;
    let mut after_pass = Vec::new();
    let mut report = Report::new("rooms");
    let mut last = None;
    for pass in 0..args.passes {
        let mut common = common.clone();
        common.room = format!("{}-p{pass}", common.room);
        let outcome = fanout::run(&common, &plan, None, None).await?;
        tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
        let rss = memory(pid)?.rss_kib;
        report.line(format!(
            "pass {pass}: {} of {} delivered, {} lost, {} duplicated; delivery {}; server RSS {rss} KiB once they left",
            outcome.received,
            outcome.expected,
            outcome.lost,
            outcome.duplicated,
            brief(&outcome.delivery)
        ));
        report.set(&format!("pass{pass}_lost"), outcome.lost);
        report.set(&format!("pass{pass}_duplicated"), outcome.duplicated);
        report.set_latency(&format!("pass{pass}_delivery"), &outcome.delivery);
        after_pass.push(rss);
        last = Some(outcome);
    }
    let outcome = last.context("no pass ran")?;
    // The last pass in full, under the usual keys.
    describe(&mut report, &plan, &outcome);
    let rooms_after_first = (plan.rooms * (args.passes - 1)) as f64;
    let held = match (after_pass.first(), after_pass.last()) {
        (Some(&first), Some(&last)) if args.passes > 1 => {
            Some((last as f64 - first as f64) * 1024.0 / rooms_after_first)
        }
        _ => None,
    };
    report.line(format!(
        "server RSS: {} KiB before, after each pass {:?} KiB; held per room left behind: {}",
        before.rss_kib,
        after_pass,
        held.map_or("n/a (one pass)".to_owned(), |b| format!("{b:.0} bytes"))
    ));
    report.set("passes", args.passes);
    report.set("rss_before_kib", before.rss_kib);
    report.set("rss_after_passes_kib", after_pass);
    report.set("held_bytes_per_room", held.map(|b| b.round()));
    Ok(report)
}
