//! Live numbers while a run goes on, for `loadtape run --metrics` and `--dashboard`: a
//! read-only [`Snapshot`] of every row's cumulative counts and latency, published about once
//! a second on a `watch` channel ([`crate::Running::live`]).
//!
//! Nothing is added to the hot path: a worker already wakes once a second for its interval,
//! and with [`crate::Options::live`] on it then also sends its cumulative rows ([`Report`]),
//! each latency histogram as its non-empty buckets only (a few hundred pairs, not the 23,000
//! counters of a whole HdrHistogram). The coordinator keeps the latest report per worker and
//! merges them once every worker has reported the same second, so readers never merge
//! anything. Each worker's last report carries its settled totals, the very numbers the run's
//! result is made of: the final snapshot ([`Snapshot::finished`]) equals the result.

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use loadtape_report::histogram::histogram;
use loadtape_report::result::ErrorCounts;
use tokio::sync::watch;

use crate::metrics::{StepMetrics, WorkerMetrics};
use crate::plan::Plan;

/// One row (a step or a token step) so far, all workers added up.
#[derive(Debug, Clone)]
pub struct LiveRow {
    /// The step's (or token step's) name, as in the scenario and the result.
    pub name: String,
    /// Requests sent, as `result/v1` counts them (requests still in flight at the end
    /// included, as `timeout` errors).
    pub requests: u64,
    /// Failed requests by kind (failures that sent no request included).
    pub errors: ErrorCounts,
    /// Latency in µs of every request with one, the histogram `result/v1` encodes.
    pub latency: Histogram<u64>,
    /// Bytes sent (HTTP/1.1 estimate, as in `result/v1`).
    pub bytes_sent: u64,
    /// Bytes received (HTTP/1.1 estimate, as in `result/v1`).
    pub bytes_received: u64,
    /// Token steps: fetches that replaced a value the VU (or, shared, the run) already had.
    pub refreshes: u64,
}

impl LiveRow {
    /// A row named `name` with nothing counted yet.
    pub fn new(name: &str) -> LiveRow {
        LiveRow {
            name: name.to_owned(),
            requests: 0,
            errors: ErrorCounts::default(),
            latency: histogram(),
            bytes_sent: 0,
            bytes_received: 0,
            refreshes: 0,
        }
    }
}

/// The steps' requests since the previous snapshot: what "requests per second" and the
/// current percentiles are computed over.
#[derive(Debug, Clone)]
pub struct Recent {
    /// How long the window is (about a second).
    pub seconds: f64,
    /// Step requests in the window.
    pub requests: u64,
    /// Step errors in the window.
    pub errors: u64,
    /// Latency in µs of the window's step requests.
    pub latency: Histogram<u64>,
}

/// A run's numbers at one moment: cumulative per row, plus the latest window.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The scenario's name.
    pub scenario: String,
    /// Time since the run started.
    pub elapsed: Duration,
    /// How long the load is scheduled to last.
    pub planned: Duration,
    /// Every worker is done: these are the run's final numbers, equal to its result.
    pub finished: bool,
    /// VUs in an iteration at the latest report, all workers added up.
    pub active_vus: u64,
    /// The most VUs the executor may use.
    pub max_vus: u32,
    /// Iterations that got through their steps ([`WorkerMetrics::iterations`]).
    pub iterations: u64,
    /// Rate-executor iterations dropped ([`WorkerMetrics::dropped`]).
    pub dropped: u64,
    /// Token steps, in the plan's order.
    pub tokens: Vec<LiveRow>,
    /// Steps, in the plan's order.
    pub steps: Vec<LiveRow>,
    /// The steps' latest window.
    pub recent: Recent,
}

/// The read end of a run's live numbers: the latest [`Snapshot`], and a wake-up on each new
/// one.
pub type Feed = watch::Receiver<Arc<Snapshot>>;

/// One row's cumulative counts as a worker sends them.
#[derive(Debug, Clone)]
pub(crate) struct Counts {
    requests: u64,
    errors: ErrorCounts,
    bytes_sent: u64,
    bytes_received: u64,
    refreshes: u64,
    /// The latency histogram's non-empty buckets: (a value of the bucket, its count).
    buckets: Vec<(u64, u64)>,
}

impl Counts {
    fn of(m: &StepMetrics) -> Counts {
        Counts {
            requests: m.requests,
            errors: m.errors,
            bytes_sent: m.bytes_sent,
            bytes_received: m.bytes_received,
            refreshes: m.refreshes,
            buckets: m
                .latency
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
        }
    }
}

/// A worker's cumulative numbers, sent once a second and once more, settled, at its end.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    /// Which worker sent it.
    pub worker: usize,
    /// The second of the run it closes.
    pub second: u64,
    /// The worker is done: these are its totals.
    pub last: bool,
    rows: Vec<Counts>,
    iterations: u64,
    dropped: u64,
    active: u64,
}

impl Report {
    /// Worker `worker`'s numbers `m` at the end of `second` (`last`: its settled totals).
    pub(crate) fn of(worker: usize, second: u64, m: &WorkerMetrics, last: bool) -> Report {
        Report {
            worker,
            second,
            last,
            rows: m.steps.iter().map(Counts::of).collect(),
            iterations: m.iterations,
            dropped: m.dropped,
            active: if last { 0 } else { m.active },
        }
    }
}

