//! Progress of long command-line work (`chat db backup`, `chat export`,
//! `chat db sweep`, and `chat-load seed`, which shares this), on standard
//! error: a bar on a terminal; elsewhere (a log, CI, a pipe) a plain line
//! every [`EVERY`] and one at the end, so the work shows wherever it runs.
//!
//! The work tells how far it got a chunk at a time (a page, a batch),
//! never per row: an update is an atomic add, and a line or a redraw comes
//! at most every [`EVERY`] or at the bar's own refresh rate, so showing
//! progress costs the work nothing it would notice. This module only
//! shows: it never writes to standard output, which belongs to the work
//! (an export's JSON lines), and it decides nothing about the work.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How often a plain line is written while the work goes on.
pub const EVERY: Duration = Duration::from_secs(2);

/// The bar once its total is known, and before (a spinner and a count).
const BAR: &str = "{prefix}: [{bar:30}] {pos}/{len} {msg} ({rate}, about {eta} left)";
const COUNT: &str = "{prefix}: {spinner} {pos} {msg} ({rate})";

/// One piece of work's progress; clones show the same one (a blocking
/// thread and the task that waits for it, say).
#[derive(Clone)]
pub struct Progress(Arc<Inner>);

struct Inner {
    /// What is being done, first on every line: `export`, `backup`.
    what: String,
    /// What is counted: `messages`, `pages`.
    unit: &'static str,
    /// 0 while unknown.
    total: AtomicU64,
    done: AtomicU64,
    started: Instant,
    /// When the last plain line was written.
    shown: Mutex<Instant>,
    /// `None`: plain lines.
    bar: Option<ProgressBar>,
    finished: AtomicBool,
}

impl Progress {
    /// A bar when standard error is a terminal, plain lines otherwise.
    pub fn new(what: &str, unit: &'static str, total: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| bar(what, unit, total, ProgressDrawTarget::stderr()));
        Self::with(what, unit, total, bar)
    }

    /// Plain lines, whatever standard error is.
    pub fn lines(what: &str, unit: &'static str, total: Option<u64>) -> Self {
        Self::with(what, unit, total, None)
    }

    fn with(what: &str, unit: &'static str, total: Option<u64>, bar: Option<ProgressBar>) -> Self {
        let now = Instant::now();
        Self(Arc::new(Inner {
            what: what.to_owned(),
            unit,
            total: AtomicU64::new(total.unwrap_or(0)),
            done: AtomicU64::new(0),
            started: now,
            shown: Mutex::new(now),
            bar,
            finished: AtomicBool::new(false),
        }))
    }

    /// The total, once it is known (a backup learns its page count from
    /// its first step).
    pub fn set_total(&self, total: u64) {
        let before = self.0.total.swap(total, Ordering::Relaxed);
        if let Some(bar) = &self.0.bar
            && before != total
        {
            if before == 0 {
                bar.set_style(style(BAR));
            }
            bar.set_length(total);
        }
    }

    /// `n` more are done.
    pub fn add(&self, n: u64) {
        let done = self.0.done.fetch_add(n, Ordering::Relaxed) + n;
        self.shown_at(done);
    }

    /// `done` are done in all.
    pub fn set(&self, done: u64) {
        self.0.done.store(done, Ordering::Relaxed);
        self.shown_at(done);
    }

    pub fn done(&self) -> u64 {
        self.0.done.load(Ordering::Relaxed)
    }

    fn shown_at(&self, done: u64) {
        if let Some(bar) = &self.0.bar {
            // The bar redraws at its own rate, however often it is told.
            bar.set_position(done);
            return;
        }
        let mut shown = self.0.shown.lock().unwrap_or_else(PoisonError::into_inner);
        if shown.elapsed() >= EVERY {
            *shown = Instant::now();
            eprintln!("{}", self.line());
        }
    }

