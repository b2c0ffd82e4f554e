//! The `login-storm` scenario and the chat server's account forms: accounts
//! are registered before the run (`GET /register` for the cookies and the
//! CSRF token if the page has one, then `POST /register`), and in the
//! middle of a fan-out that many logins run at once (`GET /login`, then
//! `POST /login`). The report compares the fan-out's delivery p99 for
//! messages sent during the storm with the rest of the run.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::delivery::{describe, plan};
use super::fanout::{self, Window};
use super::{Common, LoginStormArgs};
use crate::http::{Conn, encode_form};
use crate::report::{Latency, Report, brief, latency, p99_ms, record_us};

const PASSWORD: &str = "chat-load password 1";

/// Registrations run this many at a time (each costs the server a password
/// hash).
const REGISTER_CONCURRENCY: usize = 4;

/// The value of the page's hidden `csrf` input, if it has one (HTML
/// entities in it decoded).
pub fn csrf_token(html: &str) -> Option<String> {
    let mut rest = html;
    while let Some(at) = rest.find("<input") {
        let tag_and_after = &rest[at..];
        let end = tag_and_after.find('>')?;
        let tag = &tag_and_after[..end];
        if tag.contains("name=\"csrf\"") || tag.contains("name='csrf'") || tag.contains("name=csrf ") {
            let value = ["value=\"", "value='"].iter().find_map(|open| {
                let start = tag.find(open)? + open.len();
                let close = if open.ends_with('"') { '"' } else { '\'' };
                let len = tag[start..].find(close)?;
                Some(&tag[start..start + len])
            })?;
            return Some(unescape(value));
        }
        rest = &tag_and_after[end..];
    }
    None
}

fn unescape(value: &str) -> String {
    let mut out = value.to_owned();
    for (entity, c) in [
        ("&#x2F;", "/"),
        ("&#47;", "/"),
        ("&#x27;", "'"),
        ("&#39;", "'"),
        ("&quot;", "\""),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&#x3D;", "="),
        ("&#61;", "="),
        ("&#x2B;", "+"),
        ("&#43;", "+"),
        ("&amp;", "&"),
    ] {
        out = out.replace(entity, c);
    }
    out
}

/// GETs the form page (for cookies and the token), then POSTs the form.
/// Returns the POST's status and its latency.
pub(super) async fn submit(common: &Common, page: &str, username: &str) -> Result<(u16, Duration)> {
    let mut conn = Conn::new(&common.target, common.timeout);
    let form_page = conn.get(page).await?;
    if form_page.status() != 200 {
        bail!("GET {page} answered {}", form_page.status());
    }
    let token = csrf_token(&form_page.text());
    let mut fields = vec![("username", username), ("password", PASSWORD)];
    if let Some(token) = &token {
        fields.push(("csrf", token));
    }
    let sent = Instant::now();
    let response = conn.post(page, "application/x-www-form-urlencoded", encode_form(&fields).as_bytes()).await?;
    Ok((response.status(), sent.elapsed()))
}

