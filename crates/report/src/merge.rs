//! Several results of one scenario → the result of one run.
//!
//! Segments of a distributed run (`--segment K/N`) each measure a share of the load. Their
//! counts add up; their latencies do not average: the merged percentiles come from the sum
//! of the HdrHistograms every result stores losslessly, so `report merge` of N shards gives the
//! numbers one machine running the whole load would have printed. Timelines are laid on one
//! wall clock: second `t` of a result started at `started` is second
//! `t + round(started - earliest started)` of the merge.

use std::collections::BTreeSet;

use crate::breakdown::{add_checks, TimingsSum};
use crate::doubts::parse_segment;
use crate::evaluate;
use crate::histogram::{decode, encode, histogram, latency};
use crate::result::{
    FlowStats, RunResult, Second, Settings, StepStats, ThresholdResult, RESULT_V1,
};
use crate::timeline::{finish, fold_counts};
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use loadtape_scenario::Threshold;

/// Why results could not be merged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct MergeError {
    /// The input at fault (its position in the slice given to [`merge`]); `None` when the
    /// fault is not one input's (no input at all).
    pub index: Option<usize>,
    /// What differs or is broken, e.g. "its steps are goods, order; the first result's are
    /// goods, detail, order".
    pub message: String,
}

fn at(index: usize, message: String) -> MergeError {
    MergeError {
        index: Some(index),
        message,
    }
}

/// Merges the results of the segments of one run. Every input must be a `result/v1` of the
/// same scenario (name, token steps, steps, executor, thresholds); the error names the first
/// input that differs from the first one and how.
pub fn merge(results: &[RunResult]) -> Result<RunResult, MergeError> {
    let Some(first) = results.first() else {
        return Err(MergeError {
            index: None,
            message: "nothing to merge: give at least one result file".into(),
        });
    };
    let clock = Clock::of(results, first)?;
    let duration_s = clock.duration_s;
    let total = merge_steps(results, |r| Some(&r.total), "total", duration_s)?;
    let tokens = merge_each(results, &first.tokens, |r| &r.tokens, duration_s)?;
    let steps = merge_each(results, &first.steps, |r| &r.steps, duration_s)?;
    let flows = merge_flows(results, first, duration_s)?;
    let mut merged = RunResult {
        loadtape: RESULT_V1.to_string(),
        scenario: first.scenario.clone(),
        scenario_file: first.scenario_file.clone(),
        label: results.iter().find_map(|r| r.label.clone()),
        version: env!("CARGO_PKG_VERSION").to_string(),
        started: stamp(clock.base),
        ended: stamp(clock.ended),
        duration_s,
        partial: results.iter().any(|r| r.partial),
        end_reason: end_reason(results, first),
        failure: results.iter().find_map(|r| r.failure.clone()),
        settings: settings(results),
        total,
        tokens,
        steps,
        flows,
        iterations: results.iter().map(|r| r.iterations).sum(),
        dropped_iterations: results.iter().map(|r| r.dropped_iterations).sum(),
        timeline: timeline(results, &clock.offsets)?,
        thresholds: Vec::new(),
        passed: true,
        diagnostics: crate::diagnostics::merge(
            results
                .iter()
                .map(|r| &r.diagnostics[..])
                .zip(clock.offsets.iter().copied()),
        ),
    };
    let mut thresholds = Vec::new();
    for t in &first.thresholds {
        let parsed = Threshold::parse(&t.threshold)
            .map_err(|(m, _)| at(0, format!("threshold `{}`: {m}", t.threshold)))?;
        thresholds.push(ThresholdResult {
            default: t.default,
            ..evaluate(&parsed, &merged)
        });
    }
    merged.passed = thresholds.iter().all(|t| t.passed) && merged.failure.is_none();
    merged.thresholds = thresholds;
    Ok(merged)
}

/// The merge's one wall clock, from the inputs' `started` and `ended`: the merged run starts
/// with the earliest input and lasts until the last one's end.
/// How much later than the earliest one a segment may start, beyond the longest run's
/// duration: machines started by hand or a scheduler are seconds or minutes apart.
const START_SPREAD_S: i64 = 3600;

struct Clock {
    base: DateTime<Utc>,
    /// Offsets of each result's start from the earliest, in seconds.
    offsets: Vec<f64>,
    duration_s: f64,
    ended: DateTime<Utc>,
}

