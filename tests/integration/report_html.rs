//! The HTML report of real runs, read in headless Chromium: the timing breakdown, the checks,
//! the bytes chart and the latency bands carry the figures of the result JSON; at a phone's
//! width (390 px) the steps' p99 is on screen without scrolling sideways; count axes have
//! whole-number ticks; a partial run says PARTIAL, never PASSED.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::pipeline::tls_testbed;
use crate::run::{fixture, n, result, run_cmd, show};
use crate::util::{finish, loadtape};

/// The DOM Chromium builds for `page`.
pub fn dom(page: &Path, dir: &Path) -> String {
    let out = crate::util::chromium(&dir.join("chromium"))
        .args([
            "--window-size=1200,900",
            "--allow-file-access-from-files",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is installed (.ci/run installs it)");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("</html>"),
        "no DOM from chromium:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

/// `page` laid out 390 px wide, a phone's width: in an iframe of that width (a headless
/// window is never narrower than 500 px), whose layout a script of the wrapping page
/// measures once loaded (the report itself has no script) and writes into the DOM: the
/// viewport's width, the right edge of the element `selector` (as `p99`), the page's width.
pub fn phone(page: &Path, dir: &Path, selector: &str) -> Value {
    let wrapper = dir.join("phone.html");
    let html = format!(
        "<!DOCTYPE html><html><body style=\"margin:0\"><iframe id=\"f\" src=\"file://{}\" \
         style=\"width:390px;height:844px;border:0\" onload=\"const d=this.contentDocument;\
         const th=d.querySelector('{selector}').getBoundingClientRect();\
         document.body.setAttribute('data-fit',JSON.stringify({{v:d.documentElement.clientWidth,\
         p99:th.right,page:d.documentElement.scrollWidth}}))\"></iframe></body></html>",
        page.display()
    );
    std::fs::write(&wrapper, html).unwrap();
    let d = dom(&wrapper, dir);
    let fit = attr_after(&d, "<body", "data-fit").replace("&quot;", "\"");
    serde_json::from_str(&fit).unwrap_or_else(|e| panic!("{e}: {d}"))
}

/// The value of attribute `name` in the first tag at or after `marker`.
fn attr_after<'a>(dom: &'a str, marker: &str, name: &str) -> &'a str {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the DOM"));
    let tag = &dom[at..at + dom[at..].find('>').unwrap()];
    let key = format!("{name}=\"");
    let v = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + key.len();
    &tag[v..v + tag[v..].find('"').unwrap()]
}

/// The part of `dom` from `start` to the next `end`.
fn section<'a>(dom: &'a str, start: &str, end: &str) -> &'a str {
    let at = dom
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in the DOM"));
    &dom[at..at + dom[at..].find(end).unwrap()]
}

/// The raw figure (`data-v`) of the cell `key` in the part of the DOM at `scope`.
fn figure(scope: &str, key: &str) -> f64 {
    attr_after(scope, &format!("data-k=\"{key}\""), "data-v")
        .parse()
        .unwrap()
}

