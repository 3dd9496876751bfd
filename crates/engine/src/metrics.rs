//! Measurements. Each worker thread owns its metrics outright (its VUs run on that thread), so
//! recording a request is a few adds and two histogram increments — no atomic, no lock, no
//! channel. Once a second a worker sends its interval (the last second's histogram and
//! counts) to the coordinator; at the end it sends its totals, and the coordinator merges
//! histograms. Memory is fixed: histograms, never lists of samples (the few failing exchanges kept as
//! diagnostics are bounded per step and kind).

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use loadtape_report::diagnostics::{keep_earliest, Diagnostic, DIAGNOSTICS_KEPT};
use loadtape_report::histogram::{encode, histogram};
use loadtape_report::result::Second;
use loadtape_report::result::{CheckFailures, ErrorCounts, ErrorMessages};

use crate::diagnosis::Failure;
use crate::per_step::{at, merge_all, RuleCount, StepInterval};
use crate::row::Row;
use crate::timing::{Timing, TimingMetrics};

pub use crate::timing::micros;

/// The message of requests still waiting for their answer when the run ended.
pub const UNFINISHED: &str = "still waiting for the answer when the run ended";

/// Why a request failed, as `result/v1`'s `errors_by_kind` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No usable connection: dialing or the HTTP handshake failed.
    Connect,
    /// The TLS handshake failed or timed out (or the host is no TLS server name).
    Tls,
    /// The answer was not readable HTTP (hyper's parse errors, an HTTP/2 protocol error).
    Protocol,
    /// The connection closed or was reset after the request went out, before the whole
    /// answer came back.
    Reset,
    /// No whole answer within the request timeout, or a request still in flight when the run
    /// ended.
    Timeout,
    /// An HTTP status the step's check does not accept (without a check: 400 and up).
    Status,
    /// The answer broke a `json` or `body_contains` rule, an extractor found nothing, or the
    /// request (or the scenario's variables) could not be rendered.
    Check,
    /// A token step failed, or a step could not run because its token could not be had.
    Token,
}

impl ErrorKind {
    /// The kind as `result/v1` and `--debug` spell it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Reset => "reset",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Status => "status",
            ErrorKind::Check => "check",
            ErrorKind::Token => "token",
        }
    }
}

/// Adds one error of `kind` to a `result/v1` error tally.
pub fn count_error(e: &mut ErrorCounts, kind: ErrorKind) {
    match kind {
        ErrorKind::Connect => e.connect += 1,
        ErrorKind::Tls => e.tls += 1,
        ErrorKind::Protocol => e.protocol += 1,
        ErrorKind::Reset => e.reset += 1,
        ErrorKind::Timeout => e.timeout += 1,
        ErrorKind::Status => e.status += 1,
        ErrorKind::Check => e.check += 1,
        ErrorKind::Token => e.token += 1,
    }
}

/// One step's (or token step's) numbers.
#[derive(Debug, Clone)]
pub struct StepMetrics {
    /// Latency in µs, to the whole answer from the send, or for an iteration's first request
    /// from when a rate executor scheduled it: what the user waited.
    pub latency: Histogram<u64>,
    /// Service time in µs, from the send to the whole answer: what the server took.
    pub service: Histogram<u64>,
    /// Requests sent, failed or not (those still in flight at the end included).
    pub requests: u64,
    /// Failed requests, by [`ErrorKind`].
    pub errors: ErrorCounts,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Bytes put on the wire, estimated as HTTP/1.1 (request line, headers, body).
    pub bytes_sent: u64,
    /// Bytes received, estimated as HTTP/1.1 (status line, headers, body).
    pub bytes_received: u64,
    /// Requests sent again after a `refresh_on` answer refreshed a token they used.
    pub retries: u64,
    /// Requests answered without an error and not rejected by a token's `refresh_on`.
    pub succeeded: u64,
    /// Iterations restarted from their first step after this step's answer rejected a
    /// per-VU token.
    pub restarted: u64,
    /// Requests still in flight when the run ended, counted as `timeout` errors.
    pub unfinished: u64,
    /// Requests sent and not answered yet (settled at the end: [`WorkerMetrics::settle`]).
    pub in_flight: u64,
    /// Why answers failed, by rule and value found (bounded: see [`CheckFailures::add`]).
    pub check_failures: CheckFailures,
    /// Why requests failed below HTTP, by kind and message (bounded the same way).
    pub error_messages: ErrorMessages,
    /// Token steps: fetches that replaced a value already held (the first fetch of each VU,
    /// or of the run for a shared token, is no refresh). Shown live (`--metrics`).
    pub refreshes: u64,
    /// Connect, TLS, time to first byte and transfer of the answered requests.
    pub timing: TimingMetrics,
    /// Steps: each rule of the check, in `diagnosis::rule_names` order (grown on first use).
    pub checks: Vec<RuleCount>,
}

