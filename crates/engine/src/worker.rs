//! Worker threads: one current-thread tokio runtime per core, each running its share of the
//! VUs (VU `i` lives on worker `i % workers`) with its own metrics. Nothing crosses threads
//! per request; a worker talks to the coordinator once a second (its interval) and at the end
//! (its totals). Shared tokens and data cursors are the only state the workers share.

use std::rc::Rc;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::control::{Control, EndReason};
use crate::ctx::Ctx;
use crate::executor::{self, Share};
use crate::http::Tls;
use crate::live::Report;
use crate::metrics::{Interval, WorkerMetrics};
use crate::plan::Plan;
use crate::shared_conns::SharedConns;
use crate::tokens::SharedToken;
use tokio_util::task::TaskTracker;

/// How long VUs may finish the requests they have in flight once the run ends.
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// What a worker sends the coordinator.
pub(crate) enum Msg {
    /// Second `second` of the run is over for worker `worker` (each worker's in order).
    Tick {
        worker: usize,
        second: u64,
        interval: Interval,
    },
    /// With [`crate::Options::checkpoint`]: worker `worker`'s totals so far, every so many
    /// seconds, so that a result can be written while the run goes on.
    Checkpoint {
        worker: usize,
        metrics: Box<WorkerMetrics>,
    },
    /// With live numbers on ([`crate::Options::live`]): the worker's cumulative rows, after
    /// each tick and, settled, just before [`Msg::Done`].
    Live(Box<Report>),
    /// Worker `worker` is done: its last (partial) second and its totals.
    Done {
        worker: usize,
        second: u64,
        interval: Interval,
        metrics: Box<WorkerMetrics>,
    },
}

/// What a worker thread is started with.
pub(crate) struct WorkerInit {
    /// This worker's number, of `workers`: it runs VUs `index`, `index + workers`, ….
    pub index: usize,
    /// How many workers the run has.
    pub workers: usize,
    /// The run's plan.
    pub plan: Arc<Plan>,
    /// One cell per token step, shared by every worker.
    pub shared: Arc<Vec<SharedToken>>,
    /// TLS settings for the worker's connections.
    pub tls: Tls,
    /// The run-wide stop switch.
    pub control: Arc<Control>,
    /// Where the worker's [`Msg`]s go: the coordinator.
    pub tx: Sender<Msg>,
    /// The run's start, the same for every worker: schedules and seconds count from it.
    pub start: Instant,
}

/// The body of a worker thread.
pub(crate) fn run(init: WorkerInit) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            init.plan.options.sink.line(format_args!(
                "error: worker {} cannot start its runtime: {e}",
                init.index
            ));
            init.control.end(EndReason::Interrupted);
            let plan = &init.plan;
            let _ = init.tx.send(Msg::Done {
                worker: init.index,
                second: 0,
                interval: Interval::new(),
                metrics: Box::new(WorkerMetrics::new(plan.tokens.len(), plan.steps.len())),
            });
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, worker(init));
}

async fn worker(init: WorkerInit) {
    let plan = init.plan.clone();
    let mut ctx = Ctx::new(
        plan.clone(),
        init.shared.clone(),
        init.tls.clone(),
        init.control.clone(),
        init.start,
    );
    ctx.conns = plan.options.shared_connections.map(|n| {
        Rc::new(SharedConns::new(
            n,
            init.index,
            init.workers,
            plan.origins.len(),
        ))
    });
    let ctx = Rc::new(ctx);
    let start = init.start;
    let deadline = start + plan.duration();

    // The run-wide stop, and the schedule's end, stop this worker's VUs.
    {
        let ctx = ctx.clone();
        tokio::task::spawn_local(async move {
            tokio::select! {
                _ = ctx.control.wait() => {}
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
            ctx.stop_local();
        });
    }
    // Once a second: this worker's interval to the coordinator.
    let (index, live) = (init.index, plan.options.live);
    let ticker = {
        let ctx = ctx.clone();
        let tx = init.tx.clone();
        let every = plan.options.checkpoint.map_or(0, |d| d.as_secs().max(1));
        tokio::task::spawn_local(async move {
            let mut second = 0u64;
            loop {
                tokio::time::sleep_until((start + Duration::from_secs(second + 1)).into()).await;
                let interval = ctx.metrics.borrow_mut().take_interval();
                let tick = Msg::Tick {
                    worker: index,
                    second,
                    interval,
                };
                if tx.send(tick).is_err() {
                    return;
                }
                if live {
                    let report = Report::of(index, second, &ctx.metrics.borrow(), false);
                    let _ = tx.send(Msg::Live(Box::new(report)));
                }
                second += 1;
                if every > 0 && second.is_multiple_of(every) {
                    // Requests in flight are left out, not settled: they may still answer.
                    let metrics = Box::new(ctx.metrics.borrow().clone());
                    if tx
                        .send(Msg::Checkpoint {
                            worker: index,
                            metrics,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            }
        })
    };

    let tasks = TaskTracker::new();
    for (g, group) in plan.groups.iter().enumerate() {
        let group_ctx = if plan.groups.len() == 1 {
            ctx.clone()
        } else {
            let own = Rc::new(ctx.for_group(g));
            // Each executor stops at the end of its own schedule.
            let ends = start + group.load.executor.duration();
            let stop = own.clone();
            tokio::task::spawn_local(async move {
                tokio::select! {
                    _ = stop.stop_wait() => {}
                    _ = tokio::time::sleep_until(ends.into()) => {}
                }
                stop.stop_local();
            });
            own
        };
        let share = Share {
            ctx: group_ctx,
            tasks: tasks.clone(),
            index: init.index,
            workers: init.workers,
            start,
            deadline: start + group.load.executor.duration(),
            iterations: group.load.iterations,
            first_vu: group.first_vu,
        };
        executor::of(&group.load.executor).start(&share);
    }
    // Closed, the tracker's wait ends once its tasks have (tasks spawned later still count).
    tasks.close();

    tokio::select! {
        _ = tasks.wait() => {}
        _ = ctx.stop_wait() => {
            let _ = tokio::time::timeout(GRACE, tasks.wait()).await;
        }
    }
    ticker.abort();
    let second = start.elapsed().as_secs();
    let mut metrics = ctx.metrics.borrow_mut();
    // Requests still out after the grace period were sent: they count.
    metrics.settle();
    let interval = metrics.take_interval();
    if live {
        let report = Report::of(index, second, &metrics, true);
        let _ = init.tx.send(Msg::Live(Box::new(report)));
    }
    let _ = init.tx.send(Msg::Done {
        worker: index,
        second,
        interval,
        metrics: Box::new(metrics.clone()),
    });
}