/// The `data-v` figures of a row's cells, in order.
fn cells(row: &str) -> Vec<f64> {
    row.split("data-v=\"")
        .skip(1)
        .map(|c| c[..c.find('"').unwrap()].parse().unwrap())
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn the_html_report_carries_the_results_timings_checks_bytes_and_bands_and_fits_a_phone() {
    let dir = tempfile::tempdir().unwrap();
    let (_tb, base) = tls_testbed(dir.path(), "1h");
    let ca = dir.path().join("certs/testbed-ca.pem");
    let (out, page) = (dir.path().join("r.json"), dir.path().join("r.html"));
    let args = [
        "--vus",
        "3",
        "--duration",
        "3s",
        "--ca",
        ca.to_str().unwrap(),
    ];
    let mut args = args.to_vec();
    args.extend(["--html", page.to_str().unwrap()]);
    let child = run_cmd(&fixture("shop.scenario.yaml"), &base, &out, &args)
        .spawn()
        .unwrap();
    let o = finish(child, Duration::from_secs(40));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);

    // At 390 px: the p99 header of the steps table ends inside the viewport, and the page
    // does not scroll sideways.
    let fit = phone(&page, dir.path(), "#steps th[data-k=p99]");
    // 390 px, less a scrollbar where the browser draws one (phones overlay theirs).
    assert!((370.0..=390.0).contains(&f(&fit["v"])), "{fit}");
    assert!(f(&fit["p99"]) <= f(&fit["v"]), "p99 off screen: {fit}");
    assert!(
        f(&fit["page"]) <= f(&fit["v"]),
        "the page scrolls sideways: {fit}"
    );

    let d = dom(&page, dir.path());
    assert!(d.contains("id=\"verdict\">PASSED"));
    // Where the time went: every step's and token step's phases as in the result.
    let rows = r["steps"].as_array().unwrap().iter();
    let mut opened = 0;
    for s in rows.chain(r["tokens"].as_array().unwrap()) {
        let t = &s["timings"];
        let name = s["name"].as_str().unwrap();
        let table = section(&d, &format!("data-step=\"{name}\">"), "</table>");
        // Every answered request is timed: all the succeeded ones, no more than were sent.
        let timed = n(&t["opened"]) + n(&t["reused"]);
        assert!(
            timed >= n(&s["succeeded"]) && timed <= n(&s["requests"]),
            "{name}"
        );
        opened += n(&t["opened"]);
        for phase in ["connect", "tls", "ttfb", "transfer"] {
            let p = &t[phase];
            if p.is_null() || n(&p["count"]) == 0 {
                continue;
            }
            let row = section(table, &format!("data-phase=\"{phase}\""), "</tr>");
            let l = &p["latency"];
            let want = [
                n(&p["count"]) as f64,
                f(&l["p50"]),
                f(&l["p95"]),
                f(&l["p99"]),
            ];
            assert_eq!(cells(row), want, "{name} {phase}");
        }
        let card = section(&d, &format!("<figcaption>{name}"), "</table>");
        let share = n(&t["reused"]) as f64 / timed as f64;
        assert!((figure(card, "reused") - share).abs() < 1e-9, "{name}");
    }
    // Connections are opened (over TLS, timed) by someone: here the token steps.
    assert!(opened >= 3, "{opened}");
    let tls: u64 = r["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| n(&s["timings"]["tls"]["count"]))
        .sum();
    assert_eq!(tls, opened - n(&r["total"]["timings"]["opened"]));

    // Checks: passed and failed per rule, every answer judged.
    let checks = section(&d, "<table id=\"checks\"", "</table>");
    for s in r["steps"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let list = s["checks"].as_array().unwrap();
        assert!(!list.is_empty(), "{name}");
        for c in list {
            let rule = c["check"].as_str().unwrap().replace('"', "&quot;");
            let row = section(
                checks,
                &format!("data-step=\"{name}\" data-check=\"{rule}\""),
                "</tr>",
            );
            assert_eq!(figure(row, "passed"), n(&c["passed"]) as f64);
            assert_eq!(figure(row, "failed"), n(&c["failed"]) as f64);
            assert_eq!(n(&c["passed"]) + n(&c["failed"]), n(&s["requests"]));
        }
    }

    // Bytes per second: drawn, from a timeline whose bytes add up to the totals.
    let tl = r["timeline"].as_array().unwrap();
    // A count of 0 is left out of an entry (a quiet last second has no bytes, no steps).
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    let sum = |k: &str| tl.iter().map(|s| count(&s[k])).sum::<u64>();
    assert_eq!(sum("bytes_sent"), n(&r["total"]["bytes_sent"]));
    assert_eq!(sum("bytes_received"), n(&r["total"]["bytes_received"]));
    let bytes = section(&d, "data-chart=\"bytes\"", "</svg>");
    for series in ["sent", "received"] {
        let points: u64 = attr_after(bytes, &format!("data-series=\"{series}\""), "data-points")
            .parse()
            .unwrap();
        assert!(points >= 3, "{series}: {points}");
    }
    // Each step's seconds add up to its requests, and its p99 line is drawn.
    for (k, s) in r["steps"].as_array().unwrap().iter().enumerate() {
        let per: u64 = tl.iter().map(|x| count(&x["steps"][k]["requests"])).sum();
        assert_eq!(per, n(&s["requests"]));
        let name = s["name"].as_str().unwrap();
        let chart = section(&d, "data-chart=\"step-p99\"", "</svg>");
        assert!(chart.contains(&format!("data-series=\"{name}\"")), "{name}");
    }

    // Latency bands of the total: every timed request in a band, the failed ones counted.
    let total = section(&d, "<tr class=\"total\" data-step=\"total\"", "</tr>");
    let bands: f64 = (0..4).map(|i| figure(total, &format!("band{i}"))).sum();
    let t = &r["total"];
    assert_eq!(bands, (n(&t["requests"]) - n(&t["unfinished"])) as f64);
    assert_eq!(figure(total, "failed"), n(&t["errors"]) as f64);

    // Count axes: whole numbers only.
    for chart in ["rps", "vus", "errors", "tokens"] {
        let svg = section(&d, &format!("data-chart=\"{chart}\""), "</svg>");
        for label in svg.split("<text class=\"ylabel\"").skip(1) {
            let text = &label[label.find('>').unwrap() + 1..label.find("</text>").unwrap()];
            assert!(text.parse::<u64>().is_ok(), "{chart}: tick {text}");
        }
    }
}

#[test]
fn an_interrupted_run_reads_partial_not_passed_and_shows_its_service_time() {
    let (_tb, base) = crate::util::testbed(&["--token-ttl", "1h"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let args = ["--duration", "60s", "--checkpoint", "1s"];
    let child = run_cmd(&fixture("rate.scenario.yaml"), &base, &out, &args)
        .spawn()
        .unwrap();
    // Until the first checkpoint is there (polled, bounded), then Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !out.exists() {
        assert!(Instant::now() < deadline, "no checkpoint in 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status();
    assert!(kill.unwrap().success());
    let o = finish(child, Duration::from_secs(15));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let r = result(&out);
    assert_eq!(
        (r["partial"].as_bool(), r["passed"].as_bool()),
        (Some(true), Some(true))
    );

    let page = dir.path().join("r.html");
    let o = finish(
        loadtape()
            .arg("report")
            .arg(&out)
            .arg("--html")
            .arg(&page)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let d = dom(&page, dir.path());
    assert!(d.contains("id=\"verdict\">PARTIAL"), "{d}");
    assert!(!d.contains("PASSED"));
    // An open model (constant-rate): service time next to latency, as in the result.
    let row = section(&d, "<tr class=\"step\" data-step=\"slow\"", "</tr>");
    let s = &r["steps"][0];
    let want = [
        f(&s["latency"]["p50"]),
        f(&s["service"]["p50"]),
        f(&s["latency"]["p99"]),
        f(&s["service"]["p99"]),
        f(&s["service"]["max"]),
    ];
    assert_eq!(cells(row), want);
}
