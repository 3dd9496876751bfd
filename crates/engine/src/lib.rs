//! `loadtape-engine`: replays a `scenario/v1` as load (SPEC §6) and measures it, for the
//! `loadtape run` command and anything else that embeds a run.
//!
//! Main types: [`Plan`] (a scenario compiled for running, with its [`Options`]), [`start`]
//! returning a [`Running`] run ([`Running::poll`] for [`Progress`], [`Stopper`] to interrupt),
//! and its [`Outcome`] (merged [`WorkerMetrics`], a per-second timeline, the [`EndReason`]),
//! which [`report`] turns into a `result/v1`. What the run has to say (`--debug`, warnings)
//! goes to the [`Sink`] in the options: the engine never prints.
//!
//! ```text
//! Plan::compile(scenario)      templates resolved to slots, literal requests pre-built
//!   └─ start(plan) ──────────► N worker threads (one current-thread tokio runtime per core)
//!                                 each: its executor (executor/), its VUs (tracked tasks), its
//!                                 connections, its metrics
//!      Running::poll()  ◄──────── one interval message per worker per second (progress)
//!      Running::finish() ◄─────── totals; histograms merged → Outcome → report::result()
//! ```
//!
//! The hot path is built like wrk's: every worker owns its VUs and their keep-alive
//! connections (hyper `client::conn`, HTTP/1.1 or HTTP/2 by ALPN), and records into its own
//! HdrHistograms; nothing is shared per request. Shared tokens are the exception, read through
//! one atomic generation check per iteration and refreshed by a single request for the whole
//! run (see [`tokens`]).
//!
//! Modules depend one way: `worker` → `executor` → `vu` → `ctx` → `control`, `plan`,
//! `metrics`, `tokens`, `output`; no module uses one that uses it back.

mod body;
mod control;
mod ctx;
mod data;
mod debug;
mod diagnosis;
mod executor;
mod failure;
mod h1;
mod http;
mod jar;
pub mod live;
pub mod metrics;
mod observe;
mod output;
pub mod per_step;
mod plan;
mod redact;
pub mod report;
mod response;
mod row;
mod schedule;
pub mod segment;
mod shared_conns;
pub mod timing;
pub mod tokens;
mod vars;
mod vu;
mod worker;

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use control::EndReason;
pub use live::{Feed, LiveRow, Snapshot};
pub use metrics::{Interval, WorkerMetrics};
pub use observe::{Observed, ObservedAnswer, Observer};
pub use output::{Output, Sink};
pub use plan::{Options, Plan, PlanError};
pub use segment::Segment;

use control::Control;
use loadtape_report::result::Second;
use loadtape_report::timeline::Timeline;
use worker::{Msg, WorkerInit};

/// From this many VUs on, HTTP/1.1 connections read through a fixed 2 KiB buffer instead of
/// hyper's adaptive one (8 KiB and up): 10,000 mostly idle VUs then stay under 300 MB. A
/// bigger answer takes more reads, which costs little at a request or two per VU a second.
const SMALL_BUFFERS_FROM: u32 = 1000;

/// A run in progress.
pub struct Running {
    plan: Arc<Plan>,
    shared: Arc<Vec<tokens::SharedToken>>,
    control: Arc<Control>,
    rx: Receiver<Msg>,
    threads: Vec<JoinHandle<()>>,
    workers: usize,
    done: usize,
    start: Instant,
    started: chrono::DateTime<chrono::Utc>,
    /// Seconds some worker may still report.
    open: BTreeMap<u64, Interval>,
    /// Per worker, how many seconds it has reported (`u64::MAX` once done): a second is
    /// complete, and goes to the timeline, once every worker has reported it. A worker that
    /// falls seconds behind (a machine loaded to its limit) then holds the seconds open
    /// instead of its late report landing after later ones.
    heard: Vec<u64>,
    timeline: Timeline,
    /// Finished seconds not yet taken by [`Running::take_seconds`], when
    /// [`Options::stream_seconds`] asks for them.
    fresh: Vec<Second>,
    finals: Vec<WorkerMetrics>,
    /// Each worker's latest [`Msg::Checkpoint`], with [`Options::checkpoint`].
    checkpoints: Vec<Option<WorkerMetrics>>,
    /// Checkpoints received since [`Running::take_checkpoint`] last made an outcome.
    checkpoints_new: usize,
    progress: Progress,
    /// Live per-row numbers, with [`Options::live`] on.
    live: Option<live::Collector>,
}

/// What the progress display shows, updated about once a second.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Step requests so far, all workers (token steps' requests are counted apart).
    pub requests: u64,
    /// Step errors so far, of every [`metrics::ErrorKind`] (failures that sent no request
    /// included).
    pub errors: u64,
    /// Token steps' requests so far: how often the run logged in or refreshed.
    pub token_requests: u64,
    /// Rate-executor iterations dropped so far because no VU was free in time.
    pub dropped: u64,
    /// Step requests in the latest second a worker has finished (other workers' part of it
    /// may still be on its way: close enough for a live display).
    pub rps: u64,
    /// The 99th percentile latency of that same second's step requests, in milliseconds.
    pub p99_ms: f64,
    /// VUs in an iteration during that second, all workers added up.
    pub active_vus: u64,
}

