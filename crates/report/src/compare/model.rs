//! What a comparison is: its figures, verdicts, rows and runs, as `report compare --json`
//! prints them (`compare/v1`) and as the tables and the page show them. Built by
//! [`super::compare()`]; nothing here judges.

use serde::Serialize;

use crate::histogram::{decode, latency};
use crate::result::{Latency, StepStats};
use crate::units::{ms, rate};

/// The value of a comparison's `loadtape` key.
pub const COMPARE_V1: &str = "compare/v1";

/// A figure of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Figure {
    /// Requests per second.
    #[serde(rename = "rps")]
    Rps,
    /// Failed requests of all, a fraction.
    #[serde(rename = "error_rate")]
    ErrorRate,
    /// The median latency.
    #[serde(rename = "p50")]
    P50,
    /// The 90th percentile latency.
    #[serde(rename = "p90")]
    P90,
    /// The 95th percentile latency.
    #[serde(rename = "p95")]
    P95,
    /// The 99th percentile latency.
    #[serde(rename = "p99")]
    P99,
    /// The 99.9th percentile latency.
    #[serde(rename = "p99.9")]
    P999,
    /// The slowest request.
    #[serde(rename = "max")]
    Max,
}

impl Figure {
    /// Every figure, in the order tables show them.
    pub const ALL: [Figure; 8] = [
        Figure::Rps,
        Figure::ErrorRate,
        Figure::P50,
        Figure::P90,
        Figure::P95,
        Figure::P99,
        Figure::P999,
        Figure::Max,
    ];

    /// As `--fail-on` and the JSON name it.
    pub fn name(self) -> &'static str {
        match self {
            Figure::Rps => "rps",
            Figure::ErrorRate => "error_rate",
            Figure::P50 => "p50",
            Figure::P90 => "p90",
            Figure::P95 => "p95",
            Figure::P99 => "p99",
            Figure::P999 => "p99.9",
            Figure::Max => "max",
        }
    }

    /// The figure named so (`p999` for `p99.9` too).
    pub fn parse(s: &str) -> Option<Figure> {
        if s == "p999" {
            return Some(Figure::P999);
        }
        Figure::ALL.into_iter().find(|f| f.name() == s)
    }

    /// A table's heading for it.
    pub fn title(self) -> &'static str {
        match self {
            Figure::Rps => "requests/s (higher is better)",
            Figure::ErrorRate => "error rate (lower is better)",
            Figure::P50 => "p50 latency",
            Figure::P90 => "p90 latency",
            Figure::P95 => "p95 latency",
            Figure::P99 => "p99 latency",
            Figure::P999 => "p99.9 latency",
            Figure::Max => "max latency",
        }
    }

    /// Requests per second improve upwards; every other figure downwards.
    pub fn higher_is_better(self) -> bool {
        self == Figure::Rps
    }

    /// A latency, in ms.
    pub fn is_latency(self) -> bool {
        !matches!(self, Figure::Rps | Figure::ErrorRate)
    }

    /// The figure of a whole row; `None` when the row has nothing to measure it on.
    pub(super) fn of(self, s: &StepStats) -> Option<f64> {
        match self {
            Figure::Rps => Some(s.rps),
            Figure::ErrorRate => (s.requests > 0).then(|| s.errors as f64 / s.requests as f64),
            _ if s.succeeded() == 0 => None,
            _ => Some(self.pick(&exact(s))),
        }
    }

    /// This latency figure of `l`.
    fn pick(self, l: &Latency) -> f64 {
        match self {
            Figure::P50 => l.p50,
            Figure::P90 => l.p90,
            Figure::P95 => l.p95,
            Figure::P99 => l.p99,
            Figure::P999 => l.p999,
            Figure::Max => l.max,
            Figure::Rps | Figure::ErrorRate => 0.0,
        }
    }

    /// `v` in the figure's unit, for people: `418.5/s`, `0.25%`, `12.3ms`.
    pub fn format(self, v: f64) -> String {
        match self {
            Figure::Rps => format!("{}/s", rate(v)),
            Figure::ErrorRate => format!("{:.2}%", v * 100.0),
            _ => ms(v),
        }
    }
}

/// The latency figures read again from the row's histogram (what the stored ones were made
/// from; an edited file's figures would otherwise be believed).
fn exact(s: &StepStats) -> Latency {
    decode(&s.histogram)
        .filter(|h| !h.is_empty())
        .map_or(s.latency, |h| latency(&h))
}

