//! The interface every executor implements, and what it is given on one worker.

use std::rc::Rc;
use std::time::Instant;

use crate::ctx::Ctx;
use crate::vu::Vu;
use tokio_util::task::TaskTracker;

/// What an executor works with on one worker.
pub(crate) struct Share {
    /// The worker's shared state, handed to every VU it makes.
    pub ctx: Rc<Ctx>,
    /// The worker waits for these before it sends its totals: every VU task is spawned here.
    pub tasks: TaskTracker,
    /// This worker, of `workers`.
    pub index: usize,
    /// How many workers the run has.
    pub workers: usize,
    /// The run's start, the same on every worker: schedules are timed from it.
    pub start: Instant,
    /// When the executor's duration is over.
    pub deadline: Instant,
    /// `--iterations N`: each VU stops after this many flows.
    pub iterations: Option<u64>,
    /// The executor's VU ids start here (each executor of a mixed run numbers its own).
    pub first_vu: u64,
}

impl Share {
    /// This worker's VU ids among the executor's first `max`.
    pub(crate) fn ids(&self, max: u32) -> Vec<u64> {
        (self.index as u64..max as u64)
            .step_by(self.workers)
            .map(|i| self.first_vu + i)
            .collect()
    }
}

/// Whether `vu` may start another iteration: the run goes on and `--iterations` allows.
pub(super) fn more(ctx: &Ctx, iterations: Option<u64>, vu: &Vu) -> bool {
    !ctx.stopped() && iterations.is_none_or(|n| vu.iterations < n)
}

/// One executor on one worker.
pub(crate) trait Executor {
    /// Spawns the worker's VUs (and whatever feeds them) on `share.tasks`; returns at once.
    fn start(&self, share: &Share);
}
