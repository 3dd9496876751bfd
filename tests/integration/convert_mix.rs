//! `loadtape convert a.yaml b.yaml c.yaml --weights 70,20,10` (issue 17): three business flows
//! recorded one after another through the real proxy, each behind the same login, become one
//! mixed scenario: three flows by weight, one login token step for all of them. Its replay
//! holds the weights and logs each VU in once, by the testbed's own counts.

use std::path::Path;

use crate::pipeline::{delta, in_dir, record_script, replay, stats, tls_testbed};

const VIA: &str = r#"
via() { curl -sf --max-time 10 --proxy "http://$PROXY" --cacert certs/loadtape-ca.pem "$@"; }
login=$(via -H 'content-type: application/json' -d '{"code":"0a1b2c3d4e"}' "$BASE/api/login")
token=$(printf '%s' "$login" | sed -E 's/.*"token":"([^"]+)".*/\1/')
auth=(-H "Authorization: Bearer $token")
"#;

const BROWSE: &str = r#"via "${auth[@]}" "$BASE/api/goods?page=1" | grep -q '"data"'"#;
const DETAIL: &str = r#"
id=$(via "${auth[@]}" "$BASE/api/goods?page=1" | sed -E 's/.*"data":\[\{"id":"?([^",]+)"?.*/\1/')
via "${auth[@]}" "$BASE/api/goods/$id" | grep -q '"data"'
"#;
const PROFILE: &str = r#"via "${auth[@]}" "$BASE/api/profile" | grep -q '"errcode":0'"#;

fn record(dir: &Path, base: &str, out: &str, flow: &str, exchanges: usize) {
    let script = format!("{VIA}{flow}");
    let (lines, _) = record_script(dir, base, out, &script, exchanges);
    assert!(lines[0].contains("/api/login"), "{lines:?}");
}

fn said(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn three_recordings_convert_into_one_mixed_scenario_with_one_login() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (_tb, base) = tls_testbed(dir, "1h");
    record(dir, &base, "browse.yaml", BROWSE, 2);
    record(dir, &base, "detail.yaml", DETAIL, 3);
    record(dir, &base, "me.yaml", PROFILE, 2);

    let args = [
        "convert",
        "browse.yaml",
        "detail.yaml",
        "me.yaml",
        "--weights",
        "70,20,10",
        "-o",
        "mix.scenario.yaml",
    ];
    let o = in_dir(dir, &args).output().unwrap();
    assert!(o.status.success(), "{}", said(&o));
    let text = said(&o);
    assert!(
        text.contains("3 flow(s), 1 token step(s) (3 recorded"),
        "{text}"
    );
    let next = text
        .lines()
        .find_map(|l| l.strip_prefix("next: "))
        .unwrap_or_else(|| panic!("no next: hint in {text}"))
        .to_string();
    let s = loadtape_scenario::load_scenario(dir.join("mix.scenario.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let flows: Vec<(&str, Option<u32>)> = s
        .flows
        .iter()
        .map(|f| (f.name.as_str(), f.weight))
        .collect();
    assert_eq!(
        flows,
        [("browse", Some(70)), ("detail", Some(20)), ("me", Some(10))]
    );
    assert_eq!(s.tokens.len(), 1, "one login for every flow");
    // The detail flow's id is extracted within the flow, from its own list step.
    let detail = &s.flows[1];
    assert_eq!(detail.steps.len(), 2);
    assert!(!s.steps[detail.steps.start].extract.is_empty());
    // Step names stay unique across flows (both browse and detail list the goods).
    let names: std::collections::HashSet<&str> = s.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), s.steps.len());

    // The hint, followed (it names the scenario and one iteration per weight unit).
    let hinted: Vec<&str> = next.split_whitespace().skip(1).collect();
    assert_eq!(hinted[..2], ["run", "mix.scenario.yaml"], "{next}");
    let before = stats(dir, &base);
    let (code, result) = replay(
        dir,
        "mix.scenario.yaml",
        &["--vus", "4", "--iterations", "100"],
    );
    assert_eq!(code, 0, "{result}");
    let after = stats(dir, &base);
    let d = |k: &str| delta(&after, &before, &["requests", k]);
    assert_eq!(d("login"), 4, "one login per VU, not per flow");
    let detail = d("goods_detail");
    let (browse, me) = (d("goods_list") - detail, d("profile"));
    assert_eq!(browse + detail + me, 400);
    assert_eq!((browse, detail, me), (280, 80, 40), "70/20/10 of 400");
    assert_eq!(delta(&after, &before, &["auth_failures", "expired"]), 0);
}

#[test]
fn weights_that_do_not_fit_the_recordings_are_refused_with_what_to_give() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings");
    let a = root.join("testbed-shop.yaml");
    let b = root.join("wechat-login.yaml");
    let out = dir.join("m.scenario.yaml");
    let run = |extra: &[&str]| {
        let mut c = in_dir(dir, &["convert"]);
        c.arg(&a).arg(&b).args(extra).arg("-o").arg(&out);
        c.output().unwrap()
    };
    let o = run(&["--weights", "70,20,10"]);
    assert_eq!(o.status.code(), Some(2), "{}", said(&o));
    assert!(
        said(&o).contains("3 weight(s) for 2 recording(s)"),
        "{}",
        said(&o)
    );
    let o = run(&["--weights", "1,0"]);
    assert_eq!(o.status.code(), Some(2), "{}", said(&o));
    let o = run(&["--token-csv", "t.csv"]);
    assert_eq!(o.status.code(), Some(2), "{}", said(&o));
    assert!(
        said(&o).contains("--token-csv is for converting one recording"),
        "{}",
        said(&o)
    );
    // Two different apps: each keeps its own login, and the scenario loads.
    let o = run(&[]);
    assert!(o.status.success(), "{}", said(&o));
    let s = loadtape_scenario::load_scenario(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.flows.len(), 2);
}
