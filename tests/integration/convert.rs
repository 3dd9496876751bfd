//! `loadtape tokens` and `loadtape convert` end to end: a mini-program flow recorded through
//! the real proxy in front of the TLS testbed, then the real binary finds its tokens and writes
//! a scenario the validating loader accepts, covering every value the testbed checks; the
//! engine then replays it against the same testbed with no auth failure and no unknown id.

use std::path::Path;
use std::process::Output;

use loadtape_scenario::{BodyTemplate, Extractor, Scope};
use loadtape_testbed::{Config, Testbed};

use crate::util::{curl, loadtape, Running};

const APPID: &str = "wx5f3c9a1b2d4e6f70";

fn run(args: &[&str]) -> Output {
    loadtape().args(args).output().expect("loadtape runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The testbed the flow was recorded against, still serving, and the recording.
struct Recorded {
    tb: Testbed,
    _rt: tokio::runtime::Runtime,
    recording: std::path::PathBuf,
    testbed_ca: String,
}

/// Records the testbed flow a WeChat mini program runs: platform token, login, goods list,
/// detail, profile by cookie, order with the access_token.
fn record_flow(dir: &Path) -> Recorded {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tb = rt
        .block_on(Testbed::start(Config {
            tls: true,
            cert_dir: dir.join("testbed"),
            appid: APPID.into(),
            ..Config::default()
        }))
        .unwrap();
    let testbed_ca = tb.ca_path().unwrap().to_str().unwrap().to_string();
    let recording = dir.join("shop.yaml");
    let ca_dir = dir.join("certs");
    let mut proxy = Running::spawn(&[
        "record",
        "--listen",
        "127.0.0.1:0",
        "--out",
        recording.to_str().unwrap(),
        "--ca-dir",
        ca_dir.to_str().unwrap(),
        "--upstream-ca",
        &testbed_ca,
    ]);
    let addr = proxy.proxy_ready();
    let proxy_url = format!("http://{addr}");
    let ca = ca_dir.join("loadtape-ca.pem");
    let referer = format!("referer: https://servicewechat.com/{APPID}/12/page-frame.html");
    let mut call = |args: &[&str]| {
        let mut all = vec![
            "--proxy",
            proxy_url.as_str(),
            "--cacert",
            ca.to_str().unwrap(),
            "-H",
            referer.as_str(),
        ];
        all.extend_from_slice(args);
        let (code, out) = curl(&all);
        assert_eq!(code, 0, "{out}");
        // The exchange is on disk once the proxy prints it: the order is the calls' order.
        proxy.lines(1);
        out
    };
    let base = tb.base_url();
    let token = json(&call(&[&format!(
        "{base}/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret=testbed-secret"
    )]))["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let session = json(&call(&[
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"code":"0a3Xk2ll2yqXRc4M"}"#,
        &format!("{base}/api/login"),
    ]))["token"]
        .as_str()
        .unwrap()
        .to_string();
    let bearer = format!("authorization: Bearer {session}");
    let list = json(&call(&["-H", &bearer, &format!("{base}/api/goods?page=1")]));
    let id = list["data"][0]["id"].as_str().unwrap().to_string();
    call(&["-H", &bearer, &format!("{base}/api/goods/{id}")]);
    let cookie = format!("cookie: tb_session={session}; tb_lang=zh_CN");
    call(&["-H", &cookie, &format!("{base}/api/profile")]);
    let order = json(&call(&[
        "-H",
        "content-type: application/json",
        "-d",
        &format!(r#"{{"goods_id":"{id}","quantity":1}}"#),
        &format!("{base}/api/order?access_token={token}"),
    ]));
    assert_eq!(order["errcode"], 0, "{order}");
    let (code, rest) = proxy.terminate();
    assert_eq!(code, 0, "{rest}");
    let stats = tb.stats();
    assert_eq!(
        stats.auth_failures_total(),
        0,
        "the recorded flow was clean"
    );
    Recorded {
        tb,
        _rt: rt,
        recording,
        testbed_ca,
    }
}

