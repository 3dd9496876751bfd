//! Worker threads: one current-thread tokio runtime per core, each running its share of the
//! VUs (VU `i` lives on worker `i % workers`) with its own metrics. Nothing crosses threads
//! per request; a worker talks to the coordinator once a second (its interval) and at the end
//! (its totals). Shared tokens and data cursors are the only state the workers share.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loadtape_scenario::Executor;
use tokio::sync::Notify;

use crate::http::Tls;
use crate::metrics::{Interval, WorkerMetrics};
use crate::plan::Plan;
use crate::schedule::{vus_at, RateSchedule};
use crate::tokens::{SharedToken, TOKEN_ATTEMPTS};
use crate::vu::{Flow, Vu};

/// How long VUs may finish the requests they have in flight once the run ends.
pub const GRACE: Duration = Duration::from_secs(5);

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Completed,
    Iterations,
    Data,
    /// A token step never succeeded: no step could run without it.
    Token,
    Interrupted,
}

impl EndReason {
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Completed => "completed",
            EndReason::Iterations => "iterations",
            EndReason::Data => "data",
            EndReason::Token => "token",
            EndReason::Interrupted => "interrupted",
        }
    }
}

/// The run-wide stop switch.
#[derive(Default)]
pub struct Control {
    stop: AtomicBool,
    reason: Mutex<Option<EndReason>>,
    /// What went wrong, when the run ends on a failure ([`Control::fail`]).
    detail: Mutex<Option<String>>,
    notify: Notify,
}

impl Control {
    /// Ends the run early (the first reason given is kept).
    pub fn end(&self, reason: EndReason) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        r.get_or_insert(reason);
        drop(r);
        self.stop.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Ends the run because it cannot go on: `detail` says why (printed at once, and kept for
    /// the summary and the exit message). Only the first failure is kept.
    pub fn fail(&self, reason: EndReason, detail: String) {
        let mut d = self.detail.lock().unwrap_or_else(|p| p.into_inner());
        if d.is_none() && !self.stopped() {
            say(format_args!("error: {detail}"));
            *d = Some(detail);
        }
        drop(d);
        self.end(reason);
    }

    pub fn detail(&self) -> Option<String> {
        self.detail
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    pub fn reason(&self) -> Option<EndReason> {
        *self.reason.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn wait(&self) {
        loop {
            let n = self.notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.stopped() {
                return;
            }
            n.await;
        }
    }
}

/// What a worker sends the coordinator.
pub enum Msg {
    /// Second `second` of the run is over.
    Tick { second: u64, interval: Interval },
    /// The worker is done: its last (partial) second and its totals.
    Done {
        second: u64,
        interval: Interval,
        metrics: Box<WorkerMetrics>,
    },
}

/// Per-worker state every VU of the worker shares (same thread, so `Rc`/`RefCell`).
pub struct Ctx {
    pub plan: Arc<Plan>,
    pub shared: Arc<Vec<SharedToken>>,
    pub tls: Tls,
    pub control: Arc<Control>,
    pub metrics: RefCell<WorkerMetrics>,
    stop: Cell<bool>,
    stop_notify: Notify,
    warned: RefCell<HashSet<String>>,
    token_failures: RefCell<Vec<u32>>,
}

impl Ctx {
    pub fn stopped(&self) -> bool {
        self.stop.get()
    }

    fn stop_local(&self) {
        self.stop.set(true);
        self.stop_notify.notify_waiters();
    }

    pub async fn stop_wait(&self) {
        loop {
            let n = self.stop_notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.stop.get() {
                return;
            }
            n.await;
        }
    }

    /// Sleeps unless the run stops first; false when it stopped.
    pub async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.stopped(),
            _ = self.stop_wait() => false,
        }
    }

    /// Prints a problem once per worker (a missing variable, a refused origin).
    pub fn warn_once(&self, message: &str) {
        if self.warned.borrow_mut().insert(message.to_string()) {
            say(format_args!("warning: {message}"));
        }
    }

    /// A failing token endpoint is reported, never silent: the first failure and every
    /// tenth one after it.
    pub fn warn_token(&self, token: &str, message: &str) {
        let idx = self
            .plan
            .tokens
            .iter()
            .position(|t| t.name == token)
            .unwrap_or(0);
        let n = self
            .metrics
            .borrow()
            .steps
            .get(idx)
            .map_or(0, |m| m.errors.token);
        if n % 10 == 0 || self.plan.options.debug {
            say(format_args!(
                "warning: token step `{token}` failed ({} so far on this worker): {message}",
                n + 1
            ));
        }
    }

    /// A line for people on stderr (something the run learned).
    pub fn note(&self, message: &str) {
        say(format_args!("note: {message}"));
    }

    /// A VU gave up on token `t` after [`TOKEN_ATTEMPTS`] failures in a row (`why`: the last).
    /// When the token step never succeeded in this run, nothing can be tested: the run ends.
    /// Otherwise (a token that worked before, or for other VUs) the iteration is abandoned,
    /// said once per worker.
    pub fn gave_up(&self, t: usize, why: &str) {
        let name = &self.plan.tokens[t].name;
        if !self.shared[t].ever() {
            self.control.fail(
                EndReason::Token,
                format!(
                    "token step `{name}` failed {TOKEN_ATTEMPTS} times in a row and never succeeded, so no step can run; the run stops. Last attempt: {why}"
                ),
            );
        } else if self.warned.borrow_mut().insert(format!("gave up on {t}")) {
            say(format_args!(
                "warning: token step `{name}` failed {TOKEN_ATTEMPTS} times in a row; the iteration is abandoned (shown once). Last attempt: {why}"
            ));
        }
    }

    /// A per-VU token was fetched: the backoff starts over.
    pub fn token_success(&self, t: usize) {
        if let Some(f) = self.token_failures.borrow_mut().get_mut(t) {
            *f = 0;
        }
    }

    /// Counts a per-VU token failure in a row; returns how many in a row.
    pub fn token_failure(&self, t: usize) -> u32 {
        let mut f = self.token_failures.borrow_mut();
        if f.len() <= t {
            f.resize(t + 1, 0);
        }
        f[t] = (f[t] + 1).min(16);
        f[t]
    }
}

/// Counts running tasks so the worker can wait for all of them.
#[derive(Default)]
struct Tasks {
    running: Cell<usize>,
    idle: Notify,
}

impl Tasks {
    fn spawn(self: &Rc<Self>, f: impl Future<Output = ()> + 'static) {
        self.running.set(self.running.get() + 1);
        let me = self.clone();
        tokio::task::spawn_local(async move {
            f.await;
            me.running.set(me.running.get() - 1);
            if me.running.get() == 0 {
                me.idle.notify_waiters();
            }
        });
    }

