//! Pass/fail criteria: `[step.]metric op value`, e.g. `p99 < 300ms`, `goods.p95 < 200ms`,
//! `error_rate < 1%`. The engine computes the observed value; [`Threshold::evaluate`] decides.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::de::{did_you_mean, fail};

/// One entry of `thresholds`, parsed from its text (`goods.p95 < 200ms`) when the scenario
/// loads, so a typo fails the load and not the end of a long run.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    source: String,
    step: Option<String>,
    metric: Metric,
    op: Op,
    value: f64,
}

/// What a threshold measures: the name before the comparison, after any `step.` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// A latency statistic; its value is in milliseconds.
    Latency(Stat),
    /// Failed requests over all requests, as a fraction (`1%` is `0.01`).
    ErrorRate,
    /// Requests per second over the run.
    Rps,
    /// Requests sent.
    Requests,
    /// Requests that failed, of any kind.
    Errors,
    /// Iterations a rate executor could not start (no free VU). Whole run only.
    Dropped,
}

/// Which latency statistic a [`Metric::Latency`] threshold limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stat {
    /// The median, `p50`.
    P50,
    /// The 90th percentile, `p90`.
    P90,
    /// The 95th percentile, `p95`.
    P95,
    /// The 99th percentile, `p99`.
    P99,
    /// The 99.9th percentile, `p99.9` (also read as `p999`).
    P999,
    /// The slowest request, `max`.
    Max,
    /// The mean, `avg`.
    Avg,
    /// The fastest request, `min`.
    Min,
}

/// A threshold's comparison: the observed value on the left, the limit on the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`, within a rounding tolerance (see [`Op::apply`]).
    Eq,
}

const METRICS: [(&str, Metric); 14] = [
    ("p50", Metric::Latency(Stat::P50)),
    ("p90", Metric::Latency(Stat::P90)),
    ("p95", Metric::Latency(Stat::P95)),
    ("p99", Metric::Latency(Stat::P99)),
    ("p99.9", Metric::Latency(Stat::P999)),
    ("max", Metric::Latency(Stat::Max)),
    ("avg", Metric::Latency(Stat::Avg)),
    ("min", Metric::Latency(Stat::Min)),
    ("error_rate", Metric::ErrorRate),
    ("rps", Metric::Rps),
    ("requests", Metric::Requests),
    ("errors", Metric::Errors),
    ("dropped", Metric::Dropped),
    ("p999", Metric::Latency(Stat::P999)),
];

const HINT: &str =
    "write `[step.]metric op value`: p99 < 300ms, goods.p95 <= 200ms, error_rate < 1%, rps >= 500";

impl Metric {
    /// The name as a threshold writes it (`p99.9`, `error_rate`), for reports and messages.
    pub fn name(self) -> &'static str {
        METRICS
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// For a latency statistic, the percentile it stands for (`max` is 100, `min` 0); `None`
    /// for `avg` and the non-latency metrics.
    pub fn percentile(self) -> Option<f64> {
        match self {
            Metric::Latency(s) => match s {
                Stat::P50 => Some(50.0),
                Stat::P90 => Some(90.0),
                Stat::P95 => Some(95.0),
                Stat::P99 => Some(99.0),
                Stat::P999 => Some(99.9),
                Stat::Max => Some(100.0),
                Stat::Min => Some(0.0),
                Stat::Avg => None,
            },
            _ => None,
        }
    }
}

impl Op {
    /// The operator as a threshold writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }

    /// Whether `observed` compares to `limit` as the operator says. `==` allows a difference
    /// of 1e-9 times the limit (1e-9 itself for limits below 1), so float rounding in the
    /// observed value cannot fail it.
    pub fn apply(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => (observed - limit).abs() <= 1e-9 * limit.abs().max(1.0),
        }
    }
}