/// What a candidate's figure is against the baseline's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Better than the baseline, beyond the noise of their seconds.
    Better,
    /// Worse than the baseline, beyond the noise of their seconds.
    Worse,
    /// The difference is within what the runs' seconds vary by.
    WithinNoise,
    /// Too few seconds to tell either way (see [`MIN_SECONDS`]).
    TooShort,
    /// One of the runs has nothing to measure this figure on.
    NoData,
}

impl Verdict {
    /// For tables: `worse`, `within noise`.
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::WithinNoise => "within noise",
            Verdict::TooShort => "too short to tell",
            Verdict::NoData => "no data",
        }
    }
}

/// One run of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// `run --label`, else the file's name without `.json`.
    pub label: String,
    /// The file as given.
    pub file: String,
    /// Its scenario's name.
    pub scenario: String,
    /// When it started.
    pub started: String,
    /// Its length, s.
    pub duration_s: f64,
    /// How it was driven: `constant-rate 100/s, 20 s, 10 VUs`.
    pub load: String,
    /// Its business requests.
    pub requests: u64,
    /// The seconds of its timeline that were judged (all but the first and the last).
    pub seconds: usize,
    /// Its own verdict (thresholds, token failures).
    pub passed: bool,
    /// It was stopped early.
    pub partial: bool,
}

/// One candidate's figure against the baseline's.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The candidate's figure; `None` without data.
    pub value: Option<f64>,
    /// Candidate − baseline, in the figure's unit (ms, requests/s, a fraction).
    pub change: Option<f64>,
    /// The change in % of the baseline's figure; `None` when that is 0 or missing.
    pub change_pct: Option<f64>,
    /// What the change is, judged on the runs' seconds.
    pub verdict: Verdict,
    /// The p-value of the difference of the runs' seconds (Mann–Whitney U), corrected for
    /// every figure judged for this candidate (Holm); `None` when not judged.
    pub p: Option<f64>,
    /// The chance that a second of the candidate is above one of the baseline, 0 to 1
    /// (0.5: neither tends higher): the direction and size of the difference.
    pub above: Option<f64>,
    /// The seconds judged: the baseline's, the candidate's.
    pub seconds: [usize; 2],
}

impl Change {
    /// How sure a better or worse verdict is: 1 − `p`.
    pub fn confidence(&self) -> Option<f64> {
        match self.verdict {
            Verdict::Better | Verdict::Worse => self.p.map(|p| 1.0 - p),
            _ => None,
        }
    }
}

/// A figure of one row, for the baseline and every candidate.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// Which figure.
    pub figure: Figure,
    /// The baseline's; `None` without data.
    pub baseline: Option<f64>,
    /// In the order of [`Comparison::candidates`].
    pub candidates: Vec<Change>,
}

/// A step (or the total) compared.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The step's name, or `total`.
    pub name: String,
    /// `step` or `total`.
    pub kind: String,
    /// One per figure, in [`Figure::ALL`]'s order.
    pub lines: Vec<Line>,
}

impl Row {
    /// The line of `figure`.
    pub fn line(&self, figure: Figure) -> Option<&Line> {
        self.lines.iter().find(|l| l.figure == figure)
    }
}

/// The whole comparison: what `report compare --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Always [`COMPARE_V1`].
    pub loadtape: &'static str,
    /// The run the others are measured against.
    pub baseline: RunInfo,
    /// The runs measured, in the order given.
    pub candidates: Vec<RunInfo>,
    /// The total first, then the steps compared in the baseline's order.
    pub rows: Vec<Row>,
    /// Steps not compared (`--loose`: not in every result), said as `goods: only in base`.
    pub not_compared: Vec<String>,
    /// [`CONFIDENCE`].
    pub confidence: f64,
    /// The `--fail-on` rules judged, per candidate.
    pub gates: Vec<Judged>,
    /// No gate failed.
    pub passed: bool,
}

impl Comparison {
    /// The row of a step (or `total`).
    pub fn row(&self, name: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.name == name)
    }
}

/// One gate judged on one candidate.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    /// The rule as written.
    pub rule: String,
    /// The candidate's label.
    pub candidate: String,
    /// What was measured, as the rule reads it: `+12.5%`, `+0.80 pt`, `worse`, `no data`.
    pub observed: String,
    /// The candidate broke the rule.
    pub failed: bool,
}
