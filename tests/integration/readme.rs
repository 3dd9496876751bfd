//! The README's "Try each step by hand" section, run as written: its shell blocks (each after a
//! `<!-- readme-test: NAME -->` marker) in one scratch directory, with the binary under test
//! first on PATH and the README's ports swapped for free ones; likewise the scenario example
//! and the commands that run it. If the README's commands stop working, this fails; so the
//! front door stays true.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::{finish, Running};

/// The shell block after `<!-- readme-test: NAME -->`, with the README's ports replaced.
fn block(readme: &str, name: &str, ports: &[(&str, String)]) -> String {
    let mut text = fenced(readme, name, "sh");
    for (from, to) in ports {
        text = text.replace(from, to);
    }
    text
}

/// The text of the ```LANG block after `<!-- readme-test: NAME -->`.
fn fenced(readme: &str, name: &str, lang: &str) -> String {
    let marker = format!("<!-- readme-test: {name} -->");
    let after = readme
        .split_once(&marker)
        .unwrap_or_else(|| panic!("README.md has no {marker}"))
        .1;
    let body = after
        .trim_start()
        .strip_prefix(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("{marker} is not followed by a ```{lang} block"));
    body.split_once("\n```")
        .expect("the block ends")
        .0
        .to_string()
}

/// What each line of a run's summary is, without its figures: the words before the first one
/// with a digit (`login (token)`, `error rate`, `PASS error_rate <`).
fn summary_labels(summary: &str) -> Vec<String> {
    summary
        .lines()
        .map(|l| {
            l.split_whitespace()
                .take_while(|w| !w.contains(|c: char| c.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn free_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port().to_string()
}

/// `bash -c` in `dir` with the binary under test first on PATH, `-e -o pipefail` so that the
/// first failing command fails the block.
fn shell(dir: &Path, script: &str) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_loadtape")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut c = Command::new("bash");
    c.current_dir(dir)
        .env("PATH", path)
        .args(["-e", "-o", "pipefail", "-c", script]);
    c
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let ports = [("9090", free_port()), ("8888", free_port())];
    let dir = tempfile::tempdir().unwrap();
    let blk = |name| block(&readme, name, &ports);

    // Terminals one and two: the servers, each `exec`ed so that a signal reaches loadtape.
    let mut testbed = Running::start(shell(dir.path(), &format!("exec {}", blk("testbed"))));
    testbed.line_containing("listening on");
    let mut proxy = Running::start(shell(dir.path(), &format!("exec {}", blk("proxy"))));
    proxy.proxy_ready();

    // Terminal three: the client through the proxy.
    let client = shell(dir.path(), &blk("client")).output().unwrap();
    let out = String::from_utf8_lossy(&client.stdout);
    assert!(
        client.status.success(),
        "{:?} {out}\n{}",
        client.status,
        String::from_utf8_lossy(&client.stderr)
    );
    assert!(
        out.starts_with(r#"{"errcode":0,"data":{"id":"g1x"#),
        "{out}"
    );

    // Ctrl-C in terminal two: the proxy closes the recording and says what it wrote.
    let (code, rest) = proxy.stop("INT");
    assert_eq!(code, 0, "{rest}");
    assert!(rest.contains("recorded 3 exchange(s) (0 failed)"), "{rest}");

    // Terminal three again: tokens, convert, smoke test, load, report, HAR, the server's counts.
    let mut run = shell(dir.path(), &blk("convert-and-run"));
    run.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let done = finish(run.spawn().unwrap(), Duration::from_secs(120));
    let out = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    // Every `next:` hint works when followed: the README runs convert's and verify's hints as
    // printed (verify's, the load run, with the README's own load flags after it).
    let block = blk("convert-and-run");
    let hints: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("next: loadtape run "))
        .collect();
    assert_eq!(
        hints.len(),
        2,
        "convert and verify each print a next: hint:\n{out}"
    );
    for hint in hints {
        assert!(
            block.contains(&format!("loadtape run {hint}\n"))
                || block.contains(&format!("loadtape run {hint} ")),
            "the README does not run the hint `loadtape run {hint}`:\n{block}"
        );
    }
    for expected in [
        "session token", // the login's token, found by `tokens`
        "correlated",    // the goods id, from the list into the detail's path
        "wrote recordings/mine.scenario.yaml",
        "goods_detail",     // verify's table
        "extract token = ", // the --debug smoke test shows the extraction
        "HTML report written to recordings/mine-report.html",
    ] {
        assert!(out.contains(expected), "{expected:?} missing:\n{out}");
    }
    let scenario =
        std::fs::read_to_string(dir.path().join("recordings/mine.scenario.yaml")).unwrap();
    assert!(
        scenario.contains("/api/goods/{{ goods_id }}"),
        "the detail URL is correlated:\n{scenario}"
    );

    // The load: 20 flows/s for 20 s through two token lifetimes, nothing failed.
    let result: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("recordings/mine-result.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(result["total"]["errors"], 0, "{}", result["total"]);
    let iterations = result["iterations"].as_u64().unwrap();
    assert!((390..=401).contains(&iterations), "iterations {iterations}");
    let html = std::fs::read_to_string(dir.path().join("recordings/mine-report.html")).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>"),
        "{}",
        &html[..60.min(html.len())]
    );
    let har: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("recordings/mine.har")).unwrap())
            .unwrap();
    assert_eq!(har["log"]["entries"].as_array().unwrap().len(), 3);

    // The summary the README explains is this run's, line for line (figures aside): the one
    // `loadtape report` printed again from the result.
    let printed: Vec<&str> = out[out.rfind("\nmine — ").expect("report prints the summary") + 1..]
        .lines()
        .collect();
    let end = printed
        .iter()
        .rposition(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
        .expect("the summary ends with the thresholds");
    let printed = &printed[..=end];
    assert_eq!(
        summary_labels(&fenced(&readme, "summary", "text")),
        summary_labels(&printed.join("\n")),
        "the README's summary is not the shape of the real one:\n{}",
        printed.join("\n")
    );

    // The block ends with the testbed's own counts: no auth failure, no unknown id, and the
    // session token was issued again during the run (10 s lifetime, 20 s run).
    let stats: serde_json::Value =
        serde_json::from_str(out.lines().last().unwrap()).expect("the last line is /stats");
    for (kind, n) in stats["auth_failures"].as_object().unwrap() {
        assert_eq!(n, 0, "auth failures of kind {kind}: {stats}");
    }
    assert_eq!(stats["unknown_ids"], 0, "{stats}");
    let vus = result["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["active_vus"].as_u64().unwrap())
        .max()
        .unwrap();
    let logins = result["tokens"][0]["requests"].as_u64().unwrap();
    assert!(
        logins > vus,
        "each of {vus} VUs logs in, and refreshes before its 10 s token expires: {logins} logins"
    );

    // A second pass in the same folder: `record` refuses the old recording, as the README
    // says, and starts again once the README's clean-up ran.
    let mut again = shell(dir.path(), &format!("exec {}", blk("proxy")));
    again
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let again = finish(again.spawn().unwrap(), Duration::from_secs(10));
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{again:?}"
    );
    let clean = shell(dir.path(), &blk("again")).output().unwrap();
    assert!(clean.status.success(), "{clean:?}");
    let mut proxy = Running::start(shell(dir.path(), &format!("exec {}", blk("proxy"))));
    proxy.proxy_ready();
    let (code, rest) = proxy.stop("INT");
    assert_eq!(code, 0, "{rest}");
    drop(testbed);
}

/// The `loadtape tokens` table the README shows is the real output, cut short where the README
/// writes `...` or `…` (a cell, or a line, then only has to start the same way).
#[test]
fn the_readme_tokens_table_is_real_output() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let command = "$ loadtape tokens recordings/testbed-shop.yaml\n";
    let shown = readme
        .split_once(command)
        .expect("the README shows `loadtape tokens recordings/testbed-shop.yaml`")
        .1
        .split_once("\n```")
        .unwrap()
        .0;
    let out = crate::util::loadtape()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tokens", "recordings/testbed-shop.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let real = String::from_utf8(out.stdout).unwrap();
    let cells = |line: &str| -> Vec<String> {
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    let mut real_lines = real.lines();
    for want in shown.lines() {
        let got = real_lines.next().unwrap_or_default();
        let (want_cells, got_cells) = (cells(want), cells(got));
        assert_eq!(
            want_cells.len(),
            got_cells.len(),
            "README: {want}\nreal:   {got}"
        );
        for (w, g) in want_cells.iter().zip(&got_cells) {
            match w.strip_suffix("...").or_else(|| w.strip_suffix('…')) {
                Some(start) => assert!(g.starts_with(start.trim_end()), "{w:?} vs {g:?}"),
                None => assert_eq!(w, g, "README: {want}\nreal:   {got}"),
            }
        }
    }
}

/// The README's `scenario/v1` example is a real scenario, and the README's commands run it:
/// saved as `shop.scenario.yaml`, against the testbed block beside it, with the CSV, secret,
/// `--target` and CA of the run block, every check and threshold passing.
#[test]
fn the_readme_scenario_example_runs() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shop.scenario.yaml"),
        fenced(&readme, "scenario", "yaml"),
    )
    .unwrap();
    let ports = [("9090", free_port())];
    let mut testbed = Running::start(shell(
        dir.path(),
        &format!("exec {}", block(&readme, "scenario-testbed", &ports)),
    ));
    testbed.line_containing("listening on");
    let mut run = shell(dir.path(), &block(&readme, "scenario-run", &ports));
    run.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let done = finish(run.spawn().unwrap(), Duration::from_secs(60));
    let out = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("result.json")).unwrap()).unwrap();
    assert_eq!(result["passed"], true, "{}", result["thresholds"]);
    assert_eq!(result["iterations"], 2);
    assert_eq!(result["total"]["errors"], 0, "{}", result["total"]);
    let tokens: Vec<(&str, u64)> = result["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["requests"].as_u64().unwrap()))
        .collect();
    assert_eq!(tokens, [("platform", 1), ("login", 2)]);
    drop(testbed);
}