impl Clock {
    /// Checks every input against the first on the way: a start time only means something
    /// for segments of one run.
    fn of(results: &[RunResult], first: &RunResult) -> Result<Clock, MergeError> {
        let mut starts = Vec::with_capacity(results.len());
        for (i, r) in results.iter().enumerate() {
            check_same(i, first, r)?;
            let started = time(&r.started).ok_or_else(|| {
                at(
                    i,
                    format!("`started` is not an RFC 3339 time: {}", r.started),
                )
            })?;
            starts.push(started);
        }
        let base = starts.iter().min().copied().unwrap_or_default();
        // Segments of one run start together (`--start-at`); starts further apart than the
        // longest run plus an hour are different runs, and their gap would be a timeline of
        // empty seconds.
        let longest = results.iter().map(|r| r.duration_s).fold(0.0, f64::max);
        let allowed = chrono::Duration::seconds(longest.ceil() as i64 + START_SPREAD_S);
        if let Some(late) = starts.iter().position(|s| *s - base > allowed) {
            let first = starts.iter().position(|s| *s == base).unwrap_or(0);
            return Err(at(
                late,
                format!(
                    "it started {}, {} s after input {} ({}): segments of one run start \
                     together (give each the same `--start-at`); these are different runs (inputs count from 1 in the order given)",
                    results[late].started,
                    (starts[late] - base).num_seconds(),
                    first + 1,
                    results[first].started
                ),
            ));
        }
        let offsets: Vec<f64> = starts
            .iter()
            .map(|s| (*s - base).num_milliseconds() as f64 / 1000.0)
            .collect();
        let duration_s = results
            .iter()
            .zip(&offsets)
            .map(|(r, off)| off + r.duration_s)
            .fold(0.0, f64::max);
        let ended = results
            .iter()
            .filter_map(|r| time(&r.ended))
            .max()
            .unwrap_or(base);
        Ok(Clock {
            base,
            offsets,
            duration_s,
            ended,
        })
    }
}

/// The k-th entries of every input's token steps or steps merged, k over the first input's
/// (`check_same` made every input's list the same).
fn merge_each(
    results: &[RunResult],
    names: &[StepStats],
    list: impl Fn(&RunResult) -> &Vec<StepStats>,
    duration_s: f64,
) -> Result<Vec<StepStats>, MergeError> {
    (0..names.len())
        .map(|k| merge_steps(results, |r| list(r).get(k), &names[k].name, duration_s))
        .collect()
}

/// Each flow's iterations added and its requests merged as a step's are
/// (`check_same` made every input's flow list the same).
fn merge_flows(
    results: &[RunResult],
    first: &RunResult,
    duration_s: f64,
) -> Result<Vec<FlowStats>, MergeError> {
    let mut out = Vec::with_capacity(first.flows.len());
    for (k, f) in first.flows.iter().enumerate() {
        let total = merge_steps(
            results,
            |r| r.flows.get(k).map(|f| &f.total),
            &f.name,
            duration_s,
        )?;
        let sum = |pick: fn(&FlowStats) -> u64| {
            results
                .iter()
                .filter_map(|r| r.flows.get(k))
                .map(pick)
                .sum()
        };
        out.push(FlowStats {
            iterations: sum(|f| f.iterations),
            cut_short: sum(|f| f.cut_short),
            total,
            ..f.clone()
        });
    }
    Ok(out)
}

/// The merged end reason: the inputs' when they agree, else a partial input's (an
/// interrupted segment makes the run partial), else `completed`.
fn end_reason(results: &[RunResult], first: &RunResult) -> String {
    if results.iter().all(|r| r.end_reason == first.end_reason) {
        first.end_reason.clone()
    } else if let Some(p) = results.iter().find(|r| r.partial) {
        p.end_reason.clone()
    } else {
        "completed".to_string()
    }
}

