//! `convert --verify` (issue 15) against the real TLS testbed, from flows recorded through the
//! real proxy. The testbed's queue hands each session a five-digit ticket that the status call
//! sends back under another name, and its pay call refuses an `out_trade_no` it has seen:
//! static detection has no rule for either, so the plain conversion diverges, and `convert
//! --verify` finds both from the live answers, fixes them, says why in the scenario, and ends
//! on a matching round. A divergence it has no fix for (a token step's wrong secret) ends in
//! exit 1 with the cause and what to do.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::pipeline::{count, delta, in_dir, record_script, replay, stats, tls_testbed};
use crate::util::{finish, testbed};

/// The mini program as shell: log in, join the queue, ask for the ticket's status, pay with a
/// merchant order number made up on the spot.
const CLIENT: &str = r#"
via() { curl -sf --max-time 10 --proxy "http://$PROXY" --cacert certs/loadtape-ca.pem "$@"; }
login=$(via -H 'content-type: application/json' -d '{"code":"0a1b2c3d"}' "$BASE/api/login")
token=$(printf '%s' "$login" | sed -E 's/.*"token":"([^"]+)".*/\1/')
auth=(-H "Authorization: Bearer $token")
ticket=$(via "${auth[@]}" "$BASE/api/queue/join" | sed -E 's/.*"ticket":([0-9]+).*/\1/')
via "${auth[@]}" "$BASE/api/queue/status?no=$ticket" | grep -q '"errcode":0'
via "${auth[@]}" "$BASE/api/pay?out_trade_no=$(date +%s%N | cut -c1-18)" | grep -q '"errcode":0'
echo "$ticket"
"#;

/// `loadtape ARGS` in `dir`, at most 90 s: its output.
fn loadtape_in(dir: &Path, args: &[&str]) -> Output {
    let child = in_dir(dir, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child, Duration::from_secs(90))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn convert_verify_adds_the_extractor_and_the_generator_the_rules_missed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (tb, base) = tls_testbed(dir, "1h");
    let (lines, ticket) = record_script(dir, &base, "queue.yaml", CLIENT, 4);
    assert!(lines[3].contains("/api/pay?out_trade_no="), "{lines:?}");
    let ticket = ticket.trim();

    // Without --verify: the recorded ticket and order number are sent as recorded.
    let plain = loadtape_in(dir, &["convert", "queue.yaml"]);
    assert!(plain.status.success(), "{}", text(&plain));
    let s = std::fs::read_to_string(dir.join("queue.scenario.yaml")).unwrap();
    assert!(s.contains(&format!("no={ticket}")), "{s}");
    let ca = ["--ca", "certs/testbed-ca.pem"];
    let v = loadtape_in(dir, &[&["verify", "queue.scenario.yaml"][..], &ca].concat());
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    assert!(
        text(&v).contains("first divergence: step `status`"),
        "{}",
        text(&v)
    );

    // One round is not enough: the fix is written but not verified, so exit 1.
    let one = loadtape_in(
        dir,
        &[
            &[
                "convert",
                "queue.yaml",
                "-o",
                "one.yaml",
                "--verify",
                "--rounds",
                "1",
            ][..],
            &ca,
        ]
        .concat(),
    );
    assert_eq!(one.status.code(), Some(1), "{}", text(&one));
    assert!(
        text(&one).contains("still diverges from its recording after 1 verify round(s)"),
        "{}",
        text(&one)
    );

    let fixed = loadtape_in(
        dir,
        &[
            &["convert", "queue.yaml", "-o", "fixed.yaml", "--verify"][..],
            &ca,
        ]
        .concat(),
    );
    let said = text(&fixed);
    assert_eq!(fixed.status.code(), Some(0), "{said}");
    assert!(said.contains("verify, round 3"), "{said}");
    assert!(
        said.contains("verified: every step answered as recorded after 2 fix(es)"),
        "{said}"
    );
    let s = std::fs::read_to_string(dir.join("fixed.yaml")).unwrap();
    for wanted in [
        "ticket: {json: '$.data.ticket'}",
        "/api/queue/status?no={{ ticket }}",
        "/api/pay?out_trade_no={{ random_int(100000000000000000, 999999999999999999) }}",
    ] {
        assert!(s.contains(wanted), "no {wanted}:\n{s}");
    }
    assert_eq!(s.matches("by evidence:").count(), 2, "the whys:\n{s}");
    assert!(
        !s.contains(&format!("no={ticket}")),
        "the recorded ticket is sent:\n{s}"
    );

    // The repaired scenario as load: every ticket this session's, every order number new.
    let before = stats(dir, &base);
    let (code, result) = replay(dir, "fixed.yaml", &["--vus", "3", "--duration", "3s"]);
    let after = stats(dir, &base);
    assert_eq!(delta(&after, &before, &["unknown_ids"]), 0, "{after}");
    assert!(count(&result["iterations"]) >= 6, "{result}");
    assert_eq!(count(&result["total"]["errors"]), 0, "{result}");
    assert_eq!(code, 0, "{result}");
    let (code, _) = tb.terminate();
    assert!(
        code == 0 || code == 143 || code == -1,
        "testbed exit {code}"
    );
}

#[test]
fn convert_verify_says_why_it_cannot_fix_a_wrong_secret() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings");
    std::fs::copy(
        root.join("testbed-shop.yaml"),
        dir.join("testbed-shop.yaml"),
    )
    .unwrap();
    let certs = dir.join("certs");
    let (_tb, base) = testbed(&[
        "--tls",
        "--cert-dir",
        certs.to_str().unwrap(),
        "--appid",
        "wx5f3c9a1b2d4e6f70",
        "--secret",
        "another-secret",
    ]);
    let target = format!("https://localhost:19443={base}");
    let out = loadtape_in(
        dir,
        &[
            "convert",
            "testbed-shop.yaml",
            "--verify",
            "--target",
            &target,
            "--ca",
            "certs/testbed-ca.pem",
        ],
    );
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("first divergence: step `token`"), "{said}");
    assert!(
        said.contains("to do: check the token step's credentials"),
        "{said}"
    );
    assert!(said.contains("found no fix it can apply"), "{said}");
    assert!(!said.contains("verify, round 2"), "{said}");
    // The scenario is written as converted, for the user to edit.
    assert!(dir.join("testbed-shop.scenario.yaml").exists());
}
