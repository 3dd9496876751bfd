//! `--fail-on`: the regression gates of a comparison. `p99 +10%` fails when a candidate's
//! total p99 is more than 10 % above the baseline's; `goods.p95 +5ms` when step `goods`' p95
//! rose by more than 5 ms; `error_rate +0.5%` when the error rate rose by more than half a
//! percentage point; `rps -5%` when requests/s fell by more than 5 %; `p99 worse` when the
//! p99 is judged worse beyond noise. A limit is judged on the measured change, strictly
//! (exactly +10 % passes `+10%`); a figure without data fails its gate, as a threshold does;
//! and with any gate, a candidate whose own run failed or stopped early fails ([`OWN_RUN`]).

use super::model::{Change, Comparison, Figure, Judged, Verdict};

/// A parsed `--fail-on` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// As written.
    pub text: String,
    /// The step it looks at; `total` when it names none.
    pub row: String,
    /// The figure it limits.
    pub figure: Figure,
    limit: Limit,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Limit {
    /// At most this many % worse than the baseline's figure.
    Relative(f64),
    /// At most this much worse, in the figure's unit (ms, requests/s, a fraction).
    Absolute(f64),
    /// Not judged worse beyond noise.
    Worse,
}

const EXAMPLES: &str =
    "e.g. `p99 +10%`, `goods.p95 +5ms`, `error_rate +0.5%`, `rps -5%`, `p99 worse`";

impl Gate {
    /// Parses `[STEP.]FIGURE CHANGE`.
    pub fn parse(text: &str) -> Result<Gate, String> {
        let bad = |why: String| format!("--fail-on `{text}`: {why}");
        let words: Vec<&str> = text.split_whitespace().collect();
        let [what, change] = words[..] else {
            return Err(bad(format!(
                "write the figure, a space and the change allowed, {EXAMPLES}"
            )));
        };
        let (row, name) = match what.strip_suffix("p99.9") {
            Some(row) if row.is_empty() || row.ends_with('.') => {
                (row.trim_end_matches('.'), "p99.9")
            }
            _ => what.rsplit_once('.').unwrap_or(("", what)),
        };
        let figure = Figure::parse(name).ok_or_else(|| {
            bad(format!(
                "`{name}` is not a figure; the figures are {}",
                Figure::ALL.map(Figure::name).join(", ")
            ))
        })?;
        let limit = limit(figure, change).map_err(bad)?;
        Ok(Gate {
            text: text.to_string(),
            row: if row.is_empty() { "total" } else { row }.to_string(),
            figure,
            limit,
        })
    }

    /// This gate on candidate `k` of `c`; `Err` when `c` has no such row.
    pub fn judge(&self, c: &Comparison, k: usize) -> Result<Judged, String> {
        let row = c.row(&self.row).ok_or_else(|| {
            format!(
                "--fail-on `{}`: no step `{}` is compared (the rows are {})",
                self.text,
                self.row,
                c.rows
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let line = row
            .line(self.figure)
            .unwrap_or_else(|| unreachable!("every row has every figure"));
        let ch = &line.candidates[k];
        let (observed, failed) = self.check(line.baseline, ch);
        Ok(Judged {
            rule: self.text.clone(),
            candidate: c.candidates[k].label.clone(),
            observed,
            failed,
        })
    }

    /// What the rule reads of the change, and whether it fails.
    fn check(&self, baseline: Option<f64>, ch: &Change) -> (String, bool) {
        // How much worse, in the figure's direction: a fall for requests/s, a rise otherwise.
        let sign = if self.figure.higher_is_better() {
            -1.0
        } else {
            1.0
        };
        match self.limit {
            Limit::Worse => (ch.verdict.text().to_string(), ch.verdict == Verdict::Worse),
            _ if ch.value.is_none() || baseline.is_none() => ("no data".into(), true),
            Limit::Relative(max) => match ch.change_pct {
                Some(pct) => (format!("{pct:+.1}%"), pct * sign > max),
                // A baseline of 0: any move the wrong way is infinitely many % worse.
                None => {
                    let d = ch.change.unwrap_or(0.0);
                    let now = self.figure.format(ch.value.unwrap_or(0.0));
                    (format!("{now} from 0"), d * sign > 0.0)
                }
            },
            Limit::Absolute(max) => {
                let d = ch.change.unwrap_or(0.0);
                let shown = match self.figure {
                    Figure::ErrorRate => format!("{:+.2} pt", d * 100.0),
                    Figure::Rps => format!("{d:+.1}/s"),
                    _ => format!("{d:+.2}ms"),
                };
                (shown, d * sign > max)
            }
        }
    }
}

/// The change allowed: `+10%`, `5ms`, `-5%`, `worse`.
fn limit(figure: Figure, change: &str) -> Result<Limit, String> {
    if change == "worse" {
        return Ok(Limit::Worse);
    }
    let worse = if figure.higher_is_better() { '-' } else { '+' };
    let (sign, rest) = match change.chars().next() {
        Some(c @ ('+' | '-')) => (Some(c), &change[1..]),
        _ => (None, change),
    };
    if sign.is_some_and(|s| s != worse) {
        let (how, better) = if figure.higher_is_better() {
            ("fall", "-")
        } else {
            ("rise", "+")
        };
        return Err(format!(
            "{} gets worse as it {how}s: write `{}{}`",
            figure.name(),
            better,
            rest
        ));
    }
    let split = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, unit) = rest.split_at(split);
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| format!("`{change}` is not a change, {EXAMPLES}"))?;
    match (figure, unit) {
        (Figure::ErrorRate, "%") => Ok(Limit::Absolute(n / 100.0)),
        (Figure::ErrorRate, _) => Err(format!(
            "an error rate's change is in percentage points: `error_rate +{number}%`"
        )),
        (_, "%") => Ok(Limit::Relative(n)),
        (Figure::Rps, "" | "/s") => Ok(Limit::Absolute(n)),
        (f, "ms") if f.is_latency() => Ok(Limit::Absolute(n)),
        (f, "s") if f.is_latency() => Ok(Limit::Absolute(n * 1000.0)),
        (f, _) => Err(format!(
            "`{unit}` is not a unit of {}: use %{}",
            f.name(),
            if f.is_latency() {
                ", ms or s"
            } else {
                " or /s"
            }
        )),
    }
}

/// The gate every candidate meets first when there are gates at all: its own run passed (its
/// thresholds, its token steps) and ran to its end. A candidate whose requests half failed
/// can have a fine p99; a regression check must not call it good.
pub const OWN_RUN: &str = "its own run passed";

/// Every gate on every candidate, into `c.gates` and `c.passed`.
pub fn apply(c: &mut Comparison, gates: &[Gate]) -> Result<(), String> {
    let mut judged = Vec::new();
    if !gates.is_empty() {
        for r in &c.candidates {
            let (observed, failed) = match (r.passed, r.partial) {
                (_, true) => ("PARTIAL", true),
                (false, _) => ("FAILED", true),
                (true, false) => ("passed", false),
            };
            judged.push(Judged {
                rule: OWN_RUN.into(),
                candidate: r.label.clone(),
                observed: observed.into(),
                failed,
            });
        }
    }
    for g in gates {
        for k in 0..c.candidates.len() {
            judged.push(g.judge(c, k)?);
        }
    }
    c.passed = judged.iter().all(|j| !j.failed);
    c.gates = judged;
    Ok(())
}
