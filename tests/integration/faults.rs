//! `loadtape run` against servers that break the exchange in each way a real one can (a
//! Python socket server, `tests/fixtures/faults/server.py`): every request sent is counted,
//! under the kind of failure it met, with the server's own words kept, and a run whose
//! requests failed does not pass.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::run::{n, result, run};

/// A misbehaving server process on a free loopback port, killed when dropped.
struct Faulty {
    child: Child,
    base: String,
}

impl Faulty {
    fn start(mode: &str) -> Faulty {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/faults/server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(mode)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is installed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the server prints its port");
        Faulty {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Faulty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One GET per iteration; `{extra}` is spliced in at the top level (thresholds, tokens).
fn scenario(dir: &Path, vus: u32, duration: &str, extra: &str) -> PathBuf {
    let path = dir.join("faults.yaml");
    std::fs::write(
        &path,
        format!(
            "loadtape: scenario/v1
name: faults
{extra}
steps:
  - name: get
    request: {{method: GET, url: 'https://api.shop.example/x'}}
load: {{executor: constant-vus, vus: {vus}, duration: {duration}}}
"
        ),
    )
    .unwrap();
    path
}

/// Runs `scenario` against a server in `mode`; returns the exit code, the result, and what
/// the run printed.
fn run_against(mode: &str, vus: u32, duration: &str, extra: &str) -> (i32, Value, String) {
    let server = Faulty::start(mode);
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), vus, duration, extra);
    let out = dir.path().join("r.json");
    let o = run(&s, &server.base, &out, &[], Duration::from_secs(60));
    // What the user reads: the summary (stdout) and the warnings (stderr).
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), result(&out), said)
}

fn kinds(row: &Value) -> Vec<(String, u64)> {
    row["errors_by_kind"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| n(v) > 0)
        .map(|(k, v)| (k.clone(), n(v)))
        .collect()
}

#[test]
fn each_broken_answer_counts_under_its_own_kind_with_the_servers_words() {
    // (mode, kind, words the kept message must have)
    let cases = [
        ("garbage", "protocol", "invalid"),
        ("huge-length", "protocol", "content-length"),
        ("close", "reset", "closed"),
        ("reset", "reset", "reset"),
    ];
    for (mode, kind, words) in cases {
        let (code, r, stderr) = run_against(mode, 2, "1s", "");
        let total = &r["total"];
        let requests = n(&total["requests"]);
        assert!(requests > 0, "{mode}: {stderr}");
        assert_eq!(
            kinds(total),
            vec![(kind.to_string(), requests)],
            "{mode}: every request sent failed, as {kind}: {total}"
        );
        let kept = &r["steps"][0]["error_messages"];
        let first = &kept[0];
        assert_eq!(first["kind"], kind, "{mode}: {kept}");
        let message = first["message"].as_str().unwrap().to_ascii_lowercase();
        assert!(message.contains(words), "{mode}: {message}");
        // Named by where it went, then the origin the scenario recorded.
        assert!(
            message.starts_with("http://127.0.0.1:")
                && message.contains("(recorded as https://api.shop.example:443)"),
            "{mode}: {message}"
        );
        assert!(
            !message.contains("closed before answering") || mode == "close",
            "{mode}: the real cause is kept, not a guess: {message}"
        );
        assert_eq!(code, 99, "{mode}: a run whose requests all failed fails");
    }
}

#[test]
fn requests_still_waiting_when_the_run_ends_are_counted_and_fail_the_run() {
    // A server that never answers: 5 VUs each send one request that is still out at the end.
    let (code, r, stderr) = run_against("hang", 5, "1s", "");
    let total = &r["total"];
    assert_eq!(n(&total["requests"]), 5, "{stderr}\n{total}");
    assert_eq!(kinds(total), vec![("timeout".to_string(), 5)], "{total}");
    assert_eq!(n(&total["unfinished"]), 5, "{total}");
    assert_eq!(r["end_reason"], "completed");
    // No thresholds written: the default one holds the run to its errors.
    let t = &r["thresholds"][0];
    assert_eq!(t["threshold"], "error_rate < 1%", "{}", r["thresholds"]);
    assert_eq!(t["passed"], false);
    assert_eq!(r["passed"], false);
    assert_eq!(code, 99, "{stderr}");
    assert!(stderr.contains("default"), "the default is named: {stderr}");
}