/// Registers `names`, a few at a time; each must answer 303.
pub(super) async fn register(common: &Common, names: &[String]) -> Result<()> {
    let permits = Arc::new(Semaphore::new(REGISTER_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for name in names {
        let (common, name, permits) = (common.clone(), name.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let (status, _) = submit(&common, "/register", &name).await?;
            if status != 303 {
                bail!("registering {name} answered {status} instead of 303");
            }
            Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

struct Storm {
    ok: usize,
    failed: usize,
    first_error: Option<String>,
    /// GET page + POST form, per login.
    login: Latency,
    /// The POST alone.
    post: Latency,
    span_s: f64,
}

/// All logins at once, inside `window`.
async fn login_storm(common: &Common, names: &[String], window: &Window) -> Storm {
    let mut storm = Storm { ok: 0, failed: 0, first_error: None, login: latency(), post: latency(), span_s: 0.0 };
    window.open();
    let mut tasks = JoinSet::new();
    for name in names {
        let (common, name) = (common.clone(), name.clone());
        tasks.spawn(async move {
            let started = Instant::now();
            let result = submit(&common, "/login", &name).await;
            (result, started.elapsed())
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((Ok((303, post)), total)) => {
                storm.ok += 1;
                record_us(&mut storm.login, total.as_micros() as u64);
                record_us(&mut storm.post, post.as_micros() as u64);
            }
            Ok((Ok((status, _)), _)) => {
                storm.failed += 1;
                storm.first_error.get_or_insert_with(|| format!("POST /login answered {status}"));
            }
            Ok((Err(e), _)) => {
                storm.failed += 1;
                storm.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
            Err(e) => {
                storm.failed += 1;
                storm.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    window.close();
    storm.span_s = window.span_s();
    storm
}

pub(super) async fn storm(common: &Common, args: &LoginStormArgs) -> Result<Report> {
    let names: Vec<String> = (0..args.logins).map(|i| format!("load{:08x}u{i}", common.run)).collect();
    let registering = Instant::now();
    register(common, &names).await?;
    let register_s = registering.elapsed().as_secs_f64();

    let plan = plan(&args.fanout);
    let window = Arc::new(Window::default());
    let (posting_tx, posting_rx) = oneshot::channel();
    let storm_after = plan.duration / 2;
    let storm = async {
        // If the fan-out fails before posting, there is no storm.
        posting_rx.await.ok()?;
        tokio::time::sleep(storm_after).await;
        Some(login_storm(common, &names, &window).await)
    };
    let (outcome, storm) = tokio::join!(fanout::run(common, &plan, Some(window.clone()), Some(posting_tx)), storm);
    let outcome = outcome?;
    let Some(storm) = storm else { bail!("the fan-out ended before the login storm") };

    let mut report = Report::new("login-storm");
    describe(&mut report, &plan, &outcome);
    let inside = p99_ms(&outcome.delivery_in_window);
    let outside = p99_ms(&outcome.delivery_out_window);
    let added = inside.zip(outside).map(|(i, o)| ((i - o) * 1000.0).round() / 1000.0);
    report.line(format!(
        "logins: {} of {} succeeded ({} failed{}) in a {:.2} s storm {:.1} s into posting; accounts registered in {register_s:.2} s",
        storm.ok,
        args.logins,
        storm.failed,
        storm.first_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default(),
        storm.span_s,
        storm_after.as_secs_f64()
    ));
    report.line(format!("login latency (page + form): {}", brief(&storm.login)));
    report.line(format!(
        "delivery p99 during the storm {} ms ({} deliveries) vs outside {} ms ({}): added p99 {} ms",
        fmt_ms(inside),
        outcome.delivery_in_window.len(),
        fmt_ms(outside),
        outcome.delivery_out_window.len(),
        fmt_ms(added)
    ));
    report.set("logins", args.logins);
    report.set("logins_ok", storm.ok);
    report.set("logins_failed", storm.failed);
    report.set("first_login_error", storm.first_error);
    report.set_f("register_s", register_s);
    report.set_f("storm_s", storm.span_s);
    report.set_f("storm_after_s", storm_after.as_secs_f64());
    report.set_latency("login", &storm.login);
    report.set_latency("login_post", &storm.post);
    report.set_latency("delivery_storm", &outcome.delivery_in_window);
    report.set_latency("delivery_outside", &outcome.delivery_out_window);
    report.set("added_p99_ms", added);
    Ok(report)
}

fn fmt_ms(value: Option<f64>) -> String {
    value.map_or("n/a".to_owned(), |v| format!("{v}"))
}

#[cfg(test)]
mod tests {
    use super::csrf_token;

    #[test]
    fn the_token_is_found_wherever_the_attributes_are() {
        let page = r#"<form><input name="username"><input type="hidden" name="csrf" value="a&#x2F;b+c="></form>"#;
        assert_eq!(csrf_token(page).as_deref(), Some("a/b+c="));
        let page = r#"<input value='xyz' type=hidden name='csrf'>"#;
        assert_eq!(csrf_token(page).as_deref(), Some("xyz"));
        assert_eq!(csrf_token(r#"<form><input name="username" value="bob"></form>"#), None);
        assert_eq!(csrf_token("no form here"), None);
    }
}
