//! A run's timeline, kept flat over days: full resolution for the recent past, coarser further
//! back ([`TIERS`]), the seconds of a coarse entry added up, histograms included.
//!
//! A second of timeline is a few hundred bytes (its encoded histogram dominates), so a run
//! that kept every second grew by ~57 MB a day in memory and in its result, and the HTML of a
//! three-day run drew a quarter of a million points per chart. Folded into [`TIERS`], a 72 h
//! run keeps about 12,000 entries; the whole-resolution series goes to `run --timeline` as the
//! run goes, so nothing is lost. [`Timeline`] is what the engine keeps while it runs,
//! [`fold_into`] is the one rule for adding entries (the merge of results uses it too) and
//! [`downsample`] is what the HTML report draws.

use std::collections::VecDeque;

use hdrhistogram::Histogram;

use crate::histogram::{decode, encode, histogram};
use crate::result::{Second, StepSecond};

/// The resolution by age: an entry older than `.0` seconds (counted from the latest second) is
/// folded into buckets of `.1` seconds. 1 s for the last 10 minutes, 10 s for the last day,
/// 1 min beyond, as Prometheus users downsample (and as k6 Cloud keeps long tests). Why only
/// 10 minutes whole: a run's memory is flat once its whole-second window is full, and a
/// 30-minute soak must show that (the window of an hour grew a 1,000-VU run by 7 % for its
/// whole first hour); the HTML's charts draw [`CHART_POINTS`] at most, which a 30-minute run
/// at 1 s exceeds anyway; and every second stays whole in `run --timeline FILE`.
pub const TIERS: [(u64, u64); 2] = [(600, 10), (86_400, 60)];

/// Points a chart of the HTML report draws at most: a line 1,000 points wide is as wide as a
/// screen, and a 72 h run stays a page of a few hundred KB.
pub const CHART_POINTS: usize = 1_000;

/// The timeline of a run in progress: push each finished second in order, take the entries at
/// the end. Memory is bounded by [`TIERS`]: 600 + 8,580 entries plus one a minute beyond a
/// day.
#[derive(Debug, Default)]
pub struct Timeline {
    /// One deque per resolution, finest first: 1 s, then each of [`TIERS`].
    tiers: [VecDeque<Second>; 3],
    /// Reused for folding, so that compaction allocates one histogram, not one per bucket.
    scratch: Option<Histogram<u64>>,
}

impl Timeline {
    /// A timeline with nothing in it yet.
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// Adds the next second (its `t` after every earlier one's) and folds what has aged past a
    /// tier's boundary.
    pub fn push(&mut self, s: Second) {
        let now = s.t;
        self.tiers[0].push_back(s);
        for (level, (age, bucket)) in TIERS.iter().enumerate() {
            self.compact(level, now, *age, *bucket);
        }
    }

    /// Entries of `tiers[level]` whose whole bucket is older than `age` move into
    /// `tiers[level + 1]`, one folded entry per bucket.
    fn compact(&mut self, level: usize, now: u64, age: u64, bucket: u64) {
        loop {
            let Some(front) = self.tiers[level].front() else {
                return;
            };
            let start = front.t / bucket * bucket;
            let end = start + bucket;
            if end + age > now + 1 {
                return;
            }
            let mut folded = Second {
                t: start,
                span: bucket,
                ..Second::default()
            };
            let h = self.scratch.get_or_insert_with(histogram);
            clear(h);
            while let Some(s) = self.tiers[level].front().filter(|s| s.t < end) {
                fold_into(&mut folded, s, h);
                self.tiers[level].pop_front();
            }
            finish(&mut folded, h);
            self.tiers[level + 1].push_back(folded);
        }
    }

    /// Entries so far, in order: how many, for tests and memory estimates.
    pub fn len(&self) -> usize {
        self.tiers.iter().map(VecDeque::len).sum()
    }

    /// Whether nothing has been pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries, oldest first.
    pub fn into_vec(self) -> Vec<Second> {
        let [fine, mid, coarse] = self.tiers;
        coarse.into_iter().chain(mid).chain(fine).collect()
    }

    /// A copy of the entries, oldest first (a checkpoint while the run goes on).
    pub fn to_vec(&self) -> Vec<Second> {
        let [fine, mid, coarse] = &self.tiers;
        coarse.iter().chain(mid).chain(fine).cloned().collect()
    }
}

