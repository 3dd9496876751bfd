//! From measurements to a `result/v1` ([`result`]), thresholds evaluated, and the summary table
//! printed at the end of a run ([`table`]).

use std::fmt::Write as _;

use loadtape_format::result::{RunResult, Second, Settings, StepStats, ThresholdResult, RESULT_V1};
use loadtape_format::scenario::{Executor, Metric, Stat, Threshold};

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

/// The result of a run. `scenario_file` is the path as given.
pub fn result(o: &Outcome, scenario_file: Option<String>) -> RunResult {
    let plan = &o.plan;
    let secs = o.elapsed.as_secs_f64();
    let t = plan.tokens.len();
    let mut total = StepMetrics::new();
    for m in &o.metrics.steps[t..] {
        total.merge(m);
    }
    let tokens: Vec<StepStats> = plan
        .tokens
        .iter()
        .zip(&o.metrics.steps)
        .map(|(tp, m)| stats(&tp.name, "token", m, secs))
        .collect();
    let steps: Vec<StepStats> = plan
        .steps
        .iter()
        .zip(&o.metrics.steps[t..])
        .map(|(sp, m)| stats(&sp.name, "step", m, secs))
        .collect();
    let total = stats("total", "total", &total, secs);
    let timeline = o
        .timeline
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
        .collect();
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
    r.thresholds = plan.thresholds.iter().map(|t| evaluate(t, &r)).collect();
    r.passed = r.thresholds.iter().all(|t| t.passed);
    r
}

/// The observed value of a threshold's metric, in its unit, and whether it passes.
pub fn evaluate(t: &Threshold, r: &RunResult) -> ThresholdResult {
    let s = match t.step() {
        None => Some(&r.total),
        Some(name) => r.steps.iter().chain(&r.tokens).find(|s| s.name == name),
    };
    let observed = match (t.metric(), s) {
        (Metric::Dropped, _) => r.dropped_iterations as f64,
        (_, None) => f64::NAN,
        (Metric::Latency(stat), Some(s)) => {
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
        (Metric::ErrorRate, Some(s)) => {
            if s.requests == 0 {
                if s.errors > 0 {
                    1.0
                } else {
                    0.0
                }
            } else {
                s.errors as f64 / s.requests as f64
            }
        }
        (Metric::Rps, Some(s)) => s.rps,
        (Metric::Requests, Some(s)) => s.requests as f64,
        (Metric::Errors, Some(s)) => s.errors as f64,
    };
    ThresholdResult {
        threshold: t.source().to_string(),
        observed,
        passed: observed.is_finite() && t.evaluate(observed),
    }
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
    let e = &r.total.errors_by_kind;
    let tok: u64 = r.tokens.iter().map(|t| t.errors).sum();
    let _ = writeln!(
        out,
        "errors: connect {} tls {} timeout {} status {} check {} token {} (token requests failed: {tok})",
        e.connect, e.tls, e.timeout, e.status, e.check, e.token
    );
    let retries: u64 = r.steps.iter().map(|s| s.retries).sum();
    let _ = writeln!(
        out,
        "iterations {}  dropped {}  retried after token refresh {}  sent {}  received {}",
        r.iterations,
        r.dropped_iterations,
        retries,
        bytes(r.total.bytes_sent),
        bytes(r.total.bytes_received)
    );
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
    for t in &r.thresholds {
        let unit = match Threshold::parse(&t.threshold).map(|t| t.metric()) {
            Ok(Metric::Latency(_)) => "ms",
            Ok(Metric::Rps) => "/s",
            _ => "",
        };
        let observed = match Threshold::parse(&t.threshold).map(|t| t.metric()) {
            Ok(Metric::ErrorRate) => format!("{}%", trim(t.observed * 100.0)),
            _ => format!("{}{unit}", trim(t.observed)),
        };
        let _ = writeln!(
            out,
            "{} {}  (observed {observed})",
            if t.passed { "PASS" } else { "FAIL" },
            t.threshold,
        );
    }
    out
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
