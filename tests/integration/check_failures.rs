//! What a failed check says: a scenario against the testbed's litemall-shaped shop (every
//! answer HTTP 200, refusals carried by `errno`) logs in, then sends requests the shop
//! refuses — one without its token (errno 501), one to an address the session does not own
//! (errno 402) — and one whose extractor finds nothing. The result's `check_failures`, the
//! summary and `--debug` must name the rule and what the server answered, counted exactly:
//! once per iteration, equal to the shop's own errno counts.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::run::{n, result, run, show, stats, step};
use crate::util::{finish, loadtape, testbed};

const REFUSED: &str = r#"
loadtape: scenario/v1
name: refused
steps:
  - name: login
    request:
      method: POST
      url: https://api.shop.example/wx/auth/login_by_weixin
      body: {json: {code: x}}
    check: {status: 200, json: {path: $.errno, equals: 0}}
    extract:
      token: {json: $.data.token}
  - name: anonymous
    request:
      method: GET
      url: https://api.shop.example/wx/cart/checkout?cartId=0&addressId=1&couponId=0&grouponRulesId=0
    check: {status: 200, json: {path: $.errno, equals: 0}}
  - name: submit
    request:
      method: POST
      url: https://api.shop.example/wx/order/submit
      headers:
      - [x-litemall-token, '{{ token }}']
      body: {json: {cartId: 0, addressId: 999999, couponId: 0, message: '', grouponRulesId: 0, grouponLinkId: 0}}
    check: {status: 200, json: {path: $.errno, equals: 0}}
  - name: save
    request:
      method: POST
      url: https://api.shop.example/wx/address/save
      headers:
      - [x-litemall-token, '{{ token }}']
      body: {json: {id: 0, name: tester, tel: '13800000000', province: x, city: x, county: x, addressDetail: x, isDefault: true}}
    check: {status: 200, json: {path: $.errno, equals: 0}}
    extract:
      addressId: {json: $.data.id}
load: {executor: constant-vus, vus: 2, duration: 60s}
"#;

/// A step's `check_failures` as (check, got, count).
fn failures(r: &Value, name: &str) -> Vec<(String, String, u64)> {
    let list = step(r, name)["check_failures"].as_array().cloned();
    list.unwrap_or_default()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_else(|| panic!("{f}")).to_string();
            (s("check"), s("got"), n(&f["count"]))
        })
        .collect()
}

fn one(check: &str, got: &str, count: u64) -> Vec<(String, String, u64)> {
    vec![(check.to_string(), got.to_string(), count)]
}

fn scenario(dir: &Path) -> PathBuf {
    let path = dir.join("refused.yaml");
    std::fs::write(&path, REFUSED).unwrap();
    path
}

#[test]
fn a_refused_check_names_the_rule_and_what_the_server_answered() {
    let (_tb, base) = testbed(&["--token-ttl", "1h"]);
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path());
    let out = dir.path().join("r.json");
    let before = stats(&base);
    let o = run(
        &scenario,
        &base,
        &out,
        &["--iterations", "3"],
        Duration::from_secs(60),
    );
    // Its checks failed and it states no thresholds: the default error_rate < 1% fails it.
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));
    let r = result(&out);
    assert_eq!(n(&r["iterations"]), 6, "2 VUs × 3: {r}");

    assert!(step(&r, "login").get("check_failures").is_none(), "{r}");
    assert_eq!(failures(&r, "anonymous"), one("$.errno == 0", "501", 6));
    assert_eq!(failures(&r, "submit"), one("$.errno == 0", "402", 6));
    assert_eq!(
        failures(&r, "save"),
        one("extract addressId ($.data.id)", "nothing found", 6)
    );
    for name in ["anonymous", "submit", "save"] {
        assert_eq!(n(&step(&r, name)["errors_by_kind"]["check"]), 6, "{name}");
    }
    // Each refusal counted is one the shop itself answered.
    let after = stats(&base);
    let errno = |s: &Value, code: &str| n(&s["shop"]["errno"][code]);
    assert_eq!(errno(&after, "402") - errno(&before, "402"), 6, "{after}");
    assert_eq!(errno(&after, "501") - errno(&before, "501"), 6, "{after}");

    let stdout = String::from_utf8_lossy(&o.stdout);
    for line in [
        "  anonymous: 6 × $.errno == 0, got 501",
        "  submit: 6 × $.errno == 0, got 402",
        "  save: 6 × extract addressId ($.data.id): nothing found",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no {line:?} in\n{stdout}"
        );
    }
    assert!(!stdout.contains("  login:"), "{stdout}");

    // `report merge` of two runs sums them.
    let merged = dir.path().join("merged.json");
    let child = loadtape()
        .arg("report")
        .arg("merge")
        .args([&out, &out])
        .arg("--out")
        .arg(&merged)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = finish(child, Duration::from_secs(30));
    // The merged run is judged as the runs were: by the default error_rate < 1%.
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));
    let m = result(&merged);
    assert_eq!(failures(&m, "submit"), one("$.errno == 0", "402", 12));
    assert!(String::from_utf8_lossy(&o.stdout).contains("  submit: 12 × $.errno == 0, got 402"));
}

#[test]
fn debug_prints_the_broken_rule_and_the_value_found() {
    let (_tb, base) = testbed(&["--token-ttl", "1h"]);
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path());
    let out = dir.path().join("r.json");
    let o = run(
        &scenario,
        &base,
        &out,
        &["--iterations", "1", "--vus", "1", "--debug"],
        Duration::from_secs(60),
    );
    // Its checks failed and it states no thresholds: the default error_rate < 1% fails it.
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for line in [
        "    check: passed",
        "    check: FAILED $.errno: expected == 0, got 501",
        "    check: FAILED $.errno: expected == 0, got 402",
        "    extract addressId: NOT FOUND",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no {line:?} in\n{stdout}"
        );
    }
    assert!(!stdout.contains("FAILED (check)"), "{stdout}");
}