/// Stops a run from another thread (Ctrl-C).
#[derive(Clone)]
pub struct Stopper(Arc<Control>);

impl Stopper {
    /// Ends the run: no new iterations or steps; requests in flight get a few seconds.
    pub fn interrupt(&self) {
        self.0.end(EndReason::Interrupted);
    }
}

/// A finished run's measurements.
pub struct Outcome {
    /// The plan that ran: step names, thresholds and settings for the report.
    pub plan: Arc<Plan>,
    /// Every worker's totals merged: one row per token step, then per step.
    pub metrics: WorkerMetrics,
    /// The run's timeline, all workers merged: whole seconds for the last 10 minutes, older ones
    /// folded ([`loadtape_report::timeline`]).
    pub timeline: Vec<Second>,
    /// With [`Options::stream_seconds`]: the seconds [`Running::take_seconds`] had not handed
    /// out yet when the run ended.
    pub last_seconds: Vec<Second>,
    /// Wall-clock time the run started.
    pub started: chrono::DateTime<chrono::Utc>,
    /// Wall-clock time the run ended, every worker done.
    pub ended: chrono::DateTime<chrono::Utc>,
    /// How long the run took, on the monotonic clock: what rates are computed over.
    pub elapsed: Duration,
    /// Why the run ended; [`EndReason::Interrupted`] and [`EndReason::Internal`] make the
    /// result partial.
    pub reason: EndReason,
    /// Why the run ended early on a failure (a token step that never succeeded).
    pub detail: Option<String>,
    /// Per token step: the lifetime learned from `refresh_on`, when none was stated.
    pub learned: Vec<Option<Duration>>,
    /// Worker threads the run used: [`Options::workers`] (0: one per core), at most one per VU.
    pub workers: usize,
}

/// Starts the run on worker threads and returns at once. Fails only when TLS cannot be set
/// up (an unreadable `--ca` file).
pub fn start(plan: Plan) -> Result<Running, PlanError> {
    let mut tls =
        http::Tls::new(&plan.options.ca_files, plan.options.insecure).map_err(PlanError)?;
    if plan.max_vus() >= SMALL_BUFFERS_FROM {
        tls.read_buf = Some(2048);
    }
    let workers = match plan.options.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .max(1);
    // Never more workers than VUs: an idle worker would only add a thread.
    let workers = workers.min(plan.max_vus().max(1) as usize);
    // A connection lives on one worker's thread: `--connections 1` means one connection, so
    // never more workers than shared connections.
    let workers = workers.min(plan.options.shared_connections.unwrap_or(usize::MAX));
    let plan = Arc::new(plan);
    let shared: Arc<Vec<tokens::SharedToken>> =
        Arc::new(plan.tokens.iter().map(|_| Default::default()).collect());
    let control = Arc::new(Control::default());
    let live = plan
        .options
        .live
        .then(|| live::Collector::new(&plan, workers));
    let (tx, rx) = channel();
    let start = Instant::now();
    let started = chrono::Utc::now();
    let mut threads = Vec::new();
    for index in 0..workers {
        let init = WorkerInit {
            index,
            workers,
            plan: plan.clone(),
            shared: shared.clone(),
            tls: tls.clone(),
            control: control.clone(),
            tx: tx.clone(),
            start,
        };
        let spawned = std::thread::Builder::new()
            .name(format!("loadtape-worker-{index}"))
            .spawn(move || worker::run(init));
        match spawned {
            Ok(h) => threads.push(h),
            Err(e) => {
                control.end(EndReason::Interrupted);
                return Err(PlanError(format!("cannot start a worker thread: {e}")));
            }
        }
    }
    Ok(Running {
        plan,
        shared,
        control,
        rx,
        workers,
        threads,
        done: 0,
        start,
        started,
        open: BTreeMap::new(),
        heard: vec![0; workers],
        timeline: Timeline::new(),
        fresh: Vec::new(),
        finals: Vec::new(),
        checkpoints: vec![None; workers],
        checkpoints_new: 0,
        progress: Progress::default(),
        live,
    })
}

