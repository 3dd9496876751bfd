//! What every VU of one worker shares: the plan, the run's shared tokens and stop switch, the
//! worker's metrics and TLS setup, and its local stop. Everything here lives on the worker's
//! thread, so `Cell`/`RefCell` suffice; only [`Control`] and the shared tokens cross threads.
//!
//! A run of several executors (a mixed scenario's flows with loads of their own) gives each
//! executor on a worker its own [`Ctx::for_group`]: the worker's metrics and warnings, its own
//! stop (an executor may end before the others) and its own flow picking.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::control::Control;
use crate::http::Tls;
use crate::metrics::WorkerMetrics;
use crate::output::Sink;
use crate::plan::Plan;
use crate::shared_conns::SharedConns;
use crate::tokens::{OwnRetries, SharedToken};

/// Per-worker state every VU of the worker shares (same thread, so `Rc`/`RefCell`).
pub(crate) struct Ctx {
    /// The run's plan.
    pub plan: Arc<Plan>,
    /// One cell per token step, shared with every other worker.
    pub shared: Arc<Vec<SharedToken>>,
    /// TLS settings for this worker's connections.
    pub tls: Tls,
    /// The run-wide stop switch: ends the run for every worker.
    pub control: Arc<Control>,
    /// This worker's measurements, sent to the coordinator each second and at the end.
    pub metrics: Rc<RefCell<WorkerMetrics>>,
    /// The group (executor) of the plan whose VUs use this context.
    pub group: usize,
    /// The run's start, the same for every worker: what a diagnostic's time counts from.
    pub start: Instant,
    /// Per-VU token failures in a row on this worker: the backoff of the next attempt.
    pub retries: OwnRetries,
    /// The worker's shared HTTP/2 connections (`--connections`), for every group's VUs.
    pub conns: Option<Rc<SharedConns>>,
    /// This worker's stop: a child of the run's, so the run's stop is also this one. Its
    /// `is_cancelled` takes the node's own lock, which only this worker's thread and a
    /// stopping run ever touch.
    stop: CancellationToken,
    warned: Rc<RefCell<HashSet<String>>>,
    /// The group's flows' smooth weighted round-robin (nginx's): each pick adds every flow's
    /// weight to its credit and takes the flow with the most, which then pays the total.
    credit: RefCell<Vec<i64>>,
    /// Per step: a funnel's carried share, so that exactly its share of iterations goes on.
    funnel: RefCell<Vec<f64>>,
}

impl Ctx {
    pub(crate) fn new(
        plan: Arc<Plan>,
        shared: Arc<Vec<SharedToken>>,
        tls: Tls,
        control: Arc<Control>,
        start: Instant,
    ) -> Ctx {
        let metrics = WorkerMetrics::new(plan.tokens.len(), plan.steps.len());
        Ctx {
            metrics: Rc::new(RefCell::new(metrics)),
            group: 0,
            credit: RefCell::new(Vec::new()),
            funnel: RefCell::new(Vec::new()),
            plan,
            shared,
            tls,
            retries: OwnRetries::default(),
            conns: None,
            start,
            stop: control.child_stop(),
            control,
            warned: Rc::new(RefCell::new(HashSet::new())),
        }
    }

    /// The context of group `group`'s VUs on this worker: this worker's metrics and
    /// warnings, a stop of its own that this one's stop also stops.
    pub(crate) fn for_group(&self, group: usize) -> Ctx {
        Ctx {
            plan: self.plan.clone(),
            shared: self.shared.clone(),
            tls: self.tls.clone(),
            control: self.control.clone(),
            metrics: self.metrics.clone(),
            group,
            start: self.start,
            retries: OwnRetries::default(),
            conns: self.conns.clone(),
            stop: self.stop.child_token(),
            warned: self.warned.clone(),
            credit: RefCell::new(Vec::new()),
            funnel: RefCell::new(Vec::new()),
        }
    }

    /// The flow the next iteration of this group runs: by weight, in a fixed interleaving
    /// (every `sum of weights` iterations hold each flow's share exactly).
    pub(crate) fn pick_flow(&self) -> usize {
        let flows = &self.plan.groups[self.group].flows;
        if flows.len() == 1 {
            return flows[0];
        }
        let mut credit = self.credit.borrow_mut();
        credit.resize(flows.len(), 0);
        let mut total = 0i64;
        let mut best = 0;
        for (k, &f) in flows.iter().enumerate() {
            let w = self.plan.flows[f].weight as i64;
            credit[k] += w;
            total += w;
            if credit[k] > credit[best] {
                best = k;
            }
        }
        credit[best] -= total;
        flows[best]
    }

    /// Whether an iteration that reached step `s` goes on to it, given the share `share` of
    /// iterations that do: the carried share crosses 1 exactly that often.
    pub(crate) fn funnel_passes(&self, s: usize, share: f64) -> bool {
        if share >= 1.0 {
            return true;
        }
        let mut carried = self.funnel.borrow_mut();
        if carried.len() <= s {
            carried.resize(s + 1, 0.0);
        }
        carried[s] += share;
        if carried[s] >= 1.0 - 1e-9 {
            carried[s] -= 1.0;
            true
        } else {
            false
        }
    }

    /// This worker's VUs are to stop: the run ended, or the worker's schedule did.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Stops this worker's VUs only (a rate executor's schedule ended on this worker while
    /// others may still be sending).
    pub(crate) fn stop_local(&self) {
        self.stop.cancel();
    }

    /// Returns once this worker's VUs are to stop.
    pub(crate) async fn stop_wait(&self) {
        self.stop.cancelled().await;
    }

    /// Sleeps unless the run stops first; false when it stopped.
    pub(crate) async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.stopped(),
            _ = self.stop_wait() => false,
        }
    }

    /// True the first time `key` is seen on this worker: problems are said once per worker,
    /// not once per VU or request.
    pub(crate) fn first_time(&self, key: &str) -> bool {
        self.warned.borrow_mut().insert(key.to_string())
    }

    /// Says a problem once per worker (a missing variable, a refused origin).
    pub(crate) fn warn_once(&self, message: &str) {
        if self.first_time(message) {
            self.say(format_args!("warning: {message}"));
        }
    }

    /// Something the run learned, for people.
    pub(crate) fn note(&self, message: &str) {
        self.say(format_args!("note: {message}"));
    }

    /// A line for people, as it is, to the run's sink.
    pub(crate) fn say(&self, line: std::fmt::Arguments) {
        self.plan.options.sink.line(line);
    }

    /// Where `--debug` blocks go.
    pub(crate) fn sink(&self) -> &Sink {
        &self.plan.options.sink
    }
}
