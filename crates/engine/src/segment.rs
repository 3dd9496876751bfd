//! `--segment K/N`: the K-th of N equal shares of a scenario's load, for one machine (or pod)
//! of a distributed run.
//!
//! Shares are cut the way k6 cuts execution segments: share `k` of a quantity `X` is
//! `floor(k·X/N) − floor((k−1)·X/N)`. The N shares of any quantity then add up to exactly `X`
//! (the sum telescopes to `floor(N·X/N) = X`), differ by at most one, and need no coordination
//! between shards: each computes its own share from `K`, `N` and the scenario alone.

use std::fmt;
use std::ops::Range;

use loadtape_scenario::{Executor, Rate, RateUnit};

/// The K-th of N shares (1-based), `1/1` being the whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    k: u64,
    n: u64,
}

impl Segment {
    /// The whole load.
    pub const WHOLE: Segment = Segment { k: 1, n: 1 };

    /// Parses `K/N` with `1 <= K <= N`.
    pub fn parse(text: &str) -> Result<Segment, String> {
        let bad = || {
            format!("`{text}` is not a segment: write K/N with 1 <= K <= N, e.g. 2/4 for the second of four shares")
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let k: u64 = k.trim().parse().map_err(|_| bad())?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        Ok(Segment { k, n })
    }

    /// How many shares the load is cut into (the `N` of `K/N`).
    pub fn n(&self) -> u64 {
        self.n
    }

    /// The position where share `k` ends, of a quantity `x`: `floor(k·x/N)`.
    fn cut(&self, k: u64, x: u64) -> u64 {
        // u128: no overflow for any u64 quantity and any N.
        ((k as u128 * x as u128) / self.n as u128) as u64
    }

    /// This segment's share of `x`.
    pub fn share(&self, x: u64) -> u64 {
        self.cut(self.k, x) - self.cut(self.k - 1, x)
    }

    fn share_u32(&self, x: u32) -> u32 {
        // A share is never more than the whole, so it fits.
        self.share(x as u64) as u32
    }

    /// This segment's slice of `len` rows: contiguous, disjoint from the other segments',
    /// all N slices together covering `0..len`.
    pub fn rows(&self, len: usize) -> Range<usize> {
        let len = len as u64;
        self.cut(self.k - 1, len) as usize..self.cut(self.k, len) as usize
    }

    /// This segment's share of a rate. Rates are cut per hour, the finest unit a rate has,
    /// so that small rates still split evenly (1/s in four: 900/h each, not 0, 0, 0 and 1/s).
    pub fn rate(&self, r: Rate) -> Rate {
        Rate {
            count: self.share(r.count.saturating_mul(3600 / r.per.seconds())),
            per: RateUnit::Hour,
        }
    }

    /// Scales an executor to this segment: VUs, `max_vus`, pre-allocated VUs, rates and every
    /// ramp stage's target. Durations and stage lengths stay: all shards run the same
    /// schedule side by side.
    pub fn apply(&self, e: &mut Executor) {
        if *self == Segment::WHOLE {
            return;
        }
        match e {
            Executor::ConstantVus { vus, .. } => *vus = self.share_u32(*vus),
            Executor::RampingVus { start_vus, stages } => {
                *start_vus = self.share_u32(*start_vus);
                for s in stages {
                    s.to = self.share_u32(s.to);
                }
            }
            Executor::ConstantRate {
                rate,
                max_vus,
                pre_allocated_vus,
                ..
            } => {
                *rate = self.rate(*rate);
                *max_vus = self.share_u32(*max_vus);
                *pre_allocated_vus = pre_allocated_vus.map(|p| self.share_u32(p));
            }
            Executor::RampingRate {
                start_rate,
                stages,
                max_vus,
                pre_allocated_vus,
            } => {
                *start_rate = self.rate(*start_rate);
                for s in stages {
                    s.to = self.rate(s.to);
                }
                *max_vus = self.share_u32(*max_vus);
                *pre_allocated_vus = pre_allocated_vus.map(|p| self.share_u32(p));
            }
        }
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use loadtape_scenario::{RateStage, VuStage};

    use super::*;

    fn all(n: u64) -> impl Iterator<Item = Segment> {
        (1..=n).map(move |k| Segment { k, n })
    }

    #[test]
    fn parses_k_of_n() {
        assert_eq!(Segment::parse("2/4"), Ok(Segment { k: 2, n: 4 }));
        assert_eq!(Segment::parse("1/1"), Ok(Segment::WHOLE));
        assert_eq!(Segment::parse("3/4").unwrap().to_string(), "3/4");
        for bad in ["0/4", "5/4", "1/0", "2", "a/b", "-1/2", ""] {
            let e = Segment::parse(bad).unwrap_err();
            assert!(e.contains("1 <= K <= N"), "{bad}: {e}");
        }
    }

    #[test]
    fn shares_sum_exactly_to_the_whole_and_differ_by_at_most_one() {
        for n in 1..=12 {
            for x in (0..=50).chain([97, 1000, 4999, u32::MAX as u64, u64::MAX]) {
                let shares: Vec<u64> = all(n).map(|s| s.share(x)).collect();
                assert_eq!(shares.iter().map(|&s| s as u128).sum::<u128>(), x as u128);
                let (lo, hi) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
                assert!(hi - lo <= 1, "{x} in {n}: {shares:?}");
            }
        }
        // k6's example: 10 VUs in 3 segments.
        let s: Vec<u64> = all(3).map(|s| s.share(10)).collect();
        assert_eq!(s, [3, 3, 4]);
    }

    #[test]
    fn row_slices_are_disjoint_contiguous_and_cover_every_row() {
        for n in 1..=9 {
            for len in 0..=40 {
                let mut next = 0;
                for s in all(n) {
                    let r = s.rows(len);
                    assert_eq!(r.start, next, "{len} rows in {n}");
                    assert_eq!(r.len() as u64, s.share(len as u64));
                    next = r.end;
                }
                assert_eq!(next, len);
            }
        }
    }

    #[test]
    fn one_segment_is_the_identity() {
        let e = Executor::RampingRate {
            start_rate: Rate::per_second(3),
            stages: vec![RateStage {
                to: Rate::per_second(10),
                over: Duration::from_secs(5),
            }],
            max_vus: 7,
            pre_allocated_vus: Some(2),
        };
        let mut same = e.clone();
        Segment::WHOLE.apply(&mut same);
        assert_eq!(format!("{same:?}"), format!("{e:?}"));
        assert_eq!(Segment::WHOLE.rows(17), 0..17);
        assert_eq!(Segment::WHOLE.share(17), 17);
    }

    #[test]
    fn executors_split_into_shares_that_add_up() {
        let n = 3;
        let vus = Executor::RampingVus {
            start_vus: 1,
            stages: vec![
                VuStage {
                    to: 10,
                    over: Duration::from_secs(5),
                },
                VuStage {
                    to: 0,
                    over: Duration::from_secs(2),
                },
            ],
        };
        let rate = Executor::ConstantRate {
            rate: Rate::per_second(10),
            duration: Duration::from_secs(9),
            max_vus: 20,
            pre_allocated_vus: Some(5),
        };
        let ramp = Executor::RampingRate {
            start_rate: Rate {
                count: 1,
                per: RateUnit::Minute,
            },
            stages: vec![RateStage {
                to: Rate::per_second(100),
                over: Duration::from_secs(5),
            }],
            max_vus: 50,
            pre_allocated_vus: None,
        };
        let mut sums = [0f64; 8];
        for s in all(n) {
            let (mut a, mut b, mut c) = (vus.clone(), rate.clone(), ramp.clone());
            s.apply(&mut a);
            s.apply(&mut b);
            s.apply(&mut c);
            let Executor::RampingVus { start_vus, stages } = a else {
                unreachable!()
            };
            sums[0] += start_vus as f64;
            sums[1] += stages[0].to as f64;
            assert_eq!(stages[0].over, Duration::from_secs(5));
            let Executor::ConstantRate {
                rate,
                duration,
                max_vus,
                pre_allocated_vus,
            } = b
            else {
                unreachable!()
            };
            assert_eq!(duration, Duration::from_secs(9));
            sums[2] += rate.count as f64;
            sums[3] += max_vus as f64;
            sums[4] += pre_allocated_vus.unwrap() as f64;
            let Executor::RampingRate {
                start_rate,
                stages,
                max_vus,
                ..
            } = c
            else {
                unreachable!()
            };
            sums[5] += start_rate.count as f64;
            sums[6] += stages[0].to.count as f64;
            sums[7] += max_vus as f64;
        }
        assert_eq!(
            sums[..8],
            [1.0, 10.0, 36_000.0, 20.0, 5.0, 60.0, 360_000.0, 50.0]
        );
    }
}
