//! The charts of the HTML report: rates, latency (overall and per step), VUs, errors, bytes
//! and token requests over time, and the latency distribution, drawn from the result's
//! timeline downsampled to at most [`CHART_POINTS`] entries.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::escape::esc;
use crate::histogram::decode;
use crate::result::{RunResult, Second};
use crate::svg::{line_chart, Chart, Series};
use crate::timeline::{downsample, CHART_POINTS};
use crate::units::Axis;

/// The part of an entry the run really covered, in seconds: the last second of a run ends
/// when the run does (at 3.015 s, second 3 covers 15 ms), so its counts divided by a whole
/// second would draw a drop to nearly zero at the end of every chart.
fn covered(s: &Second, duration_s: f64) -> f64 {
    let end = (s.t + s.seconds()) as f64;
    let start = s.t as f64;
    (end.min(duration_s.max(start)) - start).max(0.0)
}

/// The entries drawn: downsampled, and without a last entry that covers less than half a
/// second (a rate from a sliver of a second is noise); a longer partial one is scaled to the
/// time it covers (see [`rate`]).
pub(crate) fn drawn(r: &RunResult) -> Vec<Second> {
    let mut timeline = downsample(&r.timeline, CHART_POINTS);
    if let Some(last) = timeline.last() {
        if timeline.len() > 1 && covered(last, r.duration_s) < 0.5 {
            timeline.pop();
        }
    }
    timeline
}

/// `count` of the entry per second of the time it covers.
pub(crate) fn rate(s: &Second, count: u64, duration_s: f64) -> f64 {
    let secs = covered(s, duration_s);
    if secs > 0.0 {
        count as f64 / secs
    } else {
        s.per_second(count)
    }
}

/// Every chart, in the order the page shows them.
fn list(r: &RunResult, timeline: &[Second]) -> Vec<Chart<'static>> {
    let d = r.duration_s;
    let series = |name: &str, f: &dyn Fn(&Second) -> f64| Series {
        name: name.into(),
        points: timeline.iter().map(|s| (s.t as f64, f(s))).collect(),
    };
    let chart = |id, title, y, series| Chart {
        id,
        title,
        y,
        series,
        x_ticks: None,
    };
    let mut list = vec![
        chart(
            "rps",
            "Requests per second",
            Axis::Count,
            vec![series("requests/s", &|s| rate(s, s.requests, d))],
        ),
        chart(
            "latency",
            "Latency per second",
            Axis::Ms,
            vec![series("p50", &|s| s.p50), series("p99", &|s| s.p99)],
        ),
    ];
    if timeline.iter().any(|s| !s.steps.is_empty()) {
        list.push(step_p99(r, timeline));
    }
    list.push(chart(
        "vus",
        "Active VUs",
        Axis::Count,
        vec![series("VUs", &|s| s.active_vus as f64)],
    ));
    list.push(chart(
        "errors",
        "Errors and dropped iterations per second",
        Axis::Count,
        vec![
            series("errors", &|s| rate(s, s.errors, d)),
            series("dropped", &|s| rate(s, s.dropped, d)),
        ],
    ));
    if timeline.iter().any(|s| s.bytes_sent + s.bytes_received > 0) {
        list.push(chart(
            "bytes",
            "Bytes per second (business steps)",
            Axis::Bytes,
            vec![
                series("sent", &|s| rate(s, s.bytes_sent, d)),
                series("received", &|s| rate(s, s.bytes_received, d)),
            ],
        ));
    }
    if !r.tokens.is_empty() {
        list.push(chart(
            "tokens",
            "Token requests per second",
            Axis::Count,
            vec![series("token requests/s", &|s| {
                rate(s, s.token_requests, d)
            })],
        ));
    }
    list
}

