//! `report compare`: a baseline run against one or more candidates (the same test before and
//! after a change, or a sweep of one setting), figure by figure, with a verdict on each.
//!
//! The figures are the run's own (requests/s, error rate, p50 … max from the lossless
//! histograms, so exact); whether a change is more than noise is judged on the runs' seconds
//! ([`stats`]): a p99 that rose 3 % between two runs whose per-second p99 wander by 20 % is
//! "within noise", one that rose 3 % every second of a long run is not. The judgement needs
//! seconds: runs too short to tell are said to be, not called equal.
//!
//! - [`compare()`] builds the [`Comparison`] (refusing results of other scenarios or step
//!   lists, unless `loose`); [`gate`] holds the `--fail-on` rules judged on it; [`text`]
//!   prints it, [`page`] renders it as HTML, and it serialises as `compare/v1` JSON.

pub mod gate;
mod model;
pub mod page;
mod samples;
pub mod stats;
pub mod text;

pub use model::{Change, Comparison, Figure, Judged, Line, Row, RunInfo, Verdict, COMPARE_V1};

use crate::result::{RunResult, StepStats};
use samples::Samples;

/// The confidence a verdict other than "within noise" needs, over the whole family of
/// figures of one candidate (Holm-corrected): two runs of one setting are called different
/// on any figure at most once in a hundred comparisons.
pub const CONFIDENCE: f64 = 0.99;

/// Fewer seconds than this on either side are too few to judge, whatever they show.
pub const MIN_SECONDS: usize = 5;

/// A result to compare and the file it came from.
pub struct Input<'a> {
    /// The result.
    pub result: &'a RunResult,
    /// Its file as given, for labels and messages.
    pub file: String,
}

/// Why results cannot be compared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct CompareError {
    /// The input at fault, counted from 0 with the baseline first.
    pub index: usize,
    /// What differs.
    pub message: String,
}

/// The baseline (`inputs[0]`) against every other input. Results of another scenario or
/// another step list are refused, saying what differs, unless `loose`: then the steps every
/// result has are compared, and the others listed in [`Comparison::not_compared`].
pub fn compare(inputs: &[Input], loose: bool) -> Result<Comparison, CompareError> {
    let Some((base, candidates)) = inputs.split_first() else {
        return Err(CompareError {
            index: 0,
            message: "nothing to compare: give a baseline and at least one candidate".into(),
        });
    };
    if candidates.is_empty() {
        return Err(CompareError {
            index: 0,
            message: "give at least one candidate after the baseline: \
                      loadtape report compare BASELINE.json CANDIDATE.json..."
                .into(),
        });
    }
    let (names, not_compared) = shared_steps(inputs, loose)?;
    let base_samples = Samples::of(base.result, &names);
    let mut rows: Vec<Row> = std::iter::once("total".to_string())
        .chain(names.iter().cloned())
        .map(|name| Row {
            lines: Figure::ALL
                .into_iter()
                .map(|figure| Line {
                    figure,
                    baseline: stats_of(base.result, &name).and_then(|s| figure.of(s)),
                    candidates: Vec::new(),
                })
                .collect(),
            kind: if name == "total" { "total" } else { "step" }.into(),
            name,
        })
        .collect();
    let mut infos = Vec::with_capacity(candidates.len());
    for c in candidates {
        let samples = Samples::of(c.result, &names);
        judge(&mut rows, c.result, &base_samples, &samples);
        infos.push(info(c, &samples));
    }
    Ok(Comparison {
        loadtape: COMPARE_V1,
        baseline: info(base, &base_samples),
        candidates: infos,
        rows,
        not_compared,
        confidence: CONFIDENCE,
        gates: Vec::new(),
        passed: true,
    })
}

/// The row called `name` of `r` (`total` is the total).
fn stats_of<'a>(r: &'a RunResult, name: &str) -> Option<&'a StepStats> {
    if name == "total" {
        Some(&r.total)
    } else {
        r.steps.iter().find(|s| s.name == name)
    }
}

