//! Diagnostics (issue 16, PTS's error diagnostics): a run against the testbed whose steps
//! fail three ways — an answer its check refuses (HTTP 404 where 200 is required), a JSON
//! rule broken in an HTTP 200, a connection refused — and a run whose token step is refused.
//! The result must keep the first five failing exchanges of each step and kind with the
//! request as sent and the answer as received, credentials masked; the summary, the HTML
//! report, the JUnit file and `report merge` must show them.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::run::{n, result, run, show, step};
use crate::util::{loadtape, testbed};

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scenario(base: &str, dead: u16) -> String {
    format!(
        r#"
loadtape: scenario/v1
name: diagnosed
variables: {{appid: wxtestbed, secret: testbed-secret}}
tokens:
  - name: platform
    scope: shared
    request:
      method: GET
      url: {base}/cgi-bin/token?grant_type=client_credential&appid={{{{ appid }}}}&secret={{{{ secret }}}}
    extract: {{access_token: {{json: $.access_token}}}}
  - name: session
    scope: per-vu
    request:
      method: POST
      url: {base}/api/login
      body: {{json: {{code: diagnosed}}}}
    extract: {{session: {{json: $.token}}}}
steps:
  - name: goods
    request:
      method: GET
      url: {base}/api/goods?page=1
      headers: [[authorization, 'Bearer {{{{ session }}}}']]
    check: {{status: 200}}
  - name: order
    request:
      method: POST
      url: {base}/api/order?access_token={{{{ access_token }}}}
      headers: [[authorization, 'Bearer {{{{ access_token }}}}'], [x-trace, visible]]
      body: {{json: {{goods_id: no-such-goods, quantity: 1}}}}
    check: {{status: 200}}
  - name: errno
    request:
      method: GET
      url: {base}/api/goods?page=1
      headers: [[authorization, 'Bearer {{{{ session }}}}'], [x-session, '{{{{ session }}}}']]
    check: {{status: 200, json: {{path: $.errno, equals: 0}}}}
  - name: dead
    request:
      method: GET
      url: http://127.0.0.1:{dead}/nothing-here
    think: 20ms
load: {{executor: constant-vus, vus: 2, duration: 2s}}
thresholds: ['error_rate < 1%']
"#
    )
}

fn diagnostics<'a>(r: &'a Value, step: &str, kind: &str) -> Vec<&'a Value> {
    r["diagnostics"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|d| d["step"] == step && d["kind"] == kind)
                .collect()
        })
        .unwrap_or_default()
}

fn header<'a>(h: &'a Value, name: &str) -> Option<&'a str> {
    h.as_array()?
        .iter()
        .find(|p| p[0].as_str().is_some_and(|k| k.eq_ignore_ascii_case(name)))
        .and_then(|p| p[1].as_str())
}

