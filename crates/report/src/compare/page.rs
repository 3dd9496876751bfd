//! The comparison as one HTML page, self-contained like the run report (inline CSS and SVG,
//! no script): the runs, the `--fail-on` gates, the runs' throughput, p99 and latency
//! distribution overlaid on shared axes (one line per run), then per figure a table (a row
//! per step, a column per run) and a chart of the figure across the runs (one line per step).
//! Tables scroll sideways inside the page on a phone; the page itself never does.

use std::fmt::Write as _;

use super::model::{Comparison, Figure};
use super::text::{change, class, confidence};
use crate::escape::esc;
use crate::histogram::decode;
use crate::html::charts::{by_percentile, drawn, nines, percentile_ticks, rate};
use crate::html::CSS;
use crate::result::RunResult;
use crate::svg::{line_chart, Chart, Series};
use crate::units::Axis;

const MORE_CSS: &str =
    "td.better{color:var(--ok);font-weight:600}td.worse{color:var(--bad);font-weight:600}\
td.noise,td.short,td.nodata{color:var(--mute)}td small{display:block;font-size:.8em}\
section.figure{margin-top:1.4em}h3{font-size:1em;margin:.4em 0}";

/// The page for `c`, drawn from the results it was made of (baseline first).
pub fn render(c: &Comparison, results: &[&RunResult]) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let title = format!("loadtape — comparison of {}", c.baseline.scenario);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{CSS}{MORE_CSS}</style></head><body><main>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    if !c.gates.is_empty() {
        let _ = writeln!(
            o,
            "<p>{}</p>",
            if c.passed {
                r#"<span class="badge pass" id="verdict">GATES PASSED</span>"#
            } else {
                r#"<span class="badge fail" id="verdict">GATES FAILED</span>"#
            }
        );
    }
    runs(&mut o, c);
    gates(&mut o, c);
    overlays(&mut o, c, results);
    for figure in Figure::ALL {
        figure_section(&mut o, c, figure);
    }
    for n in &c.not_compared {
        let _ = writeln!(o, "<p class=\"note\">Not compared: {}</p>", esc(n));
    }
    let _ = writeln!(
        o,
        "<p class=\"mute\">Written by loadtape {}.</p></main></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    o
}

fn runs(o: &mut String, c: &Comparison) {
    o.push_str(
        "<h2>Runs</h2><div class=\"scroll\"><table id=\"runs\"><tr><th></th><th>label</th>\
<th>file</th><th>load</th><th>requests</th><th>seconds judged</th><th>own verdict</th></tr>\n",
    );
    for (i, r) in std::iter::once(&c.baseline)
        .chain(&c.candidates)
        .enumerate()
    {
        let _ = writeln!(
            o,
            "<tr data-run=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.label),
            if i == 0 { "baseline" } else { "candidate" },
            esc(&r.label),
            esc(&r.file),
            esc(&r.load),
            r.requests,
            r.seconds,
            match (r.passed, r.partial) {
                (_, true) => "PARTIAL",
                (true, _) => "passed",
                (false, _) => "FAILED",
            }
        );
    }
    let _ = writeln!(
        o,
        "</table></div><p class=\"mute\">A verdict other than <i>within noise</i> holds at {} \
         confidence: every second of a run but the first and the last is one sample of each \
         figure, the seconds of the two runs are compared with the Mann–Whitney U test, and \
         the p-values of each candidate's figures are corrected together (Holm). Changes are \
         of the whole runs' figures (percentiles from their histograms).</p>",
        confidence(c.confidence)
    );
}

fn gates(o: &mut String, c: &Comparison) {
    if c.gates.is_empty() {
        return;
    }
    o.push_str(
        "<h2>Regression gates</h2><div class=\"scroll\"><table id=\"gates\"><tr><th>rule</th>\
<th>candidate</th><th>observed</th><th></th></tr>\n",
    );
    for g in &c.gates {
        let _ = writeln!(
            o,
            "<tr><td class=\"rule\">{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&g.rule),
            esc(&g.candidate),
            esc(&g.observed),
            if g.failed { "worse" } else { "better" },
            if g.failed { "FAIL" } else { "PASS" }
        );
    }
    o.push_str("</table></div>\n");
}

