//! The HTML report: one self-contained page for a `result/v1`.
//!
//! Everything is inline (CSS in a `<style>`, charts as SVG, no script), so the file opens from
//! a CI artifact, a mail attachment or a phone without a network. The layout is one column
//! on a phone and a grid on a desktop; wide tables scroll sideways on their own instead of
//! widening the page, and the step tables drop their secondary columns on a narrow screen
//! (class `wide`), so that p99 stays in view on a phone. The charts are in [`charts`], the
//! timing, checks, bands and service-time tables in [`sections`]; every figure is formatted
//! by [`crate::units`].

pub(crate) mod charts;
mod sections;

use std::fmt::Write as _;

use crate::result::{ErrorCounts, RunResult, StepStats};
use crate::units::{bytes, duration, ms, num, percent, rate};
use loadtape_scenario::{Metric, Threshold};

pub(crate) const CSS: &str = r#"
:root{--bg:#fff;--fg:#1d2430;--mute:#5b6575;--line:#e3e7ee;--card:#f6f8fb;--ok:#1a7f37;--bad:#c62828;
--c0:#2563eb;--c1:#dc2626;--c2:#16a34a;--c3:#d97706;--c4:#7c3aed;--c5:#0891b2}
@media (prefers-color-scheme:dark){:root{--bg:#12161c;--fg:#e6e9ef;--mute:#9aa4b2;--line:#2a313b;--card:#1a2028}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1180px;margin:0 auto;padding:16px}
h1{font-size:1.4em;margin:.2em 0;word-break:break-word}h2{font-size:1.1em;margin:1.6em 0 .6em}
.mute{color:var(--mute)}
.badge{display:inline-block;padding:.1em .6em;border-radius:1em;font-weight:600;font-size:.85em;color:#fff}
.pass{background:var(--ok)}.fail{background:var(--bad)}.partial{background:var(--c3)}
.nodata{color:var(--bad);font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:8px}
.card{background:var(--card);border-radius:8px;padding:8px 12px}
.card b{display:block;font-size:1.3em}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
tr.total td{font-weight:600}
dl.settings{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}
dl.settings dt{color:var(--mute)}dl.settings dd{margin:0;word-break:break-all}
.note{color:#a33}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}
figure.chart{margin:0;background:var(--card);border-radius:8px;padding:8px}
figcaption{font-weight:600}
.legend{font-size:.85em;color:var(--mute)}
.key{display:inline-block;width:12px;height:3px;margin:0 4px 3px 8px;vertical-align:middle}
svg{display:block;width:100%;height:auto}
svg .grid{stroke:var(--line);stroke-width:1}
svg text{fill:var(--mute);font-size:13px}
svg .ylabel{text-anchor:end}svg .xlabel{text-anchor:middle}
svg .line{fill:none;stroke-width:2.5;stroke-linejoin:round;stroke-linecap:round}
.s0{stroke:var(--c0);background:var(--c0)}.s1{stroke:var(--c1);background:var(--c1)}
.s2{stroke:var(--c2);background:var(--c2)}.s3{stroke:var(--c3);background:var(--c3)}
.s4{stroke:var(--c4);background:var(--c4)}.s5{stroke:var(--c5);background:var(--c5)}
.bar{display:inline-block;height:8px;background:var(--c0);border-radius:4px;vertical-align:middle}
td:first-child,td.rule{white-space:normal;word-break:break-word}
th.rule,td.rule{text-align:left}
td.bad{color:var(--bad);font-weight:600}
.timings{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:12px}
.timings p{margin:.2em 0 .4em;font-size:.85em}
.band{display:inline-block;height:8px;vertical-align:middle}
.b0{background:var(--c2)}.b1{background:var(--c5)}.b2{background:var(--c3)}.b3{background:var(--c1)}
@media (max-width:600px){main{padding:10px}body{font-size:14px}th,td{padding:3px 6px}.wide{display:none}}
"#;

pub use crate::escape::esc;

/// The whole page.
pub fn render(r: &RunResult) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let title = format!("loadtape — {}", r.scenario);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{CSS}</style></head><body><main>\n",
        esc(&title)
    );
    header(&mut o, r);
    settings(&mut o, r);
    thresholds(&mut o, r);
    o.push_str("<h2>Steps</h2>\n");
    step_table(&mut o, "steps", &r.steps, Some(&r.total));
    if !r.flows.is_empty() {
        sections::flows(&mut o, r);
        let totals: Vec<_> = r.flows.iter().map(|f| f.total.clone()).collect();
        step_table(&mut o, "flows", &totals, None);
    }
    sections::service(&mut o, r);
    if !r.tokens.is_empty() {
        o.push_str("<h2>Token steps</h2><p class=\"mute\">Token requests (logins, refreshes) are measured apart from the business steps and are not in the total.</p>\n");
        step_table(&mut o, "tokens", &r.tokens, None);
    }
    charts::charts(&mut o, r);
    sections::timings(&mut o, r);
    sections::checks(&mut o, r);
    sections::latency_bands(&mut o, r);
    breakdowns(&mut o, r);
    o.push_str(&crate::diagnostics::html(&r.diagnostics));
    let _ = writeln!(
        o,
        "<p class=\"mute\">Written by loadtape {} from a result of loadtape {}.</p></main></body></html>",
        env!("CARGO_PKG_VERSION"),
        esc(&r.version)
    );
    o
}

/// The verdict badges: a partial run (stopped early, or a checkpoint of one still going)
/// never says PASSED — its thresholds were judged on part of the load — only PARTIAL, with
/// FAILED before it when something already failed.
fn verdict(r: &RunResult) -> &'static str {
    match (r.passed, r.partial) {
        (true, false) => r#"<span class="badge pass" id="verdict">PASSED</span>"#,
        (true, true) => r#"<span class="badge partial" id="verdict">PARTIAL</span>"#,
        (false, false) => r#"<span class="badge fail" id="verdict">FAILED</span>"#,
        (false, true) => {
            r#"<span class="badge fail" id="verdict">FAILED</span> <span class="badge partial">PARTIAL</span>"#
        }
    }
}

fn header(o: &mut String, r: &RunResult) {
    let _ = writeln!(
        o,
        "<h1>{}{} {}</h1><p class=\"mute\">{} → {} · {} · ended: {}</p>",
        esc(&r.scenario),
        r.label
            .as_deref()
            .map(|l| format!(" <span class=\"mute\" id=\"label\">({})</span>", esc(l)))
            .unwrap_or_default(),
        verdict(r),
        esc(&r.started),
        esc(&r.ended),
        duration(r.duration_s),
        esc(&r.end_reason)
    );
    if r.partial {
        o.push_str(
            "<p class=\"note\" id=\"partial\">Partial result: the run did not reach its end, so \
             its thresholds are judged on the part that ran.</p>\n",
        );
    }
    if let Some(detail) = &r.failure {
        let _ = writeln!(
            o,
            "<p id=\"failure\"><span class=\"badge fail\">RUN FAILED</span> {}</p>",
            esc(detail)
        );
    }
    let t = &r.total;
    let mut cards = vec![
        ("requests", t.requests.to_string()),
        ("requests/s", rate(t.rps)),
        (
            "errors",
            format!("{} ({})", t.errors, percent(t.errors, t.requests)),
        ),
        ("p50", ms(t.latency.p50)),
        ("p99", ms(t.latency.p99)),
        ("max", ms(t.latency.max)),
        ("iterations", r.iterations.to_string()),
        ("dropped", r.dropped_iterations.to_string()),
    ];
    if sections::open_model(r) {
        cards.insert(5, ("service p99", ms(t.service.p99)));
    }
    o.push_str("<div class=\"cards\">");
    for (k, v) in cards {
        let _ = write!(
            o,
            "<div class=\"card\"><span class=\"mute\">{k}</span><b>{v}</b></div>"
        );
    }
    o.push_str("</div>\n");
}

fn settings(o: &mut String, r: &RunResult) {
    let s = &r.settings;
    let mut rows: Vec<(&str, String)> = vec![
        (
            "scenario file",
            r.scenario_file.clone().unwrap_or_else(|| "—".into()),
        ),
        ("executor", s.executor.clone()),
        ("VUs (max)", s.max_vus.to_string()),
        ("schedule", duration(s.duration_s)),
    ];
    if let Some(rate) = s.rate {
        rows.push(("rate", format!("{}/s", num(rate))));
    }
    if let Some(n) = s.iterations {
        rows.push(("iterations per VU", n.to_string()));
    }
    for (from, to) in &s.targets {
        rows.push(("target", format!("{from} → {to}")));
    }
    if s.insecure {
        rows.push(("certificates", "not checked (--insecure)".into()));
    }
    rows.push(("workers", s.workers.to_string()));
    if let Some(seg) = &s.segment {
        rows.push(("segment", seg.clone()));
    }
    o.push_str("<h2>Settings</h2><dl class=\"settings\">");
    for (k, v) in rows {
        let _ = write!(o, "<dt>{k}</dt><dd>{}</dd>", esc(&v));
    }
    o.push_str("</dl>\n");
}

fn thresholds(o: &mut String, r: &RunResult) {
    o.push_str("<h2>Thresholds</h2>");
    if r.thresholds.is_empty() {
        o.push_str("<p class=\"mute\">None set.</p>\n");
        return;
    }
    o.push_str("<div class=\"scroll\"><table id=\"thresholds\"><tr><th>threshold</th><th>observed</th><th></th></tr>");
    for t in &r.thresholds {
        let metric = Threshold::parse(&t.threshold).map(|t| t.metric());
        let observed = match (metric, t.observed) {
            (_, None) => "<span class=\"nodata\">no data</span>".to_string(),
            (Ok(Metric::Latency(_)), Some(v)) => ms(v),
            (Ok(Metric::ErrorRate), Some(v)) => crate::units::share(v),
            (Ok(Metric::Rps), Some(v)) => format!("{}/s", rate(v)),
            (_, Some(v)) => num(v),
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td><span class=\"badge {}\">{}</span></td></tr>",
            esc(&t.threshold),
            observed,
            if t.passed { "pass" } else { "fail" },
            if t.passed { "PASS" } else { "FAIL" }
        );
    }
    o.push_str("</table></div>\n");
}

fn step_table(o: &mut String, id: &str, rows: &[StepStats], total: Option<&StepStats>) {
    // On a phone (class `wide` hidden) the row is step, requests, errors, p50, p99.
    let _ = write!(
        o,
        "<div class=\"scroll\"><table id=\"{id}\"><tr><th>step</th><th>requests</th><th>errors</th><th class=\"wide\">retries</th>\
<th>p50</th><th class=\"wide\">p90</th><th class=\"wide\">p95</th><th data-k=\"p99\">p99</th><th class=\"wide\">p99.9</th><th class=\"wide\">max</th><th class=\"wide\">req/s</th></tr>"
    );
    let row = |o: &mut String, class: &str, s: &StepStats| {
        let l = &s.latency;
        let _ = write!(
            o,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"wide\">{}</td><td>{}</td><td class=\"wide\">{}</td><td class=\"wide\">{}</td><td>{}</td><td class=\"wide\">{}</td><td class=\"wide\">{}</td><td class=\"wide\">{}</td></tr>",
            esc(&s.name),
            s.requests,
            s.errors,
            s.retries,
            ms(l.p50),
            ms(l.p90),
            ms(l.p95),
            ms(l.p99),
            ms(l.p999),
            ms(l.max),
            rate(s.rps)
        );
    };
    for s in rows {
        row(o, "step", s);
    }
    if let Some(t) = total {
        row(o, "total", t);
    }
    o.push_str("</table></div>\n");
}

fn breakdowns(o: &mut String, r: &RunResult) {
    let mut codes: Vec<&String> = r.total.statuses.keys().collect();
    for t in &r.tokens {
        codes.extend(t.statuses.keys());
    }
    codes.sort();
    codes.dedup();
    let token_count =
        |code: &str| -> u64 { r.tokens.iter().filter_map(|t| t.statuses.get(code)).sum() };
    let most = codes
        .iter()
        .map(|c| r.total.statuses.get(*c).copied().unwrap_or(0))
        .max()
        .unwrap_or(0)
        .max(1);
    o.push_str("<h2>Responses by status</h2><div class=\"scroll\"><table id=\"statuses\"><tr><th>status</th><th>steps</th><th></th><th>token steps</th></tr>");
    for c in &codes {
        let n = r.total.statuses.get(*c).copied().unwrap_or(0);
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{n}</td><td style=\"width:40%\"><span class=\"bar\" style=\"width:{:.1}%\"></span></td><td>{}</td></tr>",
            esc(c),
            n as f64 * 100.0 / most as f64,
            token_count(c)
        );
    }
    o.push_str("</table></div>\n");

    let mut tok = ErrorCounts::default();
    for t in &r.tokens {
        tok.add(&t.errors_by_kind);
    }
    let e = &r.total.errors_by_kind;
    let kinds = e
        .kinds()
        .into_iter()
        .zip(tok.kinds())
        .map(|((k, a), (_, b))| (k, a, b));
    o.push_str("<h2>Errors by kind</h2><div class=\"scroll\"><table id=\"errors\"><tr><th>kind</th><th>steps</th><th>token steps</th></tr>");
    for (k, a, b) in kinds {
        let _ = write!(o, "<tr><td>{k}</td><td>{a}</td><td>{b}</td></tr>");
    }
    let retries: u64 = r.steps.iter().map(|s| s.retries).sum();
    let _ = writeln!(
        o,
        "</table></div><p class=\"mute\">Requests sent again after a token refresh (refresh_on): {retries}. Iterations restarted after a per-VU token was refreshed mid-iteration: {}. Sent {}, received {}.</p>",
        r.total.restarted,
        bytes(r.total.bytes_sent),
        bytes(r.total.bytes_received)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::result;

    #[test]
    fn the_page_is_self_contained_and_has_every_section() {
        let mut r = result("2026-11-21T10:00:00.000Z", &[1000, 2000, 3000, 50_000]);
        r.scenario = "<shop & co>".into();
        let page = render(&r);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("&lt;shop &amp; co&gt;"));
        assert!(!page.contains("<shop"));
        assert!(
            !page.contains("http://") && !page.contains("https://") && !page.contains("<script")
        );
        assert!(page.contains("name=\"viewport\""));
        for id in [
            "rps",
            "latency",
            "step-p99",
            "vus",
            "errors",
            "bytes",
            "tokens",
            "distribution",
        ] {
            assert!(page.contains(&format!("data-chart=\"{id}\"")), "{id}");
        }
        for id in [
            "steps",
            "tokens",
            "thresholds",
            "statuses",
            "errors",
            "checks",
            "bands",
        ] {
            assert!(page.contains(&format!("<table id=\"{id}\"")), "{id}");
        }
        assert!(page.contains("<td>goods</td><td>4</td>"));
        assert!(page.contains("id=\"verdict\">PASSED"));
        assert!(page.contains("<table class=\"timing\" data-step=\"goods\">"));
        assert!(page.contains("<tr data-phase=\"ttfb\">"));
        assert!(
            page.contains("data-check=\"status == 200\""),
            "the checks table names each rule"
        );
        assert!(
            !page.contains("id=\"service\""),
            "a closed model has no service table"
        );
    }

    #[test]
    fn a_partial_run_never_says_passed_and_an_open_model_shows_service_time() {
        let mut r = result("2026-11-21T10:00:00.000Z", &[1000, 2000, 3000, 50_000]);
        r.partial = true;
        r.settings.executor = "constant-rate".into();
        let page = render(&r);
        assert!(page.contains("id=\"verdict\">PARTIAL"), "{page}");
        assert!(!page.contains("PASSED"));
        r.passed = false;
        let page = render(&r);
        assert!(page.contains("id=\"verdict\">FAILED</span> <span class=\"badge partial\">PARTIAL"));
        assert!(page.contains("<table id=\"service\">"));
        assert!(page.contains("<span class=\"mute\">service p99</span>"));
    }
}