/// Empties `h`; an empty one is left alone (a reset walks every bucket: 190 KB each time).
fn clear(h: &mut Histogram<u64>) {
    if !h.is_empty() {
        h.reset();
    }
}

/// Adds `s` to `into` (whose `t` and `span` the caller sets): counts summed, the most VUs
/// kept, the histogram added to `h`. An entry whose histogram does not decode adds its counts
/// and nothing to the latency. Call [`finish`] once everything is added.
pub fn fold_into(into: &mut Second, s: &Second, h: &mut Histogram<u64>) {
    fold_counts(into, s);
    // A second without requests has nothing to add: not decoding it saves a 190 KB histogram.
    if s.requests == 0 && s.errors == 0 {
        return;
    }
    if let Some(other) = decode(&s.histogram) {
        let _ = h.add(&other);
    }
}

/// The counts part of [`fold_into`], for callers that add the histograms themselves (and
/// refuse one that does not decode, as `report merge` does).
pub fn fold_counts(into: &mut Second, s: &Second) {
    into.requests += s.requests;
    into.errors += s.errors;
    into.token_requests += s.token_requests;
    into.dropped += s.dropped;
    into.active_vus = into.active_vus.max(s.active_vus);
    into.bytes_sent += s.bytes_sent;
    into.bytes_received += s.bytes_received;
    if into.steps.len() < s.steps.len() {
        into.steps.resize(s.steps.len(), StepSecond::default());
    }
    for (a, b) in into.steps.iter_mut().zip(&s.steps) {
        fold_step(a, b);
    }
}

/// Adds one step's entry to another. Without a histogram per step the folded percentiles are
/// estimates: the p99 is the largest of the two (an upper bound of the true p99 of both, as
/// a tail never shrinks when seconds are put together), the p50 the mean of both medians
/// weighted by their requests.
pub fn fold_step(into: &mut StepSecond, s: &StepSecond) {
    let all = into.requests + s.requests;
    if all > 0 {
        into.p50 = (into.p50 * into.requests as f64 + s.p50 * s.requests as f64) / all as f64;
    }
    into.p99 = into.p99.max(s.p99);
    into.tail = crate::result::Tail::fold(into.tail, s.tail);
    into.requests = all;
    into.errors += s.errors;
}

/// Sets `into`'s percentiles and histogram from everything [`fold_into`] added to `h`.
pub fn finish(into: &mut Second, h: &Histogram<u64>) {
    if h.is_empty() {
        // Quiet hours of a long run are many: their encoding is the same, made once.
        static EMPTY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        into.p50 = 0.0;
        into.p99 = 0.0;
        into.histogram = EMPTY.get_or_init(|| encode(&histogram())).clone();
        return;
    }
    into.p50 = h.value_at_quantile(0.5) as f64 / 1000.0;
    into.p99 = h.value_at_quantile(0.99) as f64 / 1000.0;
    into.histogram = encode(h);
}

