//! The server's background tasks (the fan-out, the Redis links, following
//! other instances' moderation): every handle is kept here, and every task
//! stops when the server shuts down.
//!
//! A task is spawned through [`Tasks::spawn`], which races it against the
//! stop signal, so a task needs no shutdown logic of its own: it is dropped
//! at its next await once [`Tasks::stop`] is called. Short-lived timers
//! (presence grace periods) are not tasks in this sense and are not kept.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long shutdown waits for one task to finish after the stop signal.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// The running background tasks.
pub struct Tasks {
    stop: watch::Sender<bool>,
    /// A std mutex: held only to push or take handles, never across an await.
    handles: Mutex<Vec<(&'static str, JoinHandle<()>)>>,
}

impl Default for Tasks {
    fn default() -> Self {
        Self::new()
    }
}

impl Tasks {
    pub fn new() -> Self {
        Self { stop: watch::channel(false).0, handles: Mutex::new(Vec::new()) }
    }

    /// Runs `task` until it ends or the server stops, keeping its handle.
    pub fn spawn(&self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let mut stop = self.stop.subscribe();
        let handle = tokio::spawn(async move {
            tokio::select! {
                () = task => {}
                _ = stop.wait_for(|stopped| *stopped) => {}
            }
        });
        self.handles().push((name, handle));
    }

    /// How many tasks were started and have not been stopped.
    pub fn running(&self) -> usize {
        self.handles().iter().filter(|(_, handle)| !handle.is_finished()).count()
    }

    /// Signals every task to stop and waits for each (a few seconds at most
    /// each, so shutdown cannot hang on one).
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        let handles = std::mem::take(&mut *self.handles());
        for (name, handle) in handles {
            match tokio::time::timeout(STOP_WAIT, handle).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("background task {name} failed: {e}"),
                Err(_) => tracing::warn!("background task {name} did not stop within {STOP_WAIT:?}"),
            }
        }
    }

    fn handles(&self) -> std::sync::MutexGuard<'_, Vec<(&'static str, JoinHandle<()>)>> {
        self.handles.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stopping_ends_every_task_even_one_that_never_returns() {
        let tasks = Tasks::new();
        tasks.spawn("forever", std::future::pending());
        tasks.spawn("quick", async {});
        tokio::task::yield_now().await;
        assert_eq!(tasks.running(), 1, "the quick one is done, the other runs");
        tokio::time::timeout(Duration::from_secs(1), tasks.stop()).await.expect("stop does not hang");
        assert_eq!(tasks.running(), 0);
    }
}
