//! Line charts as inline SVG.
//!
//! Hand-written rather than a charting crate or a JS library: the report must be one file that
//! works offline (no CDN), the charts are a handful of polylines with axes, and an SVG with a
//! `viewBox` scales to any screen width by itself. Colours come from the page's CSS classes
//! (`s0`, `s1`, …), so the charts follow the page's light or dark scheme.

use std::fmt::Write as _;

use crate::units::{num, tick, Axis};

/// Width and height of the drawing in user units; the page scales it with CSS.
const W: f64 = 480.0;
const H: f64 = 250.0;
/// The plot area inside the drawing: room for y labels on the left (`200 KiB` at 13 px),
/// x labels below.
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

/// One line of a chart.
pub(crate) struct Series {
    /// Shown in the legend and as `data-series` (what tests and scripts look for).
    pub name: String,
    /// `(x, y)` in data units, x ascending.
    pub points: Vec<(f64, f64)>,
}

/// A chart: lines over a shared x axis from 0 (or the first x) to the last x.
pub(crate) struct Chart<'a> {
    /// `data-chart` of the `<svg>`: a stable id (`rps`, `latency`, …).
    pub id: &'a str,
    pub title: &'a str,
    /// What the y axis measures: how its ticks are spaced (whole numbers for counts) and
    /// labelled.
    pub y: Axis,
    pub series: Vec<Series>,
    /// Labels of the x axis at data x positions; `None` labels seconds (`0s`, `30s`, …).
    pub x_ticks: Option<Vec<(f64, String)>>,
}

/// The chart as an `<figure>` with its title, legend and `<svg>`.
pub(crate) fn line_chart(c: &Chart) -> String {
    let all = || c.series.iter().flat_map(|s| s.points.iter());
    let x0 = all().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x0 = if x0.is_finite() { x0.min(0.0) } else { 0.0 };
    let x1 = all().map(|p| p.0).fold(x0 + 1.0, f64::max);
    let (y_max, y_step) = y_axis(all().map(|p| p.1).fold(0.0, f64::max), c.y);
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |y: f64| TOP + (1.0 - y / y_max) * (H - TOP - BOTTOM);

    let mut out = String::new();
    let _ = write!(
        out,
        r#"<figure class="chart"><figcaption>{}</figcaption><div class="legend">"#,
        crate::escape::esc(c.title)
    );
    for (i, s) in c.series.iter().enumerate() {
        let _ = write!(
            out,
            r#"<span class="key s{}"></span>{} "#,
            i % 6,
            crate::escape::esc(&s.name)
        );
    }
    let _ = write!(
        out,
        r#"</div><svg data-chart="{}" viewBox="0 0 {W} {H}" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{}">"#,
        c.id,
        crate::escape::esc(c.title)
    );
    // Horizontal grid with y labels, at whole multiples of the step.
    let steps = (y_max / y_step).round() as u32;
    for k in 0..=steps {
        let v = y_step * k as f64;
        let y = py(v);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/><text class="ylabel" x="{:.1}" y="{:.1}">{}</text>"#,
            W - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            tick(v, c.y)
        );
    }
    let ticks = c.x_ticks.clone().unwrap_or_else(|| time_ticks(x0, x1));
    for (x, label) in ticks.iter().filter(|(x, _)| *x >= x0 && *x <= x1) {
        let _ = write!(
            out,
            r#"<text class="xlabel" x="{:.1}" y="{:.1}"{}>{}</text>"#,
            px(*x),
            H - 10.0,
            anchor(px(*x), label),
            crate::escape::esc(label)
        );
    }
    for (i, s) in c.series.iter().enumerate() {
        let mut d = String::new();
        for (k, (x, y)) in s.points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if k == 0 { "M" } else { " L" },
                px(*x),
                py(*y)
            );
        }
        // A lone point is drawn as a short dash, so a one-second run still shows something.
        if s.points.len() == 1 {
            d.push_str(" h 4");
        }
        let _ = write!(
            out,
            r#"<path class="line s{}" data-series="{}" data-points="{}" d="{d}"/>"#,
            i % 6,
            crate::escape::esc(&s.name),
            s.points.len()
        );
    }
    out.push_str("</svg></figure>\n");
    out
}

