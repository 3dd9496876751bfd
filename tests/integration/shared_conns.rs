//! `run --connections N`: the VUs multiplex their requests over N shared HTTP/2 connections,
//! as h2load `-c N -m …` does, judged by the TCP connections the server itself accepted; an
//! origin that only speaks HTTP/1.1 keeps one connection per VU.

use std::path::Path;
use std::time::Duration;

use loadtape_testbed::{Config, Testbed};
use serde_json::Value;

use crate::run::{n, result, show};
use crate::util::{finish, loadtape};

const VUS: u64 = 12;
const ITERATIONS: u64 = 10;

fn testbed(rt: &tokio::runtime::Runtime, dir: &Path, http1_only: bool) -> Testbed {
    rt.block_on(Testbed::start(Config {
        tls: true,
        http1_only,
        cert_dir: dir.join(if http1_only { "h1" } else { "h2" }),
        ..Config::default()
    }))
    .unwrap()
}

/// Runs 12 VUs × 10 iterations of one GET against `tb` with `extra` arguments; returns the
/// result and the connections the testbed accepted meanwhile.
fn run(tb: &Testbed, dir: &Path, extra: &[&str]) -> (Value, u64) {
    let scenario = dir.join("one-get.yaml");
    // A few milliseconds per answer, so that the VUs of a connection have requests in flight
    // together: multiplexed, not taking turns.
    std::fs::write(
        &scenario,
        format!(
            "loadtape: scenario/v1\nname: one-get\nsteps:\n  - name: get\n    request: {{method: GET, url: '{}/slow?ms=5'}}\n    check: {{status: 200}}\nload: {{executor: constant-vus, vus: {VUS}, duration: 30s}}\n",
            tb.base_url()
        ),
    )
    .unwrap();
    let out = dir.join("r.json");
    let before = tb.connections();
    let child = loadtape()
        .arg("run")
        .arg(&scenario)
        .args(["--insecure", "--quiet", "--force", "--iterations"])
        .arg(ITERATIONS.to_string())
        .arg("--out")
        .arg(&out)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let o = finish(child, Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = result(&out);
    assert_eq!(n(&r["total"]["requests"]), VUS * ITERATIONS, "{r}");
    assert_eq!(n(&r["total"]["errors"]), 0, "{r}");
    (r, tb.connections() - before)
}

#[test]
fn vus_share_the_given_http2_connections_and_keep_their_own_otherwise() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let h2 = testbed(&rt, dir.path(), false);

    let (r, accepted) = run(&h2, dir.path(), &["--connections", "3"]);
    assert_eq!(
        accepted, 3,
        "three connections for twelve VUs, by the server's count"
    );
    assert_eq!(n(&r["total"]["timings"]["opened"]), 3, "{r}");

    // One connection: one worker, every VU's requests on it.
    let (_, accepted) = run(&h2, dir.path(), &["--connections", "1"]);
    assert_eq!(accepted, 1);

    let (r, accepted) = run(&h2, dir.path(), &[]);
    assert_eq!(
        accepted, VUS,
        "without the option each VU holds its own connection"
    );
    assert_eq!(n(&r["total"]["timings"]["opened"]), VUS, "{r}");

    // HTTP/1.1 carries one request at a time: its VUs are not made to take turns.
    let h1 = testbed(&rt, dir.path(), true);
    let (_, accepted) = run(&h1, dir.path(), &["--connections", "3"]);
    assert_eq!(
        accepted, VUS,
        "an HTTP/1.1 origin keeps a connection per VU"
    );
}

#[test]
fn zero_shared_connections_is_refused() {
    let o = loadtape()
        .args(["run", "any.yaml", "--connections", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--connections"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