impl StepMetrics {
    /// A row with nothing counted yet.
    pub fn new() -> StepMetrics {
        StepMetrics {
            latency: histogram(),
            service: histogram(),
            requests: 0,
            errors: ErrorCounts::default(),
            statuses: BTreeMap::new(),
            bytes_sent: 0,
            bytes_received: 0,
            retries: 0,
            succeeded: 0,
            restarted: 0,
            unfinished: 0,
            in_flight: 0,
            check_failures: CheckFailures::default(),
            error_messages: ErrorMessages::default(),
            refreshes: 0,
            timing: TimingMetrics::new(),
            checks: Vec::new(),
        }
    }

    /// Adds another worker's numbers for the same row.
    pub fn merge(&mut self, o: &StepMetrics) {
        let _ = self.latency.add(&o.latency);
        let _ = self.service.add(&o.service);
        self.requests += o.requests;
        self.errors.add(&o.errors);
        for (s, n) in &o.statuses {
            *self.statuses.entry(*s).or_default() += n;
        }
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        self.retries += o.retries;
        self.succeeded += o.succeeded;
        self.restarted += o.restarted;
        self.unfinished += o.unfinished;
        self.in_flight += o.in_flight;
        self.check_failures.merge(&o.check_failures);
        self.error_messages.merge(&o.error_messages);
        self.refreshes += o.refreshes;
        self.timing.merge(&o.timing);
        merge_all(&mut self.checks, &o.checks, RuleCount::add);
    }
}

impl Default for StepMetrics {
    fn default() -> Self {
        StepMetrics::new()
    }
}

/// One exchange, as recorded.
pub struct Sample {
    /// To the whole answer from the send or the scheduled start: [`StepMetrics::latency`].
    pub latency: Duration,
    /// From the send to the whole answer: [`StepMetrics::service`].
    pub service: Duration,
    /// The answer's HTTP status; `None` when there was no answer.
    pub status: Option<u16>,
    /// Why the exchange failed, if it did.
    pub error: Option<ErrorKind>,
    /// Bytes sent (an estimate: [`StepMetrics::bytes_sent`]).
    pub sent: u64,
    /// Bytes received (an estimate: [`StepMetrics::bytes_received`]).
    pub received: u64,
    /// The answer matched a token's `refresh_on`: counted as a request, not as a success.
    pub rejected: bool,
}

/// The last second of one worker (or, merged, of all).
#[derive(Debug, Clone)]
pub struct Interval {
    /// Latencies (µs) of the second's step requests; token steps' are not in it.
    pub histogram: Histogram<u64>,
    /// Step requests recorded in the second.
    pub requests: u64,
    /// Step errors in the second (failures that sent no request included).
    pub errors: u64,
    /// Token steps' requests in the second.
    pub token_requests: u64,
    /// Rate-executor iterations dropped in the second.
    pub dropped: u64,
    /// The most VUs in an iteration at once during the second (summed when merged).
    pub active_vus: u64,
    /// Step requests' bytes sent in the second.
    pub bytes_sent: u64,
    /// Step answers' bytes received in the second.
    pub bytes_received: u64,
    /// Each step's share, by the plan's step index (grown on first use).
    pub steps: Vec<StepInterval>,
}

impl Interval {
    /// A second with nothing counted yet.
    pub fn new() -> Interval {
        Interval {
            histogram: histogram(),
            requests: 0,
            errors: 0,
            token_requests: 0,
            dropped: 0,
            active_vus: 0,
            bytes_sent: 0,
            bytes_received: 0,
            steps: Vec::new(),
        }
    }

    /// Adds another worker's numbers for the same second.
    pub fn merge(&mut self, o: &Interval) {
        let _ = self.histogram.add(&o.histogram);
        self.requests += o.requests;
        self.errors += o.errors;
        self.token_requests += o.token_requests;
        self.dropped += o.dropped;
        self.active_vus += o.active_vus;
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        merge_all(&mut self.steps, &o.steps, StepInterval::merge);
    }
}

