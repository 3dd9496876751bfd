//! `loadtape run` against a real testbed process on loopback, judged by the testbed's own
//! counts (`GET /stats`) and by the result JSON the run writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::{curl, finish, loadtape, Running};

/// The origin the run fixtures were written for; `--target` maps it to a testbed.
pub const ORIGIN: &str = "https://api.shop.example";

/// A scenario (or data file) of tests/fixtures/run.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/run")
        .join(name)
}

/// A plain-HTTP testbed process on a free port; returns it and its base URL.
fn testbed(ttl: &str) -> (Running, String) {
    crate::util::testbed(&["--token-ttl", ttl])
}

pub fn stats(base: &str) -> Value {
    let (code, body) = curl(&[&format!("{base}/stats")]);
    assert_eq!(code, 0, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// `loadtape run SCENARIO --target ORIGIN=base --out FILE --quiet ARGS...`, not yet waited for.
pub fn run_cmd(scenario: &Path, base: &str, out: &Path, args: &[&str]) -> Command {
    let mut cmd = loadtape();
    cmd.arg("run")
        .arg(scenario)
        .arg("--target")
        .arg(format!("{ORIGIN}={base}"))
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        // Tests run several times into one result path: each run replaces the last.
        .arg("--force")
        .args(args)
        .env("SLOW_MS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

pub fn run(scenario: &Path, base: &str, out: &Path, args: &[&str], limit: Duration) -> Output {
    let child = run_cmd(scenario, base, out, args).spawn().unwrap();
    finish(child, limit)
}

pub fn result(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the result file is written");
    serde_json::from_str(&text).unwrap()
}

pub fn step<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .chain(r["tokens"].as_array().unwrap())
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}"))
}

pub fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

pub fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn tokens_stay_fresh_for_several_lifetimes_and_counts_match_the_server() {
    let (_tb, base) = testbed("2s");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = run(
        &fixture("shop.scenario.yaml"),
        &base,
        &out,
        &[],
        Duration::from_secs(40),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    let s = stats(&base);

    assert_eq!(s["auth_failures"]["expired"], 0, "{s}");
    assert_eq!(s["auth_failures"]["revoked"], 0, "{s}");
    assert_eq!(s["auth_failures"]["invalid"], 0, "{s}");
    assert_eq!(s["auth_failures"]["missing"], 0, "{s}");
    assert_eq!(s["unknown_ids"], 0, "{s}");
    assert_eq!(n(&r["total"]["errors"]), 0, "{}", show(&o));
    assert_eq!(r["partial"], false);

    // Every request the tool counted reached the server, and nothing else did.
    let req = &s["requests"];
    assert_eq!(n(&step(&r, "platform")["requests"]), n(&req["token"]));
    assert_eq!(n(&step(&r, "session")["requests"]), n(&req["login"]));
    assert_eq!(n(&step(&r, "goods")["requests"]), n(&req["goods_list"]));
    assert_eq!(n(&step(&r, "detail")["requests"]), n(&req["goods_detail"]));
    assert_eq!(n(&step(&r, "order")["requests"]), n(&req["order"]));
    assert!(n(&req["order"]) > 1000, "{s}");

    // Shared: one fetch per lifetime for all 20 VUs (10 s / (2 s - 0.3 s) ≈ 6), not per VU.
    let platform = n(&s["tokens_issued"]["platform"]);
    assert!((5..=8).contains(&platform), "platform tokens: {platform}");
    // Per VU: one per VU per lifetime.
    let session = n(&s["tokens_issued"]["session"]);
    assert!(
        (20 * 5..=20 * 8).contains(&session),
        "session tokens: {session}"
    );
    assert_eq!(n(&step(&r, "platform")["errors"]), 0);

    // The result is complete: histograms, timeline, thresholds.
    assert_eq!(r["loadtape"], "result/v1");
    assert!(r["total"]["histogram"].as_str().unwrap().len() > 20);
    let timeline = r["timeline"].as_array().unwrap();
    assert!((10..=12).contains(&timeline.len()), "{}", timeline.len());
    let in_timeline: u64 = timeline.iter().map(|t| n(&t["requests"])).sum();
    assert_eq!(in_timeline, n(&r["total"]["requests"]));
    assert!(r["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["passed"] == true));
}

#[test]
fn a_revoke_mid_run_is_survived_by_refresh_on_and_one_retry() {
    let (_tb, base) = testbed("1h");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let child = run_cmd(
        &fixture("shop.scenario.yaml"),
        &base,
        &out,
        &["--duration", "5s", "--vus", "10"],
    )
    .spawn()
    .unwrap();
    // Let the run get going (tokens fetched, flows looping), then invalidate every token.
    std::thread::sleep(Duration::from_millis(2000));
    let (code, body) = curl(&["-X", "POST", &format!("{base}/admin/revoke")]);
    assert_eq!(code, 0, "{body}");
    let o = finish(child, Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    let s = stats(&base);

    // The server refused the revoked tokens...
    assert!(n(&s["auth_failures"]["revoked"]) > 0, "{s}");
    // ...and the run recovered every time: no failed business request.
    assert_eq!(n(&r["total"]["errors"]), 0, "{}", show(&o));
    // Each refused request was sent again (a retry), or, when the session died after an
    // earlier step of the iteration, its iteration restarted with the new session.
    let retries: u64 = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| n(&s["retries"]) + n(&s["restarted"]))
        .sum();
    assert_eq!(retries, n(&s["auth_failures"]["revoked"]), "{s}");
    assert_eq!(
        n(&r["total"]["restarted"]) + n(&r["total"]["retries"]),
        retries
    );
    // The shared token was fetched again exactly once for all VUs; each VU logged in again.
    assert_eq!(n(&s["tokens_issued"]["platform"]), 2, "{s}");
    assert_eq!(n(&s["tokens_issued"]["session"]), 20, "{s}");
    assert_eq!(
        n(&step(&r, "order")["requests"]),
        n(&s["requests"]["order"])
    );
    assert_eq!(
        n(&step(&r, "goods")["requests"]),
        n(&s["requests"]["goods_list"])
    );
}

#[test]
fn rate_mode_holds_the_rate_and_counts_dropped_iterations() {
    let (_tb, base) = testbed("1h");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = run(
        &fixture("rate.scenario.yaml"),
        &base,
        &out,
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    let sent = n(&r["total"]["requests"]);
    // 200/s for 3 s.
    assert!((594..=606).contains(&sent), "{sent} requests");
    assert_eq!(n(&r["dropped_iterations"]), 0);
    assert_eq!(n(&stats(&base)["requests"]["slow"]), sent);

    // 4 VUs answering in 200 ms can run 20 flows a second, not 100: the rest is dropped.
    let out = dir.path().join("drop.json");
    let mut cmd = run_cmd(
        &fixture("rate.scenario.yaml"),
        &base,
        &out,
        &["--rate", "100/s", "--vus", "4"],
    );
    cmd.env("SLOW_MS", "200");
    let o = finish(cmd.spawn().unwrap(), Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    let sent = n(&r["total"]["requests"]);
    let dropped = n(&r["dropped_iterations"]);
    assert!((50..=75).contains(&sent), "{sent} requests");
    assert!(dropped >= 200, "{dropped} dropped");
    assert!(
        sent + dropped >= 297 && sent + dropped <= 300,
        "{sent} + {dropped}"
    );
}

#[test]
fn a_server_stall_shows_in_corrected_latency_not_in_service_time() {
    let (_tb, base) = testbed("1h");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let child = run_cmd(&fixture("stall.scenario.yaml"), &base, &out, &[])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (code, body) = curl(&["-X", "POST", &format!("{base}/admin/stall?for=1s")]);
    assert_eq!(code, 0, "{body}");
    let o = finish(child, Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    let total = &r["total"];
    let corrected = total["latency"]["p99"].as_f64().unwrap();
    let service = total["service"]["p99"].as_f64().unwrap();
    // Iterations due during the stall waited for the one VU: their latency counts from
    // when they were due. Only the one request caught in the stall has a long service time.
    assert!(corrected > 500.0, "corrected p99 {corrected} ms");
    assert!(service < 100.0, "service p99 {service} ms");
    assert!(total["service"]["max"].as_f64().unwrap() > 500.0);
    assert!(total["latency"]["p90"].as_f64().unwrap() > 100.0, "{total}");
}

const THRESHOLDS: &str = r#"
loadtape: scenario/v1
name: thresholds
steps:
  - name: slow
    request: {method: GET, url: 'https://api.shop.example/slow?ms=1'}
load: {executor: constant-vus, vus: 2, duration: 1s}
thresholds:
"#;

#[test]
fn thresholds_decide_the_exit_code() {
    let (_tb, base) = testbed("1h");
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass.yaml");
    std::fs::write(
        &pass,
        format!("{THRESHOLDS}  - p99 < 5s\n  - error_rate < 1%\n  - slow.rps > 10\n"),
    )
    .unwrap();
    let out = dir.path().join("r.json");
    let o = run(&pass, &base, &out, &[], Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("PASS slow.rps > 10"),
        "{}",
        show(&o)
    );

    let fail = dir.path().join("fail.yaml");
    std::fs::write(
        &fail,
        format!("{THRESHOLDS}  - p99 < 5s\n  - rps > 1000000\n"),
    )
    .unwrap();
    let o = run(&fail, &base, &out, &[], Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));
    let r = result(&out);
    assert_eq!(r["passed"], false);
    assert_eq!(r["thresholds"][0]["passed"], true);
    assert_eq!(r["thresholds"][1]["passed"], false);
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAIL rps > 1000000"));
}

#[test]
fn a_bad_scenario_exits_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let text = THRESHOLDS.replace("constant-vus", "constant-vu") + "  - p99 < 1s\n";
    std::fs::write(&bad, text).unwrap();
    let o = loadtape().arg("run").arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{}:7:", bad.display())), "{err}");
    assert!(err.contains("load.executor"), "{err}");
    assert!(err.contains("constant-vus"), "{err}");
}

#[test]
fn ctrl_c_writes_a_partial_result() {
    let (_tb, base) = testbed("1h");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let child = run_cmd(
        &fixture("rate.scenario.yaml"),
        &base,
        &out,
        &["--duration", "60s"],
    )
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    crate::util::signal(child.id(), "INT");
    let o = finish(child, Duration::from_secs(15));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let r = result(&out);
    assert_eq!(r["partial"], true);
    assert_eq!(r["end_reason"], "interrupted");
    let sent = n(&r["total"]["requests"]);
    assert!(sent > 100 && sent < 1000, "{sent}");
    assert_eq!(n(&stats(&base)["requests"]["slow"]), sent);
}

#[test]
fn debug_smoke_test_prints_every_exchange() {
    let (_tb, base) = testbed("1h");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = run(
        &fixture("shop.scenario.yaml"),
        &base,
        &out,
        &["--iterations", "1", "--vus", "1", "--debug"],
        Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for needle in [
        ">>> [platform] GET",
        ">>> [session] POST",
        r#"{"code":"0a3Xk2ll2yqXRc00"}"#,
        "extract goods_id = g1x0",
        ">>> [order] POST",
        "check: passed",
        "<<< 200 OK",
    ] {
        assert!(text.contains(needle), "no {needle:?} in\n{text}");
    }
    let r = result(&out);
    assert_eq!(n(&r["iterations"]), 1);
    assert_eq!(r["end_reason"], "iterations");
}

#[test]
fn https_origins_speak_h2_with_ca_or_insecure_and_fail_as_tls_without() {
    let dir = tempfile::tempdir().unwrap();
    let cert_dir = dir.path().to_str().unwrap().to_string();
    let (_tb, base) = crate::util::testbed(&["--tls", "--cert-dir", &cert_dir]);
    assert!(base.starts_with("https://localhost:"), "{base}");
    let ca = dir.path().join("testbed-ca.pem");
    let out = dir.path().join("r.json");
    let smoke = ["--iterations", "1", "--vus", "1", "--debug"];

    let mut args = smoke.to_vec();
    args.extend(["--ca", ca.to_str().unwrap()]);
    let o = run(
        &fixture("shop.scenario.yaml"),
        &base,
        &out,
        &args,
        Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("<<< 200 OK HTTP/2.0"), "{text}");

    let mut args = smoke.to_vec();
    args.push("--insecure");
    let o = run(
        &fixture("shop.scenario.yaml"),
        &base,
        &out,
        &args,
        Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));

    // Without the CA the token endpoint cannot be reached: every failure is reported and
    // counted as a `token` error, and the run still ends on time.
    let child = run_cmd(
        &fixture("shop.scenario.yaml"),
        &base,
        &out,
        &["--duration", "2s", "--vus", "2"],
    )
    .spawn()
    .unwrap();
    let o = finish(child, Duration::from_secs(20));
    let r = result(&out);
    assert!(
        n(&step(&r, "platform")["errors_by_kind"]["token"]) >= 1,
        "{}",
        show(&o)
    );
    assert_eq!(n(&r["total"]["requests"]), 0);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("token step `platform` failed"),
        "{}",
        show(&o)
    );
}

#[test]
fn ramping_executors_follow_their_stages() {
    let (_tb, base) = testbed("1h");
    let dir = tempfile::tempdir().unwrap();
    let step = "steps:\n  - name: slow\n    request: {method: GET, url: 'https://api.shop.example/slow?ms=50'}\n";
    let vus = dir.path().join("vus.yaml");
    std::fs::write(
        &vus,
        format!("loadtape: scenario/v1\nname: ramp\n{step}load: {{executor: ramping-vus, stages: [{{to: 6, over: 3s}}]}}\n"),
    )
    .unwrap();
    let out = dir.path().join("vus.json");
    let o = run(&vus, &base, &out, &[], Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    let active: Vec<u64> = r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| n(&s["active_vus"]))
        .collect();
    assert!(active[0] <= 3 && active[2] >= 4, "{active:?}");

    // 0 -> 200/s over 2 s is 200 iterations.
    let rate = dir.path().join("rate.yaml");
    std::fs::write(
        &rate,
        format!("loadtape: scenario/v1\nname: ramp\n{step}load: {{executor: ramping-rate, stages: [{{to: 200/s, over: 2s}}], max_vus: 40}}\n"),
    )
    .unwrap();
    let out = dir.path().join("rate.json");
    let o = run(&rate, &base, &out, &[], Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    let sent = n(&r["total"]["requests"]);
    assert!((196..=200).contains(&sent), "{sent}");
    let timeline = r["timeline"].as_array().unwrap();
    assert!(
        n(&timeline[0]["requests"]) < n(&timeline[1]["requests"]),
        "{r}"
    );
}