/// The coordinator's side: the latest report per worker, merged into a [`Snapshot`] once
/// every worker has reported the newest second (or is done).
pub(crate) struct Collector {
    template: Snapshot,
    tokens: usize,
    latest: Vec<Option<Report>>,
    changed: bool,
    /// The steps' merged latency and counts at the previous snapshot, for [`Recent`].
    before: (Duration, u64, u64, Histogram<u64>),
    tx: watch::Sender<Arc<Snapshot>>,
}

impl Collector {
    /// A collector for `workers` workers running `plan`, with an all-zero first snapshot.
    pub(crate) fn new(plan: &Plan, workers: usize) -> Collector {
        let template = Snapshot {
            scenario: plan.name.clone(),
            elapsed: Duration::ZERO,
            planned: plan.duration(),
            finished: false,
            active_vus: 0,
            max_vus: plan.max_vus(),
            iterations: 0,
            dropped: 0,
            tokens: plan.tokens.iter().map(|t| LiveRow::new(&t.name)).collect(),
            steps: plan.steps.iter().map(|s| LiveRow::new(&s.name)).collect(),
            recent: Recent {
                seconds: 0.0,
                requests: 0,
                errors: 0,
                latency: histogram(),
            },
        };
        let (tx, _) = watch::channel(Arc::new(template.clone()));
        Collector {
            template,
            tokens: plan.tokens.len(),
            latest: vec![None; workers],
            changed: false,
            before: (Duration::ZERO, 0, 0, histogram()),
            tx,
        }
    }

    /// A new reader of the snapshots.
    pub(crate) fn subscribe(&self) -> Feed {
        self.tx.subscribe()
    }

    /// Keeps a worker's report (it replaces the worker's previous one: both are cumulative).
    pub(crate) fn take(&mut self, r: Report) {
        if let Some(slot) = self.latest.get_mut(r.worker) {
            *slot = Some(r);
            self.changed = true;
        }
    }

    /// Publishes a new snapshot when every worker has reported the newest second, or when
    /// `finished` (every worker done): at most one merge per second.
    pub(crate) fn publish(&mut self, elapsed: Duration, finished: bool) {
        // Nothing new, unless this is the news that the run is over.
        if !self.changed && (!finished || self.template.finished) {
            return;
        }
        let newest = self.latest.iter().flatten().map(|r| r.second).max();
        let complete = self.latest.iter().all(|r| {
            r.as_ref()
                .is_some_and(|r| r.last || Some(r.second) >= newest)
        });
        if !complete && !finished {
            return;
        }
        self.changed = false;
        self.template.finished = finished;
        let snapshot = self.merge(elapsed, finished);
        self.tx.send_replace(Arc::new(snapshot));
    }

    fn merge(&mut self, elapsed: Duration, finished: bool) -> Snapshot {
        let mut s = self.template.clone();
        s.elapsed = elapsed;
        s.finished = finished;
        for r in self.latest.iter().flatten() {
            s.iterations += r.iterations;
            s.dropped += r.dropped;
            s.active_vus += r.active;
            let rows = s.tokens.iter_mut().chain(s.steps.iter_mut());
            for (row, c) in rows.zip(&r.rows) {
                add(row, c);
            }
        }
        let mut total = histogram();
        let (mut requests, mut errors) = (0, 0);
        for row in &s.steps {
            let _ = total.add(&row.latency);
            requests += row.requests;
            errors += row.errors.total();
        }
        let (at, req0, err0, lat0) = &self.before;
        let mut window = total.clone();
        if window.subtract(lat0).is_err() {
            window = total.clone();
        }
        s.recent = Recent {
            seconds: elapsed.saturating_sub(*at).as_secs_f64(),
            requests: requests.saturating_sub(*req0),
            errors: errors.saturating_sub(*err0),
            latency: window,
        };
        self.before = (elapsed, requests, errors, total);
        debug_assert_eq!(s.tokens.len(), self.tokens);
        s
    }
}

fn add(row: &mut LiveRow, c: &Counts) {
    row.requests += c.requests;
    row.errors.add(&c.errors);
    row.bytes_sent += c.bytes_sent;
    row.bytes_received += c.bytes_received;
    row.refreshes += c.refreshes;
    for &(value, count) in &c.buckets {
        row.latency.saturating_record_n(value, count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Sample;
    use crate::row::Row;

    fn sample(ms: u64) -> Sample {
        Sample {
            latency: Duration::from_millis(ms),
            service: Duration::from_millis(ms),
            status: Some(200),
            error: None,
            sent: 10,
            received: 20,
            rejected: false,
        }
    }

    #[test]
    fn sparse_buckets_merge_into_the_same_histogram_as_a_full_merge() {
        let (mut a, mut b) = (WorkerMetrics::new(1, 1), WorkerMetrics::new(1, 1));
        for ms in [1, 2, 3, 50, 700] {
            a.record(Row::Step(0), &sample(ms));
        }
        for ms in [4, 5, 2000] {
            b.record(Row::Step(0), &sample(ms));
        }
        b.record(Row::Token(0), &sample(9));
        let mut row = LiveRow::new("s");
        add(&mut row, &Counts::of(&a.steps[1]));
        add(&mut row, &Counts::of(&b.steps[1]));
        let mut full = a.clone();
        full.merge(&b);
        let want = &full.steps[1];
        assert_eq!(row.requests, 8);
        assert_eq!(row.latency.len(), want.latency.len());
        for q in [0.5, 0.9, 0.99, 1.0] {
            assert_eq!(
                row.latency.value_at_quantile(q),
                want.latency.value_at_quantile(q)
            );
        }
        assert_eq!(row.bytes_received, 160);
    }
}
