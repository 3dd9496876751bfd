//! The parts of a row beyond its latency, put together: the timing breakdown (connect, TLS,
//! time to first byte, transfer) from the histograms of each phase, the counts of each check
//! rule, and the latency bands an HTML report shows. `report merge` adds segments' rows with
//! [`TimingsSum`] and [`add_checks`]; the engine builds its rows' phases with [`phase`].

use hdrhistogram::Histogram;

use crate::histogram::{decode, encode, histogram, latency};
use crate::result::{CheckCount, Phase, Timings};

/// A phase's figures from its histogram (µs).
pub fn phase(h: &Histogram<u64>) -> Phase {
    if h.is_empty() {
        return Phase::default();
    }
    Phase {
        count: h.len(),
        latency: latency(h),
        histogram: encode(h),
    }
}

/// Timings of several rows (or segments of one) added phase by phase.
pub struct TimingsSum {
    opened: u64,
    reused: u64,
    /// connect, tls, ttfb, transfer.
    phases: [Histogram<u64>; 4],
}

impl Default for TimingsSum {
    fn default() -> Self {
        TimingsSum::new()
    }
}

impl TimingsSum {
    /// Nothing added yet.
    pub fn new() -> TimingsSum {
        TimingsSum {
            opened: 0,
            reused: 0,
            phases: std::array::from_fn(|_| histogram()),
        }
    }

    /// Adds `t`; the error names the phase whose histogram does not decode.
    pub fn add(&mut self, t: &Timings) -> Result<(), String> {
        self.opened += t.opened;
        self.reused += t.reused;
        let parts = [&t.connect, &t.tls, &t.ttfb, &t.transfer];
        for ((name, p), into) in NAMES.iter().zip(parts).zip(&mut self.phases) {
            if p.histogram.is_empty() {
                continue;
            }
            let h = decode(&p.histogram)
                .ok_or_else(|| format!("the {name} histogram is not a valid HdrHistogram"))?;
            into.add(&h)
                .map_err(|e| format!("the {name} histogram cannot be added: {e:?}"))?;
        }
        Ok(())
    }

    /// The sum, as a result stores it.
    pub fn finish(&self) -> Timings {
        let [connect, tls, ttfb, transfer] = &self.phases;
        Timings {
            opened: self.opened,
            reused: self.reused,
            connect: phase(connect),
            tls: phase(tls),
            ttfb: phase(ttfb),
            transfer: phase(transfer),
        }
    }
}

/// The phases' names, in [`Timings`]' order, as errors and the report say them.
const NAMES: [&str; 4] = ["connect", "TLS", "time-to-first-byte", "transfer"];

/// Adds `from`'s rule counts to `into`'s, rule by rule (by name: a segment's list is the same
/// scenario's, but a result written before checks were counted has none).
pub fn add_checks(into: &mut Vec<CheckCount>, from: &[CheckCount]) {
    for c in from {
        match into.iter_mut().find(|i| i.check == c.check) {
            Some(i) => {
                i.passed += c.passed;
                i.failed += c.failed;
            }
            None => into.push(c.clone()),
        }
    }
}

/// The upper bounds (ms, exclusive) of the latency bands the report shows: below 100 ms,
/// 100–500 ms, 500 ms–1 s, and 1 s or more.
pub const BAND_LIMITS_MS: [u64; 3] = [100, 500, 1_000];

/// How many of the histogram's values (µs) fall in each band of [`BAND_LIMITS_MS`]. Bands
/// follow the histogram's buckets: a value within 0.1 % of a limit may count on either side.
pub fn bands(h: &Histogram<u64>) -> [u64; 4] {
    let mut out = [0u64; 4];
    for v in h.iter_recorded() {
        let ms = v.value_iterated_to() / 1000;
        let band = BAND_LIMITS_MS
            .iter()
            .position(|limit| ms < *limit)
            .unwrap_or(3);
        out[band] += v.count_at_value();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings(values_us: &[u64], opened: u64, reused: u64) -> Timings {
        let mut h = histogram();
        for v in values_us {
            h.record(*v).unwrap();
        }
        Timings {
            opened,
            reused,
            connect: phase(&h),
            tls: Phase::default(),
            ttfb: phase(&h),
            transfer: phase(&h),
        }
    }

    #[test]
    fn timings_add_phase_by_phase_and_round_trip() {
        let mut sum = TimingsSum::new();
        sum.add(&timings(&[1_000, 2_000], 2, 8)).unwrap();
        sum.add(&timings(&[3_000], 1, 1)).unwrap();
        sum.add(&Timings::default()).unwrap();
        let t = sum.finish();
        assert_eq!((t.opened, t.reused), (3, 9));
        assert_eq!(t.connect.count, 3);
        assert!(t.tls.is_empty());
        assert!((t.ttfb.latency.max - 3.0).abs() < 0.01);
        assert!((t.reused_share() - 0.75).abs() < 1e-9);
        let text = serde_json::to_string(&t).unwrap();
        assert!(!text.contains("\"tls\""), "an empty TLS phase is left out");
        let back: Timings = serde_json::from_str(&text).unwrap();
        assert_eq!(back, t);
        let mut broken = timings(&[1], 1, 0);
        broken.ttfb.histogram = "nope".into();
        assert!(sum.add(&broken).unwrap_err().contains("time-to-first-byte"));
    }

    #[test]
    fn checks_add_by_rule_and_bands_split_at_their_limits() {
        let c = |check: &str, passed, failed| CheckCount {
            check: check.into(),
            passed,
            failed,
        };
        let mut all = vec![c("status == 200", 5, 1)];
        add_checks(
            &mut all,
            &[c("$.errno == 0", 2, 2), c("status == 200", 1, 0)],
        );
        assert_eq!(all, [c("status == 200", 6, 1), c("$.errno == 0", 2, 2)]);
        let mut h = histogram();
        for us in [
            5_000, 99_000, 100_000, 499_000, 500_000, 999_000, 1_000_000, 9_000_000,
        ] {
            h.record(us).unwrap();
        }
        assert_eq!(bands(&h), [2, 2, 2, 2]);
    }
}
