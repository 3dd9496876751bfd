//! Runs that fail do not pass, and the engine keeps a session coherent: `loadtape run`
//! against a real testbed, judged by its exit code, its result and the testbed's own counts.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::run::{n, result, run, run_cmd, show, stats, step};
use crate::util::{finish, loadtape, testbed};

/// A shared platform token with a secret the testbed refuses (errcode 40013), then one step
/// that needs it.
const BAD_SECRET: &str = r#"
loadtape: scenario/v1
name: bad-secret
tokens:
  - name: platform
    scope: shared
    request:
      method: GET
      url: https://api.shop.example/cgi-bin/token?grant_type=client_credential&appid=wxtestbed&secret=not-the-secret
    extract:
      access_token: {json: $.access_token}
    refresh_on: {json: {path: $.errcode, in: [40001, 42001]}}
steps:
  - name: order
    request:
      method: POST
      url: https://api.shop.example/api/order?access_token={{ access_token }}
      body: {json: {goods_id: x, quantity: 1}}
load: {executor: constant-vus, vus: 3, duration: 60s}
"#;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn text(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn threshold<'a>(r: &'a Value, source: &str) -> &'a Value {
    r["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["threshold"] == source)
        .unwrap_or_else(|| panic!("no threshold {source} in {}", r["thresholds"]))
}

#[test]
fn a_shared_token_that_always_fails_ends_the_run_and_fails_it() {
    let (_tb, base) = testbed(&["--token-ttl", "1h"]);
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(
        dir.path(),
        "bad.yaml",
        &format!("{BAD_SECRET}thresholds:\n  - error_rate < 1%\n  - p99 < 5s\n"),
    );
    let out = dir.path().join("r.json");

    // A 60 s run: it ends as soon as the VUs give up on a token that never came.
    let started = Instant::now();
    let o = run(&scenario, &base, &out, &[], Duration::from_secs(30));
    assert!(started.elapsed() < Duration::from_secs(20), "{}", show(&o));
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));
    let (stdout, stderr) = text(&o);
    for needle in [
        "token step `platform` failed 5 times in a row and never succeeded",
        "GET http://127.0.0.1:",
        "/cgi-bin/token?grant_type=client_credential&appid=wxtestbed&secret=***",
        "40013",
    ] {
        assert!(stderr.contains(needle), "no {needle:?} in\n{}", show(&o));
    }
    assert!(!stderr.contains("not-the-secret"), "{stderr}");
    assert!(
        stdout.contains("FAIL error_rate < 1%  (observed 100%)"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL p99 < 5s  (no data"), "{stdout}");
    let r = result(&out);
    assert_eq!(r["end_reason"], "token", "{r}");
    assert!(r["failure"].as_str().unwrap().contains("platform"), "{r}");
    assert_eq!(r["passed"], false);
    assert_eq!(threshold(&r, "error_rate < 1%")["observed"], 1.0);
    assert!(threshold(&r, "p99 < 5s")["observed"].is_null());
    // Every token request the tool counted is one the server refused.
    let s = stats(&base);
    let token_requests = n(&step(&r, "platform")["requests"]);
    assert_eq!(token_requests, n(&s["requests"]["token"]), "{s}");
    assert_eq!(n(&step(&r, "platform")["errors"]), token_requests);
    // Each refusal is described: errcode 40013 arrives in an HTTP 200 without the token.
    let f = &step(&r, "platform")["check_failures"];
    assert_eq!(f.as_array().map(Vec::len), Some(1), "{f}");
    assert_eq!(
        f[0]["check"], "extract access_token ($.access_token)",
        "{f}"
    );
    assert_eq!(
        (f[0]["got"].as_str(), n(&f[0]["count"])),
        (Some("nothing found"), token_requests)
    );
    assert!(
        stdout.contains(&format!(
            "  platform (token): {token_requests} × extract access_token ($.access_token): nothing found"
        )),
        "{stdout}"
    );
    assert_eq!(n(&r["total"]["requests"]), 0);

    // --iterations 1: each VU's one iteration ends, failed; the run does not pass.
    let o = run(
        &scenario,
        &base,
        &out,
        &["--iterations", "1"],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));

    // Without thresholds the run still fails: exit 1, naming the token step.
    let bare = write(dir.path(), "bare.yaml", BAD_SECRET);
    let o = run(
        &bare,
        &base,
        &out,
        &["--iterations", "1", "--vus", "1"],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let (stdout, stderr) = text(&o);
    assert!(
        stderr.contains("error: the run failed: token step `platform`"),
        "{stderr}"
    );
    assert!(
        stdout.contains("FAILED run: token step `platform`"),
        "{stdout}"
    );
    assert_eq!(result(&out)["passed"], false);
}

#[test]
fn a_threshold_on_a_step_that_never_succeeds_fails_with_no_data() {
    let (_tb, base) = testbed(&["--token-ttl", "1h"]);
    let dir = tempfile::tempdir().unwrap();
    // No bearer: every answer is a 401. The latency of refusals is no latency of the step.
    let scenario = write(
        dir.path(),
        "refused.yaml",
        r#"loadtape: scenario/v1
name: refused
steps:
  - name: goods
    request: {method: GET, url: 'https://api.shop.example/api/goods?page=1'}
  - name: slow
    request: {method: GET, url: 'https://api.shop.example/slow?ms=1'}
load: {executor: constant-vus, vus: 1, duration: 1s}
thresholds:
  - goods.p95 < 5s
  - slow.p95 < 5s
"#,
    );
    let out = dir.path().join("r.json");
    let html = dir.path().join("r.html");
    let o = run(
        &scenario,
        &base,
        &out,
        &["--html", html.to_str().unwrap()],
        Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));
    let (stdout, stderr) = text(&o);
    assert!(
        stdout.contains("FAIL goods.p95 < 5s  (no data: no successful request to measure)"),
        "{stdout}"
    );
    assert!(stdout.contains("PASS slow.p95 < 5s  (observed"), "{stdout}");
    assert!(
        stderr.contains("threshold(s) failed: goods.p95 < 5s (no data)"),
        "{stderr}"
    );
    let r = result(&out);
    assert!(threshold(&r, "goods.p95 < 5s")["observed"].is_null(), "{r}");
    assert_eq!(n(&step(&r, "goods")["succeeded"]), 0);
    assert!(n(&step(&r, "goods")["requests"]) > 0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("no data"), "the HTML report says no data");
}

#[test]
fn a_bare_error_rate_of_1_is_refused_with_the_percentage_it_meant() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(
        dir.path(),
        "one.yaml",
        "loadtape: scenario/v1\nname: one\nsteps:\n  - name: slow\n    request: {method: GET, url: 'https://api.shop.example/slow'}\nload: {executor: constant-vus, vus: 1, duration: 1s}\nthresholds:\n  - error_rate < 1\n",
    );
    let o = loadtape().arg("run").arg(&scenario).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let (_, stderr) = text(&o);
    let at = format!("{}:8:", scenario.display());
    assert!(stderr.contains(&at), "{stderr}");
    assert!(stderr.contains("field `thresholds[0]`"), "{stderr}");
    assert!(
        stderr.contains("did you mean `error_rate < 1%`?"),
        "{stderr}"
    );
}

