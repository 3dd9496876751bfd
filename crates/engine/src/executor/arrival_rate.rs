//! `constant-rate` and `ramping-rate`: iterations start on a schedule (an open model), whatever
//! the server's speed, from a pool of VUs that grows up to `max_vus`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::guard::{guarded, Active};
use super::share::{Executor, Share};
use crate::ctx::Ctx;
use crate::schedule::RateSchedule;
use crate::vu::{Flow, Vu};
use tokio_util::task::TaskTracker;

pub(super) struct ArrivalRate {
    /// `None` only for an executor that is not a rate (then nothing runs).
    pub schedule: Option<RateSchedule>,
    /// The most VUs the whole run may make (this worker makes its share of them).
    pub max_vus: u32,
    /// VUs made before the first iteration; by default a tenth of the peak rate's.
    pub pre_allocated_vus: Option<u32>,
}

impl Executor for ArrivalRate {
    fn start(&self, share: &Share) {
        let Some(schedule) = self.schedule.clone() else {
            return;
        };
        let pre = self
            .pre_allocated_vus
            .unwrap_or_else(|| (schedule.peak() / 10.0).ceil().max(1.0) as u32)
            .min(self.max_vus);
        let pool = Rc::new(Pool {
            ctx: share.ctx.clone(),
            tasks: share.tasks.clone(),
            idle: RefCell::new(Vec::new()),
            ids: RefCell::new(share.ids(self.max_vus).into_iter().rev().collect()),
            backlog: RefCell::new(VecDeque::new()),
            iterations: share.iterations,
        });
        for _ in share.ids(pre) {
            pool.spawn(None);
        }
        let ctx = share.ctx.clone();
        let (index, workers) = (share.index as u64, share.workers as u64);
        let (start, deadline) = (share.start, share.deadline);
        share.tasks.spawn_local(guarded(ctx.clone(), async move {
            let mut k = index;
            while let Some(t) = schedule.time_of(k) {
                let at = start + t;
                if at >= deadline {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = ctx.stop_wait() => break,
                }
                pool.dispatch(at);
                k += workers;
            }
            pool.close();
        }));
    }
}

/// How long an iteration may wait for a free VU before it is dropped.
const BACKLOG_WINDOW: Duration = Duration::from_secs(2);

/// A rate executor's VUs on one worker: idle ones wait for an iteration, new ones are made up
/// to the worker's share of `max_vus`. An iteration that finds every VU busy waits in a FIFO
/// backlog for the next VU to finish, its latency counted from its intended start (wrk2's
/// correction: a stalled server shows in the latency, not as missing samples); one that waited
/// longer than [`BACKLOG_WINDOW`] is dropped and counted, as is the backlog left at the end.
struct Pool {
    ctx: Rc<Ctx>,
    tasks: TaskTracker,
    idle: RefCell<Vec<Rc<Mailbox>>>,
    /// VU ids not used yet (popped from the end).
    ids: RefCell<Vec<u64>>,
    backlog: RefCell<VecDeque<Instant>>,
    iterations: Option<u64>,
}

#[derive(Default)]
struct Mailbox {
    job: Cell<Option<Instant>>,
    wake: Notify,
}

impl Pool {
    fn dispatch(self: &Rc<Self>, at: Instant) {
        self.expire(Instant::now());
        let idle = self.idle.borrow_mut().pop();
        match idle {
            Some(mb) => {
                mb.job.set(Some(at));
                mb.wake.notify_one();
            }
            None => {
                if !self.spawn(Some(at)) {
                    self.backlog.borrow_mut().push_back(at);
                }
            }
        }
    }

    /// Drops the backlog's iterations that waited longer than [`BACKLOG_WINDOW`].
    fn expire(&self, now: Instant) {
        let mut backlog = self.backlog.borrow_mut();
        while backlog
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) > BACKLOG_WINDOW)
        {
            backlog.pop_front();
            self.ctx.metrics.borrow_mut().dropped();
        }
    }

    /// The next iteration for a VU that just finished one.
    fn next_job(&self) -> Option<Instant> {
        self.expire(Instant::now());
        self.backlog.borrow_mut().pop_front()
    }

    /// Starts a VU (with a first iteration, or idle); false when the pool is full.
    fn spawn(self: &Rc<Self>, first: Option<Instant>) -> bool {
        let Some(id) = self.ids.borrow_mut().pop() else {
            return false;
        };
        let mb = Rc::new(Mailbox::default());
        mb.job.set(first);
        if first.is_none() {
            self.idle.borrow_mut().push(mb.clone());
        }
        let pool = self.clone();
        let mut vu = Vu::new(id, self.ctx.clone());
        self.tasks
            .spawn_local(guarded(self.ctx.clone(), async move {
                let ctx = pool.ctx.clone();
                loop {
                    let at = loop {
                        if let Some(at) = mb.job.take() {
                            break Some(at);
                        }
                        if ctx.stopped() {
                            break None;
                        }
                        tokio::select! {
                            _ = mb.wake.notified() => {}
                            _ = ctx.stop_wait() => {}
                        }
                    };
                    let Some(at) = at else { return };
                    let active = Active::new(&ctx);
                    let flow = vu.iteration(Some(at)).await;
                    drop(active);
                    if flow == Flow::Stop || pool.iterations.is_some_and(|n| vu.iterations >= n) {
                        return;
                    }
                    match pool.next_job() {
                        Some(at) => mb.job.set(Some(at)),
                        None => pool.idle.borrow_mut().push(mb.clone()),
                    }
                }
            }));
        true
    }

    /// The schedule is over: idle VUs end, and what still waits in the backlog is dropped.
    fn close(&self) {
        let left = self.backlog.borrow_mut().drain(..).count();
        let mut m = self.ctx.metrics.borrow_mut();
        for _ in 0..left {
            m.dropped();
        }
        drop(m);
        self.ctx.stop_local();
    }
}