/// Throughput and p99 over time, and the latency distribution: one line per run.
fn overlays(o: &mut String, c: &Comparison, results: &[&RunResult]) {
    let labels: Vec<&str> = std::iter::once(&c.baseline)
        .chain(&c.candidates)
        .map(|r| r.label.as_str())
        .collect();
    let over_time = |pick: &dyn Fn(&RunResult, &crate::result::Second) -> f64| -> Vec<Series> {
        results
            .iter()
            .zip(&labels)
            .map(|(r, l)| Series {
                name: l.to_string(),
                points: drawn(r).iter().map(|s| (s.t as f64, pick(r, s))).collect(),
            })
            .collect()
    };
    let throughput = Chart {
        id: "throughput",
        title: "Requests per second",
        y: Axis::Count,
        series: over_time(&|r, s| rate(s, s.requests, r.duration_s)),
        x_ticks: None,
    };
    let p99 = Chart {
        id: "p99",
        title: "p99 latency per second (all business steps)",
        y: Axis::Ms,
        series: over_time(&|_, s| s.p99),
        x_ticks: None,
    };
    let distribution = Chart {
        id: "distribution",
        title: "Latency distribution (all business steps)",
        y: Axis::Ms,
        series: results
            .iter()
            .zip(&labels)
            .filter_map(|(r, l)| {
                let h = decode(&r.total.histogram).filter(|h| !h.is_empty())?;
                Some(Series {
                    name: l.to_string(),
                    points: by_percentile(&h, nines(&h)),
                })
            })
            .collect(),
        x_ticks: Some(percentile_ticks()),
    };
    o.push_str("<h2>Over time and by percentile</h2><div class=\"charts\">\n");
    for chart in [throughput, p99, distribution] {
        o.push_str(&line_chart(&chart));
    }
    o.push_str("</div>\n");
}

/// One figure: its table (a row per step, a column per run) and its chart across the runs.
fn figure_section(o: &mut String, c: &Comparison, figure: Figure) {
    let _ = write!(
        o,
        "<section class=\"figure\" data-figure=\"{}\"><h3>{}</h3><div class=\"scroll\"><table><tr><th>step</th><th>{}</th>",
        figure.name(),
        esc(figure.title()),
        esc(&c.baseline.label)
    );
    for r in &c.candidates {
        let _ = write!(o, "<th>{}</th>", esc(&r.label));
    }
    o.push_str("</tr>\n");
    let mut series = Vec::new();
    for row in &c.rows {
        let Some(line) = row.line(figure) else {
            continue;
        };
        let fmt = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| figure.format(v));
        let _ = write!(
            o,
            "<tr{}><td>{}</td><td>{}</td>",
            if row.kind == "total" {
                " class=\"total\""
            } else {
                ""
            },
            esc(&row.name),
            fmt(line.baseline)
        );
        for ch in &line.candidates {
            let mut note = change(figure, line.baseline, ch).unwrap_or_default();
            note.push(' ');
            note.push_str(ch.verdict.text());
            if let Some(conf) = ch.confidence() {
                let _ = write!(note, " ({})", confidence(conf));
            }
            let _ = write!(
                o,
                "<td class=\"{}\" data-verdict=\"{}\">{}<small>{}</small></td>",
                class(ch.verdict),
                class(ch.verdict),
                fmt(ch.value),
                esc(note.trim())
            );
        }
        o.push_str("</tr>\n");
        let points: Vec<(f64, f64)> = std::iter::once(line.baseline)
            .chain(line.candidates.iter().map(|ch| ch.value))
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
            .collect();
        series.push(Series {
            name: row.name.clone(),
            points,
        });
    }
    o.push_str("</table></div>\n");
    let ticks: Vec<(f64, String)> = std::iter::once(&c.baseline)
        .chain(&c.candidates)
        .enumerate()
        .map(|(i, r)| (i as f64, r.label.clone()))
        .collect();
    let id = format!("across-{}", figure.name());
    o.push_str(&line_chart(&Chart {
        id: &id,
        title: figure.title(),
        y: match figure {
            Figure::Rps => Axis::Count,
            Figure::ErrorRate => Axis::Count,
            _ => Axis::Ms,
        },
        series: if figure == Figure::ErrorRate {
            // As a percentage, the unit the table shows it in.
            series
                .into_iter()
                .map(|s| Series {
                    points: s.points.iter().map(|(x, y)| (*x, y * 100.0)).collect(),
                    ..s
                })
                .collect()
        } else {
            series
        },
        x_ticks: Some(ticks),
    }));
    o.push_str("</section>\n");
}
