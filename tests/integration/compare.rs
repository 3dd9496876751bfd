//! `loadtape report compare` of real runs against the testbed: runs of one setting compare as
//! within noise on every figure, a run against a slower server as worse on p99 with high
//! confidence, `--fail-on` exits 99 exactly past its limit, a sweep of three candidates
//! renders with one line per run in headless Chromium, and results of another test are
//! refused naming the file.
//!
//! The runs of one comparison run side by side (at once, against one testbed): whatever else
//! the machine does meanwhile (other tests) weighs on all of them alike, as it would not on
//! runs one after the other. They are closed-loop (constant VUs): a constant-rate schedule
//! at a round interval (20 ms) phase-locks with the testbed's 1 ms timer, and the phase each
//! run happens to start at shifts its whole latency by up to a millisecond — a real
//! difference between the runs, which `compare` rightly reports (see the README).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::report_html::{dom, phone};
use crate::run::show;
use crate::util::{finish, loadtape};

/// One step of the testbed's `/slow`, `DELAY_MS` late, at `vus` VUs for `duration`.
fn scenario(dir: &Path, base: &str, duration: &str) -> PathBuf {
    let path = dir.join("tuning.scenario.yaml");
    std::fs::write(
        &path,
        format!(
            "loadtape: scenario/v1\nname: tuning\nvariables:\n  ms: '{{{{ env(\"DELAY_MS\") }}}}'\n\
             steps:\n  - name: slow\n    request: {{method: GET, url: '{base}/slow?ms={{{{ ms }}}}'}}\n\
             load: {{executor: constant-vus, vus: 2, duration: {duration}}}\n"
        ),
    )
    .unwrap();
    path
}

/// Each `(label, delay)` run at once; their result files, in order.
fn runs(dir: &Path, scenario: &Path, runs: &[(&str, u32)]) -> Vec<PathBuf> {
    let children: Vec<_> = runs
        .iter()
        .map(|(label, delay)| {
            let out = dir.join(format!("{label}.json"));
            let child = loadtape()
                .arg("run")
                .arg(scenario)
                .args(["--quiet", "--label", label, "--out"])
                .arg(&out)
                .env("DELAY_MS", delay.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (out, child)
        })
        .collect();
    children
        .into_iter()
        .map(|(out, child)| {
            let o = finish(child, Duration::from_secs(90));
            assert!(o.status.success(), "{}", show(&o));
            out
        })
        .collect()
}

fn compare(dir: &Path, args: &[&str]) -> Output {
    let child = loadtape()
        .current_dir(dir)
        .args(["report", "compare"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child, Duration::from_secs(60))
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let o = compare(dir, &all);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&o)))
}

/// `(row, figure, verdict)` of every figure of candidate `k`.
fn verdicts(c: &Value, k: usize) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for row in c["rows"].as_array().unwrap() {
        for line in row["lines"].as_array().unwrap() {
            out.push((
                row["name"].as_str().unwrap().to_string(),
                line["figure"].as_str().unwrap().to_string(),
                line["candidates"][k]["verdict"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ));
        }
    }
    out
}

fn line<'a>(c: &'a Value, row: &str, figure: &str) -> &'a Value {
    let row = c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == row)
        .unwrap_or_else(|| panic!("no row {row}"));
    row["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["figure"] == figure)
        .unwrap()
}

#[test]
fn one_setting_twice_is_within_noise_and_a_slower_server_is_worse() {
    let (_tb, base) = crate::util::testbed(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = scenario(d, &base, "15s");
    runs(d, &s, &[("before", 2), ("again", 2), ("slower", 25)]);

    let same = json(d, &["before.json", "again.json"]);
    let noisy: Vec<_> = verdicts(&same, 0)
        .into_iter()
        .filter(|(_, _, v)| v != "within_noise")
        .collect();
    assert!(noisy.is_empty(), "{noisy:?}\n{same:#}");
    assert!(
        same["baseline"]["seconds"].as_u64().unwrap() >= 12,
        "{same:#}"
    );

    let slow = json(d, &["before.json", "slower.json"]);
    let p99 = &line(&slow, "total", "p99")["candidates"][0];
    assert_eq!(p99["verdict"], "worse", "{p99}");
    assert!(p99["p"].as_f64().unwrap() < 0.001, "{p99}");
    assert!(p99["change_pct"].as_f64().unwrap() > 50.0, "{p99}");
    // Closed loop: a slower server is fewer requests per second, worse too.
    let rps = &line(&slow, "slow", "rps")["candidates"][0];
    assert_eq!(rps["verdict"], "worse", "{rps}");

    // The gates: `worse` follows the verdict; a limit holds at itself and fails past it.
    let code = |args: &[&str]| compare(d, args).status.code();
    assert_eq!(
        code(&["before.json", "again.json", "--fail-on", "p99 worse"]),
        Some(0)
    );
    let o = compare(d, &["before.json", "slower.json", "--fail-on", "p99 worse"]);
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("`p99 worse` on slower (worse) failed"),
        "{}",
        show(&o)
    );
    let pct = p99["change_pct"].as_f64().unwrap();
    for (limit, want) in [(pct + 0.1, 0), (pct - 0.1, 99)] {
        let rule = format!("p99 +{limit:.3}%");
        assert_eq!(
            code(&["before.json", "slower.json", "--fail-on", &rule]),
            Some(want),
            "{rule} against {pct}"
        );
    }
    let fell = -rps["change_pct"].as_f64().unwrap();
    for (limit, want) in [(fell + 0.1, 0), (fell - 0.1, 99)] {
        let rule = format!("slow.rps -{limit:.3}%");
        assert_eq!(
            code(&["before.json", "slower.json", "--fail-on", &rule]),
            Some(want),
            "{rule} against -{fell}"
        );
    }
    assert_eq!(
        code(&["before.json", "again.json", "--fail-on", "error_rate +0.1%"]),
        Some(0)
    );
}

