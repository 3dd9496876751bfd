//! `loadtape verify` against the real TLS testbed, from the committed `testbed-shop`
//! recording: the converted scenario matches; each broken variant makes verify name the first
//! diverging step and its cause. The testbed is a fresh process, so every id and token the
//! recording holds is unknown to it, as a real backend's would be in another session.

use std::path::Path;
use std::process::Output;

use crate::util::{finish, loadtape, testbed, Running};

const APPID: &str = "wx5f3c9a1b2d4e6f70";
const RECORDED: &str = "https://localhost:19443";

/// A TLS testbed with the recording's appid, and a directory holding the recording and its
/// converted scenario.
fn setup(extra: &[&str]) -> (tempfile::TempDir, Running, String) {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings");
    for f in ["testbed-shop.yaml", "testbed-shop.scenario.yaml"] {
        std::fs::copy(root.join(f), dir.path().join(f)).unwrap();
    }
    let certs = dir.path().join("certs");
    let mut args = vec![
        "--tls",
        "--cert-dir",
        certs.to_str().unwrap(),
        "--appid",
        APPID,
    ];
    args.extend_from_slice(extra);
    let (tb, base) = testbed(&args);
    (dir, tb, base)
}

/// The converted scenario with `edit` applied, written as `name`.
fn variant(dir: &Path, name: &str, edit: impl Fn(String) -> String) {
    let s = std::fs::read_to_string(dir.join("testbed-shop.scenario.yaml")).unwrap();
    std::fs::write(dir.join(name), edit(s)).unwrap();
}

/// `loadtape verify FILE --json` against the testbed: exit code and the report.
fn verify(dir: &Path, base: &str, file: &str) -> (i32, serde_json::Value, Output) {
    let mut c = loadtape();
    c.current_dir(dir).args([
        "verify",
        file,
        "--target",
        &format!("{RECORDED}={base}"),
        "--ca",
        "certs/testbed-ca.pem",
        "--json",
    ]);
    let out = finish(
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        std::time::Duration::from_secs(60),
    );
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), report, out)
}

