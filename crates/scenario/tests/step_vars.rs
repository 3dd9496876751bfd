//! A step's `vars:`: values rendered once per sending that its request uses more than once (a
//! timestamp and the signature over it); they load, write back equal, and an unknown name in
//! one is refused at its line.

use loadtape_scenario::{load_scenario_str, write_scenario};

const SIGNED: &str = "\
loadtape: scenario/v1
name: signed
tokens:
  - name: login
    vars:
      ts: '{{ now_s() }}'
    request: {method: POST, url: 'https://a.example/login?ts={{ ts }}&sign={{ md5(ts) }}'}
    extract: {session: {json: $.token}}
steps:
  - name: order
    vars:
      ts: '{{ now_s() }}'
      sign: '{{ upper(md5(ts + ''&key='' + env(\"PAY_KEY\"))) }}'
    request:
      method: GET
      url: 'https://a.example/order?ts={{ ts }}&sign={{ sign }}'
  - name: again
    request: {method: GET, url: 'https://a.example/again?ts={{ ts }}'}
load: {executor: constant-vus, vus: 1, duration: 1s}
";

#[test]
fn step_vars_load_and_write_back_equal() {
    let s = load_scenario_str(SIGNED, "/nonexistent/signed.yaml").unwrap_or_else(|e| panic!("{e}"));
    let vars: Vec<&str> = s.steps[0].vars.keys().map(String::as_str).collect();
    assert_eq!(vars, ["ts", "sign"]);
    let paths: Vec<String> = s.steps[0].templates().into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths[..3], ["vars.ts", "vars.sign", "request.url"]);
    let written = write_scenario(&s);
    let again = load_scenario_str(&written, "/nonexistent/signed.yaml")
        .unwrap_or_else(|e| panic!("{e}\n{written}"));
    assert_eq!(again, s, "{written}");
    assert_eq!(s.tokens[0].vars.len(), 1);
    assert!(
        written.contains("  vars:\n    ts: '{{ now_s() }}'"),
        "{written}"
    );
}

#[test]
fn a_step_var_may_use_only_what_is_bound_before_it() {
    let bad = SIGNED.replace("md5(ts +", "md5(later +");
    let e = load_scenario_str(&bad, "/nonexistent/signed.yaml").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("`later` is not defined"), "{text}");
    assert!(text.contains("steps[0].vars.sign"), "{text}");
    assert!(text.contains(":13:"), "the line of `sign`: {text}");
    // A var is not seen by the steps of the scenario's variables (they come first).
    let early = SIGNED.replace("steps:\n", "variables:\n  x: '{{ ts }}'\nsteps:\n");
    assert!(load_scenario_str(&early, "/nonexistent/signed.yaml").is_err());
}
