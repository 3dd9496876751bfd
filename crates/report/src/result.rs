//! The `result/v1` format: what `loadtape run --out result.json` writes (SPEC §6).
//!
//! A result is complete enough to rebuild every figure of the run without the run: each step's
//! latency histogram is stored losslessly (HdrHistogram's V2 format, deflate-compressed, in
//! base64: [`StepStats::histogram`]), so `report merge` can add segment results histogram by
//! histogram instead of averaging percentiles, and an HTML report can draw any percentile.
//! The percentiles next to the histograms are there for people and scripts (`jq`).
//!
//! Units: latencies in milliseconds (as `f64`), histogram values in microseconds, times in
//! RFC 3339 UTC, byte counts in bytes.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use crate::tally::{
    CheckFailure, CheckFailures, Entry, ErrorMessage, ErrorMessages, Tally, CHECK_FAILURES_KEPT,
    OTHER_FAILURES,
};

/// The value of a result's `loadtape` key.
pub const RESULT_V1: &str = "result/v1";

/// One run (or, after a merge, several segments of one run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Always [`RESULT_V1`].
    pub loadtape: String,
    /// The scenario's `name`.
    pub scenario: String,
    /// The scenario file as given on the command line.
    #[serde(default)]
    pub scenario_file: Option<String>,
    /// What this run is among others (`run --label c16`: the setting a tuning sweep varied),
    /// the name `report compare` shows it by; absent unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The loadtape version that wrote it.
    pub version: String,
    /// When the first iteration was scheduled.
    pub started: String,
    /// When the last request ended.
    pub ended: String,
    /// `ended - started`, in seconds: what `rps` divides by.
    pub duration_s: f64,
    /// The run was stopped early (Ctrl-C, SIGTERM, a fatal error): the figures cover only
    /// what ran.
    pub partial: bool,
    /// Why the run ended: `completed`, `iterations` (every VU did its iterations), `data` (a
    /// `unique` data source ran out of rows), `token` (a token step never succeeded, so no
    /// step could run: see `failure`), `interrupted`, `internal` (a VU stopped on a panic,
    /// a bug in loadtape: see `failure`), or `checkpoint`: written while the run
    /// went on (`run --checkpoint`), and the run did not get to write its end (killed, or
    /// still running).
    pub end_reason: String,
    /// Why the run failed whatever its thresholds say, for people: a token step that never
    /// succeeded (the token step, the URL it went to, the last answer). The run then does not
    /// pass (`passed` is false) and `loadtape run` exits 1 unless a threshold failed (99).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The load as it ran (after command-line overrides and `--segment`).
    pub settings: Settings,
    /// Every business step together (token requests excluded).
    pub total: StepStats,
    /// Token steps, in scenario order; their requests are not in `total`.
    pub tokens: Vec<StepStats>,
    /// Business steps, in scenario order.
    pub steps: Vec<StepStats>,
    /// A mixed scenario's flows (or a funnel's one), in scenario order; absent for a plain
    /// scenario of one flow, whose flow is the whole run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<FlowStats>,
    /// Flow iterations completed (all steps attempted).
    pub iterations: u64,
    /// Iterations a rate executor could not start because no VU was free.
    pub dropped_iterations: u64,
    /// One entry per second of the run, in order.
    pub timeline: Vec<Second>,
    /// Each threshold of the scenario, judged on this run.
    pub thresholds: Vec<ThresholdResult>,
    /// Every threshold passed (true when there are none) and there is no `failure`.
    pub passed: bool,
    /// The first failing exchanges of each step and error kind, with their request, answer
    /// and error (credentials masked); absent when nothing failed and in older results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<crate::diagnostics::Diagnostic>,
}

/// One flow of a mixed scenario: its iterations, and its steps' requests together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowStats {
    /// The flow's name (what thresholds such as `checkout.p95` name).
    pub name: String,
    /// The executor that ran it: its own load's, or the scenario's `load` that it shared by
    /// its `weight`.
    pub executor: String,
    /// Its weight among the flows sharing the scenario's load; `None` with a load of its own.
    #[serde(default)]
    pub weight: Option<u32>,
    /// Its steps, by name, in order.
    pub steps: Vec<String>,
    /// Iterations of the flow that got through its steps.
    pub iterations: u64,
    /// Funnel iterations that ended before the last step as the step rates asked.
    #[serde(default)]
    pub cut_short: u64,
    /// Its steps' requests together (`kind: flow`).
    pub total: StepStats,
}