fn verdicts(r: &serde_json::Value) -> Vec<(String, String)> {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().into(),
                s["verdict"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn recorded_goods_id(dir: &Path) -> String {
    let rec = std::fs::read_to_string(dir.join("testbed-shop.yaml")).unwrap();
    let at = rec.find("/api/goods/").unwrap() + "/api/goods/".len();
    rec[at..]
        .split(|c: char| c.is_whitespace() || c == '"')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn converted_scenario_matches_and_table_hints_run() {
    let (dir, _tb, base) = setup(&[]);
    let (code, report, _) = verify(dir.path(), &base, "testbed-shop.scenario.yaml");
    assert_eq!(code, 0, "{report:#}");
    assert!(
        verdicts(&report).iter().all(|(_, v)| v == "same"),
        "{report:#}"
    );
    let mut c = loadtape();
    c.current_dir(dir.path()).args([
        "verify",
        "testbed-shop.scenario.yaml",
        "--target",
        &format!("{RECORDED}={base}"),
        "--ca",
        "certs/testbed-ca.pem",
    ]);
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("goods_detail") && text.contains("next: loadtape run"),
        "{text}"
    );
}

#[test]
fn removed_extractor_is_named_with_the_live_value_and_the_edit() {
    let (dir, _tb, base) = setup(&[]);
    let id = recorded_goods_id(dir.path());
    variant(dir.path(), "noextract.yaml", |s| {
        s.replace(
            "  extract:\n    # used by goods_detail, order\n    goods_id: {json: '$.data[0].id'}\n",
            "",
        )
        .replace("{{ goods_id }}", &id)
    });
    let (code, r, _) = verify(dir.path(), &base, "noextract.yaml");
    assert_eq!(code, 1, "{r:#}");
    let v = verdicts(&r);
    assert_eq!(v[2], ("goods".into(), "same".into()), "{r:#}");
    assert_eq!(v[3], ("goods_detail".into(), "diverged".into()), "{r:#}");
    let cause = &r["cause"];
    assert_eq!(cause["step"], "goods_detail", "{r:#}");
    let fix = cause["fix"].as_str().unwrap();
    assert!(
        fix.contains("add extractor `goods_id` on step `goods`: {json: '$.data[0].id'}")
            && fix.contains(&id),
        "{fix}"
    );
    let evidence = cause["evidence"].to_string();
    assert!(
        evidence.contains("live: step `goods` answered $.data[0].id = g"),
        "{evidence}"
    );
}

#[test]
fn a_token_step_with_a_wrong_secret_is_the_cause() {
    let (dir, _tb, base) = setup(&[]);
    variant(dir.path(), "secret.yaml", |s| {
        s.replace("  secret: testbed-secret", "  secret: not-the-secret")
    });
    let (code, r, _) = verify(dir.path(), &base, "secret.yaml");
    assert_eq!(code, 1, "{r:#}");
    let v = verdicts(&r);
    assert_eq!(v[0], ("token".into(), "diverged".into()), "{r:#}");
    assert!(v[2..].iter().all(|(_, v)| v == "not reached"), "{r:#}");
    assert_eq!(r["cause"]["summary"], "token step `token` failed", "{r:#}");
    assert!(
        r["cause"]["evidence"]
            .to_string()
            .contains("errcode absent → 400"),
        "{r:#}"
    );
}

#[test]
fn errcode_42001_in_an_http_200_is_named_as_an_expired_token() {
    // Tokens live 300 ms; the scenario believes an hour and never refreshes, and a 600 ms
    // call stands between the token and the order: the order's token has expired for sure.
    let (dir, _tb, base) = setup(&["--token-ttl", "300ms"]);
    variant(dir.path(), "expired.yaml", |s| {
        let order = s.find("- name: order").unwrap();
        let load = s.find("# Start small").unwrap();
        let tokens = s.find("tokens:").unwrap();
        let login = s.find("# `code` is a single-use").unwrap();
        let platform = s[tokens..login]
            .replace("  expires_in: '{{ expires_in }}s'\n", "  expires_in: 1h\n")
            .replace("  refresh_on:\n    status: [401]\n    json: {path: '$.errcode', in: [40001, 40014, 42001]}\n", "");
        format!(
            "{}{platform}steps:\n- name: pause\n  request: {{method: GET, url: '{RECORDED}/slow?ms=600'}}\n{}{}",
            &s[..tokens],
            s[order..load].replace("{{ goods_id }}", "g1"),
            &s[load..]
        )
    });
    let (code, r, _) = verify(dir.path(), &base, "expired.yaml");
    assert_eq!(code, 1, "{r:#}");
    let v = verdicts(&r);
    assert_eq!(v[1], ("pause".into(), "unrecorded".into()), "{r:#}");
    assert_eq!(v[2], ("order".into(), "diverged".into()), "{r:#}");
    assert_eq!(r["cause"]["step"], "order", "{r:#}");
    assert_eq!(
        r["cause"]["summary"], "errcode 42001: the access token expired",
        "{r:#}"
    );
    assert!(
        r["cause"]["advice"]
            .as_str()
            .unwrap()
            .contains("refresh_on"),
        "{r:#}"
    );
}

/// A recording of one signed-API call whose `nonce_str` the scenario sends as recorded: the
/// server has seen that nonce (the recorded session used it), refuses it with `errcode 40163`
/// in an HTTP 200, and verify names the nonce and the generator to use.
#[test]
fn a_nonce_left_as_recorded_is_named_with_the_generator_to_use() {
    let (dir, _tb, base) = setup(&[]);
    let nonce = "5f2b9c0e7a1d4e3f8b6c2a9d0e1f3a7b";
    let url = format!("{RECORDED}/api/coupons?nonce_str={nonce}");
    std::fs::write(
        dir.path().join("coupons.yaml"),
        format!(
            "loadtape: recording/v1
name: coupons
created: 2026-11-21T10:00:00.000Z
...
---
id: 1
started: 2026-11-21T10:00:05.000Z
duration_ms: 3.0
request:
  method: GET
  url: {url}
  version: HTTP/1.1
response:
  status: 200
  version: HTTP/1.1
  headers:
  - [content-type, application/json]
  body: {{json: {{errcode: 0, coupons: [{{couponId: cpn_10, title: 10 off}}]}}}}
...
"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("coupons.scenario.yaml"),
        format!(
            "loadtape: scenario/v1
name: coupons
recording: coupons.yaml
steps:
  - name: coupons
    recorded: 1
    request: {{method: GET, url: '{url}'}}
    check: {{status: 200, json: {{path: $.errcode, equals: 0}}}}
load: {{executor: constant-vus, vus: 1, duration: 10s}}
"
        ),
    )
    .unwrap();
    // The recorded session used the nonce.
    let ca = dir.path().join("certs/testbed-ca.pem");
    let (code, body) = crate::util::curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        &format!("{base}/api/coupons?nonce_str={nonce}"),
    ]);
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("\"errcode\":0"), "{body}");

    let (code, r, _) = verify(dir.path(), &base, "coupons.scenario.yaml");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(
        verdicts(&r)[0],
        ("coupons".into(), "diverged".into()),
        "{r:#}"
    );
    let cause = &r["cause"];
    assert_eq!(cause["step"], "coupons", "{r:#}");
    let said = format!(
        "{} {} {}",
        cause["summary"], cause["evidence"], cause["fix"]
    );
    assert!(said.contains(nonce), "{r:#}");
    assert!(
        said.contains("md5(uuid())") || said.contains("uuid()"),
        "{r:#}"
    );
}
