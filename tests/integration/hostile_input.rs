//! Hostile and malformed input to the loaders (scenarios, data files, recordings, HAR files,
//! results): each gets exit 2 with a message naming the file, the line where there is one,
//! and what is wrong — never a panic, an abort or unbounded memory.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::util::{finish, loadtape};

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `loadtape ARGS` in `dir`, bounded in time.
fn loadtape_in(dir: &Path, args: &[&str]) -> Output {
    let child = loadtape()
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    finish(child, Duration::from_secs(60))
}

/// Asserts exit 2 and a message holding every one of `needles`; returns stderr.
fn refused(o: &Output, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "exit 2 expected: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{n:?} not in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.len() < 4096,
        "the message is short: {} bytes",
        stderr.len()
    );
    stderr
}

fn scenario_with(url: &str, extra: &str, load: &str) -> String {
    format!(
        "loadtape: scenario/v1
name: hostile
{extra}
steps:
  - name: get
    request: {{method: GET, url: '{url}'}}
load: {load}
"
    )
}

const ONE_VU: &str = "{executor: constant-vus, vus: 1, duration: 1s}";

#[test]
fn a_template_nested_thousands_deep_is_refused_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}'x'{}", "md5(".repeat(2000), ")".repeat(2000));
    let s = write(
        dir.path(),
        "deep.yaml",
        scenario_with(
            &format!("http://127.0.0.1:9/x?h={{{{ {deep} }}}}"),
            "",
            ONE_VU,
        ),
    );
    let o = loadtape_in(
        dir.path(),
        &["run", s.to_str().unwrap(), "--iterations", "1"],
    );
    refused(&o, &["deep.yaml:6", "nested"]);
}

#[test]
fn a_vu_count_the_machine_cannot_hold_is_refused_with_the_way_to_split_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(
        dir.path(),
        "vus.yaml",
        scenario_with(
            "http://127.0.0.1:9/x",
            "",
            "{executor: constant-vus, vus: 1000000000, duration: 1s}",
        ),
    );
    let o = loadtape_in(dir.path(), &["run", s.to_str().unwrap()]);
    refused(&o, &["vus.yaml", "1000000000", "--segment"]);
}

#[test]
fn a_ragged_or_unterminated_csv_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = "data:\n  users: {csv: users.csv, pick: sequential}";
    let s = write(
        dir.path(),
        "csv.yaml",
        scenario_with("http://127.0.0.1:9/x?u={{ users.user }}", data, ONE_VU),
    );
    write(dir.path(), "users.csv", "user,pass\na,1\nb\nc,3\n");
    let o = loadtape_in(
        dir.path(),
        &["run", s.to_str().unwrap(), "--iterations", "1"],
    );
    refused(&o, &["users.csv:3", "2 columns"]);
    write(dir.path(), "users.csv", "user,pass\na,1\n\"b,2\nc,3\n");
    let o = loadtape_in(
        dir.path(),
        &["run", s.to_str().unwrap(), "--iterations", "1"],
    );
    refused(&o, &["users.csv:3", "quote"]);
}

#[test]
fn a_utf8_bom_is_accepted_in_scenarios_and_recordings() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = b"\xef\xbb\xbf".to_vec();
    text.extend_from_slice(scenario_with("http://127.0.0.1:9/x", "", ONE_VU).as_bytes());
    text.extend_from_slice(b"thresholds: [error_rate < 1%]\n");
    let s = write(dir.path(), "bom.yaml", &text);
    // Port 9 refuses: the run is judged (exit 99), not refused as unreadable (exit 2).
    let o = loadtape_in(
        dir.path(),
        &["run", s.to_str().unwrap(), "--iterations", "1"],
    );
    assert_eq!(
        o.status.code(),
        Some(99),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/detect/signed.yaml");
    let mut rec = b"\xef\xbb\xbf".to_vec();
    rec.extend_from_slice(&std::fs::read(fixture).unwrap());
    let r = write(dir.path(), "signed.yaml", &rec);
    let o = loadtape_in(dir.path(), &["tokens", r.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_huge_url_is_cut_in_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let huge = format!("http://127.0.0.1:9/{}", "a".repeat(50 << 20));
    let s = write(
        dir.path(),
        "huge.yaml",
        scenario_with(&huge, "", "{executor: constant-vus, vus: 0, duration: 1s}"),
    );
    let o = loadtape_in(dir.path(), &["run", s.to_str().unwrap()]);
    refused(&o, &["huge.yaml"]);
}

#[test]
fn a_method_is_a_token_of_letters_whatever_its_yaml_type() {
    let dir = tempfile::tempdir().unwrap();
    for (name, method) in [("m42.yaml", "42"), ("space.yaml", "'GE T'")] {
        let text = scenario_with("http://127.0.0.1:9/x", "", ONE_VU)
            .replace("method: GET", &format!("method: {method}"));
        let s = write(dir.path(), name, text);
        let o = loadtape_in(
            dir.path(),
            &["run", s.to_str().unwrap(), "--iterations", "1"],
        );
        refused(&o, &[&format!("{name}:6"), "method"]);
    }
}

/// One exchange of a recording whose request carries `url` and a header named `header`.
fn recording(url: &str, header: &str) -> String {
    format!(
        "loadtape: recording/v1
name: r
created: 2026-11-21T10:00:00.000Z
...
---
id: 1
started: 2026-11-21T10:00:05.000Z
duration_ms: 30.0
request:
  method: GET
  url: {url}
  version: HTTP/1.1
  headers:
  - ['{header}', x]
response:
  status: 200
  version: HTTP/1.1
  headers:
  - [content-type, application/json]
  body: {{json: {{token: abcdef0123456789abcdef}}}}
...
"
    )
}

#[test]
fn a_recording_with_a_url_or_header_no_request_can_carry_is_refused_at_read() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "ftp.yaml",
            "ftp://files.example.com/a",
            "accept",
            "ftp.yaml:11",
            "url",
        ),
        (
            "hdr.yaml",
            "https://a.example/x",
            "bad header",
            "hdr.yaml:14",
            "header",
        ),
    ];
    for (name, url, header, at, field) in cases {
        let r = write(dir.path(), name, recording(url, header));
        for cmd in ["tokens", "convert"] {
            let o = loadtape_in(dir.path(), &[cmd, r.to_str().unwrap()]);
            let stderr = refused(&o, &[at, field]);
            assert!(!stderr.contains("bug"), "{stderr}");
        }
    }
}

