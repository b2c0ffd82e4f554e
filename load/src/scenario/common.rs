//! What every scenario of a run shares: the target (and further instances
//! of the same service), the room, the run id, the bounds on connecting and
//! waiting, and whether to keep a per-second series. Set once from the
//! command line; scenarios read it and must not change it (`rooms` makes a
//! copy per pass, with a room of its own).

use std::time::Duration;

use crate::probe::run_id;
use crate::target::Target;

/// Settings every scenario uses.
#[derive(Debug, Clone)]
pub struct Common {
    pub target: Target,
    /// Further instances of the same service (sharing its database and
    /// bus): subscribers and posters are dealt over `target` and these in
    /// turn, so one run spans every instance.
    pub also: Vec<Target>,
    /// The room every stream and post of the run uses.
    pub room: String,
    /// Tags this run's messages, so replays of other runs are not counted.
    pub run: u32,
    /// How many sockets may be connecting at once.
    pub connect_concurrency: usize,
    /// Whether `connect_concurrency` was asked for: `resume-storm` then
    /// reconnects that many at once instead of all its streams.
    pub connect_concurrency_given: bool,
    /// The bound on any one connect or request.
    pub timeout: Duration,
    /// The server's process id, for its CPU and memory figures.
    pub server_pid: Option<u32>,
    /// The hard overall deadline; by default the scenario's nominal length
    /// plus two minutes.
    pub deadline: Option<Duration>,
    /// Whether to keep the per-second series (`--out`): two more atomic
    /// adds per delivery, so only when asked.
    pub record_series: bool,
}

impl Common {
    /// Defaults: a fresh room `load-<run>`, 256 concurrent connects, 30 s
    /// timeouts.
    pub fn new(target: Target) -> Self {
        let run = run_id();
        Self {
            target,
            also: Vec::new(),
            room: format!("load-{run:08x}"),
            run,
            connect_concurrency: 256,
            connect_concurrency_given: false,
            timeout: Duration::from_secs(30),
            server_pid: None,
            deadline: None,
            record_series: false,
        }
    }
}

impl Common {
    /// The instance the `i`th subscriber (or poster) uses.
    pub fn target_for(&self, i: usize) -> &Target {
        match i % (self.also.len() + 1) {
            0 => &self.target,
            k => &self.also[k - 1],
        }
    }

    /// How many instances the run spans.
    pub fn instances(&self) -> usize {
        self.also.len() + 1
    }
}
