//! The whole pipeline against the TLS testbed, as the end-to-end tests of one backend shape
//! each drive it: record a client script through the real proxy, read the testbed's own
//! counts, replay a scenario and read its result.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::{curl, finish, loadtape, Running};

/// `loadtape ARGS` in `dir`.
pub fn in_dir(dir: &Path, args: &[&str]) -> Command {
    let mut c = loadtape();
    c.current_dir(dir).args(args);
    c
}

/// The TLS testbed's `/stats` (its CA in `dir/certs`).
pub fn stats(dir: &Path, base: &str) -> Value {
    let ca = dir.join("certs/testbed-ca.pem");
    let (code, out) = curl(&["--cacert", ca.to_str().unwrap(), &format!("{base}/stats")]);
    assert_eq!(code, 0, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The difference of one counter (a JSON path of keys) between two `/stats`.
pub fn delta(after: &Value, before: &Value, path: &[&str]) -> u64 {
    let get = |v: &Value| {
        let v = path.iter().fold(v, |v, k| &v[*k]);
        v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
    };
    get(after) - get(before)
}

/// Runs the bash `script` (with `$BASE` and `$PROXY` set) through `loadtape record` in front
/// of the testbed at `base`, into `dir/out`; waits for the proxy's `exchanges` lines (each
/// printed once the exchange is on disk), stops the proxy, and returns those lines and what
/// the script printed.
pub fn record_script(
    dir: &Path,
    base: &str,
    out: &str,
    script: &str,
    exchanges: usize,
) -> (Vec<String>, String) {
    let mut proxy = Running::start(in_dir(
        dir,
        &[
            "record",
            "--listen",
            "127.0.0.1:0",
            "--out",
            out,
            "--ca-dir",
            "certs",
            "--upstream-ca",
            "certs/testbed-ca.pem",
        ],
    ));
    let addr = proxy.proxy_ready();
    let printed = script_in(dir, &[("BASE", base), ("PROXY", &addr)], script);
    let lines = proxy.lines(exchanges);
    let (code, rest) = proxy.terminate();
    assert_eq!(code, 0, "{rest}");
    (lines, printed)
}

/// Runs the bash `script` in `dir` with `env` (`-e -o pipefail`, at most 60 s); asserts it
/// succeeded and returns what it printed.
pub fn script_in(dir: &Path, env: &[(&str, &str)], script: &str) -> String {
    let client = Command::new("bash")
        .current_dir(dir)
        .envs(env.iter().copied())
        .args(["-e", "-o", "pipefail", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let done = finish(client, Duration::from_secs(60));
    let printed = String::from_utf8_lossy(&done.stdout).into_owned();
    assert!(
        done.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    printed
}

/// `loadtape run` of `scenario` with `args` (the testbed's CA trusted, the result in
/// `dir/result.json`); returns the exit code and the result JSON.
pub fn replay(dir: &Path, scenario: &str, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["run", scenario, "--ca", "certs/testbed-ca.pem", "--quiet"];
    // One result path for every replay of a test: each replaces the last (`--force`).
    all.extend_from_slice(&["--out", "result.json", "--force"]);
    all.extend_from_slice(args);
    let child = in_dir(dir, &all)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(child, Duration::from_secs(90));
    let result = std::fs::read_to_string(dir.join("result.json")).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&result).unwrap(),
    )
}

/// `loadtape testbed --tls --token-ttl TTL` in `dir` (its CA lands in `dir/certs`): the
/// running testbed and its base URL.
pub fn tls_testbed(dir: &Path, ttl: &str) -> (Running, String) {
    let mut tb = Running::start(in_dir(
        dir,
        &[
            "testbed",
            "--tls",
            "--token-ttl",
            ttl,
            "--listen",
            "127.0.0.1:0",
        ],
    ));
    let line = tb.line_containing("listening on");
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    (tb, base)
}

/// A count in a result or `/stats` JSON.
pub fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// A step's (or token step's) entry in the result JSON.
pub fn entry<'r>(result: &'r Value, list: &str, name: &str) -> &'r Value {
    result[list]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("no {list} {name}: {result}"))
}
