//! Watching a run live: `run --metrics` scraped by a real Prometheus server (Debian's
//! `prometheus`, installed by `.ci/run`) and checked by `promtool`, and `run --dashboard`
//! watched by headless Chromium. Both are held to the run's own result file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::run::{fixture, n, result, show, step, ORIGIN};
use crate::util::{curl, curl_status, finish, loadtape, testbed, Running};

/// A free loopback port, for a server whose address must be written down before it starts
/// (Prometheus's config names its target).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `loadtape run` of the testbed's shop flow (tokens live 2 s, so they are refreshed) for
/// `secs` with 4 VUs, writing `out`, with `extra` flags.
fn shop_run(base: &str, out: &Path, secs: u32, extra: &[&str]) -> Command {
    let mut cmd = loadtape();
    cmd.arg("run")
        .arg(fixture("shop.scenario.yaml"))
        .arg("--target")
        .arg(format!("{ORIGIN}={base}"))
        .args(["--vus", "4", "--duration", &format!("{secs}s"), "--force"])
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("SLOW_MS", "0");
    cmd
}

/// A Prometheus server scraping `target` every second, stopped when dropped.
struct Prometheus {
    child: Child,
    base: String,
}

impl Prometheus {
    fn start(dir: &Path, target: &str) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: loadtape\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed (.ci/run installs Debian's prometheus)");
        let p = Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        poll("Prometheus to be ready", Duration::from_secs(30), || {
            curl_status(&[&format!("{}/-/ready", p.base)]).1 == 200
        });
        // Its scrape loop starts a few seconds after it is ready: wait for the first attempt
        // (the target is not up yet), so that the run is scraped from its first second.
        poll("Prometheus's first scrape", Duration::from_secs(30), || {
            let (_, body) = curl(&[&format!("{}/api/v1/targets", p.base)]);
            let v: Value = serde_json::from_str(&body).unwrap_or_default();
            v["data"]["activeTargets"][0]["health"]
                .as_str()
                .is_some_and(|h| h != "unknown")
        });
        p
    }

