//! Property tests: any template displays as source that parses back to it, and any text put
//! where a scenario holds strings survives write → load unchanged, and reads the same in
//! saphyr and PyYAML as in serde_yaml.

// The emitter's own test material: awkward strings, and the three YAML readers.
#[path = "../../recording/tests/support/cases.rs"]
mod cases;
#[path = "../../recording/tests/support/yaml_readers.rs"]
mod yaml_readers;

use loadtape_scenario::template::{Expr, Func, Part};
use loadtape_scenario::{load_scenario_str, write_scenario, Scenario, Template};
use loadtape_scenario::{write_scenario_with_comments, Comments};
use loadtape_scenario::{BodyTemplate, Executor, JsonTemplate, Load, RequestTemplate, Step};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        "[a-z_][a-z0-9_]{0,6}(\\.[a-z0-9_]{1,4})?".prop_map(Expr::Var),
        any::<String>().prop_map(Expr::Str),
        any::<i64>().prop_map(Expr::Int),
        Just(Expr::Call(Func::NowMs, vec![])),
        Just(Expr::Call(Func::Uuid, vec![])),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Concat),
            inner.clone().prop_map(|e| Expr::Call(Func::Md5, vec![e])),
            inner
                .clone()
                .prop_map(|e| Expr::Call(Func::UrlEncode, vec![e])),
            (inner.clone(), inner).prop_map(|(k, s)| Expr::Call(Func::HmacSha256, vec![k, s])),
        ]
    })
}

fn template() -> impl Strategy<Value = Template> {
    let part = prop_oneof![
        any::<String>().prop_map(Part::Literal),
        "[{}a ]{0,4}".prop_map(Part::Literal),
        expr().prop_map(Part::Expr),
    ];
    prop::collection::vec(part, 0..5).prop_map(Template::from_parts)
}

fn scenario(text: String, t: Template) -> Scenario {
    let mut s = load_scenario_str(
        "loadtape: scenario/v1\nname: x\nsteps:\n- name: a\n  request: {method: GET, url: 'https://a.example/'}\nload: {executor: constant-vus, vus: 1, duration: 1s}\n",
        "mem.yaml",
    )
    .expect("the base scenario loads");
    s.name = text.clone();
    s.recording = Some(text.clone());
    s.variables
        .insert("v".into(), Template::literal(text.as_str()));
    s.steps.push(Step {
        name: "b".into(),
        recorded: Some(7),
        vars: indexmap::IndexMap::new(),
        request: RequestTemplate {
            method: http::Method::POST,
            url: Template::parse("https://a.example/{{ v }}").expect("parses"),
            headers: vec![
                ("x-a".into(), Template::literal(text.as_str())),
                ("x-b".into(), t.clone()),
            ],
            body: Some(BodyTemplate::Json(JsonTemplate::Array(vec![
                JsonTemplate::String(Template::literal(text.as_str())),
                JsonTemplate::Object(vec![(text.clone(), JsonTemplate::String(t))]),
            ]))),
        },
        check: None,
        extract: Default::default(),
        think: None,
        rate: None,
    });
    s.load = Load {
        executor: Executor::ConstantVus {
            vus: 1,
            duration: std::time::Duration::from_millis(1500),
        },
        iterations: Some(1),
    };
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn templates_display_as_source_that_parses_back(t in template()) {
        let shown = t.to_string();
        let back = Template::parse(&shown).map_err(|e| TestCaseError::fail(format!("{e}: {shown:?}")))?;
        prop_assert_eq!(back, t);
    }

    #[test]
    fn any_literal_renders_as_itself(text in any::<String>()) {
        let t = Template::literal(text.as_str());
        let back = Template::parse(&t.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.as_literal(), Some(text.as_str()));
    }

    #[test]
    fn scenarios_round_trip(text in any::<String>(), t in template()) {
        let s = scenario(text, with_defined_names(&t));
        let yaml = write_scenario(&s);
        let back = load_scenario_str(&yaml, "mem.yaml").map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        prop_assert_eq!(back, s, "{}", yaml);
    }
}

/// Templates here may only use defined names: give them all `v`.
fn with_defined_names(t: &Template) -> Template {
    Template::from_parts(t.parts().iter().map(|p| match p {
        Part::Expr(e) => Part::Expr(rename(e)),
        lit => lit.clone(),
    }))
}

