//! Reading the corpus and printing findings and scenario pieces in a form tests compare
//! exactly. Shared by several test binaries, each using part of it.
#![allow(dead_code)]

use std::path::PathBuf;

use indexmap::IndexMap;
use loadtape_detect::{analyze, convert, Analysis, Conversion, ConvertOptions, Options};
use loadtape_recording::{read_recording, Recording};
use loadtape_scenario::Template;
use loadtape_scenario::{BodyTemplate, Extractor, JsonRule, JsonTest, RequestTemplate};

pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/detect")
        .join(format!("{name}.yaml"))
}

pub(crate) fn load(name: &str) -> (Recording, Analysis) {
    load_with(name, &Options::default())
}

pub(crate) fn load_with(name: &str, opts: &Options) -> (Recording, Analysis) {
    let rec = read_recording(fixture(name)).unwrap();
    let a = analyze(&rec, opts).unwrap();
    (rec, a)
}

/// Converts and checks the scenario loads (validating loader) back to the same value.
pub(crate) fn convert_checked(rec: &Recording, a: &Analysis, opts: &ConvertOptions) -> Conversion {
    let c = convert(rec, a, opts);
    let yaml = c.yaml();
    let loaded = loadtape_scenario::load_scenario_str(&yaml, "corpus.scenario.yaml")
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(loaded, c.scenario, "{yaml}");
    c
}

/// `variable | class | uses | origins | confidence`, one per finding.
pub(crate) fn rows(a: &Analysis) -> Vec<String> {
    a.findings
        .iter()
        .map(|f| {
            let uses: Vec<String> = f
                .uses
                .iter()
                .map(|u| format!("{}: {}", a.steps[u.step].name, u.place))
                .collect();
            let origins: Vec<String> = f
                .origins
                .iter()
                .map(|o| format!("{}: {}", a.steps[o.step].name, o.place))
                .collect();
            format!(
                "{} | {} | {} | {} | {}",
                f.variable,
                f.class,
                uses.join("; "),
                origins.join("; "),
                f.confidence
            )
        })
        .collect()
}

pub(crate) fn extracts(x: &IndexMap<String, Extractor>) -> Vec<String> {
    x.iter()
        .map(|(k, e)| match e {
            Extractor::Json(p) => format!("{k} = json {}", p.as_str()),
            Extractor::Header(h) => format!("{k} = header {h}"),
            Extractor::Cookie(c) => format!("{k} = cookie {c}"),
            Extractor::Regex { pattern, group } => {
                format!("{k} = regex {} group {group}", pattern.as_str())
            }
        })
        .collect()
}

pub(crate) fn headers(r: &RequestTemplate) -> Vec<String> {
    r.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect()
}

pub(crate) fn body(r: &RequestTemplate) -> String {
    match &r.body {
        None => String::new(),
        Some(BodyTemplate::Json(j)) => j.to_value().to_string(),
        Some(BodyTemplate::Text(t)) => t.to_string(),
        Some(BodyTemplate::Form(f)) => format!("{f:?}"),
        Some(BodyTemplate::Base64(b)) => format!("{} bytes", b.len()),
    }
}

pub(crate) fn rules(rules: &[JsonRule]) -> Vec<String> {
    rules
        .iter()
        .map(|r| {
            let test = match &r.test {
                JsonTest::Equals(v) => format!("== {v}"),
                JsonTest::In(vs) => format!("in {}", serde_json::Value::Array(vs.clone())),
                JsonTest::Exists(b) => format!("exists {b}"),
            };
            format!("{} {test}", r.path.as_str())
        })
        .collect()
}

pub(crate) fn url(r: &RequestTemplate) -> String {
    r.url.to_string()
}

pub(crate) fn template(t: &Template) -> String {
    t.to_string()
}

/// A file of the real-world corpus (tests/fixtures/realworld, HAR as exported).
pub(crate) fn load_realworld(file: &str) -> (Recording, Analysis) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/realworld")
        .join(file);
    let rec = loadtape_recording::read_any(&path).unwrap_or_else(|e| panic!("{e}"));
    let a = analyze(&rec, &Options::default()).unwrap();
    (rec, a)
}