#[test]
fn a_sweep_of_three_candidates_renders_one_line_per_run() {
    let (_tb, base) = crate::util::testbed(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = scenario(d, &base, "4s");
    runs(d, &s, &[("d1", 1), ("d4", 4), ("d8", 8), ("d16", 16)]);
    let o = compare(
        d,
        &[
            "d1.json",
            "d4.json",
            "d8.json",
            "d16.json",
            "--html",
            "sweep.html",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    // Four seconds a run, two of them judged: too short to call anything.
    assert!(text.contains("too short to tell"), "{text}");
    assert!(!text.contains(" worse"), "{text}");

    let page = d.join("sweep.html");
    let dom = dom(&page, d);
    for chart in ["throughput", "p99", "distribution"] {
        let at = dom
            .find(&format!("data-chart=\"{chart}\""))
            .unwrap_or_else(|| panic!("no {chart} chart"));
        let svg = &dom[at..at + dom[at..].find("</svg>").unwrap()];
        for label in ["d1", "d4", "d8", "d16"] {
            assert_eq!(
                svg.matches(&format!("data-series=\"{label}\"")).count(),
                1,
                "{chart}: one line for {label}:\n{svg}"
            );
        }
    }
    let across = &dom[dom.find("data-chart=\"across-p99\"").unwrap()..];
    let across = &across[..across.find("</svg>").unwrap()];
    // One line per row (total, slow) across the four runs.
    assert_eq!(across.matches("data-points=\"4\"").count(), 2, "{across}");
    assert_eq!(dom.matches("<tr data-run=").count(), 4);
    let fit = phone(&page, d, "section[data-figure=p99] th:nth-child(2)");
    let (v, page_w, th) = (
        fit["v"].as_f64().unwrap(),
        fit["page"].as_f64().unwrap(),
        fit["p99"].as_f64().unwrap(),
    );
    assert!(page_w <= v, "the page is wider than a phone: {fit}");
    assert!(th <= v, "the baseline's column is off screen: {fit}");
}

#[test]
fn results_of_another_test_are_refused_unless_loose() {
    let (_tb, base) = crate::util::testbed(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = scenario(d, &base, "1s");
    let files = runs(d, &s, &[("a", 1)]);
    let mut other: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    other["steps"][0]["name"] = "detail".into();
    std::fs::write(d.join("other.json"), other.to_string()).unwrap();

    let o = compare(d, &["a.json", "other.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("other.json: its steps are detail; the baseline's are slow")
            && err.contains("--loose"),
        "{err}"
    );
    // A candidate whose own run failed: compared with a warning; any gate fails on it.
    let mut failed: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    failed["passed"] = false.into();
    std::fs::write(d.join("failed.json"), failed.to_string()).unwrap();
    let o = compare(d, &["a.json", "failed.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did not pass its own run (FAILED)"));
    let o = compare(d, &["a.json", "failed.json", "--fail-on", "p99 +1000%"]);
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("`its own run passed` on a (FAILED)"),
        "{}",
        show(&o)
    );
    let o = compare(d, &["a.json", "other.json", "--loose"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("not compared: `slow` is in a"),
        "{}",
        show(&o)
    );
    for (args, says) in [
        (vec!["a.json"], "at least one candidate"),
        (
            vec!["a.json", "a.json", "--out", "x.json"],
            "--out is for one result",
        ),
        (
            vec!["a.json", "a.json", "--fail-on", "rps +5%"],
            "write `-5%`",
        ),
        (
            vec!["a.json", "a.json", "--fail-on", "cart.p99 +5%"],
            "no step `cart`",
        ),
        (
            vec!["a.json", "nothing.json"],
            "nothing.json: cannot read it",
        ),
    ] {
        let o = compare(d, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(says),
            "{args:?}: {}",
            show(&o)
        );
    }
    let o = finish(
        loadtape()
            .current_dir(d)
            .args(["report", "a.json", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is for `loadtape report compare"));
}