impl Default for Interval {
    fn default() -> Self {
        Interval::new()
    }
}

impl Interval {
    /// The second `t` of the run, compacted as `result/v1` stores it (all workers merged): its
    /// counts, two percentiles and the encoded histogram, a few hundred bytes instead of a
    /// histogram's worth.
    pub fn second(&self, t: u64) -> Second {
        Second {
            t,
            span: 1,
            requests: self.requests,
            errors: self.errors,
            token_requests: self.token_requests,
            dropped: self.dropped,
            active_vus: self.active_vus,
            p50: self.histogram.value_at_quantile(0.5) as f64 / 1000.0,
            p99: self.histogram.value_at_quantile(0.99) as f64 / 1000.0,
            histogram: encode(&self.histogram),
            bytes_sent: self.bytes_sent,
            bytes_received: self.bytes_received,
            steps: self.steps.iter().map(StepInterval::second).collect(),
        }
    }
}

/// A worker's metrics: token steps first, then steps (the plan's order).
#[derive(Debug, Clone)]
pub struct WorkerMetrics {
    /// How many token steps there are: the rows of `steps` before this index are theirs.
    pub tokens: usize,
    /// Every row, token steps' first: read them through [`WorkerMetrics::row`],
    /// [`WorkerMetrics::token_rows`] or [`WorkerMetrics::step_rows`] rather than by offset.
    pub steps: Vec<StepMetrics>,
    /// Iterations that got through their steps, to the end or to an abort; one stopped by
    /// the run's end, or abandoned before its first step, is not counted.
    pub iterations: u64,
    /// Rate-executor iterations dropped because no VU was free in time, or left waiting at
    /// the end.
    pub dropped: u64,
    /// Per flow, in the plan's order (grown as flows are counted).
    pub flows: Vec<FlowCount>,
    /// The current second, handed to the coordinator by [`WorkerMetrics::take_interval`].
    pub interval: Interval,
    /// VUs in an iteration right now.
    pub active: u64,
    /// The first failing exchanges of each row and error kind, at most
    /// [`DIAGNOSTICS_KEPT`] each: see [`WorkerMetrics::wants_diagnostic`].
    pub diagnostics: Vec<Diagnostic>,
}

/// One flow's iterations on one worker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowCount {
    /// Iterations of the flow that got through its steps (those cut short included).
    pub iterations: u64,
    /// Funnel iterations that ended before the flow's last step, as the step rates asked.
    pub cut_short: u64,
}

impl FlowCount {
    fn add(&mut self, o: &FlowCount) {
        self.iterations += o.iterations;
        self.cut_short += o.cut_short;
    }
}

impl WorkerMetrics {
    /// Flow `f`'s counts, to count into.
    pub fn flow_mut(&mut self, f: usize) -> &mut FlowCount {
        at(&mut self.flows, f)
    }

    /// Empty rows for `tokens` token steps and `steps` steps.
    pub fn new(tokens: usize, steps: usize) -> WorkerMetrics {
        WorkerMetrics {
            tokens,
            steps: (0..tokens + steps).map(|_| StepMetrics::new()).collect(),
            iterations: 0,
            dropped: 0,
            flows: Vec::new(),
            interval: Interval::new(),
            active: 0,
            diagnostics: Vec::new(),
        }
    }

    /// The numbers of one row.
    pub fn row(&self, row: Row) -> Option<&StepMetrics> {
        self.steps.get(row.index(self.tokens))
    }

    /// The numbers of one row, to count into.
    pub fn row_mut(&mut self, row: Row) -> Option<&mut StepMetrics> {
        self.steps.get_mut(row.index(self.tokens))
    }

    /// The token steps' rows, in the plan's order.
    pub fn token_rows(&self) -> &[StepMetrics] {
        &self.steps[..self.tokens]
    }

    /// The steps' rows, in the plan's order.
    pub fn step_rows(&self) -> &[StepMetrics] {
        &self.steps[self.tokens..]
    }

