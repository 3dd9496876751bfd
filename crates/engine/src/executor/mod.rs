//! Executors (k6's `lib/executor/` is the model): how a worker's share of the VUs is started
//! and fed iterations. Each executor is one file implementing [`Executor`]; [`of`] picks the
//! one a scenario's `load.executor` names. Adding an executor is a new file and an arm there.
//!
//! Every executor runs on every worker thread at once, each instance on its own share: VU `i`
//! lives on worker `i % workers`, and a rate executor's worker `w` starts iterations `w`,
//! `w + workers`, … of the schedule.

mod arrival_rate;
mod constant_vus;
mod ramping_vus;

use std::rc::Rc;
use std::time::Instant;

use loadtape_format::scenario;

use crate::ctx::Ctx;
use crate::schedule::RateSchedule;
use crate::tasks::Tasks;
use crate::vu::Vu;

/// What an executor works with on one worker.
pub struct Share {
    pub ctx: Rc<Ctx>,
    /// The worker waits for these before it sends its totals: every VU task is spawned here.
    pub tasks: Rc<Tasks>,
    /// This worker, of `workers`.
    pub index: usize,
    pub workers: usize,
    /// The run's start, the same on every worker: schedules are timed from it.
    pub start: Instant,
    /// When the executor's duration is over.
    pub deadline: Instant,
    /// `--iterations N`: each VU stops after this many flows.
    pub iterations: Option<u64>,
}

impl Share {
    /// This worker's VU ids below `max`.
    pub fn ids(&self, max: u32) -> Vec<u64> {
        (self.index as u64..max as u64)
            .step_by(self.workers)
            .collect()
    }
}

/// Whether `vu` may start another iteration: the run goes on and `--iterations` allows.
pub fn more(ctx: &Ctx, iterations: Option<u64>, vu: &Vu) -> bool {
    !ctx.stopped() && iterations.is_none_or(|n| vu.iterations < n)
}

/// One executor on one worker.
pub trait Executor {
    /// Spawns the worker's VUs (and whatever feeds them) on `share.tasks`; returns at once.
    fn start(&self, share: &Share);
}

/// The executor a scenario's `load.executor` names.
pub fn of(e: &scenario::Executor) -> Box<dyn Executor> {
    match e {
        scenario::Executor::ConstantVus { vus, .. } => {
            Box::new(constant_vus::ConstantVus { vus: *vus })
        }
        scenario::Executor::RampingVus { start_vus, stages } => Box::new(ramping_vus::RampingVus {
            start_vus: *start_vus,
            stages: stages.clone(),
            max_vus: e.max_vus(),
        }),
        scenario::Executor::ConstantRate {
            max_vus,
            pre_allocated_vus,
            ..
        }
        | scenario::Executor::RampingRate {
            max_vus,
            pre_allocated_vus,
            ..
        } => Box::new(arrival_rate::ArrivalRate {
            schedule: RateSchedule::of(e),
            max_vus: *max_vus,
            pre_allocated_vus: *pre_allocated_vus,
        }),
    }
}
