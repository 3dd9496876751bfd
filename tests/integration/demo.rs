//! `loadtape demo` end to end, as a newcomer runs it: every stage must pass and the testbed's
//! own counts must show fresh tokens and no auth failures.

use crate::util::loadtape;

#[test]
fn the_demo_runs_the_whole_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let out = loadtape()
        .current_dir(dir.path())
        .args([
            "demo",
            "--duration",
            "5s",
            "--vus",
            "4",
            "--token-ttl",
            "2s",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for stage in ["== 1/6", "== 2/6", "== 3/6", "== 4/6", "== 5/6", "== 6/6"] {
        assert!(stdout.contains(stage), "{stage} missing:\n{stdout}");
    }
    assert!(stdout.contains("recorded 7 exchanges"), "{stdout}");
    assert!(
        stdout.contains("platform token"),
        "the tokens table names the platform token:\n{stdout}"
    );
    assert!(
        stdout.contains("auth failures 0  unknown ids 0"),
        "{stdout}"
    );
    assert!(stdout.contains("demo passed"), "{stdout}");
    // The shared platform token was refreshed about once per lifetime (5 s / 2 s, plus the
    // first), not once per VU or per request.
    let line = stdout
        .lines()
        .find(|l| l.contains("platform tokens issued"))
        .unwrap();
    let platform: u64 = line
        .split("platform tokens issued ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((2..=5).contains(&platform), "{line}");
    for file in [
        "demo.yaml",
        "demo.scenario.yaml",
        "demo-result.json",
        "demo-report.html",
    ] {
        assert!(
            dir.path().join("recordings").join(file).exists(),
            "{file} was not written"
        );
    }
    let scenario =
        loadtape_scenario::load_scenario(dir.path().join("recordings/demo.scenario.yaml")).unwrap();
    assert_eq!(
        scenario.variables.get("appid").map(|t| t.to_string()),
        Some("wx5f3c9a1b2d4e6f70".to_string())
    );
}