/// One candidate's figures against the baseline's, appended to each line: the tests of all
/// its figures corrected together.
fn judge(rows: &mut [Row], c: &RunResult, base: &Samples, cand: &Samples) {
    let mut changes = Vec::new();
    let mut tested = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        for (f, line) in row.lines.iter().enumerate() {
            let value = stats_of(c, &row.name).and_then(|s| line.figure.of(s));
            let (a, b) = (base.get(r, line.figure), cand.get(r, line.figure));
            let change = value.zip(line.baseline).map(|(v, b)| v - b);
            let mut ch = Change {
                value,
                change,
                change_pct: change
                    .zip(line.baseline)
                    .filter(|(_, b)| *b != 0.0)
                    .map(|(d, b)| d / b * 100.0),
                verdict: Verdict::NoData,
                p: None,
                above: None,
                seconds: [a.len(), b.len()],
            };
            let short = |n: usize| n < MIN_SECONDS;
            if value.is_none() || line.baseline.is_none() {
                // No data: neither run can be judged on it.
            } else if short(base.seconds()) || short(cand.seconds()) {
                ch.verdict = Verdict::TooShort;
            } else if a.is_empty() || b.is_empty() {
                // A timeline without this figure per second (written before it was kept).
            } else if short(a.len()) || short(b.len()) {
                ch.verdict = Verdict::TooShort;
            } else if let Some(t) = stats::mann_whitney(a, b) {
                ch.p = Some(t.p);
                ch.above = Some(t.above);
                tested.push(changes.len());
            }
            changes.push(((r, f), ch));
        }
    }
    // The tested figures' p-values (`tested` indexes `changes`), corrected together.
    let ps: Vec<f64> = tested
        .iter()
        .map(|&i| changes[i].1.p.unwrap_or(1.0))
        .collect();
    let alpha = 1.0 - CONFIDENCE;
    for (&i, p) in tested.iter().zip(stats::holm(&ps)) {
        let ((r, f), ch) = &mut changes[i];
        ch.p = Some(p);
        ch.verdict = verdict(rows[*r].lines[*f].figure, ch, alpha, tested.len());
    }
    for ((r, f), ch) in changes {
        rows[r].lines[f].candidates.push(ch);
    }
}

/// Better, worse or within noise, for a tested figure: the corrected p below α, and the
/// seconds and the whole run moving the same way. When the seconds could never have been
/// significant at this family size (too few of them), too short to tell.
fn verdict(figure: Figure, ch: &Change, alpha: f64, family: usize) -> Verdict {
    let (Some(p), Some(above), Some(change)) = (ch.p, ch.above, ch.change) else {
        return Verdict::NoData;
    };
    if stats::least_p(ch.seconds[0], ch.seconds[1]) * family as f64 >= alpha {
        return Verdict::TooShort;
    }
    let up = above > 0.5;
    if p >= alpha || change == 0.0 || up != (change > 0.0) {
        return Verdict::WithinNoise;
    }
    if up == figure.higher_is_better() {
        Verdict::Better
    } else {
        Verdict::Worse
    }
}

/// The steps compared, and what is said of those left out. Without `loose`, every input must
/// be of the baseline's scenario and step list.
fn shared_steps(inputs: &[Input], loose: bool) -> Result<(Vec<String>, Vec<String>), CompareError> {
    let base = inputs[0].result;
    let names = |r: &RunResult| -> Vec<String> { r.steps.iter().map(|s| s.name.clone()).collect() };
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(", ")
        }
    };
    let ours = names(base);
    for (i, c) in inputs.iter().enumerate().skip(1) {
        let theirs = names(c.result);
        let what = if c.result.scenario != base.scenario {
            Some(format!(
                "its scenario is `{}`; the baseline's is `{}`",
                c.result.scenario, base.scenario
            ))
        } else if theirs != ours {
            Some(format!(
                "its steps are {}; the baseline's are {}",
                list(&theirs),
                list(&ours)
            ))
        } else {
            None
        };
        if let (Some(what), false) = (what, loose) {
            return Err(CompareError {
                index: i,
                message: format!(
                    "{what}: these are not runs of one test (--loose compares the steps they share)"
                ),
            });
        }
    }
    let shared: Vec<String> = ours
        .iter()
        .filter(|n| inputs.iter().all(|c| names(c.result).contains(n)))
        .cloned()
        .collect();
    let mut left = Vec::new();
    for c in inputs {
        for n in names(c.result).iter().filter(|n| !shared.contains(n)) {
            left.push(format!("`{n}` is in {} but not in every result", label(c)));
        }
    }
    Ok((shared, left))
}

/// `run --label`, else the file's name without its directory and `.json`.
fn label(c: &Input) -> String {
    c.result.label.clone().unwrap_or_else(|| {
        let name = std::path::Path::new(&c.file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| c.file.clone());
        name.strip_suffix(".json")
            .map(str::to_string)
            .unwrap_or(name)
    })
}

fn info(c: &Input, s: &Samples) -> RunInfo {
    let r = c.result;
    let st = &r.settings;
    let mut load = st.executor.clone();
    if let Some(rate) = st.rate {
        load.push_str(&format!(" {}/s", crate::units::num(rate)));
    }
    load.push_str(&format!(
        ", {}, {} VU{}",
        crate::units::duration(st.duration_s),
        st.max_vus,
        if st.max_vus == 1 { "" } else { "s" }
    ));
    RunInfo {
        label: label(c),
        file: c.file.clone(),
        scenario: r.scenario.clone(),
        started: r.started.clone(),
        duration_s: r.duration_s,
        load,
        requests: r.total.requests,
        seconds: s.seconds(),
        passed: r.passed,
        partial: r.partial,
    }
}

#[cfg(test)]
#[path = "compare/tests.rs"]
mod tests;
