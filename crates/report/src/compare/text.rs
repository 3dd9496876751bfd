//! The comparison as `report compare` prints it: the runs, then one table per figure (a row
//! per step, a column per run), each candidate's cell its figure, its change and the verdict;
//! then the steps left out and the `--fail-on` gates.

use std::fmt::Write as _;

use super::model::{Change, Comparison, Figure, Verdict};
use crate::units::share;

/// The whole comparison as text.
pub fn text(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\ncomparing runs of `{}`: the baseline, then {} candidate{}",
        c.baseline.scenario,
        c.candidates.len(),
        if c.candidates.len() == 1 { "" } else { "s" }
    );
    let runs: Vec<Vec<String>> = std::iter::once(&c.baseline)
        .chain(&c.candidates)
        .enumerate()
        .map(|(i, r)| {
            vec![
                format!("  {}", if i == 0 { "baseline" } else { "candidate" }),
                r.label.clone(),
                r.file.clone(),
                r.load.clone(),
                format!("{} requests", r.requests),
                format!("{} s judged", r.seconds),
                match (r.passed, r.partial) {
                    (_, true) => "PARTIAL".into(),
                    (true, _) => "passed".into(),
                    (false, _) => "FAILED".into(),
                },
            ]
        })
        .collect();
    o.push_str(&grid(&runs, |i| i < 4));
    let _ = writeln!(
        o,
        "verdicts at {} confidence: each second (all but the first and the last) is a sample; \
         Mann–Whitney U, Holm-corrected over the figures of each candidate",
        share(c.confidence)
    );
    for figure in Figure::ALL {
        figure_table(&mut o, c, figure);
    }
    for n in &c.not_compared {
        let _ = writeln!(o, "not compared: {n}");
    }
    gates(&mut o, c);
    o
}

/// One figure: a row per step; the baseline's value, then per candidate its value, change and
/// verdict in columns of their own, so that figures line up.
fn figure_table(o: &mut String, c: &Comparison, figure: Figure) {
    let _ = writeln!(o, "\n{}", figure.title());
    let mut head = vec!["  step".to_string(), c.baseline.label.clone()];
    for r in &c.candidates {
        head.extend([r.label.clone(), String::new(), String::new()]);
    }
    let mut rows = vec![head];
    for row in &c.rows {
        let Some(line) = row.line(figure) else {
            continue;
        };
        let mut cells = vec![format!("  {}", row.name), value(figure, line.baseline)];
        for ch in &line.candidates {
            cells.push(value(figure, ch.value));
            cells.push(change(figure, line.baseline, ch).unwrap_or_default());
            cells.push(verdict(ch));
        }
        rows.push(cells);
    }
    // The verdict columns (every third from the fifth) read left to right.
    o.push_str(&grid(&rows, |i| i == 0 || (i >= 4 && (i - 4) % 3 == 0)));
}

fn value(figure: Figure, v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| figure.format(v))
}

/// `worse (99.99%)`, `within noise`.
fn verdict(ch: &Change) -> String {
    let mut s = ch.verdict.text().to_string();
    if let Some(conf) = ch.confidence() {
        let _ = write!(s, " ({})", confidence(conf));
    }
    s
}

/// The change for people: % of the baseline; percentage points for an error rate; the
/// difference itself from a baseline of 0.
pub fn change(figure: Figure, baseline: Option<f64>, ch: &Change) -> Option<String> {
    let d = ch.change?;
    Some(match (figure, ch.change_pct) {
        (Figure::ErrorRate, _) => format!("{:+.2} pt", d * 100.0),
        (_, Some(pct)) => format!("{pct:+.1}%"),
        (_, None) if baseline == Some(0.0) && d == 0.0 => "±0".into(),
        (_, None) => format!("+{}", figure.format(d)),
    })
}

/// `99.9%`; anything closer to certain than 99.99 % as `>99.99%`.
pub fn confidence(c: f64) -> String {
    if c > 0.9999 {
        ">99.99%".into()
    } else {
        format!("{:.2}%", (c * 100.0 * 100.0).floor() / 100.0)
    }
}

fn gates(o: &mut String, c: &Comparison) {
    if c.gates.is_empty() {
        return;
    }
    let _ = writeln!(o, "\nfail-on");
    let rows: Vec<Vec<String>> = c
        .gates
        .iter()
        .map(|g| {
            vec![
                format!("  {}", if g.failed { "FAIL" } else { "PASS" }),
                g.rule.clone(),
                g.candidate.clone(),
                g.observed.clone(),
            ]
        })
        .collect();
    o.push_str(&grid(&rows, |_| true));
    let failed = c.gates.iter().filter(|g| g.failed).count();
    if failed > 0 {
        let _ = writeln!(
            o,
            "{failed} of {} gates failed: the candidate is worse than the baseline by more than --fail-on allows",
            c.gates.len()
        );
    }
}

/// Columns padded to their widest cell: those `left` says left-aligned, the others
/// right-aligned (figures line up on their last digit).
fn grid(rows: &[Vec<String>], left: impl Fn(usize) -> bool) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut o = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            let pad = width[i].saturating_sub(c.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            if left(i) {
                line.push_str(c);
                line.extend(std::iter::repeat_n(' ', pad));
            } else {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(c);
            }
        }
        o.push_str(line.trim_end());
        o.push('\n');
    }
    o
}

/// A verdict's CSS class (and what scripts reading the HTML look for).
pub fn class(v: Verdict) -> &'static str {
    match v {
        Verdict::Better => "better",
        Verdict::Worse => "worse",
        Verdict::WithinNoise => "noise",
        Verdict::TooShort => "short",
        Verdict::NoData => "nodata",
    }
}