    /// Records an exchange of `row`.
    pub fn record(&mut self, row: Row, s: &Sample) {
        let tokens = self.tokens;
        let Some(m) = self.steps.get_mut(row.index(tokens)) else {
            return;
        };
        let lat = micros(s.latency);
        m.latency.saturating_record(lat);
        m.service.saturating_record(micros(s.service));
        m.requests += 1;
        m.in_flight = m.in_flight.saturating_sub(1);
        if s.error.is_none() && !s.rejected {
            m.succeeded += 1;
        }
        m.bytes_sent += s.sent;
        m.bytes_received += s.received;
        if let Some(status) = s.status {
            *m.statuses.entry(status).or_default() += 1;
        }
        if let Some(kind) = s.error {
            count_error(&mut m.errors, kind);
        }
        match row {
            Row::Token(_) => self.interval.token_requests += 1,
            Row::Step(k) => {
                let i = &mut self.interval;
                i.histogram.saturating_record(lat);
                i.requests += 1;
                i.bytes_sent += s.sent;
                i.bytes_received += s.received;
                let step = at(&mut i.steps, k);
                step.histogram.saturating_record(lat);
                step.requests += 1;
                if s.error.is_some() {
                    i.errors += 1;
                    step.errors += 1;
                }
            }
        }
    }

    /// Records where an answered exchange of `row` spent its time.
    pub fn timed(&mut self, row: Row, t: &Timing) {
        if let Some(m) = self.row_mut(row) {
            m.timing.record(t);
        }
    }

    /// The rule counts of step `s`'s check, to count into (grown to `rules` entries).
    pub fn rules_mut(&mut self, s: usize, rules: usize) -> Option<&mut [RuleCount]> {
        let m = self.row_mut(Row::Step(s))?;
        if m.checks.len() < rules {
            m.checks.resize(rules, RuleCount::default());
        }
        Some(&mut m.checks[..rules])
    }

    /// Counts a failure that sent no request (a token that could not be had, a value an
    /// earlier step did not extract).
    pub fn error_only(&mut self, row: Row, kind: ErrorKind) {
        if let Some(m) = self.row_mut(row) {
            count_error(&mut m.errors, kind);
            if let Row::Step(k) = row {
                self.interval.errors += 1;
                at(&mut self.interval.steps, k).errors += 1;
            }
        }
    }

    /// Tallies why an answer of `row` failed (its error is counted by
    /// [`WorkerMetrics::record`]).
    pub fn check_failed(&mut self, row: Row, f: &Failure) {
        if let Some(m) = self.row_mut(row) {
            m.check_failures.add(&f.rule(), &f.got, 1);
        }
    }

    /// Tallies what a request of `row` that failed below HTTP met (its error is counted by
    /// [`WorkerMetrics::record`]).
    pub fn exchange_failed(&mut self, row: Row, kind: ErrorKind, message: &str) {
        if let Some(m) = self.row_mut(row) {
            m.error_messages.add(kind.name(), message, 1);
        }
    }

    /// Whether a failure of `step` (a token step's when `token`) of error `kind` is still
    /// to be kept: asked before a diagnostic is built, so that a run failing every request
    /// builds [`DIAGNOSTICS_KEPT`] of them per step and kind, not millions.
    pub fn wants_diagnostic(&self, token: bool, step: &str, kind: &str) -> bool {
        self.diagnostics
            .iter()
            .filter(|d| d.token == token && d.kind == kind && d.step == step)
            .count()
            < DIAGNOSTICS_KEPT
    }

    /// Keeps a failing exchange (see [`WorkerMetrics::wants_diagnostic`]).
    pub fn diagnose(&mut self, d: Diagnostic) {
        if self.wants_diagnostic(d.token, &d.step, &d.kind) {
            self.diagnostics.push(d);
        }
    }

    /// A token step's fetch replaced a value already held ([`StepMetrics::refreshes`]).
    pub fn refreshed(&mut self, row: Row) {
        if let Some(m) = self.row_mut(row) {
            m.refreshes += 1;
        }
    }

    /// A request of `row` is on its way; [`WorkerMetrics::record`] takes it back.
    pub fn sending(&mut self, row: Row) {
        if let Some(m) = self.row_mut(row) {
            m.in_flight += 1;
        }
    }

    /// At the end of the run: requests still in flight (their VU's task is abandoned after
    /// the grace period) were sent, so they count, as `timeout` errors without a latency.
    pub fn settle(&mut self) {
        for (index, m) in self.steps.iter_mut().enumerate() {
            let n = std::mem::take(&mut m.in_flight);
            if n == 0 {
                continue;
            }
            m.requests += n;
            m.unfinished += n;
            m.errors.timeout += n;
            m.error_messages
                .add(ErrorKind::Timeout.name(), UNFINISHED, n);
            match Row::at(index, self.tokens) {
                Row::Token(_) => self.interval.token_requests += n,
                Row::Step(k) => {
                    self.interval.requests += n;
                    self.interval.errors += n;
                    let step = at(&mut self.interval.steps, k);
                    step.requests += n;
                    step.errors += n;
                }
            }
        }
    }