impl Threshold {
    /// Parses `[step.]metric op value`; `Err` holds the message and a hint. Whether the step
    /// exists is the loader's check, not this one's.
    pub fn parse(source: &str) -> Result<Threshold, (String, String)> {
        let bad = |m: String| Err((m, HINT.to_string()));
        let Some(at) = source.find(['<', '>', '=', '!']) else {
            return bad(format!(
                "threshold `{source}` has no comparison (<, <=, >, >=, ==)"
            ));
        };
        let (lhs, rest) = source.split_at(at);
        let (op, rhs) = if let Some(r) = rest.strip_prefix("<=") {
            (Op::Le, r)
        } else if let Some(r) = rest.strip_prefix(">=") {
            (Op::Ge, r)
        } else if let Some(r) = rest.strip_prefix("==") {
            (Op::Eq, r)
        } else if let Some(r) = rest.strip_prefix('<') {
            (Op::Lt, r)
        } else if let Some(r) = rest.strip_prefix('>') {
            (Op::Gt, r)
        } else {
            let op = rest.split_whitespace().next().unwrap_or(rest);
            return bad(format!(
                "`{op}` is not a comparison; use <, <=, >, >= or =="
            ));
        };
        let lhs = lhs.trim();
        let (step, metric) = split_metric(lhs).ok_or_else(|| {
            let name = lhs.rsplit('.').next().unwrap_or(lhs);
            let names: Vec<&str> = METRICS[..13].iter().map(|(n, _)| *n).collect();
            (
                format!("unknown metric `{lhs}`"),
                format!(
                    "{} the metrics are {}; prefix a step name to limit one step: goods.p95",
                    did_you_mean(name, names.iter().copied()),
                    names.join(", ")
                ),
            )
        })?;
        if step.is_some() && metric == Metric::Dropped {
            return bad("`dropped` counts the whole run's iterations, not one step's".into());
        }
        let value = parse_value(metric, rhs.trim()).map_err(|(m, h)| {
            let hint = match h {
                Hint::Fixed(h) => h.to_string(),
                Hint::Percent(n) => format!(
                    "did you mean `{lhs} {} {n}%`? (or a fraction: `{lhs} {} {}`)",
                    op.as_str(),
                    op.as_str(),
                    n / 100.0
                ),
            };
            (m, hint)
        })?;
        Ok(Threshold {
            source: source.to_string(),
            step: step.map(str::to_string),
            metric,
            op,
            value,
        })
    }

    /// The threshold as written, for reports.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The step (or token step) it applies to; `None` for the whole run.
    pub fn step(&self) -> Option<&str> {
        self.step.as_deref()
    }

    /// What it measures.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// How the observed value is compared with [`Threshold::value`].
    pub fn op(&self) -> Op {
        self.op
    }

    /// The limit in the metric's unit: milliseconds for latency, a fraction for `error_rate`,
    /// a count or a per-second rate for the rest.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Whether the observed value (in the same unit as [`Threshold::value`]) passes.
    pub fn evaluate(&self, observed: f64) -> bool {
        self.op.apply(observed, self.value)
    }
}

fn split_metric(lhs: &str) -> Option<(Option<&str>, Metric)> {
    if let Some((_, m)) = METRICS.iter().find(|(n, _)| *n == lhs) {
        return Some((None, *m));
    }
    METRICS.iter().find_map(|(n, m)| {
        let step = lhs.strip_suffix(n)?.strip_suffix('.')?;
        (!step.is_empty() && !step.contains(char::is_whitespace)).then_some((Some(step), *m))
    })
}

/// What to suggest for a limit that does not parse.
enum Hint {
    Fixed(&'static str),
    /// A bare error rate of 1 or more: the same number as a percentage.
    Percent(f64),
}

impl From<&'static str> for Hint {
    fn from(h: &'static str) -> Hint {
        Hint::Fixed(h)
    }
}