    async fn all_done(&self) {
        loop {
            let n = self.idle.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.running.get() == 0 {
                return;
            }
            n.await;
        }
    }
}

pub struct WorkerInit {
    pub index: usize,
    pub workers: usize,
    pub plan: Arc<Plan>,
    pub shared: Arc<Vec<SharedToken>>,
    pub tls: Tls,
    pub control: Arc<Control>,
    pub tx: Sender<Msg>,
    pub start: Instant,
}

/// The body of a worker thread.
pub fn run(init: WorkerInit) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say(format_args!(
                "error: worker {} cannot start its runtime: {e}",
                init.index
            ));
            init.control.end(EndReason::Interrupted);
            let plan = &init.plan;
            let _ = init.tx.send(Msg::Done {
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
    let ctx = Rc::new(Ctx {
        metrics: RefCell::new(WorkerMetrics::new(plan.tokens.len(), plan.steps.len())),
        plan: plan.clone(),
        shared: init.shared.clone(),
        tls: init.tls.clone(),
        control: init.control.clone(),
        stop: Cell::new(false),
        stop_notify: Notify::new(),
        warned: RefCell::new(HashSet::new()),
        token_failures: RefCell::new(Vec::new()),
    });
    let start = init.start;
    let deadline = start + plan.load.executor.duration();

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
    let ticker = {
        let ctx = ctx.clone();
        let tx = init.tx.clone();
        tokio::task::spawn_local(async move {
            let mut second = 0u64;
            loop {
                tokio::time::sleep_until((start + Duration::from_secs(second + 1)).into()).await;
                let interval = ctx.metrics.borrow_mut().take_interval();
                if tx.send(Msg::Tick { second, interval }).is_err() {
                    return;
                }
                second += 1;
            }
        })
    };

    let tasks = Rc::new(Tasks::default());
    let mine = |max: u32| -> Vec<u64> {
        (init.index as u64..max as u64)
            .step_by(init.workers)
            .collect()
    };
    let iterations = plan.load.iterations;
    match &plan.load.executor {
        Executor::ConstantVus { vus, .. } => {
            for id in mine(*vus) {
                let mut vu = Vu::new(id, ctx.clone());
                let ctx = ctx.clone();
                tasks.spawn(async move {
                    ctx.metrics.borrow_mut().note_active(1);
                    while !ctx.stopped() && iterations.is_none_or(|n| vu.iterations < n) {
                        if vu.iteration(None).await == Flow::Stop {
                            break;
                        }
                    }
                    ctx.metrics.borrow_mut().note_active(-1);
                });
            }
        }
        Executor::RampingVus { start_vus, stages } => {
            let max = plan.load.executor.max_vus();
            for id in mine(max) {
                let mut vu = Vu::new(id, ctx.clone());
                let ctx = ctx.clone();
                let stages = stages.clone();
                let start_vus = *start_vus;
                tasks.spawn(async move {
                    let mut active = false;
                    while !ctx.stopped() && iterations.is_none_or(|n| vu.iterations < n) {
                        let want = vus_at(start_vus, &stages, start.elapsed()) as u64;
                        if vu.id >= want {
                            if active {
                                ctx.metrics.borrow_mut().note_active(-1);
                                active = false;
                            }
                            if !ctx.sleep(Duration::from_millis(50)).await {
                                break;
                            }
                            continue;
                        }
                        if !active {
                            ctx.metrics.borrow_mut().note_active(1);
                            active = true;
                        }
                        if vu.iteration(None).await == Flow::Stop {
                            break;
                        }
                    }
                    if active {
                        ctx.metrics.borrow_mut().note_active(-1);
                    }
                });
            }
        }
        Executor::ConstantRate {
            max_vus,
            pre_allocated_vus,
            ..
        }
        | Executor::RampingRate {
            max_vus,
            pre_allocated_vus,
            ..
        } => {
            if let Some(schedule) = RateSchedule::of(&plan.load.executor) {
                let pre = pre_allocated_vus
                    .unwrap_or_else(|| (schedule.peak() / 10.0).ceil().max(1.0) as u32)
                    .min(*max_vus);
                let pool = Rc::new(Pool {
                    ctx: ctx.clone(),
                    tasks: tasks.clone(),
                    idle: RefCell::new(Vec::new()),
                    ids: RefCell::new(mine(*max_vus).into_iter().rev().collect()),
                    backlog: RefCell::new(std::collections::VecDeque::new()),
                    iterations,
                });
                for _ in mine(pre) {
                    pool.spawn(None);
                }
                let ctx2 = ctx.clone();
                let (index, workers) = (init.index as u64, init.workers as u64);
                tasks.spawn(async move {
                    let mut k = index;
                    while let Some(t) = schedule.time_of(k) {
                        let at = start + t;
                        if at >= deadline {
                            break;
                        }
                        tokio::select! {
                            _ = tokio::time::sleep_until(at.into()) => {}
                            _ = ctx2.stop_wait() => break,
                        }
                        pool.dispatch(at);
                        k += workers;
                    }
                    pool.close();
                });
            }
        }
    }

    tokio::select! {
        _ = tasks.all_done() => {}
        _ = ctx.stop_wait() => {
            let _ = tokio::time::timeout(GRACE, tasks.all_done()).await;
        }
    }
    ticker.abort();
    let second = start.elapsed().as_secs();
    let mut metrics = ctx.metrics.borrow_mut();
    // Requests still out after the grace period were sent: they count.
    metrics.settle();
    let interval = metrics.take_interval();
    let _ = init.tx.send(Msg::Done {
        second,
        interval,
        metrics: Box::new(metrics.clone()),
    });
}

/// How long an iteration may wait for a free VU before it is dropped.
pub const BACKLOG_WINDOW: Duration = Duration::from_secs(2);

/// A rate executor's VUs on one worker: idle ones wait for an iteration, new ones are made up
/// to the worker's share of `max_vus`. An iteration that finds every VU busy waits in a FIFO
/// backlog for the next VU to finish, its latency counted from its intended start (wrk2's
/// correction: a stalled server shows in the latency, not as missing samples); one that waited
/// longer than [`BACKLOG_WINDOW`] is dropped and counted, as is the backlog left at the end.
struct Pool {
    ctx: Rc<Ctx>,
    tasks: Rc<Tasks>,
    idle: RefCell<Vec<Rc<Mailbox>>>,
    /// VU ids not used yet (popped from the end).
    ids: RefCell<Vec<u64>>,
    backlog: RefCell<std::collections::VecDeque<Instant>>,
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
        self.tasks.spawn(async move {
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
                ctx.metrics.borrow_mut().note_active(1);
                let flow = vu.iteration(Some(at)).await;
                ctx.metrics.borrow_mut().note_active(-1);
                if flow == Flow::Stop || pool.iterations.is_some_and(|n| vu.iterations >= n) {
                    return;
                }
                match pool.next_job() {
                    Some(at) => mb.job.set(Some(at)),
                    None => pool.idle.borrow_mut().push(mb.clone()),
                }
            }
        });
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

/// A line on stderr. `eprintln!` panics when stderr is closed, and a panicking worker would
/// lose its VUs' results; a warning nobody can read is dropped instead.
fn say(line: std::fmt::Arguments) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