#[test]
fn requests_in_flight_at_the_end_are_counted() {
    let (_tb, base) = testbed(&["--token-ttl", "1h"]);
    let dir = tempfile::tempdir().unwrap();
    // Each VU's first request outlasts the run and its 5 s grace period.
    let scenario = write(
        dir.path(),
        "long.yaml",
        "loadtape: scenario/v1\nname: long\nsteps:\n  - name: slow\n    request: {method: GET, url: 'https://api.shop.example/slow?ms=8000'}\nload: {executor: constant-vus, vus: 2, duration: 1s}\n",
    );
    let out = dir.path().join("r.json");
    let o = run(&scenario, &base, &out, &[], Duration::from_secs(30));
    let r = result(&out);
    let s = stats(&base);
    assert_eq!(n(&s["requests"]["slow"]), 2, "{s}");
    assert_eq!(n(&r["total"]["requests"]), 2, "{}", show(&o));
    assert_eq!(n(&step(&r, "slow")["unfinished"]), 2);
    assert_eq!(n(&r["total"]["errors_by_kind"]["timeout"]), 2);
    let in_timeline: u64 = r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| n(&t["requests"]))
        .sum();
    assert_eq!(in_timeline, 2, "{}", r["timeline"]);
    assert!(
        text(&o)
            .0
            .contains("2 request(s) still in flight at the end"),
        "{}",
        show(&o)
    );
}