fn parse_value(metric: Metric, rhs: &str) -> Result<f64, (String, Hint)> {
    let split = rhs
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rhs.len());
    let (num, unit) = rhs.split_at(split);
    let unit = unit.trim();
    let n: f64 = match num.parse() {
        Ok(n) if f64::is_finite(n) && n >= 0.0 => n,
        _ => {
            return Err((
                format!("`{rhs}` is not a number"),
                "write the limit after the comparison: p99 < 300ms".into(),
            ))
        }
    };
    match metric {
        Metric::Latency(_) => {
            let scale = match unit {
                "ms" => 1.0,
                "s" => 1000.0,
                "us" | "µs" => 0.001,
                "" => {
                    return Err((
                        format!("latency limit `{rhs}` has no unit"),
                        "add ms, s or us: p99 < 300ms".into(),
                    ))
                }
                _ => {
                    return Err((
                        format!("`{unit}` is not a latency unit"),
                        "use ms, s or us".into(),
                    ))
                }
            };
            Ok(n * scale)
        }
        // A bare number is a fraction, so `error_rate < 1` would be 100%: a limit no run can
        // fail. Whoever wrote it meant 1%, so 1 and more are refused with that suggestion.
        Metric::ErrorRate => match unit {
            "%" if n <= 100.0 => Ok(n / 100.0),
            "%" => Err((
                format!("error rate `{rhs}` is more than 100%"),
                "write a percentage up to 100%: error_rate < 1%".into(),
            )),
            "" if n < 1.0 => Ok(n),
            "" => Err((
                format!(
                    "error rate `{rhs}` has no `%`: a bare number is a fraction (0.05 is 5%), so `{rhs}` means {}%",
                    n * 100.0
                ),
                Hint::Percent(n),
            )),
            _ => Err((
                format!("`{rhs}` is not an error rate"),
                "write 1% or 0.01".into(),
            )),
        },
        Metric::Rps if unit == "/s" || unit.is_empty() => Ok(n),
        _ if unit.is_empty() => Ok(n),
        _ => Err((
            format!("`{rhs}` should be a plain number"),
            "e.g. errors == 0, requests >= 1000".into(),
        )),
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Threshold, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Threshold;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a threshold such as `p99 < 300ms`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Threshold, E> {
                Threshold::parse(v).map_err(|(m, h)| fail(m, h))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_forms() {
        let t = Threshold::parse("p99 < 300ms").unwrap();
        assert_eq!(
            (t.step(), t.metric(), t.op(), t.value()),
            (None, Metric::Latency(Stat::P99), Op::Lt, 300.0)
        );
        assert!(t.evaluate(299.9) && !t.evaluate(300.0));
        let t = Threshold::parse("goods.p95<=0.2s").unwrap();
        assert_eq!(
            (t.step(), t.metric(), t.value()),
            (Some("goods"), Metric::Latency(Stat::P95), 200.0)
        );
        let t = Threshold::parse("a.b.p99.9 < 1s").unwrap();
        assert_eq!(
            (t.step(), t.metric()),
            (Some("a.b"), Metric::Latency(Stat::P999))
        );
        let t = Threshold::parse("error_rate < 1%").unwrap();
        assert!((t.value() - 0.01).abs() < 1e-12);
        assert!(t.evaluate(0.005) && !t.evaluate(0.02));
        assert_eq!(
            Threshold::parse("error_rate <= 0.05").unwrap().value(),
            0.05
        );
        assert_eq!(Threshold::parse("error_rate < 0.5").unwrap().value(), 0.5);
        assert_eq!(Threshold::parse("error_rate < 100%").unwrap().value(), 1.0);
        assert_eq!(Threshold::parse("rps >= 500/s").unwrap().value(), 500.0);
        assert!(Threshold::parse("errors == 0").unwrap().evaluate(0.0));
        assert_eq!(Threshold::parse("avg < 500us").unwrap().value(), 0.5);
        assert_eq!(Metric::Latency(Stat::P999).percentile(), Some(99.9));
    }

    #[test]
    fn rejects_with_reasons() {
        for (src, want) in [
            ("p99 300ms", "no comparison"),
            ("p99 = 300ms", "not a comparison"),
            ("p98 < 300ms", "unknown metric `p98`"),
            ("p99 < 300", "has no unit"),
            ("p99 < 3 sec", "not a latency unit"),
            ("error_rate < 5", "means 500%"),
            ("error_rate < 1", "means 100%"),
            ("error_rate <= 1.0", "has no `%`"),
            ("error_rate < 101%", "more than 100%"),
            ("goods.dropped < 1", "whole run"),
            ("errors < abc", "not a number"),
        ] {
            let (m, _) = Threshold::parse(src).expect_err(src);
            assert!(m.contains(want), "{src}: {m}");
        }
    }

    #[test]
    fn a_bare_error_rate_of_one_or_more_suggests_the_percentage() {
        let (m, hint) = Threshold::parse("error_rate < 1").unwrap_err();
        assert!(m.contains("a bare number is a fraction"), "{m}");
        assert!(hint.contains("did you mean `error_rate < 1%`?"), "{hint}");
        assert!(hint.contains("`error_rate < 0.01`"), "{hint}");
        let (_, hint) = Threshold::parse("login.error_rate<=5").unwrap_err();
        assert!(hint.contains("`login.error_rate <= 5%`"), "{hint}");
    }
}
