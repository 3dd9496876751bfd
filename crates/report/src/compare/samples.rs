//! A run's seconds as samples of each figure, for the noise judgement: every whole second of
//! the timeline but the first (connections opening, VUs starting) and the last (cut short by
//! the end), each one sample of requests/s, of the error rate and of each percentile, per row.
//! The total's percentiles come from each second's histogram; a step's from the percentiles
//! the timeline keeps for it (an upper bound in folded entries of long runs).

use crate::histogram::{decode, latency};
use crate::result::{RunResult, Second};

use super::model::Figure;

/// Per row (the total, then the steps asked for), per figure, the values of the judged seconds.
pub(super) struct Samples {
    seconds: usize,
    rows: Vec<[Vec<f64>; 8]>,
}

/// The seconds of `r` that are judged.
pub(super) fn judged(r: &RunResult) -> &[Second] {
    let t = &r.timeline;
    if t.len() < 3 {
        &[]
    } else {
        &t[1..t.len() - 1]
    }
}

impl Samples {
    /// The samples of `r`'s total and of its steps called `names`, in that order.
    pub(super) fn of(r: &RunResult, names: &[String]) -> Samples {
        let seconds = judged(r);
        let mut rows = vec![total(seconds)];
        for name in names {
            let k = r.steps.iter().position(|s| &s.name == name);
            rows.push(k.map(|k| step(seconds, k)).unwrap_or_default());
        }
        Samples {
            seconds: seconds.len(),
            rows,
        }
    }

    /// The judged seconds' values of `figure` on row `row` (0: the total).
    pub(super) fn get(&self, row: usize, figure: Figure) -> &[f64] {
        let i = Figure::ALL.iter().position(|f| *f == figure).unwrap_or(0);
        self.rows.get(row).map_or(&[], |r| &r[i])
    }

    /// How many seconds were judged.
    pub(super) fn seconds(&self) -> usize {
        self.seconds
    }
}

fn total(seconds: &[Second]) -> [Vec<f64>; 8] {
    let mut out: [Vec<f64>; 8] = Default::default();
    for s in seconds {
        out[0].push(s.per_second(s.requests));
        if s.requests > 0 {
            out[1].push(s.errors as f64 / s.requests as f64);
        }
        // A second without requests has no latency (and not decoding it saves 190 KB).
        if s.requests == 0 {
            continue;
        }
        if let Some(h) = decode(&s.histogram).filter(|h| !h.is_empty()) {
            let l = latency(&h);
            for (i, v) in [l.p50, l.p90, l.p95, l.p99, l.p999, l.max]
                .into_iter()
                .enumerate()
            {
                out[2 + i].push(v);
            }
        }
    }
    out
}

fn step(seconds: &[Second], k: usize) -> [Vec<f64>; 8] {
    let mut out: [Vec<f64>; 8] = Default::default();
    for s in seconds {
        let Some(st) = s.steps.get(k) else {
            // A timeline written before per-step entries: nothing to judge the step on.
            continue;
        };
        out[0].push(s.per_second(st.requests));
        if st.requests > 0 {
            out[1].push(st.errors as f64 / st.requests as f64);
        }
        if st.requests > st.errors {
            out[2].push(st.p50);
            out[5].push(st.p99);
            if let Some(t) = st.tail {
                out[3].push(t.p90);
                out[4].push(t.p95);
                out[6].push(t.p999);
                out[7].push(t.max);
            }
        }
    }
    out
}
