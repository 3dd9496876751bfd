//! What a worker counts per step beyond its totals: each step's share of the current second
//! (for the per-step series of the timeline) and the passes and failures of each rule of its
//! check. Both grow to the step count once, on first use, and then only add.

use hdrhistogram::Histogram;
use loadtape_report::histogram::MAX_US;
use loadtape_report::result::{StepSecond, Tail};

/// One step in one second of one worker (or, merged, of all).
#[derive(Debug, Clone)]
pub struct StepInterval {
    /// Latencies (µs) of the step's requests in the second, at 2 significant digits: a
    /// histogram of 26 KB instead of 190 KB per step and second, and a p99 within 1 %.
    pub histogram: Histogram<u64>,
    /// The step's requests recorded in the second.
    pub requests: u64,
    /// Of those (and failures that sent nothing), the failed ones.
    pub errors: u64,
}

impl Default for StepInterval {
    fn default() -> Self {
        StepInterval::new()
    }
}

impl StepInterval {
    /// Nothing counted yet.
    pub fn new() -> StepInterval {
        // The bounds are constants that are valid for hdrhistogram.
        let histogram = Histogram::new_with_bounds(1, MAX_US, 2)
            .unwrap_or_else(|_| Histogram::new(2).unwrap_or_else(|_| unreachable!()));
        StepInterval {
            histogram,
            requests: 0,
            errors: 0,
        }
    }

    /// Adds another worker's numbers for the same step and second.
    pub fn merge(&mut self, o: &StepInterval) {
        let _ = self.histogram.add(&o.histogram);
        self.requests += o.requests;
        self.errors += o.errors;
    }

    /// As the timeline stores it.
    pub fn second(&self) -> StepSecond {
        let q = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        let tail = (!self.histogram.is_empty()).then(|| Tail {
            p90: q(0.90),
            p95: q(0.95),
            p999: q(0.999),
            max: self.histogram.max() as f64 / 1000.0,
        });
        StepSecond {
            requests: self.requests,
            errors: self.errors,
            p50: q(0.5),
            p99: q(0.99),
            tail,
        }
    }
}

/// The entry of `list` for step `s`, the list grown to hold it.
pub fn at<T: Default>(list: &mut Vec<T>, s: usize) -> &mut T {
    if list.len() <= s {
        list.resize_with(s + 1, T::default);
    }
    &mut list[s]
}

/// Adds `from`'s entries to `into`'s, index by index, growing `into` as needed.
pub fn merge_all<T: Default>(into: &mut Vec<T>, from: &[T], add: impl Fn(&mut T, &T)) {
    for (s, o) in from.iter().enumerate() {
        add(at(into, s), o);
    }
}

/// One rule of a step's check: answers that met it, answers that broke it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleCount {
    /// Answers that met the rule.
    pub passed: u64,
    /// Answers that broke it.
    pub failed: u64,
}

impl RuleCount {
    /// Counts one answer.
    pub fn count(&mut self, ok: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
    }

    /// Adds another worker's count for the same rule.
    pub fn add(&mut self, o: &RuleCount) {
        self.passed += o.passed;
        self.failed += o.failed;
    }
}