#[test]
fn thresholds_written_empty_mean_none() {
    let (code, r, stderr) = run_against("garbage", 1, "1s", "thresholds: []");
    assert!(n(&r["total"]["errors"]) > 0, "{stderr}");
    assert_eq!(r["thresholds"], serde_json::json!([]));
    assert_eq!(
        code, 0,
        "`thresholds: []` opts out of the default: {stderr}"
    );
}

#[test]
fn a_token_endpoint_answering_500_is_warned_about_on_its_first_failure() {
    let token = "tokens:
  - name: platform
    scope: shared
    request: {method: GET, url: 'https://api.shop.example/token'}
    extract:
      access_token: {json: $.access_token}";
    let (code, r, stderr) = run_against("status500", 1, "2s", token);
    assert_ne!(code, 0, "{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("warning: token step `platform`"))
        .unwrap_or_else(|| panic!("no token warning: {stderr}"));
    assert!(
        warning.contains("500"),
        "the first failure says why: {warning}"
    );
    let token = &r["tokens"][0];
    assert_eq!(token["check_failures"][0]["got"], "500", "{token}");
    assert_eq!(n(&token["errors_by_kind"]["token"]), n(&token["requests"]));
}

/// A run of `scenario` under Python's `getrusage`: the exit code, the result, what was
/// printed, and the loadtape process's peak resident memory in MiB.
fn run_measured(server: &Faulty, scenario: &Path, out: &Path) -> (i32, Value, String, u64) {
    let cmd = crate::run::run_cmd(scenario, &server.base, out, &[]);
    let mut wrapped = Command::new("python3");
    wrapped
        .arg("-c")
        .arg(
            "import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True)
sys.stdout.buffer.write(p.stdout); sys.stderr.buffer.write(p.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, file=sys.stderr)
sys.exit(p.returncode)",
        )
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env("SLOW_MS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let o = crate::util::finish(wrapped.spawn().unwrap(), Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let peak = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak memory printed: {stderr}"));
    let said = format!("{}{stderr}", String::from_utf8_lossy(&o.stdout));
    (o.status.code().unwrap_or(-1), result(out), said, peak)
}

#[test]
fn an_endless_body_is_read_in_bounded_memory_and_times_out() {
    // The server sends as fast as it can and never ends the body: without a bound on what
    // a VU keeps, two VUs would hold gigabytes by the end of the run's grace period.
    let server = Faulty::start("endless");
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), 2, "1s", "");
    let out = dir.path().join("r.json");
    let (code, r, said, peak) = run_measured(&server, &s, &out);
    let total = &r["total"];
    assert_eq!(
        kinds(total),
        vec![("timeout".to_string(), 2)],
        "{said}\n{total}"
    );
    assert!(
        peak < 160,
        "peak RSS {peak} MiB: the body was kept whole\n{said}"
    );
    assert_eq!(code, 99, "{said}");
}

#[test]
fn a_body_over_the_bound_counts_whole_and_fails_only_a_step_that_reads_it() {
    let server = Faulty::start("big");
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("big.yaml");
    std::fs::write(
        &s,
        "loadtape: scenario/v1
name: big
steps:
  - name: download
    request: {method: GET, url: 'https://api.shop.example/file'}
  - name: read
    request: {method: GET, url: 'https://api.shop.example/file'}
    extract: {id: {json: $.id}}
load: {executor: constant-vus, vus: 1, duration: 30s, iterations: 2}
",
    )
    .unwrap();
    let out = dir.path().join("r.json");
    let (code, r, said, peak) = run_measured(&server, &s, &out);
    let (download, read) = (&r["steps"][0], &r["steps"][1]);
    assert_eq!(n(&download["requests"]), 2, "{said}");
    assert_eq!(
        n(&download["errors"]),
        0,
        "nothing reads its body: {download}"
    );
    // Every byte counted, though only the first 16 MiB of each were kept.
    assert!(
        n(&download["bytes_received"]) >= 2 * (20 << 20),
        "{download}"
    );
    assert_eq!(kinds(read), vec![("check".to_string(), 2)], "{read}");
    let message = read["error_messages"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{} bytes", 20 << 20)) && message.contains("16 MiB"),
        "the failure says the body was cut, not that it is bad JSON: {message}"
    );
    assert!(peak < 200, "peak RSS {peak} MiB\n{said}");
    assert_eq!(code, 99, "{said}");
}
