//! `loadtape report merge` on results no short test run makes: a long timeline merges in
//! bounded memory, and results that cannot be segments of one run (starts years apart, a
//! timeline entry far past the run's end) are refused naming the file, in bounded time.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::{finish, loadtape};

/// A real result: one VU for 1 s against port 9, which refuses every connection.
fn short_result(dir: &Path) -> Value {
    let s = crate::util::refused_scenario(dir);
    let out = dir.join("short.json");
    let child = loadtape()
        .arg("run")
        .arg(&s)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = finish(child, Duration::from_secs(60));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

/// `r` stretched to a run of `seconds`, its first second repeated for each.
fn stretched(r: &Value, seconds: u64) -> Value {
    let mut r = r.clone();
    let second = r["timeline"][0].clone();
    let timeline: Vec<Value> = (0..seconds)
        .map(|t| {
            let mut s = second.clone();
            s["t"] = t.into();
            s
        })
        .collect();
    r["timeline"] = timeline.into();
    r["duration_s"] = (seconds as f64).into();
    r
}

fn save(dir: &Path, name: &str, r: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, r.to_string()).unwrap();
    path
}

/// `loadtape report merge FILES --out OUT` under python3, which reports the peak resident
/// memory of the merge (its `ru_maxrss`, KiB) on its last line.
fn merge_measured(files: &[&Path], out: &Path) -> (Output, u64) {
    let script = "import resource, subprocess, sys\n\
                  p = subprocess.run(sys.argv[1:])\n\
                  print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
                  sys.exit(p.returncode)";
    let child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_loadtape"))
        .args(["report", "merge"])
        .args(files)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is installed");
    let o = finish(child, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let kib = stdout
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    (o, kib)
}

#[test]
fn a_long_timeline_merges_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // 20,000 s (5.5 h) per input: holding every second's decoded histogram took ~190 KB
    // each, 7.6 GB for the two.
    let long = stretched(&short_result(dir), 20_000);
    let a = save(dir, "a.json", &long);
    let b = save(dir, "b.json", &long);
    let out = dir.join("merged.json");
    let (o, kib) = merge_measured(&[&a, &b], &out);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let merged: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(merged["timeline"].as_array().unwrap().len(), 20_000);
    assert!(kib > 0 && kib < 400 << 10, "peak resident {kib} KiB");
}

#[test]
fn results_that_are_not_segments_of_one_run_are_refused_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let r = short_result(dir);
    let a = save(dir, "a.json", &r);

    let mut years = r.clone();
    years["started"] = "2020-01-01T00:00:00Z".into();
    years["ended"] = "2020-01-01T00:00:01Z".into();
    let b = save(dir, "b.json", &years);
    let (o, _) = merge_measured(&[&a, &b], &dir.join("m.json"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("a.json") && stderr.contains("different runs"),
        "{stderr}"
    );

    let mut far = r.clone();
    far["timeline"][0]["t"] = 4_000_000_000u64.into();
    let c = save(dir, "c.json", &far);
    let (o, _) = merge_measured(&[&a, &c], &dir.join("m.json"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("c.json") && stderr.contains("t = 4000000000"),
        "{stderr}"
    );
}

#[test]
fn a_segment_merged_with_an_unrelated_run_is_warned_about_and_refused_when_strict() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let whole = short_result(dir);
    let started: chrono::DateTime<chrono::Utc> =
        whole["started"].as_str().unwrap().parse().unwrap();
    let mut share = whole.clone();
    share["settings"]["segment"] = "1/2".into();
    share["started"] = (started + chrono::Duration::seconds(600))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        .into();
    let a = save(dir, "share.json", &share);
    let b = save(dir, "earlier.json", &whole);
    let (o, _) = merge_measured(&[&a, &b], &dir.join("m.json"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "merged, with warnings: {stderr}");
    for said in [
        "input 2 is a whole run (no `--segment`) among segments",
        "segment(s) 2/2 missing",
        "input 1 started 600 s after the first",
    ] {
        assert!(stderr.contains(said), "{said:?} in {stderr}");
    }
    let child = Command::new(env!("CARGO_BIN_EXE_loadtape"))
        .args(["report", "merge", "--strict"])
        .args([&a, &b])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = finish(child, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("do not look like the segments of one run"),
        "{stderr}"
    );
}