/// Everything that makes results of the same run comparable.
fn check_same(i: usize, first: &RunResult, r: &RunResult) -> Result<(), MergeError> {
    if r.loadtape != RESULT_V1 {
        return Err(at(
            i,
            format!("is a `{}` file, not `{RESULT_V1}`", r.loadtape),
        ));
    }
    let differs = |what: &str, theirs: String, ours: String| {
        Err(at(
            i,
            format!("its {what} is {theirs}; the first result's is {ours}: these are not segments of one run"),
        ))
    };
    if r.scenario != first.scenario {
        return differs(
            "scenario",
            format!("`{}`", r.scenario),
            format!("`{}`", first.scenario),
        );
    }
    let names = |s: &[StepStats]| {
        let v: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(", ")
        }
    };
    if names(&r.steps) != names(&first.steps) {
        return differs("step list", names(&r.steps), names(&first.steps));
    }
    let flows = |r: &RunResult| {
        let v: Vec<&str> = r.flows.iter().map(|f| f.name.as_str()).collect();
        if v.is_empty() {
            "(one flow)".to_string()
        } else {
            v.join(", ")
        }
    };
    if flows(r) != flows(first) {
        return differs("flow list", flows(r), flows(first));
    }
    if names(&r.tokens) != names(&first.tokens) {
        return differs("token step list", names(&r.tokens), names(&first.tokens));
    }
    if r.settings.executor != first.settings.executor {
        return differs(
            "executor",
            r.settings.executor.clone(),
            first.settings.executor.clone(),
        );
    }
    let th = |r: &RunResult| {
        r.thresholds
            .iter()
            .map(|t| format!("`{}`", t.threshold))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if th(r) != th(first) {
        let none = |s: String| if s.is_empty() { "(none)".into() } else { s };
        return differs("threshold list", none(th(r)), none(th(first)));
    }
    Ok(())
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Decodes a stored histogram. An empty string stands for an empty histogram (a step that
/// never ran may have one).
fn histo(i: usize, what: &str, text: &str) -> Result<Histogram<u64>, MergeError> {
    if text.is_empty() {
        return Ok(histogram());
    }
    decode(text).ok_or_else(|| {
        at(
            i,
            format!("the {what} histogram is not a valid base64 HdrHistogram (V2 + deflate)"),
        )
    })
}

fn add(i: usize, what: &str, into: &mut Histogram<u64>, text: &str) -> Result<(), MergeError> {
    let h = histo(i, what, text)?;
    into.add(&h)
        .map_err(|e| at(i, format!("the {what} histogram cannot be added: {e:?}")))
}

/// One row (`pick` finds it in each result) summed over the results.
fn merge_steps<'a>(
    results: &'a [RunResult],
    pick: impl Fn(&'a RunResult) -> Option<&'a StepStats>,
    name: &str,
    duration_s: f64,
) -> Result<StepStats, MergeError> {
    let mut out = StepStats::default();
    let mut lat = histogram();
    let mut service = histogram();
    let mut succeeded = 0;
    let mut timings = TimingsSum::new();
    for (i, r) in results.iter().enumerate() {
        let Some(s) = pick(r) else {
            return Err(at(i, format!("it has no `{name}` row")));
        };
        if out.name.is_empty() {
            out.name = s.name.clone();
            out.kind = s.kind.clone();
        }
        out.requests += s.requests;
        out.errors += s.errors;
        out.errors_by_kind.add(&s.errors_by_kind);
        out.retries += s.retries;
        succeeded += s.succeeded();
        out.restarted += s.restarted;
        out.unfinished += s.unfinished;
        out.learned_lifetime_s = match (out.learned_lifetime_s, s.learned_lifetime_s) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (status, n) in &s.statuses {
            *out.statuses.entry(status.clone()).or_default() += n;
        }
        out.check_failures.merge(&s.check_failures);
        out.error_messages.merge(&s.error_messages);
        out.bytes_sent += s.bytes_sent;
        out.bytes_received += s.bytes_received;
        add(i, &format!("`{name}` latency"), &mut lat, &s.histogram)?;
        add(
            i,
            &format!("`{name}` service-time"),
            &mut service,
            &s.service_histogram,
        )?;
        timings
            .add(&s.timings)
            .map_err(|e| at(i, format!("`{name}`: {e}")))?;
        add_checks(&mut out.checks, &s.checks);
    }
    out.timings = timings.finish();
    out.rps = if duration_s > 0.0 {
        out.requests as f64 / duration_s
    } else {
        0.0
    };
    out.check_failures.sort();
    out.error_messages.sort();
    out.succeeded = Some(succeeded);
    out.latency = latency(&lat);
    out.service = latency(&service);
    out.histogram = encode(&lat);
    out.service_histogram = encode(&service);
    Ok(out)
}

/// The merged timeline, streamed: entries laid on one clock and taken in order of their start
/// across the inputs, those that overlap added into one entry (the seconds of segments that
/// started together; a folded minute of one input and the seconds of another), every
/// histogram added and encoded before the next entry is started, so memory holds one decoded
/// histogram whatever the run's length (holding them all took ~190 KB per second per input:
/// 16 GB for a day). A gap no input covers is one empty entry. Entries past their run's end
/// are refused (a timeline at `t = 4e9` in a 10 s run would otherwise be four billion empty
/// seconds).
fn timeline(results: &[RunResult], offsets: &[f64]) -> Result<Vec<Second>, MergeError> {
    let mut cursors: Vec<(usize, u64, &[Second])> = Vec::with_capacity(results.len());
    for (i, (r, off)) in results.iter().zip(offsets).enumerate() {
        check_timeline(i, r)?;
        cursors.push((i, off.round() as u64, &r.timeline));
    }
    let mut out: Vec<Second> = Vec::new();
    let mut h = histogram();
    let mut current: Option<Second> = None;
    // The most VUs each input had during the entry being built: inputs side by side add up.
    let mut vus = vec![0u64; cursors.len()];
    while let Some((start, k)) = cursors
        .iter()
        .enumerate()
        .filter_map(|(k, (_, shift, rest))| rest.first().map(|s| (s.t + shift, k)))
        .min()
    {
        let (i, _, rest) = &mut cursors[k];
        let (s, tail) = rest
            .split_first()
            .unwrap_or_else(|| unreachable!("picked non-empty"));
        *rest = tail;
        let end = start + s.seconds();
        match current.as_mut() {
            Some(c) if start < c.t + c.seconds() => c.span = c.seconds().max(end - c.t),
            _ => {
                let reached = close(&mut out, current.take(), &h, &mut vus);
                if start > reached {
                    out.push(Second {
                        t: reached,
                        span: start - reached,
                        ..Second::default()
                    });
                }
                h.reset();
                current = Some(Second {
                    t: start,
                    span: s.seconds(),
                    ..Second::default()
                });
            }
        }
        let c = current
            .as_mut()
            .unwrap_or_else(|| unreachable!("set above"));
        fold_counts(c, s);
        vus[k] = vus[k].max(s.active_vus);
        add(*i, &format!("second {}", s.t), &mut h, &s.histogram)?;
    }
    close(&mut out, current, &h, &mut vus);
    Ok(out)
}

/// Finishes the entry being built, if any; where the merged timeline has reached.
fn close(
    out: &mut Vec<Second>,
    current: Option<Second>,
    h: &Histogram<u64>,
    vus: &mut [u64],
) -> u64 {
    if let Some(mut c) = current {
        // VUs of segments running side by side add up; `fold_counts` kept the most of any.
        c.active_vus = vus.iter().sum();
        finish(&mut c, h);
        out.push(c);
    }
    vus.fill(0);
    out.last().map_or(0, |s| s.t + s.seconds())
}

/// Refuses a timeline out of order, or with entries past its run's end.
fn check_timeline(i: usize, r: &RunResult) -> Result<(), MergeError> {
    let last_t = r.duration_s.ceil() as u64 + 1;
    if let Some(bad) = r.timeline.iter().find(|s| s.t > last_t) {
        return Err(at(
            i,
            format!(
                "its timeline has an entry at t = {} s in a run of {} s: the file was edited \
                 or damaged",
                bad.t, r.duration_s
            ),
        ));
    }
    if r.timeline
        .windows(2)
        .any(|w| w[0].t + w[0].seconds() > w[1].t)
    {
        return Err(at(i, "its timeline is not in order of `t`".into()));
    }
    Ok(())
}

/// The settings of the whole run: VUs, rates and workers add up; the schedule is the
/// longest; a complete set of segments `1/N … N/N` is the whole run again.
fn settings(results: &[RunResult]) -> Settings {
    let first = &results[0].settings;
    let all = || results.iter().map(|r| &r.settings);
    let rates: Vec<f64> = all().filter_map(|s| s.rate).collect();
    let mut targets = first.targets.clone();
    for s in all() {
        for (k, v) in &s.targets {
            targets.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Settings {
        executor: first.executor.clone(),
        max_vus: all().map(|s| s.max_vus).fold(0, u32::saturating_add),
        duration_s: all().map(|s| s.duration_s).fold(0.0, f64::max),
        rate: (!rates.is_empty()).then(|| rates.iter().sum()),
        iterations: first.iterations,
        targets,
        insecure: all().any(|s| s.insecure),
        workers: all().map(|s| s.workers).fold(0, u32::saturating_add),
        segment: segments(results),
    }
}

/// `None` when the inputs are whole runs or together every segment of one; otherwise the
/// segments they are, e.g. `1/4,3/4`.
fn segments(results: &[RunResult]) -> Option<String> {
    let segs: Vec<&str> = results
        .iter()
        .filter_map(|r| r.settings.segment.as_deref())
        .collect();
    if segs.is_empty() {
        return None;
    }
    let parsed: Option<BTreeSet<(u64, u64)>> = segs.iter().map(|s| parse_segment(s)).collect();
    if let Some(set) = &parsed {
        let n = set.iter().next().map_or(0, |(_, n)| *n);
        let complete = segs.len() == results.len()
            && set.len() == results.len()
            && set.iter().all(|(_, m)| *m == n)
            && (1..=n).all(|k| set.contains(&(k, n)));
        if complete {
            return None;
        }
    }
    Some(segs.join(","))
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
