//! From measurements to a `result/v1` ([`result`]), thresholds evaluated
//! ([`loadtape_report::evaluate`]).

use loadtape_report::diagnostics;
use loadtape_report::evaluate;
use loadtape_report::histogram::{encode, latency};
use loadtape_report::result::{
    CheckCount, CheckFailures, Entry, FlowStats, RunResult, Settings, StepStats, Tally,
    ThresholdResult, RESULT_V1,
};
use loadtape_scenario::Executor;

use crate::diagnosis::rule_names;
use crate::metrics::StepMetrics;
use crate::{EndReason, Outcome};

fn stats(name: &str, kind: &str, m: &StepMetrics, secs: f64) -> StepStats {
    StepStats {
        name: name.to_string(),
        kind: kind.to_string(),
        requests: m.requests,
        errors: m.errors.total(),
        errors_by_kind: m.errors,
        retries: m.retries,
        succeeded: Some(m.succeeded),
        restarted: m.restarted,
        unfinished: m.unfinished,
        learned_lifetime_s: None,
        check_failures: sorted(&m.check_failures),
        error_messages: sorted(&m.error_messages),
        statuses: m
            .statuses
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect(),
        rps: if secs > 0.0 {
            m.requests as f64 / secs
        } else {
            0.0
        },
        bytes_sent: m.bytes_sent,
        bytes_received: m.bytes_received,
        latency: latency(&m.latency),
        service: latency(&m.service),
        histogram: encode(&m.latency),
        service_histogram: encode(&m.service),
        timings: m.timing.to_result(),
        checks: Vec::new(),
    }
}

/// Step rows' rule counts, named (`rules` from `diagnosis::rule_names`): a rule no answer
/// reached yet counts zero both ways.
fn checks(rules: Vec<String>, m: &StepMetrics) -> Vec<CheckCount> {
    rules
        .into_iter()
        .enumerate()
        .map(|(i, check)| {
            let c = m.checks.get(i).copied().unwrap_or_default();
            CheckCount {
                check,
                passed: c.passed,
                failed: c.failed,
            }
        })
        .collect()
}

fn sorted<E: Entry>(f: &Tally<E>) -> Tally<E> {
    let mut f = f.clone();
    f.sort();
    f
}

