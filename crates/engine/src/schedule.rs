//! The executors' timing: how many VUs a ramp wants at a moment, and when the k-th iteration
//! of a rate executor is due.

use std::time::Duration;

use loadtape_scenario::{Executor, Rate, RateStage, VuStage};

/// VUs wanted `t` into a `ramping-vus` run (linear between stages, as k6).
pub(crate) fn vus_at(start_vus: u32, stages: &[VuStage], t: Duration) -> u32 {
    let mut from = start_vus as f64;
    let mut at = Duration::ZERO;
    for s in stages {
        if t < at + s.over {
            let f = (t - at).as_secs_f64() / s.over.as_secs_f64().max(1e-9);
            return (from + (s.to as f64 - from) * f).round() as u32;
        }
        at += s.over;
        from = s.to as f64;
    }
    from as u32
}

/// A rate schedule: piecewise-linear iterations per second.
#[derive(Debug, Clone)]
pub(crate) struct RateSchedule {
    /// (rate at start, rate at end, length), in order.
    segments: Vec<(f64, f64, f64)>,
}

impl RateSchedule {
    pub(crate) fn of(executor: &Executor) -> Option<RateSchedule> {
        match executor {
            Executor::ConstantRate { rate, duration, .. } => Some(RateSchedule {
                segments: vec![(per_s(rate), per_s(rate), duration.as_secs_f64())],
            }),
            Executor::RampingRate {
                start_rate, stages, ..
            } => Some(RateSchedule::ramp(per_s(start_rate), stages)),
            _ => None,
        }
    }

    fn ramp(start: f64, stages: &[RateStage]) -> RateSchedule {
        let mut from = start;
        let segments = stages
            .iter()
            .map(|s| {
                let to = per_s(&s.to);
                let seg = (from, to, s.over.as_secs_f64());
                from = to;
                seg
            })
            .collect();
        RateSchedule { segments }
    }

    /// The highest rate anywhere in the schedule.
    pub(crate) fn peak(&self) -> f64 {
        self.segments
            .iter()
            .map(|(a, b, _)| a.max(*b))
            .fold(0.0, f64::max)
    }

    /// When iteration `k` (from 0) is due, or `None` after the schedule ends. Iteration k
    /// starts when the integral of the rate reaches k.
    pub(crate) fn time_of(&self, k: u64) -> Option<Duration> {
        let mut n = k as f64;
        let mut at = 0.0;
        for &(r0, r1, len) in &self.segments {
            let total = (r0 + r1) / 2.0 * len;
            if n < total || (n == 0.0 && total > 0.0) {
                let tau = if (r1 - r0).abs() < 1e-12 {
                    n / r0
                } else {
                    let a = (r1 - r0) / (2.0 * len);
                    (-r0 + (r0 * r0 + 4.0 * a * n).max(0.0).sqrt()) / (2.0 * a)
                };
                return Some(Duration::from_secs_f64((at + tau.clamp(0.0, len)).max(0.0)));
            }
            n -= total;
            at += len;
        }
        None
    }
}

fn per_s(r: &Rate) -> f64 {
    r.as_per_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_and_rates() {
        let stages = [
            VuStage {
                to: 10,
                over: Duration::from_secs(10),
            },
            VuStage {
                to: 10,
                over: Duration::from_secs(5),
            },
        ];
        assert_eq!(vus_at(0, &stages, Duration::from_secs(5)), 5);
        assert_eq!(vus_at(0, &stages, Duration::from_secs(12)), 10);
        assert_eq!(vus_at(0, &stages, Duration::from_secs(99)), 10);

        let c = RateSchedule::of(&Executor::ConstantRate {
            rate: Rate::per_second(100),
            duration: Duration::from_secs(2),
            max_vus: 10,
            pre_allocated_vus: None,
        })
        .unwrap();
        assert_eq!(c.time_of(0), Some(Duration::ZERO));
        assert_eq!(c.time_of(150), Some(Duration::from_millis(1500)));
        assert_eq!(c.time_of(200), None);

        // 0 → 100/s over 2 s: 100 iterations, the 25th at 1 s.
        let r = RateSchedule::ramp(
            0.0,
            &[RateStage {
                to: Rate::per_second(100),
                over: Duration::from_secs(2),
            }],
        );
        let t = r.time_of(25).unwrap().as_secs_f64();
        assert!((t - 1.0).abs() < 1e-6, "{t}");
        assert!(r.time_of(100).is_none());
        assert_eq!(r.peak(), 100.0);
    }
}
