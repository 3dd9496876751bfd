//! The tables of the HTML report beyond the step table: where the time went (connect, TLS,
//! time to first byte, transfer: one small table per step, Gatling-style), the checks
//! (passed and failed per rule), the latency bands and, for open-model runs, the service
//! time. Cells carry their raw figure in `data-v` (ms, counts), so that scripts and tests
//! read the numbers the result has, whatever the formatting.

use std::fmt::Write as _;

use crate::breakdown::{bands, BAND_LIMITS_MS};
use crate::escape::esc;
use crate::histogram::decode;
use crate::result::{Latency, Phase, RunResult, StepStats};
use crate::units::{ms, percent, share, tick, Axis};

/// A `<td>` with a latency in ms: formatted, and raw in `data-v`.
fn ms_cell(o: &mut String, v: f64) {
    let _ = write!(o, "<td data-v=\"{v}\">{}</td>", ms(v));
}

/// One table per row (steps, then token steps) that has timings: connect and TLS per opened
/// connection, time to first byte and transfer per answered request.
pub(crate) fn timings(o: &mut String, r: &RunResult) {
    let rows: Vec<&StepStats> = r
        .steps
        .iter()
        .chain(&r.tokens)
        .filter(|s| !s.timings.is_empty())
        .collect();
    if rows.is_empty() {
        return;
    }
    o.push_str(
        "<h2>Where the time went</h2><p class=\"mute\">Connect and TLS handshake are timed per \
         new connection; time to first byte (request handed to the connection → response head) \
         and transfer (head → last byte) per answered request. A VU keeps its connections: a \
         token step that logs in usually opens the one the steps after it reuse.</p>\
         <div class=\"timings\" id=\"timings\">\n",
    );
    for s in rows {
        let t = &s.timings;
        let _ = write!(
            o,
            "<figure class=\"chart\"><figcaption>{}{}</figcaption><p class=\"mute\">\
             <span data-k=\"opened\" data-v=\"{}\">{} opened</span> · <span data-k=\"reused\" \
             data-v=\"{}\">{} of answers on a reused connection</span></p>\
             <table class=\"timing\" data-step=\"{}\"><tr><th>phase</th><th>count</th>\
             <th>p50</th><th>p95</th><th>p99</th></tr>",
            esc(&s.name),
            if s.kind == "token" { " (token)" } else { "" },
            t.opened,
            t.opened,
            t.reused_share(),
            share(t.reused_share()),
            esc(&s.name),
        );
        let phases: [(&str, &str, &Phase); 4] = [
            ("connect", "connect", &t.connect),
            ("tls", "TLS", &t.tls),
            ("ttfb", "first byte", &t.ttfb),
            ("transfer", "transfer", &t.transfer),
        ];
        for (key, label, p) in phases {
            if key == "tls" && p.is_empty() {
                continue;
            }
            let _ = write!(
                o,
                "<tr data-phase=\"{key}\"><td>{label}</td><td data-v=\"{}\">{}</td>",
                p.count, p.count
            );
            let l = &p.latency;
            for v in [l.p50, l.p95, l.p99] {
                if p.is_empty() {
                    // Nothing timed (every connection was opened by another row): no figure.
                    o.push_str("<td class=\"mute\">—</td>");
                } else {
                    ms_cell(o, v);
                }
            }
            o.push_str("</tr>");
        }
        o.push_str("</table></figure>\n");
    }
    o.push_str("</div>\n");
}

/// A mixed run's flows: iterations and their share, what drove each, what a funnel cut short.
/// Their requests follow in a step table of their own.
pub(crate) fn flows(o: &mut String, r: &RunResult) {
    let all: u64 = r.flows.iter().map(|f| f.iterations).sum();
    o.push_str(
        "<h2>Flows</h2><p class=\"mute\">Each flow's iterations and their share of all; a \
         weight shares the scenario's load, a flow with its own load runs beside it. A funnel's \
         iterations that stopped before the last step, as its step rates asked, are cut short.</p>\
         <div class=\"scroll\"><table id=\"flows\"><tr><th>flow</th><th>iterations</th>\
         <th>share</th><th>driven by</th><th>cut short</th><th class=\"wide\">steps</th></tr>",
    );
    for f in &r.flows {
        let driven = match f.weight {
            Some(w) => format!("weight {w} of {}", f.executor),
            None => format!("own {}", f.executor),
        };
        let _ = write!(
            o,
            "<tr data-flow=\"{}\"><td>{}</td><td data-k=\"iterations\" data-v=\"{}\">{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"wide\">{}</td></tr>",
            esc(&f.name),
            esc(&f.name),
            f.iterations,
            f.iterations,
            percent(f.iterations, all),
            esc(&driven),
            f.cut_short,
            esc(&f.steps.join(" → ")),
        );
    }
    o.push_str("</table></div>\n");
}