impl Running {
    /// A handle that interrupts this run from another thread, while this one polls it.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.control.clone())
    }

    /// The run's live numbers, published about once a second, the last of them final
    /// ([`Snapshot::finished`]); `None` unless [`Options::live`] is on. Readers on other
    /// threads (the `--metrics` and `--dashboard` servers) get their own [`Feed`]; new
    /// snapshots come while this run is polled ([`Running::poll`], [`Running::finish`]).
    pub fn live(&self) -> Option<Feed> {
        self.live.as_ref().map(|l| l.subscribe())
    }

    /// Takes in what the workers sent for up to `wait`; the current progress, or `None` once
    /// every worker is done.
    pub fn poll(&mut self, wait: Duration) -> Option<Progress> {
        let deadline = Instant::now() + wait;
        while self.done < self.workers {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(msg) => self.take(msg),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    self.done = self.workers;
                }
            }
        }
        if let Some(live) = &mut self.live {
            live.publish(self.start.elapsed(), self.done >= self.workers);
        }
        if self.done >= self.workers {
            return None;
        }
        self.progress.elapsed = self.start.elapsed();
        Some(self.progress.clone())
    }

    fn take(&mut self, msg: Msg) {
        let (second, interval) = match msg {
            Msg::Tick {
                worker,
                second,
                interval,
            } => {
                if let Some(h) = self.heard.get_mut(worker) {
                    *h = (*h).max(second + 1);
                }
                (second, interval)
            }
            Msg::Checkpoint { worker, metrics } => {
                if let Some(slot) = self.checkpoints.get_mut(worker) {
                    *slot = Some(*metrics);
                    self.checkpoints_new += 1;
                }
                return;
            }
            Msg::Live(report) => {
                if let Some(live) = &mut self.live {
                    live.take(*report);
                    live.publish(self.start.elapsed(), false);
                }
                return;
            }
            Msg::Done {
                worker,
                second,
                interval,
                metrics,
            } => {
                if let Some(h) = self.heard.get_mut(worker) {
                    *h = u64::MAX;
                }
                self.done += 1;
                self.finals.push(*metrics);
                (second, interval)
            }
        };
        let p = &mut self.progress;
        p.requests += interval.requests;
        p.errors += interval.errors;
        p.token_requests += interval.token_requests;
        p.dropped += interval.dropped;
        let slot = self.open.entry(second).or_default();
        slot.merge(&interval);
        // The latest second any worker finished: close enough for a live display.
        if let Some((_, last)) = self.open.iter().next_back() {
            p.rps = last.requests;
            p.p99_ms = last.histogram.value_at_quantile(0.99) as f64 / 1000.0;
            p.active_vus = last.active_vus;
        }
        // A second every worker has reported is complete: only its compact form is kept.
        let complete = self.heard.iter().copied().min().unwrap_or(0);
        self.compact(complete);
    }

    /// Compacts every open second before `before`.
    fn compact(&mut self, before: u64) {
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() >= before {
                break;
            }
            let (second, interval) = entry.remove_entry();
            let s = interval.second(second);
            if self.plan.options.stream_seconds {
                self.fresh.push(s.clone());
            }
            self.timeline.push(s);
        }
    }

    /// When the run started, on the wall clock: what a second's `t` counts from.
    pub fn started(&self) -> chrono::DateTime<chrono::Utc> {
        self.started
    }

    /// The seconds finished since the last call, each whole (never folded), in order; empty
    /// unless [`Options::stream_seconds`] is set. The last seconds arrive after the workers
    /// are done: call it once more after [`Running::finish`]'s poll loop, through
    /// [`Outcome::last_seconds`].
    pub fn take_seconds(&mut self) -> Vec<Second> {
        std::mem::take(&mut self.fresh)
    }

    /// The run so far, once every worker has handed over a new [`Options::checkpoint`]:
    /// totals to the latest checkpoint, the timeline to the latest complete second, with
    /// [`EndReason::Interrupted`] (it is partial until the run ends). `None` in between.
    pub fn take_checkpoint(&mut self) -> Option<Outcome> {
        if self.checkpoints_new < self.workers || self.checkpoints.iter().any(Option::is_none) {
            return None;
        }
        self.checkpoints_new = 0;
        let mut metrics = WorkerMetrics::new(self.plan.tokens.len(), self.plan.steps.len());
        for m in self.checkpoints.iter().flatten() {
            metrics.merge(m);
        }
        Some(Outcome {
            plan: self.plan.clone(),
            metrics,
            timeline: self.timeline.to_vec(),
            last_seconds: Vec::new(),
            started: self.started,
            ended: chrono::Utc::now(),
            elapsed: self.start.elapsed(),
            reason: EndReason::Interrupted,
            detail: self.control.detail(),
            learned: self.shared.iter().map(|c| c.learned()).collect(),
            workers: self.workers,
        })
    }

    /// Waits for the workers and merges their measurements.
    pub fn finish(mut self) -> Outcome {
        while self.poll(Duration::from_millis(200)).is_some() {}
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let elapsed = self.start.elapsed();
        let mut metrics = WorkerMetrics::new(self.plan.tokens.len(), self.plan.steps.len());
        for m in &self.finals {
            metrics.merge(m);
        }
        let reason = self.control.reason().unwrap_or_else(|| {
            if self.plan.groups.iter().all(|g| g.load.iterations.is_some())
                && elapsed + Duration::from_millis(500) < self.plan.duration()
            {
                EndReason::Iterations
            } else {
                EndReason::Completed
            }
        });
        self.compact(u64::MAX);
        Outcome {
            plan: self.plan.clone(),
            metrics,
            timeline: std::mem::take(&mut self.timeline).into_vec(),
            last_seconds: std::mem::take(&mut self.fresh),
            started: self.started,
            ended: chrono::Utc::now(),
            elapsed,
            reason,
            detail: self.control.detail(),
            learned: self.shared.iter().map(|c| c.learned()).collect(),
            workers: self.workers,
        }
    }
}
