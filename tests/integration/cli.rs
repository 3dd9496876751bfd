//! The command line itself: help, version, bad flags.

use crate::util::loadtape;

#[test]
fn help_lists_the_commands_and_explains_them() {
    let out = loadtape().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("Record a mini program's HTTPS traffic"),
        "{help}"
    );
    assert!(help.contains("testbed"), "{help}");

    let out = loadtape().args(["testbed", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--tls",
        "--cert-dir",
        "--token-ttl",
        "--appid",
        "--secret",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn bad_flags_exit_2_with_a_reason() {
    let out = loadtape()
        .args(["testbed", "--token-ttl", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--token-ttl"), "{err}");

    let out = loadtape()
        .args(["testbed", "--token-ttl", "0s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("--token-ttl must be longer than zero"),
        "{err}"
    );

    // A bare number is shown the form it needs.
    for (flag, value, form) in [("--duration", "10", "`10s`"), ("--rate", "20", "`20/s`")] {
        let out = loadtape()
            .args(["run", "s.yaml", flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(&format!("e.g. {form}")), "{err}");
    }
}

/// Other proxies take `--port`; clap alone would answer `record --port 8080` with "a similar
/// argument exists: '--out'". The user is told the `--listen` that sets the port instead.
#[test]
fn record_port_is_answered_with_the_listen_it_means() {
    for (args, advice) in [
        (&["--port", "8080"][..], "use --listen 0.0.0.0:8080"),
        (&["--port=9000"][..], "use --listen 0.0.0.0:9000"),
        (&["--port"][..], "use --listen 0.0.0.0:PORT"),
    ] {
        let out = loadtape().arg("record").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(advice), "{args:?}: {err}");
        assert!(!err.contains("--out"), "{args:?}: {err}");
    }
    // Hidden: `--help` lists only real flags.
    let help = loadtape().args(["record", "--help"]).output().unwrap();
    assert!(!String::from_utf8(help.stdout).unwrap().contains("--port"));
}

#[test]
fn a_port_in_use_is_a_clear_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = loadtape()
        .args(["testbed", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("cannot start the testbed on {addr}")),
        "{err}"
    );
}

#[test]
fn an_empty_recording_says_why_and_points_at_no_command_that_would_fail() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("empty.yaml");
    let mut proxy = crate::util::Running::spawn(&[
        "record",
        "--listen",
        "127.0.0.1:0",
        "--out",
        rec.to_str().unwrap(),
        "--ca-dir",
        dir.path().join("certs").to_str().unwrap(),
    ]);
    proxy.proxy_ready();
    let (code, rest) = proxy.terminate();
    assert_eq!(code, 0, "{rest}");
    assert!(
        rest.contains("nothing to convert: no request reached the proxy"),
        "{rest}"
    );
    assert!(!rest.contains("next:"), "{rest}");
    // The CA `record` made says so in its subject, as the device's trust settings show it.
    let show = loadtape()
        .args([
            "ca",
            "show",
            "--dir",
            dir.path().join("certs").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(shown.contains("by loadtape record"), "{shown}");

    let out = loadtape()
        .args(["tokens", rec.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("nothing to convert: the recording holds no exchange"),
        "{stdout}"
    );
    assert!(!stdout.contains("next:"), "{stdout}");
}

#[test]
fn outputs_that_exist_are_kept_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let s = crate::util::refused_scenario(dir.path());
    let out = dir.path().join("r.json");
    std::fs::write(&out, "an earlier result").unwrap();
    let run = |extra: &[&str]| {
        loadtape()
            .args(["run", s.to_str().unwrap(), "--iterations", "1", "--quiet"])
            .args(["--out", out.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = run(&[]);
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("already exists; pass --force"), "{said}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "an earlier result");
    let forced = run(&["--force"]);
    assert_eq!(
        forced.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert!(std::fs::read_to_string(&out).unwrap().contains("result/v1"));

    let html = dir.path().join("r.html");
    std::fs::write(&html, "kept").unwrap();
    let o = loadtape()
        .args([
            "report",
            out.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read_to_string(&html).unwrap(), "kept");
}

#[test]
fn thresholds_are_written_as_junit_that_a_junit_reader_takes() {
    let dir = tempfile::tempdir().unwrap();
    let s = crate::util::refused_scenario(dir.path());
    let text = std::fs::read_to_string(&s).unwrap().replace(
        "thresholds: []",
        "thresholds: [error_rate < 1%, 'get.p99 < 1s']",
    );
    std::fs::write(&s, text).unwrap();
    let junit = dir.path().join("junit.xml");
    let o = loadtape()
        .args(["run", s.to_str().unwrap(), "--iterations", "1", "--quiet"])
        .args(["--junit", junit.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(99),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Python's own XML parser, as a CI's JUnit reader would read it.
    let script = "import sys, xml.etree.ElementTree as E\n\
                  s = E.parse(sys.argv[1]).getroot().find('testsuite')\n\
                  cases = s.findall('testcase')\n\
                  print(s.get('tests'), s.get('failures'))\n\
                  for c in cases: print(c.get('name'), '|', 'FAIL' if c.find('failure') is not None else 'ok')";
    let p = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&junit)
        .output()
        .expect("python3 is installed");
    let read = String::from_utf8_lossy(&p.stdout);
    assert!(
        p.status.success(),
        "{read}{}",
        String::from_utf8_lossy(&p.stderr)
    );
    let lines: Vec<&str> = read.lines().collect();
    assert_eq!(lines[0], "2 2", "{read}");
    assert!(lines.contains(&"error_rate < 1% | FAIL"), "{read}");
    assert!(lines.contains(&"get.p99 < 1s | FAIL"), "{read}");
}