/// The README's shell block `name`, run as written in `dir` against a fresh testbed (the
/// README's port 9090 swapped for the testbed's); what it printed. Fails when the block does.
fn run_with_testbed(readme: &str, name: &str, dir: &Path) -> String {
    let (_tb, base) = crate::util::testbed(&[]);
    let port = base.rsplit(':').next().unwrap().to_string();
    let script = block(readme, name, &[("9090", port)]);
    let mut c = shell(dir, &script);
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let done = finish(c.spawn().unwrap(), Duration::from_secs(120));
    let out = String::from_utf8_lossy(&done.stdout).into_owned();
    assert!(
        done.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    out
}

/// The README's mixed test, funnel and several-recordings convert, run as written against a
/// testbed, in a copy of `recordings/`.
#[test]
fn the_readme_mixed_test_and_funnel_run_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().join("recordings");
    std::fs::create_dir(&recordings).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings");
    for e in std::fs::read_dir(&repo).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), recordings.join(e.file_name())).unwrap();
    }
    let out = run_with_testbed(&readme, "mixed", dir.path());
    for said in [
        "flow browse: 700 iterations (70.0 %), weight 70 of constant-vus",
        "flow detail: 200 iterations (20.0 %)",
        "flow me: 100 iterations (10.0 %)",
        "cut short by the funnel",
        "wrote recordings/mix.scenario.yaml: 2 flow(s)",
    ] {
        assert!(out.contains(said), "{said:?} missing:\n{out}");
    }
    let mix = std::fs::read_to_string(recordings.join("mix.scenario.yaml")).unwrap();
    assert!(mix.contains("- name: cookie-session_login"), "{mix}");
}

/// The README's before/after comparison, run as written against a testbed: its gate fails
/// (exit 99, as the README shows), and every line the README prints is printed, in order
/// (figures aside: the words before the first one with a digit).
#[test]
fn the_readme_comparison_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let dir = tempfile::tempdir().unwrap();
    let out = run_with_testbed(&readme, "compare", dir.path());
    let printed = summary_labels(&out);
    let mut rest = printed.iter();
    for want in summary_labels(&fenced(&readme, "compare-output", "text")) {
        if want == "..." {
            continue;
        }
        assert!(
            rest.any(|got| *got == want),
            "the README shows {want:?}, not printed (in that order):\n{out}"
        );
    }
    assert!(out.contains("worse ("), "{out}");
    assert!(dir.path().join("compare.html").exists());
}
