//! Judging a scenario's thresholds against a result.

use loadtape_scenario::{Metric, Stat, Threshold};

use crate::result::{RunResult, StepStats, ThresholdResult};

/// The observed value of a threshold's metric, in its unit, and whether it passes. A
/// threshold with nothing to judge (no data) fails.
pub fn evaluate(t: &Threshold, r: &RunResult) -> ThresholdResult {
    let observed = observe(t, r);
    ThresholdResult {
        threshold: t.source().to_string(),
        observed,
        passed: observed.is_some_and(|v| v.is_finite() && t.evaluate(v)),
        default: false,
    }
}

/// Requests and errors as `error_rate` and `errors` see them: a step's own row, or for the
/// whole run every business step and every token step. A run whose token requests all fail
/// sends no business request, and it must not pass as "0 errors".
fn tried(t: &Threshold, r: &RunResult, s: &StepStats) -> (u64, u64) {
    if t.step().is_some() {
        return (s.requests, s.errors);
    }
    r.tokens.iter().fold((s.requests, s.errors), |(q, e), k| {
        (q + k.requests, e + k.errors)
    })
}

/// The observed value, or `None` when there is no data: latency needs a successful request,
/// every other metric a row on which something was tried.
fn observe(t: &Threshold, r: &RunResult) -> Option<f64> {
    if t.metric() == Metric::Dropped {
        let ran = r.total.attempted() || r.tokens.iter().any(StepStats::attempted);
        return (ran || r.dropped_iterations > 0).then_some(r.dropped_iterations as f64);
    }
    let s = match t.step() {
        None => &r.total,
        Some(name) => r
            .steps
            .iter()
            .chain(&r.tokens)
            .chain(r.flows.iter().map(|f| &f.total))
            .find(|s| s.name == name)?,
    };
    let (requests, errors) = tried(t, r, s);
    if requests == 0 && errors == 0 {
        return None;
    }
    Some(match t.metric() {
        Metric::Latency(stat) => {
            if s.succeeded() == 0 {
                return None;
            }
            let l = &s.latency;
            match stat {
                Stat::P50 => l.p50,
                Stat::P90 => l.p90,
                Stat::P95 => l.p95,
                Stat::P99 => l.p99,
                Stat::P999 => l.p999,
                Stat::Max => l.max,
                Stat::Avg => l.mean,
                Stat::Min => l.min,
            }
        }
        // Failures before any request (a token that could not be had) count in full.
        Metric::ErrorRate => (errors as f64 / requests.max(1) as f64).min(1.0),
        Metric::Rps => s.rps,
        Metric::Requests => s.requests as f64,
        Metric::Errors => errors as f64,
        Metric::Dropped => r.dropped_iterations as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{bare, row};

    fn judge(src: &str, r: &RunResult) -> ThresholdResult {
        evaluate(&Threshold::parse(src).unwrap(), r)
    }

    #[test]
    fn nothing_measured_is_no_data_and_fails() {
        let empty = bare(row("total", "total", 0, 0), vec![]);
        for src in [
            "p99 < 300ms",
            "goods.p95 < 200ms",
            "error_rate < 1%",
            "errors == 0",
            "dropped == 0",
        ] {
            let t = judge(src, &empty);
            assert_eq!((t.observed, t.passed), (None, false), "{src}");
        }
        // Every request failed: an error rate, but no latency to judge.
        let failed = bare(row("total", "total", 10, 10), vec![]);
        assert_eq!(judge("goods.p95 < 200ms", &failed).observed, None);
        assert_eq!(judge("error_rate < 1%", &failed).observed, Some(1.0));
        let fine = bare(row("total", "total", 10, 0), vec![]);
        assert!(judge("p99 < 300ms", &fine).passed);
        assert!(judge("dropped == 0", &fine).passed);
    }

    #[test]
    fn token_errors_count_in_the_run_wide_error_rate_only() {
        let r = bare(
            row("total", "total", 0, 0),
            vec![row("platform", "token", 5, 5)],
        );
        let t = judge("error_rate < 1%", &r);
        assert_eq!((t.observed, t.passed), (Some(1.0), false));
        assert_eq!(judge("errors == 0", &r).observed, Some(5.0));
        assert_eq!(judge("platform.error_rate < 1%", &r).observed, Some(1.0));
        // The business step itself ran nothing.
        assert_eq!(judge("goods.error_rate < 1%", &r).observed, None);
        let r = bare(
            row("total", "total", 90, 0),
            vec![row("platform", "token", 10, 1)],
        );
        assert_eq!(judge("error_rate < 1%", &r).observed, Some(0.01));
    }
}