    /// Ends the bar (or the lines) with one last line: what was done, in
    /// how long. Only the first call writes it.
    pub fn finish(&self) {
        if self.0.finished.swap(true, Ordering::Relaxed) {
            return;
        }
        if let Some(bar) = &self.0.bar {
            bar.finish_and_clear();
        }
        eprintln!("{}", self.last_line());
    }

    /// `export: 12000 / 50000 messages (24.0%), 6000/s, 2s so far, about 6s left`
    pub fn line(&self) -> String {
        let (what, unit) = (&self.0.what, self.0.unit);
        let done = self.done();
        let seconds = self.0.started.elapsed().as_secs_f64();
        let rate = done as f64 / seconds.max(1e-9);
        match self.0.total.load(Ordering::Relaxed) {
            0 => format!("{what}: {done} {unit}, {rate:.0}/s, {} so far", clock(seconds)),
            total => {
                let left = total.saturating_sub(done) as f64 / rate.max(1e-9);
                format!(
                    "{what}: {done} / {total} {unit} ({:.1}%), {rate:.0}/s, {} so far, about {} left",
                    100.0 * done as f64 / total as f64,
                    clock(seconds),
                    clock(left)
                )
            }
        }
    }

    /// `export: done, 50000 messages in 8.1 s`
    pub fn last_line(&self) -> String {
        let seconds = self.0.started.elapsed().as_secs_f64();
        format!("{}: done, {} {} in {seconds:.1} s", self.0.what, self.done(), self.0.unit)
    }
}

fn bar(what: &str, unit: &'static str, total: Option<u64>, target: ProgressDrawTarget) -> ProgressBar {
    // Styled before it is first drawn.
    ProgressBar::with_draw_target(total, target)
        .with_style(style(if total.is_some() { BAR } else { COUNT }))
        .with_prefix(what.to_owned())
        .with_message(unit)
}

fn style(template: &str) -> ProgressStyle {
    // `{rate}`: whole units a second (indicatif's `{per_sec}` has decimals).
    let rate = |state: &ProgressState, out: &mut dyn std::fmt::Write| {
        let _ = write!(out, "{:.0}/s", state.per_sec());
    };
    ProgressStyle::with_template(template)
        .expect("the templates are valid")
        .with_key("rate", rate)
        .progress_chars("=> ")
}

/// `1h02m`, `3m07s` or `12s`.
pub fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_a_clock() {
        assert_eq!(clock(12.4), "12s");
        assert_eq!(clock(187.0), "3m07s");
        assert_eq!(clock(3720.0), "1h02m");
    }

    #[test]
    fn a_line_says_how_far_of_how_much_and_the_last_one_says_done() {
        let progress = Progress::lines("export", "messages", Some(200));
        progress.add(50);
        progress.add(50);
        assert!(progress.line().starts_with("export: 100 / 200 messages (50.0%), "), "{}", progress.line());
        assert!(progress.line().contains("left"), "{}", progress.line());
        progress.set(200);
        assert!(progress.last_line().starts_with("export: done, 200 messages in "), "{}", progress.last_line());
    }

    #[test]
    fn an_unknown_total_is_a_count_until_it_is_known() {
        let progress = Progress::lines("backup", "pages", None);
        progress.set(7);
        assert!(progress.line().starts_with("backup: 7 pages, "), "{}", progress.line());
        progress.set_total(10);
        assert!(progress.line().starts_with("backup: 7 / 10 pages (70.0%)"), "{}", progress.line());
    }

    #[test]
    fn the_bar_takes_its_templates_and_its_total_late() {
        let hidden = bar("backup", "pages", None, ProgressDrawTarget::hidden());
        let progress = Progress::with("backup", "pages", None, Some(hidden.clone()));
        progress.set_total(40);
        progress.set(10);
        assert_eq!((hidden.position(), hidden.length()), (10, Some(40)));
        progress.finish();
        assert!(hidden.is_finished());
    }
}