#[test]
fn record_tokens_convert_load() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = record_flow(dir.path());
    let rec_arg = recorded.recording.to_str().unwrap();

    let out = run(&["tokens", rec_arg]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("mini program: WeChat appid {APPID}")),
        "{stdout}"
    );
    // A row and its continuation lines (one use or origin per line), cut at the header's
    // column starts; a cell's lines joined with "; ".
    let row = |var: &str| {
        let lines: Vec<&str> = stdout.lines().collect();
        let header = lines.iter().find(|l| l.starts_with("VARIABLE")).unwrap();
        let starts: Vec<usize> = ["VARIABLE", "CLASS", "USED IN", "ORIGIN", "CONF"]
            .iter()
            .map(|h| header.find(h).unwrap())
            .collect();
        let first = lines
            .iter()
            .position(|l| l.starts_with(&format!("{var} ")))
            .unwrap_or_else(|| panic!("no row for {var}:\n{stdout}"));
        let mut cells = vec![Vec::new(); 5];
        for l in std::iter::once(lines[first]).chain(
            lines[first + 1..]
                .iter()
                .copied()
                .take_while(|l| l.starts_with(' ')),
        ) {
            for (i, cell) in cells.iter_mut().enumerate() {
                let end = starts
                    .get(i + 1)
                    .copied()
                    .unwrap_or(usize::MAX)
                    .min(l.len());
                let text = l.get(starts[i].min(end)..end).unwrap_or("").trim();
                if !text.is_empty() {
                    cell.push(text.to_string());
                }
            }
        }
        cells
            .iter()
            .map(|c| c.join("; "))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    assert_eq!(row("appid"), "appid | appid | token: query appid | - | 95%");
    assert_eq!(
        row("token"),
        "token | session token | goods: header authorization (Bearer); goods_detail: header authorization (Bearer); profile: cookie tb_session | login: json $.token | 90%"
    );
    assert_eq!(
        row("goods_id"),
        "goods_id | correlated | goods_detail: path segment 3; order: json $.goods_id | goods: json $.data[0].id | 90%"
    );
    assert_eq!(
        row("access_token"),
        "access_token | platform token | order: query access_token | token: json $.access_token | 95%"
    );
    assert!(
        stdout.contains("warnings:\n  - `code` (json $.code of step `login`) is a login code"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("next: loadtape convert {rec_arg}")));

    // Default output beside the recording.
    let out = run(&["convert", rec_arg]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let scenario_path = dir.path().join("shop.scenario.yaml");
    assert!(
        stdout.contains(&format!(
            "wrote {}: 2 token step(s), 4 step(s), 1 extractor(s), 5 finding(s) applied, 0 suggestion(s)",
            scenario_path.display()
        )),
        "{stdout}"
    );
    let s = loadtape_scenario::load_scenario(&scenario_path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.recording.as_deref(), Some("shop.yaml"));
    assert_eq!(s.variables["appid"].to_string(), APPID);
    let tokens: Vec<(&str, Scope)> = s
        .tokens
        .iter()
        .map(|t| (t.name.as_str(), t.scope))
        .collect();
    assert_eq!(tokens, [("token", Scope::Shared), ("login", Scope::PerVu)]);
    assert!(
        matches!(&s.tokens[0].extract["access_token"], Extractor::Json(p) if p.as_str() == "$.access_token")
    );
    assert!(matches!(&s.tokens[1].extract["token"], Extractor::Json(p) if p.as_str() == "$.token"));
    match &s.tokens[1].request.body {
        Some(BodyTemplate::Json(j)) => {
            assert_eq!(j.to_value(), serde_json::json!({"code": "{{ uuid() }}"}))
        }
        other => panic!("{other:?}"),
    }
    let steps: Vec<&str> = s.steps.iter().map(|st| st.name.as_str()).collect();
    assert_eq!(steps, ["goods", "goods_detail", "profile", "order"]);
    let header = |i: usize, name: &str| {
        s.steps[i]
            .request
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_string())
    };
    assert_eq!(
        header(0, "authorization").as_deref(),
        Some("Bearer {{ token }}")
    );
    assert_eq!(
        header(1, "authorization").as_deref(),
        Some("Bearer {{ token }}")
    );
    assert_eq!(
        header(2, "cookie").as_deref(),
        Some("tb_session={{ token }}; tb_lang=zh_CN")
    );
    assert!(
        matches!(&s.steps[0].extract["goods_id"], Extractor::Json(p) if p.as_str() == "$.data[0].id")
    );
    assert!(s.steps[1]
        .request
        .url
        .to_string()
        .ends_with("/api/goods/{{ goods_id }}"));
    let order_url = s.steps[3].request.url.to_string();
    assert!(
        order_url.ends_with("/api/order?access_token={{ access_token }}"),
        "{order_url}"
    );

    // Never silently overwritten.
    let out = run(&["convert", rec_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("already exists; pass --force"));
    assert_eq!(run(&["convert", rec_arg, "--force"]).status.code(), Some(0));

    // PTS method 2: the platform token from a CSV, created with the recorded token.
    let csv = dir.path().join("tokens.csv");
    let csv_scenario = dir.path().join("csv.scenario.yaml");
    let out = run(&[
        "convert",
        rec_arg,
        "-o",
        csv_scenario.to_str().unwrap(),
        "--token-csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&csv)
        .unwrap()
        .starts_with("access_token\n"));
    let s = loadtape_scenario::load_scenario(&csv_scenario).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.data["tokens"].csv, "tokens.csv");
    assert_eq!(s.tokens.len(), 1, "only the session token step is left");
    assert!(s.steps[3]
        .request
        .url
        .to_string()
        .ends_with("access_token={{ tokens.access_token }}"));
}

#[test]
fn bad_input_is_exit_2_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "loadtape: recording/v1\nname: x\ncreated: 2026-11-21T10:00:00Z\n---\nid: one\n",
    )
    .unwrap();
    for cmd in ["tokens", "convert"] {
        let out = run(&[cmd, bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("{}:5", bad.display())),
            "{cmd}: {stderr}"
        );
    }
    let out = run(&["tokens", dir.path().join("missing.yaml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&[
        "tokens",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/detect/signed.yaml"
        ),
        "--token-step",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`nope` names no step"));
}

/// The converted testbed recording is ready for the replay engine: one flow per VU against the
/// same testbed passes every check, and the testbed's own counts show fresh tokens, no auth
/// failure and no unknown goods id (the ids were correlated, not replayed).
#[test]
fn converted_testbed_scenario_replays_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = record_flow(dir.path());
    let rec_arg = recorded.recording.to_str().unwrap();
    let out = run(&["convert", rec_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let scenario = dir.path().join("shop.scenario.yaml");
    let before = recorded.tb.stats();
    let out = run(&[
        "run",
        scenario.to_str().unwrap(),
        "--vus",
        "2",
        "--iterations",
        "1",
        "--ca",
        &recorded.testbed_ca,
        "--quiet",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let after = recorded.tb.stats();
    assert_eq!(after.auth_failures_total(), 0, "{after:?}");
    assert_eq!(after.unknown_ids, 0, "{after:?}");
    assert_eq!(
        after.orders - before.orders,
        2,
        "one order per VU: {after:?}"
    );
    assert_eq!(
        after.tokens_issued.session - before.tokens_issued.session,
        2,
        "a per-VU login each: {after:?}"
    );
    assert_eq!(
        after.tokens_issued.platform - before.tokens_issued.platform,
        1,
        "one shared platform token: {after:?}"
    );
}

#[test]
fn a_recording_with_nothing_to_replay_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("assets.yaml");
    std::fs::write(
        &rec,
        "loadtape: recording/v1\nname: assets\ncreated: 2026-11-21T10:00:00Z\n---\nid: 1\n\
         started: 2026-11-21T10:00:01Z\nduration_ms: 1\nrequest: {method: GET, url: \
         'https://cdn.example.com/a.png', version: HTTP/1.1}\nresponse: {status: 200, version: \
         HTTP/1.1}\n",
    )
    .unwrap();
    let out = run(&["convert", rec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nothing to replay"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("assets.scenario.yaml").exists());
}