/// How the run was configured, after command-line overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `constant-vus`, `ramping-vus`, `constant-rate` or `ramping-rate`.
    pub executor: String,
    /// VUs of `constant-vus`; for the other executors the most they may use.
    pub max_vus: u32,
    /// The schedule's length in seconds (the sum of its stages for ramping executors).
    pub duration_s: f64,
    /// Iterations per second for `constant-rate` (the last stage's for `ramping-rate`).
    #[serde(default)]
    pub rate: Option<f64>,
    /// Per-VU iteration limit.
    #[serde(default)]
    pub iterations: Option<u64>,
    /// Recorded origin → where requests were sent (scenario `target` and `--target`).
    #[serde(default)]
    pub targets: IndexMap<String, String>,
    /// Certificate checks were off (`--insecure`).
    #[serde(default)]
    pub insecure: bool,
    /// Worker threads (one event loop each).
    pub workers: u32,
    /// `K/N` when this is one segment of a distributed run; `None` for a whole run.
    #[serde(default)]
    pub segment: Option<String>,
}

/// Counts and latency of one step, one token step, or the total.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// The step's or token step's name (`total` for the sum).
    pub name: String,
    /// `step`, `token` or `total`.
    pub kind: String,
    /// Requests that got an answer or failed (retries after `refresh_on` included).
    pub requests: u64,
    /// Requests counted as failed, of any kind.
    pub errors: u64,
    /// The same errors by kind.
    pub errors_by_kind: ErrorCounts,
    /// Requests answered with a token step's `refresh_on` response and sent again once the
    /// token was refreshed (counted in `requests`, not in `errors`).
    #[serde(default)]
    pub retries: u64,
    /// Requests answered without an error and not rejected by `refresh_on`: the samples a
    /// latency threshold needs (with none it fails, "no data"). `None` in results written
    /// before it existed; see [`StepStats::succeeded`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<u64>,
    /// Iterations restarted from their first step because this step's answer rejected a
    /// per-VU token (`refresh_on`): the token was refreshed mid-iteration, and values
    /// extracted under the dead session must not be sent. Counted in `requests`, not `errors`.
    #[serde(default)]
    pub restarted: u64,
    /// Requests still in flight when the run ended (after the grace period): counted in
    /// `requests` and as `timeout` errors, without a latency.
    #[serde(default)]
    pub unfinished: u64,
    /// Token steps only: the lifetime learned from the age of the token when `refresh_on`
    /// first rejected it (the token step states no `expires_in` and the token is no JWT), in
    /// seconds. From then on the token is refreshed ahead of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned_lifetime_s: Option<f64>,
    /// Why answers failed: the first failing rule of each failed check (or the extractor
    /// that found nothing) and what the answer had instead, most frequent first. Only on step
    /// and token-step rows; absent when nothing failed and in results written before it.
    #[serde(default, skip_serializing_if = "CheckFailures::is_empty")]
    pub check_failures: CheckFailures,
    /// Why requests failed below HTTP (`connect`, `tls`, `protocol`, `reset`, `timeout`): the
    /// kind and what the socket, TLS or hyper said, most frequent first. Absent when none
    /// failed so and in results written before it.
    #[serde(default, skip_serializing_if = "ErrorMessages::is_empty")]
    pub error_messages: ErrorMessages,
    /// Responses by status code (`"200": 1234`).
    pub statuses: BTreeMap<String, u64>,
    /// `requests / duration_s`.
    pub rps: f64,
    /// Request bytes written (request line or pseudo-headers, headers and body, as HTTP/1.1
    /// would serialise them).
    pub bytes_sent: u64,
    /// Response bytes read (status line, headers and body, as HTTP/1.1 would serialise them).
    pub bytes_received: u64,
    /// Latency from the intended start (corrected for coordinated omission), in ms.
    pub latency: Latency,
    /// Service time (from the moment the request was really sent), in ms.
    pub service: Latency,
    /// The latency histogram: µs, 3 significant digits, HdrHistogram V2 + deflate, base64
    /// (standard alphabet, padded).
    pub histogram: String,
    /// The service-time histogram, encoded the same way.
    pub service_histogram: String,
    /// Where the time of an answered request went: connect and TLS per new connection, time
    /// to first byte and transfer per request. Absent in results written before it.
    #[serde(default, skip_serializing_if = "Timings::is_empty")]
    pub timings: Timings,
    /// Steps only: each rule of the step's check (the status rule first, then each `json`
    /// rule, then each `body_contains`), with the answers that met it and those that broke
    /// it. Every rule is judged on every answer, so one answer may break several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckCount>,
}