/// At most `points` entries covering the same time: neighbours folded together, evenly, so a
/// chart of a 72 h run shows all 72 hours (downsampled, not truncated). Rates stay rates: read
/// them with [`Second::per_second`].
pub fn downsample(seconds: &[Second], points: usize) -> Vec<Second> {
    if seconds.len() <= points.max(1) {
        return seconds.to_vec();
    }
    let per = seconds.len().div_ceil(points.max(1));
    let mut h = histogram();
    seconds
        .chunks(per)
        .map(|chunk| {
            let first = &chunk[0];
            let last = &chunk[chunk.len() - 1];
            let mut folded = Second {
                t: first.t,
                span: last.t + last.seconds() - first.t,
                ..Second::default()
            };
            clear(&mut h);
            for s in chunk {
                fold_into(&mut folded, s, &mut h);
            }
            finish(&mut folded, &h);
            folded
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(t: u64, latency_us: u64) -> Second {
        let mut h = histogram();
        h.record(latency_us).unwrap();
        Second {
            t,
            requests: 1,
            errors: t % 2,
            active_vus: t % 7,
            histogram: encode(&h),
            ..Second::default()
        }
    }

    #[test]
    fn three_days_stay_flat_and_keep_every_request() {
        let mut tl = Timeline::new();
        let days = 3 * 86_400;
        for t in 0..days {
            tl.push(Second {
                t,
                requests: 1,
                ..Second::default()
            });
        }
        // 10 min at 1 s, the rest of the day at 10 s, 48 h at 1 min.
        assert_eq!(tl.len(), 600 + (86_400 - 600) / 10 + 48 * 60);
        let v = tl.into_vec();
        assert_eq!(v.iter().map(|s| s.requests).sum::<u64>(), days);
        assert!(v.windows(2).all(|w| w[0].t + w[0].seconds() == w[1].t));
        assert_eq!(v.last().unwrap().t, days - 1);
        assert_eq!(v[0].seconds(), 60);
    }

    #[test]
    fn folded_entries_add_histograms_and_keep_the_most_vus() {
        let mut tl = Timeline::new();
        for t in 0..TIERS[0].0 + 20 {
            tl.push(second(t, 1_000 + t * 10));
        }
        let v = tl.into_vec();
        assert_eq!(v[0].seconds(), 10);
        assert_eq!(v[0].requests, 10);
        assert_eq!(v[0].errors, 5);
        assert_eq!(v[0].active_vus, 6);
        let h = decode(&v[0].histogram).unwrap();
        assert_eq!(h.len(), 10);
        assert_eq!(h.max() / 10, 1_090 / 10);
        assert!((v[0].p50 - 1.04).abs() < 0.01, "{}", v[0].p50);
        assert!((v[0].per_second(v[0].requests) - 1.0).abs() < 1e-9);
    }

    fn step(requests: u64, errors: u64, p50: f64, p99: f64) -> StepSecond {
        StepSecond {
            requests,
            errors,
            p50,
            p99,
            tail: None,
        }
    }

    #[test]
    fn folded_steps_and_bytes_add_up_and_p99_is_the_upper_bound() {
        let mut tl = Timeline::new();
        for t in 0..TIERS[0].0 + 10 {
            let mut s = second(t, 1_000);
            s.bytes_sent = 100;
            s.bytes_received = 1_000 + t;
            // A step that appears only after the first second: folding widens the list.
            s.steps = vec![step(3, 1, 2.0, 10.0 + t as f64)];
            if t > 0 {
                s.steps.push(step(1, 0, 4.0 * t as f64, 5.0));
            }
            tl.push(s);
        }
        let v = tl.into_vec();
        let first = &v[0];
        assert_eq!(first.seconds(), 10);
        assert_eq!((first.bytes_sent, first.bytes_received), (1_000, 10_045));
        assert_eq!(first.steps.len(), 2);
        assert_eq!((first.steps[0].requests, first.steps[0].errors), (30, 10));
        assert_eq!(
            first.steps[0].p99, 19.0,
            "the largest p99 of the 10 seconds"
        );
        assert_eq!(first.steps[0].p50, 2.0);
        // Seconds 1..=9, one request each, medians 4, 8, …, 36: their mean.
        assert_eq!(first.steps[1].requests, 9);
        assert!(
            (first.steps[1].p50 - 20.0).abs() < 1e-9,
            "{}",
            first.steps[1].p50
        );
        let d = downsample(&v, 10);
        assert_eq!(
            d.iter().map(|s| s.bytes_sent).sum::<u64>(),
            100 * (TIERS[0].0 + 10)
        );
        let steps: u64 = d.iter().map(|s| s.steps[0].requests).sum();
        assert_eq!(steps, 3 * (TIERS[0].0 + 10));
        assert_eq!(
            d.last().unwrap().steps[0].p99,
            10.0 + (TIERS[0].0 + 9) as f64
        );
    }

    #[test]
    fn downsampling_covers_the_whole_run() {
        let seconds: Vec<Second> = (0..2_501).map(|t| second(t, 500)).collect();
        let d = downsample(&seconds, CHART_POINTS);
        assert!(d.len() <= CHART_POINTS);
        assert_eq!(d[0].t, 0);
        let last = d.last().unwrap();
        assert_eq!(last.t + last.seconds(), 2_501);
        assert_eq!(d.iter().map(|s| s.requests).sum::<u64>(), 2_501);
        assert!(d
            .iter()
            .all(|s| (s.per_second(s.requests) - 1.0).abs() < 1e-9));
    }
}
