//! The end-of-run summary table `loadtape run` and `loadtape report` print.

use std::fmt::Write as _;

use loadtape_scenario::{Metric, Threshold};

use crate::result::{RunResult, StepStats, ThresholdResult, OTHER_FAILURES};
use crate::units::{bytes, ms, trim};

/// The end-of-run summary: one row per step, token steps on their own rows, then the
/// thresholds.
pub(crate) fn table(r: &RunResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{}{} — {} in {:.1}s ({}){}",
        r.scenario,
        r.label
            .as_deref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default(),
        r.settings.executor,
        r.duration_s,
        r.end_reason,
        if r.partial { ", PARTIAL" } else { "" }
    );
    let width = r
        .steps
        .iter()
        .chain(&r.tokens)
        .chain(r.flows.iter().map(|f| &f.total))
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
    for f in &r.flows {
        row(&mut out, &format!("{} (flow)", f.name), &f.total);
    }
    row(&mut out, "total", &r.total);
    flows(&mut out, r);
    notes(&mut out, r);
    for t in &r.thresholds {
        let _ = writeln!(
            out,
            "{} {}  ({}){}",
            if t.passed { "PASS" } else { "FAIL" },
            t.threshold,
            observed(t),
            if t.default {
                "  default: the scenario states no thresholds (`thresholds: []` for none)"
            } else {
                ""
            }
        );
    }
    out
}

/// A mixed run's iterations per flow: its share of all, how it was driven, and for a funnel
/// how many ended early as the step rates asked.
fn flows(out: &mut String, r: &RunResult) {
    if r.flows.is_empty() {
        return;
    }
    let all: u64 = r.flows.iter().map(|f| f.iterations).sum();
    for f in &r.flows {
        let share = if all > 0 {
            100.0 * f.iterations as f64 / all as f64
        } else {
            0.0
        };
        let driven = match f.weight {
            Some(w) => format!("weight {w} of {}", f.executor),
            None => format!("own {}", f.executor),
        };
        let cut = if f.cut_short > 0 {
            format!(", {} cut short by the funnel", f.cut_short)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "flow {}: {} iterations ({share:.1} %), {driven}{cut}",
            f.name, f.iterations
        );
    }
}

/// `observed 12.3ms`, or why there was nothing to observe.
pub(crate) fn observed(t: &ThresholdResult) -> String {
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
    // One count of failed requests, the one the error rate below and `error_rate` use:
    // business steps and token requests together (a token row's failures are `token`).
    let mut e = r.total.errors_by_kind;
    for t in &r.tokens {
        e.add(&t.errors_by_kind);
    }
    let (tok_req, tok_err) = r
        .tokens
        .iter()
        .fold((0, 0), |(q, e), t| (q + t.requests, e + t.errors));
    let kinds: Vec<String> = e.kinds().iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(out, "errors: {}", kinds.join(" "));
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
        error_messages(out, &label, s);
    }
}

/// What the requests that failed below HTTP met, a few lines per row: `get: 4208 × protocol:
/// http://…: invalid HTTP version parsed`.
fn error_messages(out: &mut String, label: &str, s: &StepStats) {
    let shown = s
        .error_messages
        .0
        .iter()
        .take(FAILURES_SHOWN)
        .take_while(|e| e.kind != OTHER_FAILURES);
    let mut counted = 0;
    for e in shown {
        let _ = writeln!(out, "  {label}: {} × {}: {}", e.count, e.kind, e.message);
        counted += e.count;
    }
    let rest = s.error_messages.total() - counted;
    if rest > 0 {
        let _ = writeln!(out, "  {label}: {rest} × other errors");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{bare, row};

    #[test]
    fn the_summary_shows_the_top_check_failures_of_each_step() {
        let mut r = bare(row("total", "total", 50, 50), vec![]);
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
        assert!(!table(&bare(row("total", "total", 5, 0), vec![])).contains(" × "));
    }

    #[test]
    fn the_errors_line_counts_token_requests_as_the_error_rate_does() {
        let mut token = row("platform", "token", 132, 132);
        token.errors_by_kind.token = 132;
        let text = table(&bare(row("total", "total", 0, 0), vec![token]));
        assert!(text.contains("token 132\n"), "{text}");
        assert!(text.contains("(132 failed of 132 requests"), "{text}");
        assert!(!text.contains("token 0"), "{text}");
    }
}