/// The timing breakdown of a row (k6's `http_req_connecting`, `http_req_tls_handshaking`,
/// `http_req_waiting`, `http_req_receiving`): each phase as a histogram, like the latency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Answered requests that had to open a connection first (their connect and TLS are in
    /// `connect` and `tls`).
    pub opened: u64,
    /// Answered requests sent on a connection kept from an earlier one.
    pub reused: u64,
    /// TCP connect, per opened connection.
    pub connect: Phase,
    /// TLS handshake, per opened `https` connection.
    #[serde(default, skip_serializing_if = "Phase::is_empty")]
    pub tls: Phase,
    /// Time to first byte: from the request handed to the connection to the response head.
    pub ttfb: Phase,
    /// From the response head to the last byte of the body.
    pub transfer: Phase,
}

impl Timings {
    /// Nothing measured (a row without answers, or a result written before timings).
    pub fn is_empty(&self) -> bool {
        self.opened == 0 && self.reused == 0 && self.ttfb.count == 0
    }

    /// The share of answered requests that reused a connection, 0 to 1.
    pub fn reused_share(&self) -> f64 {
        let all = self.opened + self.reused;
        if all == 0 {
            0.0
        } else {
            self.reused as f64 / all as f64
        }
    }
}

/// One phase of [`Timings`]: how many were timed, their figures (ms) and the histogram.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// How many durations the histogram holds.
    pub count: u64,
    /// Their statistics, in ms.
    pub latency: Latency,
    /// µs, encoded as [`StepStats::histogram`].
    pub histogram: String,
}

impl Phase {
    /// Nothing timed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// One rule of a step's check and how often answers met it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckCount {
    /// The rule as `check_failures` names it: `status == 200`, `$.errno == 0`.
    pub check: String,
    /// Answers that met it.
    pub passed: u64,
    /// Answers that broke it.
    pub failed: u64,
}

impl StepStats {
    /// Requests that succeeded; for a result without the count, those that did not fail.
    pub fn succeeded(&self) -> u64 {
        self.succeeded
            .unwrap_or_else(|| self.requests.saturating_sub(self.errors))
    }

    /// Whether anything was tried on this row: a request sent, or a failure before sending.
    pub fn attempted(&self) -> bool {
        self.requests > 0 || self.errors > 0
    }
}

/// Failed requests by kind. Each kind names what a user does about it: `connect` and `tls`
/// point at the address or the certificate, `protocol` at a server (or middlebox) that does
/// not speak HTTP as it should, `reset` at one that drops connections, `timeout` at a slow
/// one, and the last three at the answers themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// TCP connect failed (refused, unreachable, no answer within the connect timeout).
    pub connect: u64,
    /// The TLS handshake failed (untrusted certificate, protocol error).
    pub tls: u64,
    /// The answer was not HTTP the client could read: garbage instead of a status line, a
    /// malformed header, an impossible `content-length`, an HTTP/2 protocol error.
    #[serde(default)]
    pub protocol: u64,
    /// The connection was closed or reset after the request went out, before a complete
    /// answer came back.
    #[serde(default)]
    pub reset: u64,
    /// No complete answer within the request timeout, or still waiting when the run ended.
    pub timeout: u64,
    /// The status did not pass the step's check (any status ≥ 400 without a check).
    pub status: u64,
    /// A JSON or body check failed, or a value the step must extract was missing.
    pub check: u64,
    /// A token request failed (on the token's row), or a business request could not run
    /// because its token could not be had (on the step's row).
    pub token: u64,
}

impl ErrorCounts {
    /// Every kind with its count, in the order summaries show them: the one list of kinds.
    pub fn kinds(&self) -> [(&'static str, u64); 8] {
        [
            ("connect", self.connect),
            ("tls", self.tls),
            ("protocol", self.protocol),
            ("reset", self.reset),
            ("timeout", self.timeout),
            ("status", self.status),
            ("check", self.check),
            ("token", self.token),
        ]
    }

    /// Every kind together.
    pub fn total(&self) -> u64 {
        self.kinds().iter().map(|(_, n)| n).sum()
    }

    /// Adds `o`'s counts (merging segments or workers).
    pub fn add(&mut self, o: &ErrorCounts) {
        self.connect += o.connect;
        self.tls += o.tls;
        self.protocol += o.protocol;
        self.reset += o.reset;
        self.timeout += o.timeout;
        self.status += o.status;
        self.check += o.check;
        self.token += o.token;
    }
}

/// Latency statistics in milliseconds (0 when there were no requests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// The fastest request.
    pub min: f64,
    /// The mean over every request.
    pub mean: f64,
    /// The median.
    pub p50: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The 95th percentile.
    pub p95: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The 99.9th percentile.
    pub p999: f64,
    /// The slowest request.
    pub max: f64,
}