    /// The value of an instant PromQL query with one series; `None` when it has none yet.
    fn query(&self, promql: &str) -> Option<f64> {
        let url = format!("{}/api/v1/query", self.base);
        let (code, body) = curl(&["-G", &url, "--data-urlencode", &format!("query={promql}")]);
        assert_eq!(code, 0, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "success", "{promql}: {body}");
        let series = v["data"]["result"].as_array()?;
        assert!(series.len() <= 1, "{promql}: {body}");
        series.first()?["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `ok` every 100 ms until it holds, failing the test after `limit`.
fn poll(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every figure Prometheus has of the run, at its last scrape, against the result: a PromQL
/// query over the run's samples, and the count it must come to.
fn expected(r: &Value) -> Vec<(String, u64)> {
    let last = |selector: &str| format!("max_over_time({selector}[5m])");
    let mut want = vec![
        (last("loadtape_iterations_total"), n(&r["iterations"])),
        (
            last("loadtape_dropped_iterations_total"),
            n(&r["dropped_iterations"]),
        ),
        (last("loadtape_run_finished"), 1),
    ];
    for s in ["goods", "detail", "order"] {
        let row = step(r, s);
        let l = format!("{{step=\"{s}\"}}");
        want.push((
            last(&format!("loadtape_requests_total{l}")),
            n(&row["requests"]),
        ));
        want.push((
            format!("sum(max_over_time(loadtape_errors_total{l}[5m]))"),
            n(&row["errors"]),
        ));
        want.push((
            last(&format!("loadtape_sent_bytes_total{l}")),
            n(&row["bytes_sent"]),
        ));
        want.push((
            last(&format!("loadtape_received_bytes_total{l}")),
            n(&row["bytes_received"]),
        ));
        // Every request of the shop flow is answered: each has a latency.
        want.push((
            last(&format!("loadtape_request_duration_seconds_count{l}")),
            n(&row["requests"]),
        ));
    }
    for t in ["platform", "session"] {
        want.push((
            last(&format!("loadtape_token_requests_total{{token=\"{t}\"}}")),
            n(&step(r, t)["requests"]),
        ));
    }
    want
}

/// The value of the sample `series` (name and labels, as written) in an exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

#[test]
fn prometheus_scrapes_the_run_and_its_last_scrape_has_the_results_numbers() {
    let (_tb, base) = testbed(&["--token-ttl", "2s"]);
    let dir = tempfile::tempdir().unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let prom = Prometheus::start(dir.path(), &metrics);
    let out = dir.path().join("r.json");
    let mut cmd = shop_run(&base, &out, 5, &["--metrics", &metrics, "--quiet"]);
    cmd.args(["--metrics-linger", "20s"]);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // While the run goes on: the text format passes promtool's checks, and OpenMetrics is
    // served to a scraper that asks for it.
    let url = format!("http://{metrics}/metrics");
    let mut text = String::new();
    poll("the first live numbers", Duration::from_secs(20), || {
        text = curl(&[&url]).1;
        sample(&text, "loadtape_requests_total{step=\"goods\"}").is_some_and(|n| n > 0.0)
    });
    assert_eq!(sample(&text, "loadtape_run_finished"), Some(0.0), "{text}");
    promtool_accepts(&text, dir.path());
    let (_, om) = curl(&[
        "-H",
        "Accept: application/openmetrics-text;version=1.0.0",
        &url,
    ]);
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE loadtape_requests counter\n"), "{om}");
    assert!(om.contains("# TYPE loadtape_request_duration_seconds histogram\n"));

    let o = finish(child, Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    assert_eq!(n(&r["total"]["errors"]), 0, "{}", show(&o));

    // Prometheus has the run's own counts: the final scrape came before the run exited.
    for (promql, want) in expected(&r) {
        poll(
            &format!("{promql} = {want}"),
            Duration::from_secs(15),
            || prom.query(&promql) == Some(want as f64),
        );
    }
    // Several scrapes during the run, not just the last one (Prometheus keeps the samples of
    // scrapes it could parse: it asks for OpenMetrics first).
    let scrapes = prom
        .query("count_over_time(loadtape_run_finished[5m])")
        .unwrap();
    assert!(scrapes >= 3.0, "{scrapes} scrapes");

    // Token refreshes as the testbed saw them: every token it issued but the first of the
    // run (shared) or of each VU (per-VU) replaced one.
    let s = crate::run::stats(&base);
    let platform = prom
        .query("max_over_time(loadtape_token_refreshes_total{token=\"platform\"}[5m])")
        .unwrap();
    let session = prom
        .query("max_over_time(loadtape_token_refreshes_total{token=\"session\"}[5m])")
        .unwrap();
    assert_eq!(
        platform,
        (n(&s["tokens_issued"]["platform"]) - 1) as f64,
        "{s}"
    );
    assert_eq!(
        session,
        (n(&s["tokens_issued"]["session"]) - 4) as f64,
        "{s}"
    );
    assert!(platform >= 1.0 && session >= 4.0, "{platform} {session}");
}

/// `promtool check metrics` (the Prometheus project's own linter) finds nothing to say.
fn promtool_accepts(text: &str, dir: &Path) {
    let file = dir.join("metrics.txt");
    std::fs::write(&file, text).unwrap();
    let o = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .expect("promtool is installed (Debian's prometheus)");
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_metrics_address_that_cannot_be_bound_is_bad_input_naming_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let scenario = crate::util::refused_scenario(dir.path());
    for flag in ["--metrics", "--dashboard"] {
        let o = loadtape()
            .arg("run")
            .arg(&scenario)
            .args([flag, &addr, "--quiet"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("{flag} {addr}")), "{err}");
        assert!(o.stdout.is_empty(), "the run started: {}", show(&o));
    }
}

/// The value of `data-v` on the element with `id` in a dumped DOM.
fn figure(dom: &str, id: &str) -> f64 {
    attr_after(dom, &format!("id=\"{id}\""), "data-v")
        .parse()
        .unwrap_or_else(|_| panic!("#{id} has no number"))
}

/// The attribute `name` of the tag where `marker` is.
fn attr_after(dom: &str, marker: &str, name: &str) -> String {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the DOM"));
    let start = dom[..at].rfind('<').unwrap();
    let tag = &dom[start..start + dom[start..].find('>').unwrap()];
    let key = format!(" {name}=\"");
    let v = &tag[tag.find(&key).unwrap_or_else(|| panic!("{tag}: no {name}")) + key.len()..];
    v[..v.find('"').unwrap()].to_string()
}

/// One step's figure `key` in the dashboard's steps table.
fn step_figure(dom: &str, table: &str, name: &str, key: &str) -> f64 {
    let t = &dom[dom.find(&format!("id=\"{table}\"")).unwrap()..];
    let row = &t[t.find(&format!("data-name=\"{name}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    attr_after(row, &format!("data-k=\"{key}\""), "data-v")
        .parse()
        .unwrap()
}

#[test]
fn chromium_watches_the_dashboard_change_and_end_on_the_results_numbers() {
    let (_tb, base) = testbed(&["--token-ttl", "2s"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let mut cmd = shop_run(&base, &out, 7, &["--dashboard", "127.0.0.1:0"]);
    cmd.stdin(Stdio::null());
    let mut run = Running::start(cmd);
    let line = run.line_containing("dashboard: ");
    let url = line.trim().trim_start_matches("dashboard: ").to_string();

    // The page follows the run to its end (its event stream ends with the final snapshot,
    // then virtual time runs out and the DOM is dumped).
    let home: PathBuf = dir.path().join("chromium");
    let dom = crate::util::chromium(&home)
        .args([
            "--virtual-time-budget=30000",
            "--window-size=390,844",
            "--dump-dom",
        ])
        .arg(&url)
        .output()
        .expect("chromium is installed (.ci/run installs it)");
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    let mut code = None;
    poll("the run to exit", Duration::from_secs(30), || {
        code = run.child.try_wait().unwrap().map(|s| s.code());
        code.is_some()
    });
    assert_eq!(code, Some(Some(0)));
    let r = result(&out);

    assert!(
        dom.contains("<span id=\"state\" class=\"finished\">finished</span>"),
        "{dom}"
    );
    // At a phone's width (390 px) nothing scrolls sideways.
    assert!(dom.contains("data-fits=\"true\""), "{dom}");
    // It changed during the run: several updates, a chart of several different seconds.
    assert!(figure(&dom, "updates") >= 3.0, "{dom}");
    let values = attr_after(&dom, "data-series=\"rps\"", "data-values");
    let values: Vec<&str> = values.split(' ').collect();
    assert!(values.len() >= 3, "{values:?}");
    assert!(values.iter().any(|v| *v != values[0]), "{values:?}");

    // And it ended on the result's numbers.
    let total = &r["total"];
    assert_eq!(figure(&dom, "requests"), n(&total["requests"]) as f64);
    assert_eq!(figure(&dom, "errors"), n(&total["errors"]) as f64);
    assert_eq!(figure(&dom, "iterations"), n(&r["iterations"]) as f64);
    assert_eq!(
        figure(&dom, "p50"),
        total["latency"]["p50"].as_f64().unwrap()
    );
    assert_eq!(
        figure(&dom, "p99"),
        total["latency"]["p99"].as_f64().unwrap()
    );
    let tokens = n(&step(&r, "platform")["requests"]) + n(&step(&r, "session")["requests"]);
    assert_eq!(figure(&dom, "token-requests"), tokens as f64);
    for s in ["goods", "detail", "order"] {
        let row = step(&r, s);
        assert_eq!(
            step_figure(&dom, "steps", s, "requests"),
            n(&row["requests"]) as f64
        );
        assert_eq!(
            step_figure(&dom, "steps", s, "errors"),
            n(&row["errors"]) as f64
        );
        assert_eq!(
            step_figure(&dom, "steps", s, "p99_ms"),
            row["latency"]["p99"].as_f64().unwrap()
        );
    }
    let session = step_figure(&dom, "tokens", "session", "refreshes");
    assert!(session >= 4.0, "4 VUs' sessions live 2 s of 7: {session}");
}

#[test]
fn the_wait_for_a_last_scrape_is_bounded_and_ctrl_c_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = crate::util::refused_scenario(dir.path());
    let start = |linger: &str| {
        let mut cmd = loadtape();
        cmd.arg("run").arg(&scenario).args([
            "--metrics",
            "127.0.0.1:0",
            "--metrics-linger",
            linger,
        ]);
        let mut run = Running::start(cmd);
        let line = run.line_containing("metrics: http://");
        assert!(line.trim().ends_with("/metrics"), "{line}");
        run.line_containing(&format!("waiting up to {linger} for a scrape"));
        (run, Instant::now())
    };

    // Nobody scrapes: the wait ends at --metrics-linger, and the run's verdict stands.
    let (mut run, waiting) = start("1s");
    run.line_containing("no scrape of the final numbers");
    let mut code = None;
    poll("the run to exit", Duration::from_secs(10), || {
        code = run.child.try_wait().unwrap().map(|s| s.code());
        code.is_some()
    });
    assert_eq!(code, Some(Some(0)));
    assert!(
        waiting.elapsed() < Duration::from_secs(5),
        "{:?}",
        waiting.elapsed()
    );

    // Ctrl-C ends a long wait at once.
    let (run, waiting) = start("30s");
    let (code, rest) = run.stop("INT");
    assert_eq!(code, 0, "{rest}");
    assert!(
        waiting.elapsed() < Duration::from_secs(5),
        "{:?}",
        waiting.elapsed()
    );
}