/// A HAR of one exchange; `response_text` and `encoding` make its response body.
fn har(request_header_value: &str, response_text: &str, compressed: bool) -> String {
    let content = if compressed {
        serde_json::json!({"size": 0, "mimeType": "text/plain", "text": response_text,
            "encoding": "base64"})
    } else {
        serde_json::json!({"size": 2, "mimeType": "text/plain", "text": response_text})
    };
    let mut response_headers =
        vec![serde_json::json!({"name": "content-type", "value": "text/plain"})];
    if compressed {
        response_headers.push(serde_json::json!({"name": "content-encoding", "value": "gzip"}));
    }
    serde_json::json!({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"},
        "entries": [{
            "startedDateTime": "2026-11-21T10:00:00.000Z", "time": 1.0,
            "request": {"method": "GET", "url": "https://a.example/x", "httpVersion": "HTTP/1.1",
                "headers": [{"name": "x-note", "value": request_header_value}],
                "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                "headers": response_headers, "cookies": [], "content": content,
                "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}}]}})
    .to_string()
}

#[test]
fn a_har_gzip_bomb_is_cut_at_the_body_cap_and_marked_truncated() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    // 1 GiB of zeros, gzipped to about 1 MB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    let h = write(dir.path(), "bomb.har", har("ok", &bomb, true));
    let out = dir.path().join("bomb.yaml");
    let o = loadtape_in(
        dir.path(),
        &[
            "har",
            "import",
            h.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--max-body",
            "1MiB",
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.len() < 4 << 20,
        "the body is cut: {} bytes",
        text.len()
    );
    assert!(text.contains("truncated"), "and says so");
}

#[test]
fn a_har_header_value_with_a_line_break_is_refused_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let h = write(
        dir.path(),
        "crlf.har",
        har("a\r\nx-injected: 1", "ok", false),
    );
    let out = dir.path().join("crlf.yaml");
    let o = loadtape_in(
        dir.path(),
        &[
            "har",
            "import",
            h.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    refused(&o, &["crlf.har", "entries[0]", "x-note"]);
}

#[test]
fn a_corrupt_histogram_is_said_not_silently_left_out_of_the_html() {
    let dir = tempfile::tempdir().unwrap();
    // A real result: a run against port 9, which refuses (every request an error).
    let s = write(
        dir.path(),
        "s.yaml",
        scenario_with("http://127.0.0.1:9/x", "thresholds: []", ONE_VU),
    );
    let out = dir.path().join("r.json");
    let o = loadtape_in(
        dir.path(),
        &[
            "run",
            s.to_str().unwrap(),
            "--iterations",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut r: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    r["total"]["histogram"] = "SGVsbG8gd29ybGQ=".into();
    let bad = write(dir.path(), "bad.json", r.to_string());
    let html = dir.path().join("bad.html");
    let o = loadtape_in(
        dir.path(),
        &[
            "report",
            bad.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("histogram of `total` does not decode"),
        "{stderr}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("does not decode"), "the page says so too");
}

#[test]
fn an_environment_variable_the_scenario_reads_must_be_set_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(
        dir.path(),
        "env.yaml",
        scenario_with(
            "http://127.0.0.1:9/x",
            "variables:\n  secret: '{{ env(\"LOADTAPE_TEST_UNSET_SECRET\") }}'",
            ONE_VU,
        )
        .replace(
            "url: 'http://127.0.0.1:9/x'",
            "url: 'http://127.0.0.1:9/x?s={{ secret }}'",
        ),
    );
    // Before: the run never ended (every iteration failed rendering its variables).
    let o = loadtape_in(
        dir.path(),
        &["run", s.to_str().unwrap(), "--iterations", "1"],
    );
    refused(
        &o,
        &[
            "env.yaml",
            "`LOADTAPE_TEST_UNSET_SECRET` is not set",
            "variables.secret",
        ],
    );
}
