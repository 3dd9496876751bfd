//! Mixed scenarios (`flows:`) and the traffic funnel against a real testbed process, judged by
//! the testbed's own counts: every flow's requests go to endpoints it counts apart.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::run::{result, run, run_cmd, stats};
use crate::util::{finish, loadtape};

/// A scenario of the repository's `recordings/` (the README runs them too).
fn example(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("recordings")
        .join(name)
}

fn show(o: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The share of `part` in `all`, against `want`, within 2 % of `want`.
fn near(what: &str, part: u64, all: u64, want: f64) {
    let share = part as f64 / all as f64;
    assert!(
        (share - want).abs() <= want * 0.02,
        "{what}: {part} of {all} is {share:.4}, want {want} ± 2 %"
    );
}

/// Per flow of the mixed fixture: (browse, detail, me) iterations as the testbed counted
/// them (browse lists goods; detail lists and opens one; me reads the profile).
fn server_flows(s: &Value) -> (u64, u64, u64) {
    let r = |k: &str| s["requests"][k].as_u64().unwrap();
    let detail = r("goods_detail");
    (r("goods_list") - detail, detail, r("profile"))
}

fn result_flows(r: &Value) -> Vec<(String, u64)> {
    r["flows"]
        .as_array()
        .expect("a mixed run lists its flows")
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap().to_string();
            (name, f["iterations"].as_u64().unwrap())
        })
        .collect()
}

#[test]
fn three_weighted_flows_hold_70_20_10_over_10000_iterations() {
    let (_tb, base) = crate::util::testbed(&[]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mixed.json");
    let html = dir.path().join("mixed.html");
    // 20 VUs × 500 iterations.
    let o = run(
        &example("mixed-shop.scenario.yaml"),
        &base,
        &out,
        &["--iterations", "500", "--html", html.to_str().unwrap()],
        Duration::from_secs(120),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let (browse, detail, me) = server_flows(&stats(&base));
    let all = browse + detail + me;
    assert_eq!(all, 10_000, "every iteration reached the server once");
    near("browse", browse, all, 0.70);
    near("detail", detail, all, 0.20);
    near("me", me, all, 0.10);
    let r = result(&out);
    assert_eq!(
        result_flows(&r),
        [
            ("browse".to_string(), browse),
            ("detail".to_string(), detail),
            ("me".to_string(), me)
        ]
    );
    assert_eq!(r["flows"][1]["total"]["requests"], 2 * detail);
    assert_eq!(r["flows"][0]["weight"], 70);
    // A threshold naming a flow is judged on that flow's requests.
    let judged: Vec<&str> = r["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["threshold"].as_str().unwrap())
        .collect();
    assert_eq!(
        judged,
        [
            "error_rate < 1%",
            "browse.p99 < 2s",
            "detail.error_rate < 1%"
        ]
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("flow browse: ") && stdout.contains("weight 70"),
        "{stdout}"
    );
    // The HTML report has a row per flow with the server's count.
    let page = std::fs::read_to_string(&html).unwrap();
    for (name, n) in [("browse", browse), ("detail", detail), ("me", me)] {
        let row = format!(
            "<tr data-flow=\"{name}\"><td>{name}</td><td data-k=\"iterations\" data-v=\"{n}\">"
        );
        assert!(page.contains(&row), "{row}");
    }
}

#[test]
fn a_three_step_funnel_holds_each_steps_rate_over_20_seconds() {
    let (_tb, base) = crate::util::testbed(&[]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("funnel.json");
    let o = run(
        &example("funnel-shop.scenario.yaml"),
        &base,
        &out,
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let s = stats(&base);
    let r = |k: &str| s["requests"][k].as_u64().unwrap();
    let result = result(&out);
    let secs = result["duration_s"].as_f64().unwrap();
    assert!((19.5..22.0).contains(&secs), "ran {secs} s");
    // 20 s at 200/s, 60/s and 20/s: what the server saw, each within 2 %.
    for (endpoint, rate) in [("goods_list", 200.0), ("profile", 60.0), ("slow", 20.0)] {
        let want = rate * 20.0;
        let got = r(endpoint) as f64;
        assert!(
            (got - want).abs() <= want * 0.02,
            "{endpoint}: {got} requests in 20 s, want {want} ± 2 %"
        );
    }
    let flow = &result["flows"][0];
    assert_eq!(flow["executor"], "constant-rate");
    let iterations = flow["iterations"].as_u64().unwrap();
    assert_eq!(iterations, r("goods_list"));
    assert_eq!(
        flow["cut_short"].as_u64().unwrap(),
        iterations - r("slow"),
        "every iteration that did not reach the last step was cut short"
    );
    assert_eq!(result["dropped_iterations"], 0);
}

#[test]
fn two_segments_of_a_mixed_scenario_merge_into_the_whole() {
    let (_tb, base) = crate::util::testbed(&[]);
    let dir = tempfile::tempdir().unwrap();
    let outs = [dir.path().join("seg1.json"), dir.path().join("seg2.json")];
    let children: Vec<_> = outs
        .iter()
        .enumerate()
        .map(|(k, out)| {
            let seg = format!("{}/2", k + 1);
            let args = ["--iterations", "250", "--segment", seg.as_str()];
            run_cmd(&example("mixed-shop.scenario.yaml"), &base, out, &args)
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = finish(c, Duration::from_secs(120));
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    }
    let merged = dir.path().join("merged.json");
    let o = loadtape()
        .args(["report", "merge"])
        .args(&outs)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let m = result(&merged);
    let (browse, detail, me) = server_flows(&stats(&base));
    // 20 VUs split 10 and 10, 250 iterations each: 5,000, shared out by weight.
    assert_eq!(browse + detail + me, 5_000);
    assert_eq!(
        result_flows(&m),
        [
            ("browse".to_string(), browse),
            ("detail".to_string(), detail),
            ("me".to_string(), me)
        ]
    );
    near("browse", browse, 5_000, 0.70);
    near("me", me, 5_000, 0.10);
    let seg = |k: usize| result(&outs[k])["flows"][0]["iterations"].as_u64().unwrap();
    assert_eq!(seg(0) + seg(1), browse);
    assert_eq!(m["flows"][0]["total"]["requests"], browse);
    assert_eq!(m["passed"], true);
}

#[test]
fn a_scenario_whose_step_lists_differ_by_flow_does_not_merge_with_a_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_tb, base) = crate::util::testbed(&[]);
    let mixed = dir.path().join("mixed.json");
    let o = run(
        &example("mixed-shop.scenario.yaml"),
        &base,
        &mixed,
        &["--iterations", "10", "--vus", "1"],
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let mut plain: Value = result(&mixed);
    plain.as_object_mut().unwrap().remove("flows");
    let plain_path = dir.path().join("plain.json");
    std::fs::write(&plain_path, plain.to_string()).unwrap();
    let o = loadtape()
        .args(["report", "merge"])
        .arg(&mixed)
        .arg(Path::new(&plain_path))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(show(&o).contains("flow list"), "{}", show(&o));
}