    /// Counts an iteration a rate executor dropped.
    pub fn dropped(&mut self) {
        self.dropped += 1;
        self.interval.dropped += 1;
    }

    /// Hands over the interval and starts the next.
    pub fn take_interval(&mut self) -> Interval {
        let mut next = Interval::new();
        next.active_vus = self.active;
        let mut out = std::mem::replace(&mut self.interval, next);
        out.active_vus = out.active_vus.max(self.active);
        out
    }

    /// A VU became active (`delta` 1) or idle (-1); the interval keeps the peak.
    pub fn note_active(&mut self, delta: i64) {
        self.active = self.active.saturating_add_signed(delta);
        self.interval.active_vus = self.interval.active_vus.max(self.active);
    }

    /// Adds another worker's totals, row by row (its interval is not merged: seconds are
    /// merged as they come, by the coordinator).
    pub fn merge(&mut self, o: &WorkerMetrics) {
        for (a, b) in self.steps.iter_mut().zip(&o.steps) {
            a.merge(b);
        }
        self.iterations += o.iterations;
        self.dropped += o.dropped;
        merge_all(&mut self.flows, &o.flows, FlowCount::add);
        let mut all = std::mem::take(&mut self.diagnostics);
        all.extend(o.diagnostics.iter().cloned());
        self.diagnostics = keep_earliest(all, DIAGNOSTICS_KEPT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_into_rows_and_intervals() {
        let mut w = WorkerMetrics::new(1, 2);
        let s = Sample {
            latency: Duration::from_millis(5),
            service: Duration::from_millis(1),
            status: Some(200),
            error: None,
            sent: 10,
            received: 20,
            rejected: false,
        };
        w.record(Row::Token(0), &s);
        w.record(Row::Step(1), &s);
        w.error_only(Row::Step(0), ErrorKind::Check);
        assert_eq!(w.steps[0].requests, 1);
        assert_eq!(w.steps[2].statuses[&200], 1);
        let i = w.take_interval();
        assert_eq!((i.requests, i.token_requests, i.errors), (1, 1, 1));
        assert_eq!(w.interval.requests, 0);
        assert_eq!((w.steps[0].succeeded, w.steps[2].succeeded), (1, 1));
    }

    #[test]
    fn failure_tallies_are_per_worker_and_merge_by_rule_and_value() {
        let failure = |got: &str| Failure {
            subject: "$.errno".into(),
            expected: "== 0".into(),
            got: got.into(),
        };
        let (mut a, mut b) = (WorkerMetrics::new(1, 1), WorkerMetrics::new(1, 1));
        a.check_failed(Row::Step(0), &failure("402"));
        a.check_failed(Row::Step(0), &failure("402"));
        b.check_failed(Row::Step(0), &failure("402"));
        b.check_failed(Row::Step(0), &failure("501"));
        b.check_failed(Row::Step(8), &failure("501"));
        a.merge(&b);
        let f = &a.steps[1].check_failures.0;
        let got: Vec<(&str, &str, u64)> = f
            .iter()
            .map(|f| (f.check.as_str(), f.got.as_str(), f.count))
            .collect();
        assert_eq!(
            got,
            [("$.errno == 0", "402", 3), ("$.errno == 0", "501", 1)]
        );
        assert!(a.steps[0].check_failures.is_empty());
    }

    #[test]
    fn requests_in_flight_at_the_end_are_counted_as_timeouts() {
        let mut w = WorkerMetrics::new(1, 1);
        w.sending(Row::Token(0));
        w.sending(Row::Step(0));
        w.sending(Row::Step(0));
        let s = Sample {
            latency: Duration::from_millis(5),
            service: Duration::from_millis(5),
            status: Some(200),
            error: None,
            sent: 1,
            received: 1,
            rejected: true,
        };
        w.record(Row::Step(0), &s);
        w.settle();
        assert_eq!((w.steps[0].requests, w.steps[0].unfinished), (1, 1));
        assert_eq!(w.steps[1].requests, 2);
        assert_eq!((w.steps[1].unfinished, w.steps[1].errors.timeout), (1, 1));
        assert_eq!(w.steps[1].succeeded, 0, "a refresh_on answer is no success");
        let i = w.take_interval();
        assert_eq!((i.requests, i.errors, i.token_requests), (2, 1, 1));
    }
}