/// The result of a run. `scenario_file` is the path as given.
pub fn result(o: &Outcome, scenario_file: Option<String>) -> RunResult {
    let plan = &o.plan;
    let secs = o.elapsed.as_secs_f64();
    let t = plan.tokens.len();
    let mut total = StepMetrics::new();
    for m in &o.metrics.steps[t..] {
        total.merge(m);
    }
    // Rules are a step's own: summed over steps they would mix `$.errno == 0` of several.
    total.check_failures = CheckFailures::default();
    let tokens: Vec<StepStats> = plan
        .tokens
        .iter()
        .zip(&o.metrics.steps)
        .enumerate()
        .map(|(i, (tp, m))| StepStats {
            learned_lifetime_s: o.learned.get(i).copied().flatten().map(|d| d.as_secs_f64()),
            ..stats(&tp.name, "token", m, secs)
        })
        .collect();
    let steps: Vec<StepStats> = plan
        .steps
        .iter()
        .zip(&o.metrics.steps[t..])
        .map(|(sp, m)| StepStats {
            checks: checks(rule_names(sp.check.as_ref()), m),
            ..stats(&sp.name, "step", m, secs)
        })
        .collect();
    let total = stats("total", "total", &total, secs);
    let flows = flows(o, secs);
    let timeline = o.timeline.clone();
    // A run of several executors is `mixed`: each flow's own is in `flows`.
    let load = &plan.groups[0].load;
    let executor = if plan.groups.len() > 1 {
        "mixed"
    } else {
        load.executor.name()
    };
    let rate = match &load.executor {
        _ if plan.groups.len() > 1 => None,
        Executor::ConstantRate { rate, .. } => Some(rate.as_per_second()),
        Executor::RampingRate { stages, .. } => stages.last().map(|s| s.to.as_per_second()),
        _ => None,
    };
    let mut r = RunResult {
        loadtape: RESULT_V1.to_string(),
        scenario: plan.name.clone(),
        scenario_file,
        label: None,
        version: env!("CARGO_PKG_VERSION").to_string(),
        started: o
            .started
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ended: o.ended.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        duration_s: secs,
        partial: matches!(o.reason, EndReason::Interrupted | EndReason::Internal),
        end_reason: o.reason.name().to_string(),
        failure: o.detail.clone(),
        settings: Settings {
            executor: executor.to_string(),
            max_vus: plan.max_vus(),
            duration_s: plan.duration().as_secs_f64(),
            rate,
            iterations: load.iterations,
            targets: plan.targets.clone(),
            insecure: plan.options.insecure,
            workers: o.workers as u32,
            segment: None,
        },
        total,
        tokens,
        steps,
        flows,
        iterations: o.metrics.iterations,
        dropped_iterations: o.metrics.dropped,
        timeline,
        thresholds: Vec::new(),
        passed: true,
        diagnostics: diagnostics::merge([(&o.metrics.diagnostics[..], 0.0)]),
    };
    r.failure = r.failure.take().or_else(|| token_failure(&r.tokens));
    r.thresholds = plan
        .thresholds
        .iter()
        .map(|t| ThresholdResult {
            default: plan.default_thresholds,
            ..evaluate(t, &r)
        })
        .collect();
    r.passed = r.thresholds.iter().all(|t| t.passed) && r.failure.is_none();
    r
}

/// Each flow's iterations and its steps' requests together, for a mixed run (or a funnel).
fn flows(o: &Outcome, secs: f64) -> Vec<FlowStats> {
    let plan = &o.plan;
    if !plan.is_mixed() {
        return Vec::new();
    }
    let t = plan.tokens.len();
    plan.flows
        .iter()
        .enumerate()
        .map(|(f, fp)| {
            let mut total = StepMetrics::new();
            for m in &o.metrics.steps[t + fp.steps.start..t + fp.steps.end] {
                total.merge(m);
            }
            total.check_failures = CheckFailures::default();
            let count = o.metrics.flows.get(f).copied().unwrap_or_default();
            FlowStats {
                name: fp.name.clone(),
                executor: plan.groups[fp.group].load.executor.name().to_string(),
                weight: (!fp.own_load).then_some(fp.weight),
                steps: plan.steps[fp.steps.clone()]
                    .iter()
                    .map(|s| s.name.clone())
                    .collect(),
                iterations: count.iterations,
                cut_short: count.cut_short,
                total: stats(&fp.name, "flow", &total, secs),
            }
        })
        .collect()
}

/// A token step that was tried and never succeeded: nothing behind it was tested, whatever
/// the thresholds say (the run may have ended before the VUs gave up on it).
fn token_failure(tokens: &[StepStats]) -> Option<String> {
    let t = tokens
        .iter()
        .find(|t| t.attempted() && t.succeeded() == 0)?;
    Some(format!(
        "token step `{}` never succeeded ({} request(s), {} failed); see its warnings above",
        t.name, t.requests, t.errors
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, kind: &str, requests: u64, errors: u64) -> StepStats {
        StepStats {
            name: name.into(),
            kind: kind.into(),
            requests,
            errors,
            succeeded: Some(requests.saturating_sub(errors)),
            ..StepStats::default()
        }
    }

    #[test]
    fn a_token_step_that_never_succeeded_fails_the_run() {
        let tokens = [row("platform", "token", 10, 1)];
        assert!(token_failure(&tokens).is_none());
        let never = [row("login", "token", 3, 3)];
        assert!(token_failure(&never)
            .unwrap()
            .contains("`login` never succeeded"));
    }
}