/// One second of the run (business steps only), or, `span` seconds long, several added up:
/// a long run keeps its older seconds folded (1 s for the last 10 minutes, 10 s for the last day,
/// 1 min beyond, folded by the timeline module). Counts are the span's; divide by [`Second::seconds`]
/// (or use [`Second::per_second`]) for rates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// Seconds since `started` at the start of this entry.
    pub t: u64,
    /// How many seconds the entry covers; absent (0 or 1) for one second. Read it through
    /// [`Second::seconds`].
    #[serde(default, skip_serializing_if = "is_one_second")]
    pub span: u64,
    /// Requests answered (or failed) in this second.
    pub requests: u64,
    /// Of those, the failed ones.
    pub errors: u64,
    /// Token requests in this second.
    #[serde(default)]
    pub token_requests: u64,
    /// This second's median latency, ms.
    pub p50: f64,
    /// This second's 99th percentile latency, ms.
    pub p99: f64,
    /// VUs running an iteration or waiting to (the most seen in the second).
    pub active_vus: u64,
    /// Iterations dropped in this second.
    #[serde(default)]
    pub dropped: u64,
    /// This second's latency histogram, encoded as [`StepStats::histogram`].
    pub histogram: String,
    /// Request bytes of the business steps in this entry (as [`StepStats::bytes_sent`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bytes_sent: u64,
    /// Response bytes of the business steps in this entry.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bytes_received: u64,
    /// Each business step's share of the entry, in the order of [`RunResult::steps`]; empty
    /// in results written before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepSecond>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One step in one timeline entry. No histogram (a step's would multiply the timeline's
/// size): its percentiles are the second's own, and folded entries keep an estimate — the
/// p99 of a folded entry is the largest p99 of its seconds, an upper bound of the true one,
/// and its p50 the request-weighted mean of their medians.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepSecond {
    /// Requests of the step answered (or failed) in the entry.
    pub requests: u64,
    /// Of those, the failed ones.
    pub errors: u64,
    /// Median latency, ms (an estimate once folded).
    pub p50: f64,
    /// 99th percentile latency, ms (an upper bound once folded).
    pub p99: f64,
    /// The tail beyond the median, for `report compare`'s per-second judgement of every
    /// percentile it shows: p90, p95, p99.9 (each an upper bound once folded) and the slowest
    /// request, ms. Absent in results written before them, and for a step without requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<Tail>,
}

/// The upper percentiles of a [`StepSecond`], ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tail {
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// The slowest request.
    pub max: f64,
}

impl Tail {
    /// Both together, as folding seconds keeps them: each figure the larger of the two, an
    /// upper bound of the true one (a tail never shrinks when seconds are put together; the
    /// max is exact).
    pub fn fold(a: Option<Tail>, b: Option<Tail>) -> Option<Tail> {
        match (a, b) {
            (Some(a), Some(b)) => Some(Tail {
                p90: a.p90.max(b.p90),
                p95: a.p95.max(b.p95),
                p999: a.p999.max(b.p999),
                max: a.max.max(b.max),
            }),
            (a, b) => a.or(b),
        }
    }
}

fn is_one_second(span: &u64) -> bool {
    *span <= 1
}

impl Second {
    /// The seconds the entry covers: 1 unless it is a folded one.
    pub fn seconds(&self) -> u64 {
        self.span.max(1)
    }

    /// `count` (one of the entry's counts) per second of the entry.
    pub fn per_second(&self, count: u64) -> f64 {
        count as f64 / self.seconds() as f64
    }
}

