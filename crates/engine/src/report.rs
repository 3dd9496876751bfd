//! From measurements to a `result/v1` ([`result`]), thresholds evaluated, and the summary table
//! printed at the end of a run ([`table`]).

use std::fmt::Write as _;

use loadtape_recording::result::{
    CheckFailures, RunResult, Second, Settings, StepStats, ThresholdResult, OTHER_FAILURES,
    RESULT_V1,
};
use loadtape_scenario::{Executor, Metric, Stat, Threshold};

use crate::metrics::{encode, latency, StepMetrics};
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
    }
}

fn sorted(f: &CheckFailures) -> CheckFailures {
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
        .map(|(sp, m)| stats(&sp.name, "step", m, secs))
        .collect();
    let total = stats("total", "total", &total, secs);
    let timeline = timeline(o);
    let rate = match &plan.load.executor {
        Executor::ConstantRate { rate, .. } => Some(rate.as_per_second()),
        Executor::RampingRate { stages, .. } => stages.last().map(|s| s.to.as_per_second()),
        _ => None,
    };
    let mut r = RunResult {
        loadtape: RESULT_V1.to_string(),
        scenario: plan.name.clone(),
        scenario_file,
        version: env!("CARGO_PKG_VERSION").to_string(),
        started: o
            .started
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ended: o.ended.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        duration_s: secs,
        partial: o.reason == EndReason::Interrupted,
        end_reason: o.reason.name().to_string(),
        failure: o.detail.clone(),
        settings: Settings {
            executor: plan.load.executor.name().to_string(),
            max_vus: plan.load.executor.max_vus(),
            duration_s: plan.load.executor.duration().as_secs_f64(),
            rate,
            iterations: plan.load.iterations,
            targets: plan.targets.clone(),
            insecure: plan.options.insecure,
            workers: o.workers as u32,
            segment: None,
        },
        total,
        tokens,
        steps,
        iterations: o.metrics.iterations,
        dropped_iterations: o.metrics.dropped,
        timeline,
        thresholds: Vec::new(),
        passed: true,
    };
    r.failure = r.failure.take().or_else(|| token_failure(&r.tokens));
    r.thresholds = plan.thresholds.iter().map(|t| evaluate(t, &r)).collect();
    r.passed = r.thresholds.iter().all(|t| t.passed) && r.failure.is_none();
    r
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

/// The run's seconds, as `result/v1` stores them.
fn timeline(o: &Outcome) -> Vec<Second> {
    o.timeline
        .iter()
        .map(|(t, i)| Second {
            t: *t,
            requests: i.requests,
            errors: i.errors,
            token_requests: i.token_requests,
            p50: i.p50_ms,
            p99: i.p99_ms,
            active_vus: i.active_vus,
            dropped: i.dropped,
            histogram: i.histogram.clone(),
        })
        .collect()
}

/// The observed value of a threshold's metric, in its unit, and whether it passes. A
/// threshold with nothing to judge (no data) fails.
pub fn evaluate(t: &Threshold, r: &RunResult) -> ThresholdResult {
    let observed = observe(t, r);
    ThresholdResult {
        threshold: t.source().to_string(),
        observed,
        passed: observed.is_some_and(|v| v.is_finite() && t.evaluate(v)),
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
        Some(name) => r.steps.iter().chain(&r.tokens).find(|s| s.name == name)?,
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

/// The end-of-run summary: one row per step, token steps on their own rows, then the
/// thresholds.
pub fn table(r: &RunResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} — {} in {:.1}s ({}){}",
        r.scenario,
        r.settings.executor,
        r.duration_s,
        r.end_reason,
        if r.partial { ", PARTIAL" } else { "" }
    );
    let width = r
        .steps
        .iter()
        .chain(&r.tokens)
        .map(|s| s.name.len() + 8)
        .max()
        .unwrap_or(5)
        .max(12);
    let _ = writeln!(
        out,
        "{:<width$} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "step", "requests", "errors", "rps", "p50", "p90", "p95", "p99", "p99.9", "max"
    );
    let row = |out: &mut String, label: &str, s: &StepStats| {
        let l = &s.latency;
        let _ = writeln!(
            out,
            "{:<width$} {:>9} {:>7} {:>9.1} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            label,
            s.requests,
            s.errors,
            s.rps,
            ms(l.p50),
            ms(l.p90),
            ms(l.p95),
            ms(l.p99),
            ms(l.p999),
            ms(l.max)
        );
    };
    for s in &r.tokens {
        row(&mut out, &format!("{} (token)", s.name), s);
    }
    for s in &r.steps {
        row(&mut out, &s.name, s);
    }
    row(&mut out, "total", &r.total);
    notes(&mut out, r);
    for t in &r.thresholds {
        let _ = writeln!(
            out,
            "{} {}  ({})",
            if t.passed { "PASS" } else { "FAIL" },
            t.threshold,
            observed(t)
        );
    }
    out
}

/// `observed 12.3ms`, or why there was nothing to observe.
pub fn observed(t: &ThresholdResult) -> String {
    let metric = Threshold::parse(&t.threshold).map(|t| t.metric());
    let Some(v) = t.observed else {
        return match metric {
            Ok(Metric::Latency(_)) => "no data: no successful request to measure".into(),
            _ => "no data: nothing was sent".into(),
        };
    };
    let shown = match metric {
        Ok(Metric::Latency(_)) => format!("{}ms", trim(v)),
        Ok(Metric::Rps) => format!("{}/s", trim(v)),
        Ok(Metric::ErrorRate) => format!("{}%", trim(v * 100.0)),
        _ => trim(v),
    };
    format!("observed {shown}")
}

/// The lines under the table: errors by kind, the error rate with token requests, counts,
/// service time, what was learned about tokens, and why the run ended early.
fn notes(out: &mut String, r: &RunResult) {
    let e = &r.total.errors_by_kind;
    let (tok_req, tok_err) = r
        .tokens
        .iter()
        .fold((0, 0), |(q, e), t| (q + t.requests, e + t.errors));
    let _ = writeln!(
        out,
        "errors: connect {} tls {} timeout {} status {} check {} token {} (token requests failed: {tok_err} of {tok_req})",
        e.connect, e.tls, e.timeout, e.status, e.check, e.token
    );
    check_failures(out, r);
    let (all_req, all_err) = (r.total.requests + tok_req, r.total.errors + tok_err);
    if all_req + all_err > 0 {
        let rate = (all_err as f64 / all_req.max(1) as f64).min(1.0);
        let _ = writeln!(
            out,
            "error rate {}% ({all_err} failed of {all_req} requests, token requests included)",
            trim(rate * 100.0)
        );
    }
    let retries: u64 = r.steps.iter().map(|s| s.retries).sum();
    let _ = writeln!(
        out,
        "iterations {}  dropped {}  retried after token refresh {}  restarted {}  sent {}  received {}",
        r.iterations,
        r.dropped_iterations,
        retries,
        r.total.restarted,
        bytes(r.total.bytes_sent),
        bytes(r.total.bytes_received)
    );
    let unfinished = r.total.unfinished + r.tokens.iter().map(|t| t.unfinished).sum::<u64>();
    if unfinished > 0 {
        let _ = writeln!(
            out,
            "{unfinished} request(s) still in flight at the end: counted, as timeout errors"
        );
    }
    if r.total.latency != r.total.service {
        let s = &r.total.service;
        let _ = writeln!(
            out,
            "service time (without waiting for the schedule): p50 {} p99 {} max {}",
            ms(s.p50),
            ms(s.p99),
            ms(s.max)
        );
    }
    for t in &r.tokens {
        if let Some(life) = t.learned_lifetime_s {
            let _ = writeln!(
                out,
                "token `{}`: lifetime learned {life:.1} s from the first refresh_on; refreshed ahead from then on",
                t.name
            );
        }
    }
    if let Some(detail) = &r.failure {
        let _ = writeln!(out, "FAILED run: {detail}");
    }
}

/// How many of a row's failure kinds the summary shows.
const FAILURES_SHOWN: usize = 3;

/// Under the error counts, what the server said for the most frequent failures of each row:
/// `  submit: 37 × $.errno == 0, got 402`; the rest summed on one line.
fn check_failures(out: &mut String, r: &RunResult) {
    let rows = r.tokens.iter().map(|s| (format!("{} (token)", s.name), s));
    let rows = rows.chain(r.steps.iter().map(|s| (s.name.clone(), s)));
    for (label, s) in rows {
        let mut shown = 0;
        for f in &s.check_failures.0 {
            if shown == FAILURES_SHOWN || f.check == OTHER_FAILURES {
                break;
            }
            // An extractor states no expectation: `extract orderId (…): nothing found`.
            let sep = if f.check.starts_with("extract ") {
                ":"
            } else {
                ", got"
            };
            let _ = writeln!(out, "  {label}: {} × {}{sep} {}", f.count, f.check, f.got);
            shown += 1;
        }
        let rest: u64 = s.check_failures.0.iter().skip(shown).map(|f| f.count).sum();
        if rest > 0 {
            let _ = writeln!(out, "  {label}: {rest} × other failures");
        }
    }
}

fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.1}ms")
    } else {
        format!("{v:.2}ms")
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A byte count for people: `1.76 GiB`, `49.6 KiB`.
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
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

    fn run(total: StepStats, tokens: Vec<StepStats>) -> RunResult {
        RunResult {
            loadtape: RESULT_V1.into(),
            scenario: "s".into(),
            scenario_file: None,
            version: "0".into(),
            started: String::new(),
            ended: String::new(),
            duration_s: 1.0,
            partial: false,
            end_reason: "completed".into(),
            failure: None,
            settings: Settings {
                executor: "constant-vus".into(),
                max_vus: 1,
                duration_s: 1.0,
                rate: None,
                iterations: None,
                targets: Default::default(),
                insecure: false,
                workers: 1,
                segment: None,
            },
            steps: vec![StepStats {
                name: "goods".into(),
                ..total.clone()
            }],
            total,
            tokens,
            iterations: 0,
            dropped_iterations: 0,
            timeline: vec![],
            thresholds: vec![],
            passed: true,
        }
    }

    fn judge(src: &str, r: &RunResult) -> ThresholdResult {
        evaluate(&Threshold::parse(src).unwrap(), r)
    }

    #[test]
    fn nothing_measured_is_no_data_and_fails() {
        let empty = run(row("total", "total", 0, 0), vec![]);
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
        let failed = run(row("total", "total", 10, 10), vec![]);
        assert_eq!(judge("goods.p95 < 200ms", &failed).observed, None);
        assert_eq!(judge("error_rate < 1%", &failed).observed, Some(1.0));
        let fine = run(row("total", "total", 10, 0), vec![]);
        assert!(judge("p99 < 300ms", &fine).passed);
        assert!(judge("dropped == 0", &fine).passed);
    }

    #[test]
    fn the_summary_shows_the_top_check_failures_of_each_step() {
        let mut r = run(row("total", "total", 50, 50), vec![]);
        let f = &mut r.steps[0].check_failures;
        f.add("$.errno == 0", "402", 37);
        f.add("$.errno == 0", "501", 5);
        f.add("extract orderId ($.data.orderId)", "nothing found", 3);
        f.add("status == 200", "502", 2);
        f.add(OTHER_FAILURES, "", 3);
        f.sort();
        let text = table(&r);
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("  goods:")).collect();
        assert_eq!(
            lines,
            [
                "  goods: 37 × $.errno == 0, got 402",
                "  goods: 5 × $.errno == 0, got 501",
                "  goods: 3 × extract orderId ($.data.orderId): nothing found",
                "  goods: 5 × other failures",
            ],
            "{text}"
        );
        let errors = text.find("errors: connect").unwrap();
        assert!(text.find("  goods: 37").unwrap() > errors, "{text}");
        assert!(!table(&run(row("total", "total", 5, 0), vec![])).contains(" × "));
    }

    #[test]
    fn token_errors_count_in_the_run_wide_error_rate_only() {
        let r = run(
            row("total", "total", 0, 0),
            vec![row("platform", "token", 5, 5)],
        );
        let t = judge("error_rate < 1%", &r);
        assert_eq!((t.observed, t.passed), (Some(1.0), false));
        assert_eq!(judge("errors == 0", &r).observed, Some(5.0));
        assert_eq!(judge("platform.error_rate < 1%", &r).observed, Some(1.0));
        // The business step itself ran nothing.
        assert_eq!(judge("goods.error_rate < 1%", &r).observed, None);
        let r = run(
            row("total", "total", 90, 0),
            vec![row("platform", "token", 10, 1)],
        );
        assert_eq!(judge("error_rate < 1%", &r).observed, Some(0.01));
        assert!(token_failure(&r.tokens).is_none());
        let never = [row("login", "token", 3, 3)];
        assert!(token_failure(&never)
            .unwrap()
            .contains("`login` never succeeded"));
    }
}
