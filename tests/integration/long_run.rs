//! What a long run leaves behind while it goes: `--timeline` (every second, one JSON line,
//! flushed) and `--out` checkpoints (rewritten atomically, `partial: true`), so that a run
//! killed with SIGKILL — no chance to write anything at the end — still leaves a valid result
//! and a complete timeline up to the kill.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::run::{fixture, n, result, run, run_cmd, show, stats};
use crate::util::{finish, loadtape};

/// Every line of a `--timeline` file, parsed; panics on a line that is not JSON (half a line
/// would be one).
fn timeline_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("the timeline file exists");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "a cut line: {text}"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The seconds are 0, 1, 2, … with a wall-clock time each.
fn assert_contiguous(lines: &[Value]) {
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(n(&l["t"]), i as u64, "{l}");
        assert!(l["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{l}");
    }
}

#[test]
fn the_timeline_file_has_every_second_and_adds_up_to_the_result() {
    let (_tb, base) = crate::util::testbed(&["--token-ttl", "1h"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let tl = dir.path().join("t.jsonl");
    let tl_arg = tl.to_str().unwrap();
    let o = run(
        &fixture("rate.scenario.yaml"),
        &base,
        &out,
        &["--duration", "3s", "--timeline", tl_arg],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    assert_eq!(r["partial"], false);
    let lines = timeline_lines(&tl);
    assert_contiguous(&lines);
    let sum = |v: &[Value], k: &str| v.iter().map(|s| n(&s[k])).sum::<u64>();
    let total = n(&r["total"]["requests"]);
    assert!(total > 300, "{total}");
    assert_eq!(sum(&lines, "requests"), total);
    assert_eq!(sum(r["timeline"].as_array().unwrap(), "requests"), total);
    assert_eq!(n(&stats(&base)["requests"]["slow"]), total);
    // `--timeline` refuses a file that exists, as `--out` does, before the run.
    let again = loadtape()
        .arg("run")
        .arg(fixture("rate.scenario.yaml"))
        .args(["--timeline", tl_arg])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", show(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

#[test]
fn kill_9_mid_run_leaves_a_valid_partial_result_and_the_timeline_to_the_kill() {
    let (_tb, base) = crate::util::testbed(&["--token-ttl", "1h"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let tl = dir.path().join("t.jsonl");
    let args = [
        "--duration",
        "60s",
        "--checkpoint",
        "1s",
        "--timeline",
        tl.to_str().unwrap(),
    ];
    let child = run_cmd(&fixture("rate.scenario.yaml"), &base, &out, &args)
        .spawn()
        .unwrap();
    // Until a checkpoint with three seconds of timeline is there (polled, bounded).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seconds = std::fs::read_to_string(&out)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|r| r["timeline"].as_array().map(Vec::len));
        if seconds.is_some_and(|s| s >= 3) {
            break;
        }
        assert!(Instant::now() < deadline, "no checkpoint with 3 s in 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    crate::util::signal(child.id(), "KILL");
    let o = finish(child, Duration::from_secs(10));
    assert_eq!(o.status.code(), None, "killed by a signal: {}", show(&o));

    let r = result(&out);
    assert_eq!(r["partial"], true);
    assert_eq!(r["end_reason"], "checkpoint");
    let sent = n(&r["total"]["requests"]);
    assert!(sent > 0 && sent <= n(&stats(&base)["requests"]["slow"]));
    let lines = timeline_lines(&tl);
    assert_contiguous(&lines);
    let checkpointed = r["timeline"].as_array().unwrap().len();
    assert!(
        lines.len() >= checkpointed,
        "{} < {checkpointed}",
        lines.len()
    );
    // The checkpoint is a result like any other: it reports and renders.
    let html = dir.path().join("r.html");
    let rep = loadtape()
        .arg("report")
        .arg(&out)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert!(
        matches!(rep.status.code(), Some(0 | 1 | 99)),
        "{}",
        show(&rep)
    );
    let said = String::from_utf8_lossy(&rep.stdout);
    assert!(said.contains("(checkpoint), PARTIAL"), "{}", show(&rep));
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
}
