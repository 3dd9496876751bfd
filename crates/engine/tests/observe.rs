//! The observer sees every exchange of a run, token steps included, with the request as sent
//! (rendered templates, target rewriting) and the answer or the failure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use loadtape_engine::{Observed, Observer, Options, Plan};
use loadtape_testbed::{Config, Testbed};

#[test]
fn observer_sees_token_steps_and_steps_as_sent() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tb = rt.block_on(Testbed::start(Config::default())).unwrap();
    let base = tb.base_url();
    let text = r"loadtape: scenario/v1
name: o
tokens:
- name: login
  request:
    method: POST
    url: https://shop.example/api/login
    body: {json: {code: abc}}
  extract:
    session: {json: $.token}
  expires_in: 1h
steps:
- name: goods
  request:
    method: GET
    url: https://shop.example/api/goods?page=1
    headers:
    - [authorization, 'Bearer {{ session }}']
- name: gone
  request:
    method: GET
    url: https://down.example/x
load: {executor: constant-vus, vus: 1, duration: 10s, iterations: 1}
";
    let s = loadtape_scenario::load_scenario_str(text, "o.yaml").unwrap();
    let seen: Arc<Mutex<Vec<Observed>>> = Arc::default();
    let sink = seen.clone();
    let options = Options {
        targets: vec![
            ("https://shop.example".into(), base.clone()),
            // Nothing listens on port 9 of localhost: the step fails, and is observed failing.
            ("https://down.example".into(), "http://127.0.0.1:9".into()),
        ],
        request_timeout: Duration::from_secs(5),
        observer: Some(Observer::new(move |o| sink.lock().unwrap().push(o.clone()))),
        ..Options::default()
    };
    let plan = Plan::compile(&s, std::path::Path::new("o.yaml"), options).unwrap();
    loadtape_engine::start(plan).unwrap().finish();
    let seen = seen.lock().unwrap();
    let names: Vec<(&str, bool)> = seen.iter().map(|o| (o.step.as_str(), o.token)).collect();
    assert_eq!(names, [("login", true), ("goods", false), ("gone", false)]);
    let login = seen[0].outcome.as_ref().unwrap();
    assert_eq!(login.status, 200);
    let token: serde_json::Value = serde_json::from_slice(&login.body).unwrap();
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    assert_eq!(seen[1].url, format!("{base}/api/goods?page=1"));
    assert_eq!(seen[1].headers["authorization"], bearer.as_str());
    assert_eq!(seen[1].outcome.as_ref().unwrap().status, 200);
    assert!(seen[2].outcome.is_err(), "{:?}", seen[2].outcome);
    drop(seen);
    rt.block_on(tb.shutdown());
}