/// Scenarios holding awkward text everywhere the writer puts strings, comments included, as
/// serde_yaml reads them (which the loader turns back into the scenario): saphyr and PyYAML
/// must read the same. PyYAML reads the whole batch in one python3 run.
#[test]
fn scenarios_read_the_same_in_serde_yaml_saphyr_and_pyyaml() {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[15; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = (cases::string(), template(), cases::string());
    let mut written = Vec::new();
    for _ in 0..200 {
        let (text, t, note) = strategy.new_tree(&mut runner).expect("a case").current();
        let s = scenario(text, with_defined_names(&t));
        let mut comments = Comments::new();
        comments.add("variables.v", &note).add("steps[1]", &note);
        let yaml = write_scenario_with_comments(&s, &comments);
        let back = load_scenario_str(&yaml, "mem.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(back, s, "{yaml}");
        let by_serde = yaml_readers::serde_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        written.push((yaml, by_serde));
    }
    let docs: Vec<String> = written.iter().map(|(yaml, _)| yaml.clone()).collect();
    let mut wrong = Vec::new();
    for ((yaml, want), py) in written.iter().zip(yaml_readers::pyyaml(&docs)) {
        for (reader, read) in [("saphyr", yaml_readers::saphyr(yaml)), ("PyYAML", py)] {
            let why = match read {
                Ok(got) => yaml_readers::first_difference(&want.clone().into(), &got.into()),
                Err(e) => Some(e),
            };
            if let Some(why) = why {
                wrong.push(format!("{reader}: {why}\n{yaml}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of 200 differ; the first:\n{}",
        wrong.len(),
        wrong[0]
    );
}

fn rename(e: &Expr) -> Expr {
    match e {
        Expr::Var(_) => Expr::Var("v".into()),
        Expr::Call(f, args) => Expr::Call(*f, args.iter().map(rename).collect()),
        Expr::Concat(items) => Expr::Concat(items.iter().map(rename).collect()),
        other => other.clone(),
    }
}

/// A scenario using most features, for the mutation test below.
const BASE: &str = r#"loadtape: scenario/v1
name: m
target: {https://a.example: 'http://127.0.0.1:9'}
variables: {appid: wx1, sign: '{{ md5(appid + now_s()) }}'}
tokens:
- name: t
  scope: shared
  request: {method: GET, url: 'https://a.example/token?appid={{ appid }}'}
  extract: {tok: {json: $.access_token}, ttl: {header: x-ttl}}
  expires_in: '{{ ttl }}s'
  refresh_on: {status: [401], json: {path: $.errcode, in: [42001]}}
steps:
- name: s
  request:
    method: POST
    url: https://a.example/x?t={{ tok }}
    headers:
    - [x-sign, '{{ sign }}']
    body: {form: {a: '{{ tok }}', b: 2}}
  check: {status: [200, 201], json: {path: $.code, equals: 0}, body_contains: ok}
  extract: {id: {regex: 'id=(\d+)', group: 1}, c: {cookie: sid}}
  think: 1s
load: {executor: ramping-rate, stages: [{to: 10/s, over: 1s}], max_vus: 3, iterations: 2}
thresholds: [p99 < 1s, s.error_rate <= 0.5, dropped == 0]
"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Cut, insert or replace anywhere: the loader returns a result, it never panics, and an
    /// error always names the file.
    #[test]
    fn mutated_scenarios_never_panic(at in 0usize..BASE.len(), len in 0usize..12, insert in "[ -~\n\t]{0,6}|[{}\\[\\]:,'\"#&*!|>-]{1,3}") {
        let mut text = BASE.to_string();
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (at + len).min(text.len());
        let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(at..end, &insert);
        if let Err(e) = load_scenario_str(&text, "fuzz.yaml") {
            prop_assert!(e.to_string().starts_with("fuzz.yaml"), "{}", e);
        }
    }
}

#[test]
fn mutation_base_loads_and_round_trips() {
    let s = load_scenario_str(BASE, "fuzz.yaml").unwrap_or_else(|e| panic!("{e}"));
    let back = load_scenario_str(&write_scenario(&s), "fuzz.yaml").unwrap();
    assert_eq!(back, s);
}