/// Each step's p99 over time; entries where the step had no request are left out of its
/// line. Entries folded from several seconds show the largest p99 of their seconds (an upper
/// bound: see `StepSecond`).
fn step_p99(r: &RunResult, timeline: &[Second]) -> Chart<'static> {
    let series = r
        .steps
        .iter()
        .enumerate()
        .map(|(k, step)| Series {
            name: step.name.clone(),
            points: timeline
                .iter()
                .filter_map(|s| {
                    s.steps
                        .get(k)
                        .filter(|x| x.requests > 0)
                        .map(|x| (s.t as f64, x.p99))
                })
                .collect(),
        })
        .collect();
    Chart {
        id: "step-p99",
        title: "p99 latency per step",
        y: Axis::Ms,
        series,
        x_ticks: None,
    }
}

/// The "Over time" section.
pub(crate) fn charts(o: &mut String, r: &RunResult) {
    // A 72 h run has ~12,000 entries: drawn as at most CHART_POINTS each, the page stays small
    // and every hour is still on the chart.
    let timeline = drawn(r);
    let mut list = list(r, &timeline);
    if let Some(h) = decode(&r.total.histogram).filter(|h| !h.is_empty()) {
        list.push(distribution(&h));
    }
    o.push_str("<h2>Over time</h2>\n");
    let broken = crate::histogram::unreadable(r);
    if !broken.is_empty() {
        let _ = writeln!(
            o,
            "<p class=\"note\">Not shown: the latency histogram of {} does not decode (the \
             result file was edited or damaged), so its distribution is left out.</p>",
            esc(&broken.join(", "))
        );
    }
    o.push_str("<div class=\"charts\">\n");
    for c in &list {
        o.push_str(&line_chart(c));
    }
    o.push_str("</div>\n");
}

/// Latency by percentile, on the log scale HdrHistogram plots use: 90%, 99%, 99.9% … are
/// equally far apart, so the tail is as visible as the median.
fn distribution(h: &Histogram<u64>) -> Chart<'static> {
    Chart {
        id: "distribution",
        title: "Latency distribution (all business steps)",
        y: Axis::Ms,
        series: vec![Series {
            name: "latency by percentile".into(),
            points: by_percentile(h, nines(h)),
        }],
        x_ticks: Some(percentile_ticks()),
    }
}

/// How far along the percentile axis `h` reaches: beyond 1 − 1/count the percentiles are all
/// the max (x = 2 is the 99th percentile, 3 the 99.9th).
pub(crate) fn nines(h: &Histogram<u64>) -> f64 {
    (h.len() as f64).log10().clamp(1.0, 5.0)
}

/// `h`'s latency (ms) at x = −log10(1 − q), from the median's 0 up to `top`, then the max.
pub(crate) fn by_percentile(h: &Histogram<u64>, top: f64) -> Vec<(f64, f64)> {
    let mut points = Vec::new();
    let mut x = 0.0;
    while x < top {
        let q = 1.0 - 10f64.powf(-x);
        points.push((x, h.value_at_quantile(q) as f64 / 1000.0));
        x += 0.05;
    }
    points.push((top, h.max() as f64 / 1000.0));
    points
}

/// The labels of the percentile axis of [`by_percentile`].
pub(crate) fn percentile_ticks() -> Vec<(f64, String)> {
    ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
        .iter()
        .enumerate()
        .map(|(i, l)| (i as f64, l.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::result;

    #[test]
    fn a_last_partial_second_is_scaled_or_left_out() {
        let mut r = result("2026-11-21T10:00:00.000Z", &[1000; 10]);
        // Second 1 covers 0.5 s of a 1.5 s run: its 5 requests are 10/s, not 5/s.
        r.duration_s = 1.5;
        let t = drawn(&r);
        assert_eq!(t.len(), 2);
        assert_eq!(rate(&t[1], t[1].requests, r.duration_s), 10.0);
        // Ended 0.1 s into second 1: a sliver, not drawn.
        r.duration_s = 1.1;
        assert_eq!(drawn(&r).len(), 1);
        assert_eq!(rate(&t[0], t[0].requests, r.duration_s), 5.0);
    }
}
