//! `flows:`: a mixed scenario and a funnel load as one list of steps with each flow's slice,
//! write back to an equal scenario, and every misuse fails with its file, line and field.

use loadtape_scenario::{load_scenario_str, write_scenario, Executor, Scenario};

const MIXED: &str = "\
loadtape: scenario/v1
name: mixed
tokens:
  - name: login
    request: {method: POST, url: 'https://a.example/login'}
    extract: {session: {json: $.token}}
flows:
  - name: browse
    weight: 70
    steps:
      - name: list
        request: {method: GET, url: 'https://a.example/goods'}
        extract: {id: {json: '$.data[0].id'}}
      - name: item
        request: {method: GET, url: 'https://a.example/goods/{{ id }}'}
  - name: buy
    weight: 30
    steps:
      - name: order
        request: {method: POST, url: 'https://a.example/order?s={{ session }}'}
  - name: funnel
    load: {executor: constant-rate, rate: 100/s, duration: 20s, max_vus: 50}
    steps:
      - name: f_browse
        rate: 100/s
        request: {method: GET, url: 'https://a.example/goods'}
      - name: f_order
        rate: 20/s
        request: {method: POST, url: 'https://a.example/order'}
load: {executor: constant-vus, vus: 10, duration: 1m}
thresholds:
  - buy.p95 < 300ms
  - browse.error_rate < 1%
";

// The error is built once per failed load; its size does not matter here.
#[allow(clippy::result_large_err)]
fn load(text: &str) -> Result<Scenario, loadtape_recording::Error> {
    load_scenario_str(text, "/nonexistent/mixed.scenario.yaml")
}

#[test]
fn a_mixed_scenario_is_one_step_list_with_each_flows_slice() {
    let s = load(MIXED).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = s.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["list", "item", "order", "f_browse", "f_order"]);
    let flows: Vec<(&str, Option<u32>, std::ops::Range<usize>)> = s
        .flows
        .iter()
        .map(|f| (f.name.as_str(), f.weight, f.steps.clone()))
        .collect();
    assert_eq!(
        flows,
        [
            ("browse", Some(70), 0..2),
            ("buy", Some(30), 2..3),
            ("funnel", None, 3..5)
        ]
    );
    assert!(matches!(
        s.flows[2].load.as_ref().map(|l| &l.executor),
        Some(Executor::ConstantRate { max_vus: 50, .. })
    ));
    assert_eq!(s.step_path(4), "flows[2].steps[1]");
    assert_eq!(s.steps[4].rate.map(|r| r.count), Some(20));
    // Written and read back: the same scenario.
    let again = load(&write_scenario(&s)).unwrap_or_else(|e| panic!("{e}\n{}", write_scenario(&s)));
    assert_eq!(again, s);
}

#[test]
fn every_flow_on_its_own_load_needs_no_scenario_load_and_refuses_one() {
    let own = MIXED
        .replace(
            "    weight: 70\n",
            "    load: {executor: constant-vus, vus: 2, duration: 5s}\n",
        )
        .replace(
            "    weight: 30\n",
            "    load: {executor: constant-vus, vus: 1, duration: 5s}\n",
        );
    let e = load(&own).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("load"), "{e}");
    assert_eq!(e.line, Some(30), "{e}");
    assert!(
        e.message.contains("every flow has a load of its own"),
        "{e}"
    );
    let without = own.replace(
        "load: {executor: constant-vus, vus: 10, duration: 1m}\n",
        "",
    );
    let s = load(&without).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.every_flow_has_its_own_load());
    let text = write_scenario(&s);
    assert!(!text.lines().any(|l| l.starts_with("load:")), "{text}");
    assert_eq!(load(&text).unwrap(), s);
    // Flows sharing a load that is not there.
    let e = load(&MIXED.replace(
        "load: {executor: constant-vus, vus: 10, duration: 1m}\n",
        "",
    ))
    .unwrap_err();
    assert!(e.message.contains("missing field `load`"), "{e}");
}

fn fails(from: &str, to: &str, field: &str, message: &str) {
    assert!(MIXED.contains(from), "{from}");
    let e = load(&MIXED.replacen(from, to, 1)).unwrap_err();
    assert_eq!(e.field.as_deref(), Some(field), "{e}");
    assert!(e.line.is_some(), "{e}");
    assert!(e.message.contains(message), "{e}");
    assert!(e.hint.is_some(), "{e}");
}

#[test]
fn misused_flows_fail_with_field_and_fix() {
    fails(
        "    weight: 30\n",
        "    weight: 0\n",
        "flows[1].weight",
        "at least 1",
    );
    fails(
        "    weight: 30\n",
        "    weight: 30\n    load: {executor: constant-vus, vus: 1, duration: 1s}\n",
        "flows[1].weight",
        "both a `weight` and a `load`",
    );
    fails(
        "  - name: buy\n",
        "  - name: list\n",
        "flows[1].name",
        "used twice",
    );
    fails("buy.p95", "bye.p95", "thresholds[0]", "does not exist");
    // A flow sees only its own steps' extracts.
    fails(
        "url: 'https://a.example/order?s={{ session }}'",
        "url: 'https://a.example/order?s={{ id }}'",
        "flows[1].steps[0].request.url",
        "`id`",
    );
    fails(
        "name: mixed\n",
        "name: mixed\nsteps:\n  - name: plain\n    request: {method: GET, url: 'https://a.example/'}\n",
        "flows",
        "both `steps` and `flows`",
    );
    fails(
        "        rate: 20/s\n",
        "        rate: 200/s\n",
        "flows[2].steps[1].rate",
        "more than",
    );
    fails(
        "        rate: 100/s\n",
        "        rate: 90/s\n",
        "flows[2].steps[0].rate",
        "not the flow's load rate",
    );
    fails(
        "    load: {executor: constant-rate, rate: 100/s, duration: 20s, max_vus: 50}\n",
        "    weight: 5\n",
        "flows[2].steps[0].rate",
        "needs a `load` of its own",
    );
    fails(
        "    load: {executor: constant-rate, rate: 100/s, duration: 20s, max_vus: 50}\n",
        "    load: {executor: constant-vus, vus: 5, duration: 20s}\n",
        "flows[2].load",
        "runs on `constant-rate`",
    );
}