#[test]
fn a_per_vu_token_refreshed_mid_iteration_restarts_the_iteration() {
    let (_tb, base) = testbed(&["--token-ttl", "1h"]);
    let dir = tempfile::tempdir().unwrap();
    // The flow revokes its own session between the list and the detail, so the detail is
    // refused (401) after `goods_id` was extracted under the session now dead.
    let scenario = write(
        dir.path(),
        "restart.yaml",
        r#"loadtape: scenario/v1
name: restart
tokens:
  - name: session
    scope: per-vu
    request:
      method: POST
      url: https://api.shop.example/api/login
      body: {json: {code: abcdefgh12345678}}
    extract:
      session: {json: $.token}
    refresh_on: {status: [401]}
steps:
  - name: goods
    request:
      method: GET
      url: https://api.shop.example/api/goods?page=1
      headers:
      - [authorization, 'Bearer {{ session }}']
    extract:
      goods_id: {json: '$.data[0].id'}
  - name: revoke
    request: {method: POST, url: 'https://api.shop.example/admin/revoke'}
  - name: detail
    request:
      method: GET
      url: https://api.shop.example/api/goods/{{ goods_id }}
      headers:
      - [authorization, 'Bearer {{ session }}']
    check: {status: 200}
load: {executor: constant-vus, vus: 1, duration: 20s}
"#,
    );
    let out = dir.path().join("r.json");
    let o = run(
        &scenario,
        &base,
        &out,
        &["--iterations", "1"],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    let s = stats(&base);
    // The refused detail restarted the iteration with a new login: list, revoke again; the
    // second refusal (a restart happens once per iteration) is retried with a third login.
    assert_eq!(n(&step(&r, "detail")["restarted"]), 1, "{r}");
    assert_eq!(n(&step(&r, "detail")["retries"]), 1, "{r}");
    assert_eq!(n(&r["total"]["restarted"]), 1);
    assert_eq!(n(&s["tokens_issued"]["session"]), 3, "{s}");
    assert_eq!(n(&s["requests"]["goods_list"]), 2, "{s}");
    assert_eq!(n(&s["requests"]["revoke"]), 2, "{s}");
    assert_eq!(n(&s["requests"]["goods_detail"]), 3, "{s}");
    assert_eq!(n(&s["auth_failures"]["revoked"]), 2, "{s}");
    assert_eq!(n(&r["total"]["errors"]), 0, "{}", show(&o));
    assert_eq!(n(&r["iterations"]), 1);
    assert!(text(&o).0.contains("restarted 1"), "{}", show(&o));
}

#[test]
fn a_token_lifetime_nobody_states_is_learned_from_refresh_on() {
    let (_tb, base) = testbed(&["--token-ttl", "2s"]);
    let dir = tempfile::tempdir().unwrap();
    // The login's expires_in is not extracted and the token is no JWT: no lifetime is known.
    let scenario = write(
        dir.path(),
        "learn.yaml",
        r#"loadtape: scenario/v1
name: learn
tokens:
  - name: login
    scope: per-vu
    request:
      method: POST
      url: https://api.shop.example/api/login
      body: {json: {code: abcdefgh12345678}}
    extract:
      session: {json: $.token}
    refresh_on: {status: [401]}
steps:
  - name: goods
    request:
      method: GET
      url: https://api.shop.example/api/goods?page=1
      headers:
      - [authorization, 'Bearer {{ session }}']
    check: {status: 200}
    think: 50ms
load: {executor: constant-vus, vus: 4, duration: 8s}
thresholds:
  - error_rate < 1%
"#,
    );
    let out = dir.path().join("r.json");
    let child = run_cmd(&scenario, &base, &out, &[]).spawn().unwrap();
    let o = finish(child, Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    let s = stats(&base);
    let learned = step(&r, "login")["learned_lifetime_s"].as_f64().unwrap();
    assert!((1.9..2.6).contains(&learned), "learned {learned} s");
    // Without learning every VU is refused once per lifetime (4 lifetimes, 4 VUs: 16); with
    // it, each VU's first token is the last one refused: the failures stop growing.
    let expired = n(&s["auth_failures"]["expired"]);
    assert!(
        (1..=6).contains(&expired),
        "expired failures: {expired}\n{s}"
    );
    assert_eq!(n(&r["total"]["errors"]), 0, "{}", show(&o));
    let (stdout, stderr) = text(&o);
    let line = format!(
        "token `login`: lifetime learned {learned:.1} s from the first refresh_on; refreshed ahead from then on"
    );
    assert!(stdout.contains(&line), "no {line:?} in\n{stdout}");
    assert!(
        stderr.contains("token `login` states no lifetime"),
        "{stderr}"
    );
}
