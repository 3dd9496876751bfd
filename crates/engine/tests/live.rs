//! Live numbers (`Options::live`): a snapshot about once a second while the run goes on, all
//! workers merged, and a final one equal to the run's outcome.

use std::sync::Arc;
use std::time::Duration;

use loadtape_engine::{Options, Plan, Snapshot};
use loadtape_testbed::{Config, Testbed};

#[test]
fn snapshots_come_once_a_second_and_the_last_equals_the_outcome() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = Config {
        token_ttl: Duration::from_secs(1),
        ..Config::default()
    };
    let tb = rt.block_on(Testbed::start(config)).unwrap();
    let text = r"loadtape: scenario/v1
name: live
tokens:
- name: login
  scope: per-vu
  request:
    method: POST
    url: https://shop.example/api/login
    body: {json: {code: abc}}
  extract:
    session: {json: $.token}
    ttl: {json: $.expires_in}
  expires_in: '{{ ttl }}s'
  refresh_before: 300ms
steps:
- name: goods
  request:
    method: GET
    url: https://shop.example/api/goods?page=1
    headers:
    - [authorization, 'Bearer {{ session }}']
  think: 5ms
- name: missing
  request: {method: GET, url: 'https://shop.example/nothing-here'}
load: {executor: constant-vus, vus: 4, duration: 3s}
";
    let s = loadtape_scenario::load_scenario_str(text, "live.yaml").unwrap();
    let options = Options {
        targets: vec![("https://shop.example".into(), tb.base_url())],
        workers: 2,
        live: true,
        ..Options::default()
    };
    let plan = Plan::compile(&s, std::path::Path::new("live.yaml"), options).unwrap();
    let mut running = loadtape_engine::start(plan).unwrap();
    let mut feed = running.live().expect("live numbers were asked for");
    let mut seen: Vec<Arc<Snapshot>> = Vec::new();
    while running.poll(Duration::from_millis(50)).is_some() {
        if feed.has_changed().unwrap_or(false) {
            seen.push(feed.borrow_and_update().clone());
        }
    }
    let outcome = running.finish();
    let last = feed.borrow().clone();
    rt.block_on(tb.shutdown());

    // During the run: a few snapshots, in order, growing, none final.
    assert!((2..=6).contains(&seen.len()), "{} snapshots", seen.len());
    let during: Vec<&Arc<Snapshot>> = seen.iter().filter(|s| !s.finished).collect();
    assert!(during.len() >= 2, "{} during the run", during.len());
    for w in during.windows(2) {
        assert!(w[0].elapsed < w[1].elapsed);
        assert!(w[0].steps[0].requests <= w[1].steps[0].requests);
    }
    assert!(during
        .iter()
        .any(|s| s.active_vus > 0 && s.recent.requests > 0));

    // The last: every row as the outcome has it, latency histogram included.
    assert!(last.finished);
    let m = &outcome.metrics;
    let rows = last.tokens.iter().zip(m.token_rows());
    for (live, end) in rows.chain(last.steps.iter().zip(m.step_rows())) {
        assert_eq!(live.requests, end.requests, "{}", live.name);
        assert_eq!(live.errors, end.errors, "{}", live.name);
        assert_eq!(live.bytes_sent, end.bytes_sent, "{}", live.name);
        assert_eq!(live.bytes_received, end.bytes_received, "{}", live.name);
        assert_eq!(live.refreshes, end.refreshes, "{}", live.name);
        assert_eq!(live.latency.len(), end.latency.len(), "{}", live.name);
        for q in [0.5, 0.99, 1.0] {
            assert_eq!(
                live.latency.value_at_quantile(q),
                end.latency.value_at_quantile(q)
            );
        }
    }
    assert_eq!((last.iterations, last.dropped), (m.iterations, m.dropped));
    assert_eq!(last.active_vus, 0);
    assert!(last.steps[1].errors.status > 0, "404s are status errors");
    // Sessions live 1 s of 3: each VU refreshed its own at least once.
    assert!(
        last.tokens[0].refreshes >= 4,
        "{}",
        last.tokens[0].refreshes
    );
}