/// Passed and failed per rule of each step's check.
pub(crate) fn checks(o: &mut String, r: &RunResult) {
    if r.steps.iter().all(|s| s.checks.is_empty()) {
        return;
    }
    o.push_str(
        "<h2>Checks</h2><p class=\"mute\">Every rule of a step's check judged on every answer \
         (a step without a check has one rule: status below 400).</p><div class=\"scroll\">\
         <table id=\"checks\"><tr><th>step</th><th class=\"rule\">check</th><th>passed</th><th>failed</th>\
         <th>passed %</th></tr>",
    );
    for s in &r.steps {
        for c in &s.checks {
            let _ = write!(
                o,
                "<tr data-step=\"{}\" data-check=\"{}\"><td>{}</td><td class=\"rule\">{}</td>\
                 <td data-k=\"passed\" data-v=\"{}\">{}</td><td data-k=\"failed\" data-v=\"{}\"{}>{}</td><td>{}</td></tr>",
                esc(&s.name),
                esc(&c.check),
                esc(&s.name),
                esc(&c.check),
                c.passed,
                c.passed,
                c.failed,
                if c.failed > 0 { " class=\"bad\"" } else { "" },
                c.failed,
                percent(c.passed, c.passed + c.failed),
            );
        }
    }
    o.push_str("</table></div>\n");
}

/// Requests by latency band per step and in total, from each row's histogram, with the
/// failed ones next to them.
pub(crate) fn latency_bands(o: &mut String, r: &RunResult) {
    let labels = band_labels();
    o.push_str(
        "<h2>Latency bands</h2><p class=\"mute\">Requests by latency, from each step's \
         histogram (which holds every timed request, failed ones included); failed says how \
         many of the step's requests failed.</p><div class=\"scroll\"><table id=\"bands\">\
         <tr><th>step</th>",
    );
    for l in &labels {
        let _ = write!(o, "<th>{l}</th>");
    }
    o.push_str("<th>failed</th><th class=\"wide\"></th></tr>");
    for (class, s) in r
        .steps
        .iter()
        .map(|s| ("step", s))
        .chain([("total", &r.total)])
    {
        let Some(h) = decode(&s.histogram) else {
            continue;
        };
        let counts = bands(&h);
        let all: u64 = counts.iter().sum::<u64>().max(1);
        let _ = write!(
            o,
            "<tr class=\"{class}\" data-step=\"{}\"><td>{}</td>",
            esc(&s.name),
            esc(&s.name)
        );
        for (i, n) in counts.iter().enumerate() {
            let _ = write!(o, "<td data-k=\"band{i}\" data-v=\"{n}\">{n}</td>");
        }
        let _ = write!(
            o,
            "<td data-k=\"failed\" data-v=\"{}\">{}</td><td class=\"wide\" style=\"width:30%\">",
            s.errors, s.errors
        );
        for (i, n) in counts.iter().enumerate() {
            let _ = write!(
                o,
                "<span class=\"band b{i}\" style=\"width:{:.1}%\"></span>",
                *n as f64 * 100.0 / all as f64
            );
        }
        o.push_str("</td></tr>");
    }
    o.push_str("</table></div>\n");
}

/// `<100ms`, `100ms–500ms`, `500ms–1s`, `≥1s`: the bands of [`BAND_LIMITS_MS`].
fn band_labels() -> Vec<String> {
    let t = |v: u64| tick(v as f64, Axis::Ms);
    let [a, b, c] = BAND_LIMITS_MS;
    vec![
        format!("&lt;{}", t(a)),
        format!("{}–{}", t(a), t(b)),
        format!("{}–{}", t(b), t(c)),
        format!("≥{}", t(c)),
    ]
}

/// Whether latency counts from the intended start: the rate executors (an open model)
/// schedule iterations, so latency and service time differ when the system falls behind.
pub(crate) fn open_model(r: &RunResult) -> bool {
    r.settings.executor.ends_with("-rate")
}

/// Service time (from the real send) next to latency (from the intended start) per step,
/// for open-model runs, where the two differ when VUs or the server fall behind.
pub(crate) fn service(o: &mut String, r: &RunResult) {
    if !open_model(r) {
        return;
    }
    o.push_str(
        "<h2>Service time</h2><p class=\"mute\">An open-model run (a rate executor) counts \
         latency from when an iteration was scheduled, so waiting for a free VU is not hidden \
         (no coordinated omission); service time counts from the moment the request was \
         really sent: what the server took.</p><div class=\"scroll\"><table id=\"service\">\
         <tr><th>step</th><th>latency p50</th><th>service p50</th><th>latency p99</th>\
         <th>service p99</th><th class=\"wide\">service max</th></tr>",
    );
    for (class, s) in r
        .steps
        .iter()
        .map(|s| ("step", s))
        .chain([("total", &r.total)])
    {
        let (l, v): (&Latency, &Latency) = (&s.latency, &s.service);
        let _ = write!(
            o,
            "<tr class=\"{class}\" data-step=\"{}\"><td>{}</td>",
            esc(&s.name),
            esc(&s.name)
        );
        for x in [l.p50, v.p50, l.p99, v.p99] {
            ms_cell(o, x);
        }
        let _ = write!(
            o,
            "<td class=\"wide\" data-v=\"{}\">{}</td></tr>",
            v.max,
            ms(v.max)
        );
    }
    o.push_str("</table></div>\n");
}
