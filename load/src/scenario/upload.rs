//! The `upload-storm` scenario: in the middle of a fan-out, N accounts
//! (registered before the run) each upload a file at once (and again, for
//! `--rounds`)
//! (`POST /rooms/<room>-files/attachments`, multipart, with the CSRF token a
//! page gave them), to a room of their own so the fan-out's subscribers
//! see none of it. The report compares the fan-out's delivery p99 for
//! messages sent while the uploads ran with the rest of the run: what a
//! 10 MiB upload adds to everyone else's latency.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::delivery::{describe, plan};
use super::fanout::{self, Window};
use super::{Common, UploadStormArgs, csrf_token};
use crate::http::{Conn, encode_form};
use crate::report::{Latency, Report, brief, latency, p99_ms, record_us};

const PASSWORD: &str = "chat-load password 1";
const BOUNDARY: &str = "chat-load-upload-boundary";

/// A registered account's connection, with the CSRF token its pages carry.
async fn uploader(common: &Common, name: &str) -> Result<(Conn, String)> {
    let mut conn = Conn::new(&common.target, common.timeout);
    let page = conn.get("/register").await?;
    let token = csrf_token(&page.text()).context("the register page has no csrf token")?;
    let form = encode_form(&[("username", name), ("password", PASSWORD), ("csrf", &token)]);
    let registered = conn.post("/register", "application/x-www-form-urlencoded", form.as_bytes()).await?;
    if registered.status() != 303 {
        bail!("registering {name} answered {} instead of 303", registered.status());
    }
    // The token is replaced at login: read it again from a page.
    let page = conn.get("/").await?;
    let token = csrf_token(&page.text()).context("the room page has no csrf token")?;
    Ok((conn, token))
}

/// The multipart body of an upload of `bytes` named `name`.
fn form(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// `len` bytes of xorshift noise: nothing to compress, nothing to decode.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut state = u64::from(seed) | 1 << 40;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

struct Storm {
    ok: usize,
    failed: usize,
    first_error: Option<String>,
    upload: Latency,
    span_s: f64,
}

/// Every uploader at once, each `rounds` uploads in a row, inside `window`.
async fn upload_storm(
    uploaders: Vec<(Conn, String)>,
    rounds: usize,
    room: &str,
    body: Arc<Vec<u8>>,
    window: &Window,
) -> Storm {
    let mut storm = Storm { ok: 0, failed: 0, first_error: None, upload: latency(), span_s: 0.0 };
    let path = format!("/rooms/{room}/attachments");
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    window.open();
    let mut tasks = JoinSet::new();
    for (mut conn, token) in uploaders {
        let (path, content_type, body) = (path.clone(), content_type.clone(), body.clone());
        tasks.spawn(async move {
            let mut answers = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                let started = Instant::now();
                let headers = [("X-CSRF-Token", token.as_str())];
                let answer = conn.request_with("POST", &path, Some(&content_type), &headers, &body).await;
                answers.push((answer.map(|response| (response.status(), response.text())), started.elapsed()));
            }
            answers
        });
    }
    while let Some(done) = tasks.join_next().await {
        let answers = match done {
            Ok(answers) => answers,
            Err(e) => {
                storm.failed += rounds;
                storm.first_error.get_or_insert_with(|| e.to_string());
                continue;
            }
        };
        for answer in answers {
            match answer {
                (Ok((201, _)), took) => {
                    storm.ok += 1;
                    record_us(&mut storm.upload, took.as_micros() as u64);
                }
                (Ok((status, body)), _) => {
                    storm.failed += 1;
                    storm.first_error.get_or_insert_with(|| format!("the upload answered {status}: {body}"));
                }
                (Err(e), _) => {
                    storm.failed += 1;
                    storm.first_error.get_or_insert_with(|| format!("{e:#}"));
                }
            }
        }
    }
    window.close();
    storm.span_s = window.span_s();
    storm
}

pub(super) async fn storm(common: &Common, args: &UploadStormArgs) -> Result<Report> {
    let (name, bytes) = match &args.file {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            (path.file_name().map_or("upload".into(), |n| n.to_string_lossy().into_owned()), bytes)
        }
        None => ("random.bin".to_owned(), noise(args.bytes, common.run)),
    };
    let size = bytes.len();
    let body = Arc::new(form(&name, &bytes));
    let mut uploaders = Vec::with_capacity(args.uploads);
    for i in 0..args.uploads {
        uploaders.push(uploader(common, &format!("load{:08x}f{i}", common.run)).await?);
    }
    let room = format!("{}-files", common.room);

    let plan = plan(&args.fanout);
    let window = Arc::new(Window::default());
    let (posting_tx, posting_rx) = oneshot::channel();
    let storm_after = plan.duration / 2;
    let storm = async {
        posting_rx.await.ok()?;
        tokio::time::sleep(storm_after).await;
        Some(upload_storm(uploaders, args.rounds, &room, body, &window).await)
    };
    let (outcome, storm) = tokio::join!(fanout::run(common, &plan, Some(window.clone()), Some(posting_tx)), storm);
    let outcome = outcome?;
    let Some(storm) = storm else { bail!("the fan-out ended before the uploads") };

    let mut report = Report::new("upload-storm");
    describe(&mut report, &plan, &outcome);
    let inside = p99_ms(&outcome.delivery_in_window);
    let outside = p99_ms(&outcome.delivery_out_window);
    let added = inside.zip(outside).map(|(i, o)| ((i - o) * 1000.0).round() / 1000.0);
    report.line(format!(
        "uploads: {} of {} ({name}, {size} bytes; {} at once, {} in a row each) succeeded ({} failed{}) in {:.2} s, \
         {:.1} s into posting",
        storm.ok,
        args.uploads * args.rounds,
        args.uploads,
        args.rounds,
        storm.failed,
        storm.first_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default(),
        storm.span_s,
        storm_after.as_secs_f64()
    ));
    report.line(format!("upload latency: {}", brief(&storm.upload)));
    let ms = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v}"));
    report.line(format!(
        "delivery p99 during the uploads {} ms ({} deliveries) vs outside {} ms ({}): added p99 {} ms",
        ms(inside),
        outcome.delivery_in_window.len(),
        ms(outside),
        outcome.delivery_out_window.len(),
        ms(added)
    ));
    report.set("uploads", args.uploads);
    report.set("rounds", args.rounds);
    report.set("upload_bytes", size);
    report.set("uploads_ok", storm.ok);
    report.set("uploads_failed", storm.failed);
    report.set("first_upload_error", storm.first_error);
    report.set_f("storm_s", storm.span_s);
    report.set_f("storm_after_s", storm_after.as_secs_f64());
    report.set_latency("upload", &storm.upload);
    report.set_latency("delivery_storm", &outcome.delivery_in_window);
    report.set_latency("delivery_outside", &outcome.delivery_out_window);
    report.set("added_p99_ms", added);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_carries_the_file_between_its_boundaries() {
        let body = form("a.bin", b"xyz");
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"")));
        assert!(text.ends_with(&format!("\r\n\r\nxyz\r\n--{BOUNDARY}--\r\n")));
    }
}