#[test]
fn failing_exchanges_are_kept_shown_and_masked() {
    let (_bed, base) = testbed(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.yaml");
    std::fs::write(&file, scenario(&base, closed_port())).unwrap();
    let out = dir.path().join("r.json");
    let junit = dir.path().join("j.xml");
    let o = run(
        &file,
        &base,
        &out,
        &["--junit", junit.to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();
    assert!(n(&step(&r, "order")["errors"]) > 5, "{}", show(&o));

    let order = diagnostics(&r, "order", "status");
    assert_eq!(order.len(), 5, "{text}");
    let times: Vec<f64> = order.iter().map(|d| d["t"].as_f64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]) && times[4] < 10.0,
        "{times:?}"
    );
    let d = order[0];
    assert_eq!(d["request"]["method"], "POST");
    let url = d["request"]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{base}/api/order?access_token=***")),
        "{url}"
    );
    let h = &d["request"]["headers"];
    assert_eq!(header(h, "authorization"), Some("Bearer ***"), "{h}");
    assert_eq!(header(h, "x-trace"), Some("visible"), "{h}");
    assert!(d["request"]["body"]["text"]
        .as_str()
        .unwrap()
        .contains("no-such-goods"));
    assert_eq!(d["response"]["status"], 404);
    assert_eq!(d["response"]["reason"], "Not Found");
    assert!(
        header(&d["response"]["headers"], "content-type").is_some(),
        "{d}"
    );
    assert!(
        !d["response"]["body"]["text"].as_str().unwrap().is_empty(),
        "{d}"
    );
    assert!(d["message"].as_str().unwrap().contains("404"), "{d}");
    assert!(d["vu"].is_u64() && d["iteration"].is_u64(), "{d}");

    let errno = diagnostics(&r, "errno", "check");
    assert_eq!(errno.len(), 5, "{text}");
    assert_eq!(errno[0]["rule"], "$.errno == 0", "{}", errno[0]);
    assert_eq!(
        header(&errno[0]["request"]["headers"], "x-session"),
        Some("***")
    );
    assert!(
        errno[0]["message"]
            .as_str()
            .unwrap()
            .contains("got missing"),
        "{}",
        errno[0]
    );
    let dead = diagnostics(&r, "dead", "connect");
    assert_eq!(dead.len(), 5, "{text}");
    assert!(dead[0]["response"].is_null() && dead[0]["request"]["url"].is_string());
    assert!(!dead[0]["message"].as_str().unwrap().is_empty());
    assert!(
        diagnostics(&r, "goods", "status").is_empty(),
        "a passing step has none"
    );
    assert!(
        !text.contains("testbed-secret"),
        "the app secret never reaches the result"
    );

    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.contains("diagnostics: the first 5 failing exchanges"),
        "{summary}"
    );
    assert!(summary.contains(">>> [order] POST"), "{summary}");
    assert!(summary.contains("<<< 404 Not Found HTTP/1.1"), "{summary}");
    assert!(summary.contains("dead (connect):"), "{summary}");
    let x = std::fs::read_to_string(&junit).unwrap();
    assert!(
        x.contains("<system-out>") && x.contains("&gt;&gt;&gt; ["),
        "{x}"
    );

    shown_in_html_and_merged(dir.path(), &out);
}

/// The HTML report's section and `report merge`: two copies of one result still keep five.
fn shown_in_html_and_merged(dir: &Path, out: &Path) {
    let html = dir.join("r.html");
    let o = loadtape()
        .args([
            "report",
            out.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    // The report's verdict is the run's: its threshold failed.
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<section id=\"diagnostics\">"),
        "no diagnostics section"
    );
    assert!(page.contains("order (status)") && page.contains("access_token=***"));
    let merged = dir.join("m.json");
    let o = loadtape()
        .args([
            "report",
            "merge",
            out.to_str().unwrap(),
            out.to_str().unwrap(),
        ])
        .args(["--out", merged.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(99), "{}", show(&o));
    let m = result(&merged);
    assert_eq!(diagnostics(&m, "order", "status").len(), 5);
    assert_eq!(diagnostics(&m, "dead", "connect").len(), 5);
}

#[test]
fn a_refused_token_step_shows_its_request_with_the_secret_masked() {
    let (_bed, base) = testbed(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.yaml");
    let yaml =
        scenario(&base, closed_port()).replace("secret: testbed-secret", "secret: wrong-secret");
    std::fs::write(&file, yaml).unwrap();
    let out = dir.path().join("r.json");
    let o = run(&file, &base, &out, &[], Duration::from_secs(60));
    assert_ne!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    let list = r["diagnostics"].as_array().expect("diagnostics");
    let d = list
        .iter()
        .find(|d| d["step"] == "platform" && d["token"] == true)
        .unwrap_or_else(|| panic!("no token diagnostic: {r}"));
    let url = d["request"]["url"].as_str().unwrap();
    assert!(url.ends_with("&secret=***"), "{url}");
    assert!(
        d["response"]["body"]["text"]
            .as_str()
            .unwrap()
            .contains("errcode"),
        "{d}"
    );
    assert!(!r.to_string().contains("wrong-secret"));
}
