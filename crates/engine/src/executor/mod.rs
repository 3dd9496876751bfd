//! Executors (k6's `lib/executor/` is the model): how a worker's share of the VUs is started
//! and fed iterations. Each executor is one file implementing [`Executor`] (in [`share`], with what it is given, so that the
//! executors and this module do not use each other back); [`of`] picks the
//! one a scenario's `load.executor` names. Adding an executor is a new file and an arm there.
//!
//! Every executor runs on every worker thread at once, each instance on its own share: VU `i`
//! lives on worker `i % workers`, and a rate executor's worker `w` starts iterations `w`,
//! `w + workers`, … of the schedule.

mod arrival_rate;
mod constant_vus;
mod guard;
mod ramping_vus;
mod share;

use loadtape_scenario as scenario;

use crate::schedule::RateSchedule;
pub(crate) use share::{Executor, Share};

/// The executor a scenario's `load.executor` names.
pub(crate) fn of(e: &scenario::Executor) -> Box<dyn Executor> {
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