/// A threshold and what was observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// As written in the scenario (`goods.p95 < 200ms`).
    pub threshold: String,
    /// In the threshold's unit: ms for latency, a fraction for `error_rate`, per second for
    /// `rps`, a count for the rest. `null` when there was no data to judge (no successful
    /// request for a latency, nothing sent for the rest): the threshold then fails.
    pub observed: Option<f64>,
    /// Whether the observed value met the threshold.
    pub passed: bool,
    /// The scenario stated no thresholds and this is the default one
    /// (`loadtape_scenario::DEFAULT_THRESHOLD`); absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let r = RunResult {
            loadtape: RESULT_V1.into(),
            scenario: "s".into(),
            scenario_file: Some("s.yaml".into()),
            label: Some("c16".into()),
            version: "0.1.0".into(),
            started: "2026-11-21T10:00:00Z".into(),
            ended: "2026-11-21T10:00:10Z".into(),
            duration_s: 10.0,
            partial: true,
            end_reason: "interrupted".into(),
            failure: None,
            settings: Settings {
                executor: "constant-vus".into(),
                max_vus: 10,
                duration_s: 10.0,
                rate: None,
                iterations: None,
                targets: IndexMap::new(),
                insecure: false,
                workers: 2,
                segment: None,
            },
            total: StepStats {
                name: "total".into(),
                kind: "total".into(),
                requests: 3,
                statuses: [("200".to_string(), 3)].into_iter().collect(),
                ..StepStats::default()
            },
            tokens: vec![],
            steps: vec![],
            flows: vec![],
            iterations: 1,
            dropped_iterations: 0,
            timeline: vec![Second::default()],
            thresholds: vec![ThresholdResult {
                threshold: "p99 < 1ms".into(),
                observed: Some(2.0),
                passed: false,
                default: false,
            }],
            passed: false,
            diagnostics: Vec::new(),
        };
        let text = serde_json::to_string(&r).unwrap();
        let back: RunResult = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        let mut no_data = r.clone();
        no_data.thresholds[0].observed = None;
        let text = serde_json::to_string(&no_data).unwrap();
        assert!(text.contains(r#""observed":null"#), "{text}");
        assert_eq!(serde_json::from_str::<RunResult>(&text).unwrap(), no_data);
    }

    #[test]
    fn results_written_before_the_new_counts_still_read() {
        let old = r#"{"name":"goods","kind":"step","requests":10,"errors":3,
            "errors_by_kind":{"connect":0,"tls":0,"timeout":0,"status":3,"check":0,"token":0},
            "statuses":{"200":7,"500":3},"rps":1.0,"bytes_sent":0,"bytes_received":0,
            "latency":{"min":1,"mean":1,"p50":1,"p90":1,"p95":1,"p99":1,"p999":1,"max":1},
            "service":{"min":1,"mean":1,"p50":1,"p90":1,"p95":1,"p99":1,"p999":1,"max":1},
            "histogram":"","service_histogram":""}"#;
        let s: StepStats = serde_json::from_str(old).unwrap();
        assert_eq!((s.succeeded, s.restarted, s.unfinished), (None, 0, 0));
        assert_eq!(s.succeeded(), 7);
        assert!(s.learned_lifetime_s.is_none());
        assert!(s.check_failures.is_empty());
        let text = serde_json::to_string(&s).unwrap();
        assert!(!text.contains("check_failures"), "{text}");
    }

    #[test]
    fn check_failures_are_bounded_grouped_and_sorted() {
        let mut t = CheckFailures::default();
        t.add("$.errno == 0", "402", 1);
        t.add("$.errno == 0", "501", 1);
        t.add("$.errno == 0", "402", 2);
        assert_eq!(t.0.len(), 2, "one entry per (rule, value)");
        for i in 0..CHECK_FAILURES_KEPT + 5 {
            t.add("$.ts == 0", &i.to_string(), 1);
        }
        assert_eq!(t.0.len(), CHECK_FAILURES_KEPT + 1);
        let mut other = CheckFailures::default();
        other.add("$.errno == 0", "402", 10);
        other.add("$.brand_new == 1", "2", 4);
        t.merge(&other);
        t.sort();
        assert_eq!(t.0.len(), CHECK_FAILURES_KEPT + 1, "still bounded");
        assert_eq!(
            (t.0[0].check.as_str(), t.0[0].got.as_str(), t.0[0].count),
            ("$.errno == 0", "402", 13)
        );
        let last = t.0.last().unwrap();
        // The 7 timestamps beyond the room, and the new rule that found none.
        assert_eq!((last.check.as_str(), last.count), (OTHER_FAILURES, 7 + 4));
        assert_eq!(t.total(), 13 + 1 + (CHECK_FAILURES_KEPT as u64 + 5) + 4);
        let text = serde_json::to_string(&t).unwrap();
        assert!(
            text.starts_with(r#"[{"check":"$.errno == 0","got":"402","count":13}"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<CheckFailures>(&text).unwrap(), t);
    }
}