/// A round y axis for values up to `v`: its top and the step between its (at most five)
/// labels, 1, 2, 2.5 or 5 times a power of ten. A count axis steps by whole numbers (1, 2, 5,
/// 10 …): a chart of one VU reads `0 1`, not `0 0.25 0.5 0.75 1`.
fn y_axis(v: f64, axis: Axis) -> (f64, f64) {
    let v = if v > 0.0 && v.is_finite() { v } else { 0.0 };
    if axis == Axis::Bytes {
        // Round in the unit the labels use (KiB, MiB …): `0 50 100 150 200 KiB`.
        let unit = [1u64 << 30, 1 << 20, 1 << 10, 1]
            .into_iter()
            .find(|u| v >= *u as f64)
            .unwrap_or(1) as f64;
        let (top, step) = y_axis(v / unit, Axis::Count);
        return (top * unit, step * unit);
    }
    let integer = axis == Axis::Count;
    // Nothing to draw: an axis from 0 to 1 all the same.
    let v = if v == 0.0 { 1.0 } else { v };
    let raw = (v / 4.0).max(if integer { 1.0 } else { 0.25 });
    let mag = 10f64.powf(raw.log10().floor());
    let mults: &[f64] = if integer && mag < 10.0 {
        &[1.0, 2.0, 5.0, 10.0]
    } else {
        &[1.0, 2.0, 2.5, 5.0, 10.0]
    };
    let step = mults
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let top = (v / step).ceil().max(1.0) * step;
    (top, step)
}

/// An x label's anchor: the middle, except at the edges, where a label centred on its tick
/// would be cut off (`99.999%` at the right end of the latency distribution).
fn anchor(x: f64, label: &str) -> &'static str {
    // 13 px text is about 7.5 units a character wide.
    let half = label.chars().count() as f64 * 3.75;
    if x + half > W {
        r#" text-anchor="end""#
    } else if x - half < 0.0 {
        r#" text-anchor="start""#
    } else {
        ""
    }
}

/// About six labels at round numbers of seconds.
fn time_ticks(x0: f64, x1: f64) -> Vec<(f64, String)> {
    let span = (x1 - x0).max(1.0);
    // Up to days: a 72 h run is labelled every 12 h, not every 2 h in a smear of 36 labels.
    const HOUR: f64 = 3600.0;
    let step = [
        1.0,
        2.0,
        5.0,
        10.0,
        15.0,
        30.0,
        60.0,
        120.0,
        300.0,
        600.0,
        1800.0,
        HOUR,
        2.0 * HOUR,
        3.0 * HOUR,
        6.0 * HOUR,
        12.0 * HOUR,
        24.0 * HOUR,
    ]
    .into_iter()
    .find(|s| span / s <= 6.0)
    .unwrap_or_else(|| (span / 6.0 / (24.0 * HOUR)).ceil() * 24.0 * HOUR);
    let mut out = Vec::new();
    let mut x = (x0 / step).ceil() * step;
    while x <= x1 {
        let label = if step >= HOUR {
            format!("{}h", num(x / HOUR))
        } else if step >= 60.0 {
            format!("{}m", num(x / 60.0))
        } else {
            format!("{}s", num(x))
        };
        out.push((x, label));
        x += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round_and_paths_are_drawn() {
        assert_eq!(y_axis(0.0, Axis::Count), (1.0, 1.0));
        assert_eq!(y_axis(1.0, Axis::Count), (1.0, 1.0));
        assert_eq!(y_axis(3.0, Axis::Count), (3.0, 1.0));
        assert_eq!(y_axis(7.0, Axis::Count), (8.0, 2.0));
        assert_eq!(y_axis(180.0, Axis::Count), (200.0, 50.0));
        assert_eq!(y_axis(0.5, Axis::Count), (1.0, 1.0));
        assert_eq!(y_axis(7.35, Axis::Ms), (8.0, 2.0));
        assert_eq!(y_axis(2.2, Axis::Ms), (3.0, 1.0));
        assert_eq!(y_axis(0.0, Axis::Ms), (1.0, 0.25));
        assert_eq!(
            y_axis(195.0 * 1024.0, Axis::Bytes),
            (200.0 * 1024.0, 50.0 * 1024.0)
        );
        let svg = line_chart(&Chart {
            id: "rps",
            title: "Requests <per> second",
            y: Axis::Count,
            series: vec![
                Series {
                    name: "requests".into(),
                    points: vec![(0.0, 10.0), (1.0, 20.0), (2.0, 15.0)],
                },
                Series {
                    name: "one".into(),
                    points: vec![(1.0, 5.0)],
                },
            ],
            x_ticks: None,
        });
        assert!(
            svg.contains(r#"data-chart="rps" viewBox="0 0 480 250""#),
            "{svg}"
        );
        assert!(svg.contains("Requests &lt;per&gt; second"));
        assert!(
            svg.contains(r#"data-series="requests" data-points="3" d="M64.0 "#),
            "{svg}"
        );
        assert!(svg.contains(" h 4\""));
        assert!(svg.contains(">20</text>"), "{svg}");
        assert!(
            !svg.contains(".5</text>"),
            "whole numbers on a count axis: {svg}"
        );
        assert!(svg.contains(">2s</text>"), "{svg}");
        let days = time_ticks(0.0, 72.0 * 3600.0);
        assert_eq!(days.len(), 7, "{days:?}");
        assert_eq!(days[1].1, "12h");
    }
}
