//! Writing a scenario as YAML in the style of SPEC §5: short things in flow style on one line
//! (`- [authorization, 'Bearer {{ session }}']`, `{json: $.data.token}`), templates in single
//! quotes when they need quoting, sections left out when empty. [`load_scenario`] reads the
//! output back to an equal [`Scenario`] (tested, awkward strings included).
//!
//! [`load_scenario`]: super::load_scenario

use std::fmt::Write as _;

use indexmap::IndexMap;
use serde_json::Value;

use super::time::format_duration;
use super::{
    BodyTemplate, Check, Executor, Expiry, Extractor, JsonRule, JsonTest, Load, RefreshOn,
    RequestTemplate, Scenario, Step, TokenStep,
};
use crate::template::Template;
use loadtape_recording::emit::{self, Quotes};

/// Flow collections longer than this go in block style.
const FLOW_WIDTH: usize = 100;

/// Comment lines to write above fields, keyed by field path in the loader's error syntax:
/// a top-level key (`variables`, `load`), a map entry (`variables.appid`, `data.users`,
/// `target.https://api.example.com`), a list item (`steps[2]`, `tokens[0]`, `thresholds[1]`),
/// or a field inside one (`steps[2].think`, `steps[2].extract.goods_id`,
/// `tokens[0].request.headers[1]`, `load.executor`). Paths the writer does not emit are
/// ignored. The converter uses this to say why a value became a variable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comments {
    lines: IndexMap<String, Vec<String>>,
}

impl Comments {
    /// No comments yet.
    pub fn new() -> Comments {
        Comments::default()
    }

    /// Adds a comment above `path`; text with line breaks becomes several comment lines.
    pub fn add(&mut self, path: impl Into<String>, text: impl AsRef<str>) -> &mut Comments {
        let lines = self.lines.entry(path.into()).or_default();
        lines.extend(text.as_ref().lines().map(str::to_string));
        self
    }

    /// Every path with its comment lines, in the order added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.lines.iter().map(|(p, l)| (p.as_str(), l.as_slice()))
    }

    /// The comment lines for `path`, in the order added; empty when there are none.
    pub fn get(&self, path: &str) -> &[String] {
        self.lines.get(path).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The scenario as YAML.
pub fn write_scenario(s: &Scenario) -> String {
    write_scenario_with_comments(s, &Comments::default())
}

/// The scenario as YAML, with comment lines above the fields `comments` names.
pub fn write_scenario_with_comments(s: &Scenario, comments: &Comments) -> String {
    let mut w = W {
        out: String::with_capacity(2048),
        comments,
    };
    w.kv(0, "loadtape", "loadtape", &s.loadtape);
    w.kv(0, "name", "name", &s.name);
    if let Some(r) = &s.recording {
        w.kv(0, "recording", "recording", r);
    }
    if !s.target.is_empty() {
        w.key(0, "target", "target");
        w.out.push('\n');
        for (from, to) in &s.target {
            w.kv(2, &format!("target.{from}"), from, to);
        }
    }
    if !s.variables.is_empty() {
        w.key(0, "variables", "variables");
        w.out.push('\n');
        for (name, t) in &s.variables {
            w.template_kv(2, &format!("variables.{name}"), name, t);
        }
    }
    if !s.data.is_empty() {
        w.key(0, "data", "data");
        w.out.push('\n');
        for (name, d) in &s.data {
            w.key(2, &format!("data.{name}"), name);
            w.out.push_str(" {csv: ");
            emit::scalar(&mut w.out, &d.csv, true);
            let _ = writeln!(w.out, ", pick: {}}}", d.pick.as_str());
        }
    }
    if !s.tokens.is_empty() {
        w.key(0, "tokens", "tokens");
        w.out.push('\n');
        for (i, t) in s.tokens.iter().enumerate() {
            w.token(&format!("tokens[{i}]"), t);
        }
    }
    if s.flows.is_empty() {
        w.key(0, "steps", "steps");
        w.out
            .push_str(if s.steps.is_empty() { " []\n" } else { "\n" });
        for (i, step) in s.steps.iter().enumerate() {
            w.step(&format!("steps[{i}]"), step);
        }
    } else {
        w.flows(s);
    }
    // With every flow on a load of its own, the scenario's is not written (and not read).
    if !s.every_flow_has_its_own_load() {
        w.load(&s.load);
    }
    if s.thresholds.as_ref().is_some_and(Vec::is_empty) {
        w.key(0, "thresholds", "thresholds");
        w.out.push_str(" []\n");
    }
    if let Some(list) = s.thresholds.as_ref().filter(|t| !t.is_empty()) {
        w.key(0, "thresholds", "thresholds");
        w.out.push('\n');
        for (i, t) in list.iter().enumerate() {
            w.comment(0, &format!("thresholds[{i}]"));
            w.out.push_str("- ");
            emit::scalar(&mut w.out, t.source(), false);
            w.out.push('\n');
        }
    }
    w.out
}

struct W<'a> {
    out: String,
    comments: &'a Comments,
}

impl W<'_> {
    fn pad(&mut self, indent: usize) {
        self.out.extend(std::iter::repeat_n(' ', indent));
    }

    fn comment(&mut self, indent: usize, path: &str) {
        for line in self.comments.get(path) {
            self.pad(indent);
            self.out.push('#');
            if !line.is_empty() {
                self.out.push(' ');
                self.out.push_str(&emit::comment_text(line));
            }
            self.out.push('\n');
        }
    }

    /// Comments, indentation and `key:`; the caller writes the value.
    fn key(&mut self, indent: usize, path: &str, key: &str) {
        self.comment(indent, path);
        self.pad(indent);
        emit::scalar(&mut self.out, key, false);
        self.out.push(':');
    }

    fn kv(&mut self, indent: usize, path: &str, key: &str, value: &str) {
        self.key(indent, path, key);
        self.out.push(' ');
        emit::scalar_with(&mut self.out, value, false, Quotes::Single);
        self.out.push('\n');
    }

    fn template_kv(&mut self, indent: usize, path: &str, key: &str, t: &Template) {
        self.kv(indent, path, key, &t.to_string());
    }

    /// A list item's first field: `- key: value` (comments for the item go above the dash).
    fn item(&mut self, indent: usize, item_path: &str, key: &str, value: &str) {
        self.comment(indent, item_path);
        self.pad(indent);
        self.out.push_str("- ");
        self.out.push_str(key);
        self.out.push_str(": ");
        emit::scalar_with(&mut self.out, value, false, Quotes::Single);
        self.out.push('\n');
    }

    fn token(&mut self, path: &str, t: &TokenStep) {
        self.item(0, path, "name", &t.name);
        self.recorded(path, t.recorded);
        self.kv(2, &format!("{path}.scope"), "scope", t.scope.as_str());
        self.vars(path, &t.vars);
        self.request(&format!("{path}.request"), &t.request);
        self.extract(&format!("{path}.extract"), &t.extract);
        if let Some(e) = &t.expires_in {
            let text = match e {
                Expiry::Fixed(d) => format_duration(*d),
                Expiry::Template(t) => t.to_string(),
            };
            self.kv(2, &format!("{path}.expires_in"), "expires_in", &text);
        }
        if let Some(d) = t.refresh_before {
            self.kv(
                2,
                &format!("{path}.refresh_before"),
                "refresh_before",
                &format_duration(d),
            );
        }
        if let Some(r) = &t.refresh_on {
            self.refresh_on(&format!("{path}.refresh_on"), r);
        }
    }

    /// `flows:`, each flow's steps and load written as at the top level and indented under
    /// it (YAML block structure survives a uniform indent).
    fn flows(&mut self, s: &Scenario) {
        self.key(0, "flows", "flows");
        self.out.push('\n');
        for (f, flow) in s.flows.iter().enumerate() {
            let path = format!("flows[{f}]");
            self.item(0, &path, "name", &flow.name);
            if let Some(n) = flow.weight {
                self.key(2, &format!("{path}.weight"), "weight");
                let _ = writeln!(self.out, " {n}");
            }
            let mut sub = W {
                out: String::new(),
                comments: self.comments,
            };
            if let Some(l) = &flow.load {
                sub.load(l);
            }
            sub.key(0, &format!("{path}.steps"), "steps");
            sub.out.push('\n');
            for i in flow.steps.clone() {
                sub.step(
                    &format!("{path}.steps[{}]", i - flow.steps.start),
                    &s.steps[i],
                );
            }
            for line in sub.out.lines() {
                if !line.is_empty() {
                    self.out.push_str("  ");
                }
                self.out.push_str(line);
                self.out.push('\n');
            }
        }
    }

    fn step(&mut self, path: &str, s: &Step) {
        self.item(0, path, "name", &s.name);
        self.recorded(path, s.recorded);
        self.vars(path, &s.vars);
        self.request(&format!("{path}.request"), &s.request);
        if let Some(c) = &s.check {
            self.check(&format!("{path}.check"), c);
        }
        self.extract(&format!("{path}.extract"), &s.extract);
        if let Some(d) = s.think {
            self.kv(2, &format!("{path}.think"), "think", &format_duration(d));
        }
        if let Some(r) = s.rate {
            self.kv(2, &format!("{path}.rate"), "rate", &r.to_string());
        }
    }

    fn vars(&mut self, path: &str, vars: &IndexMap<String, Template>) {
        if vars.is_empty() {
            return;
        }
        self.key(2, &format!("{path}.vars"), "vars");
        self.out.push('\n');
        for (name, t) in vars {
            self.template_kv(4, &format!("{path}.vars.{name}"), name, t);
        }
    }

    fn recorded(&mut self, path: &str, id: Option<u64>) {
        if let Some(id) = id {
            // A number, not a string: written raw so it is never quoted.
            self.key(2, &format!("{path}.recorded"), "recorded");
            let _ = writeln!(self.out, " {id}");
        }
    }

    fn request(&mut self, path: &str, r: &RequestTemplate) {
        self.key(2, path, "request");
        self.out.push('\n');
        self.kv(4, &format!("{path}.method"), "method", r.method.as_str());
        self.template_kv(4, &format!("{path}.url"), "url", &r.url);
        if !r.headers.is_empty() {
            self.key(4, &format!("{path}.headers"), "headers");
            self.out.push('\n');
            for (i, (name, value)) in r.headers.iter().enumerate() {
                self.comment(4, &format!("{path}.headers[{i}]"));
                self.pad(4);
                self.out.push_str("- [");
                emit::scalar(&mut self.out, name, true);
                self.out.push_str(", ");
                emit::scalar_with(&mut self.out, &value.to_string(), true, Quotes::Single);
                self.out.push_str("]\n");
            }
        }
        if let Some(b) = &r.body {
            self.body(&format!("{path}.body"), b);
        }
    }

    fn body(&mut self, path: &str, b: &BodyTemplate) {
        let (kind, value) = match b {
            BodyTemplate::Json(j) => ("json", j.to_value()),
            BodyTemplate::Text(t) => ("text", Value::String(t.to_string())),
            BodyTemplate::Form(f) => ("form", template_map(f)),
            BodyTemplate::Base64(bytes) => {
                use base64::Engine as _;
                (
                    "base64",
                    Value::String(loadtape_recording::body::BASE64.encode(bytes)),
                )
            }
        };
        self.key(4, path, "body");
        let mut flow = String::new();
        emit::flow_with(&mut flow, &value, Quotes::Single);
        if flow.len() <= FLOW_WIDTH {
            let _ = writeln!(self.out, " {{{kind}: {flow}}}");
        } else {
            self.out.push('\n');
            self.pad(6);
            let _ = writeln!(self.out, "{kind}:");
            emit::block_with(&mut self.out, 8, &value, Quotes::Single);
        }
    }

    fn extract(&mut self, path: &str, extract: &IndexMap<String, Extractor>) {
        if extract.is_empty() {
            return;
        }
        self.key(2, path, "extract");
        self.out.push('\n');
        for (name, ex) in extract {
            self.key(4, &format!("{path}.{name}"), name);
            self.out.push_str(" {");
            match ex {
                Extractor::Json(p) => self.flow_pair("json", p.as_str()),
                Extractor::Header(h) => self.flow_pair("header", h),
                Extractor::Cookie(c) => self.flow_pair("cookie", c),
                Extractor::Regex { pattern, group } => {
                    self.flow_pair("regex", pattern.as_str());
                    let default = if pattern.regex().captures_len() > 1 {
                        1
                    } else {
                        0
                    };
                    if *group != default {
                        let _ = write!(self.out, ", group: {group}");
                    }
                }
            }
            self.out.push_str("}\n");
        }
    }

    fn flow_pair(&mut self, key: &str, value: &str) {
        self.out.push_str(key);
        self.out.push_str(": ");
        emit::scalar_with(&mut self.out, value, true, Quotes::Single);
    }

    fn check(&mut self, path: &str, c: &Check) {
        self.key(2, path, "check");
        if c.json.is_empty() && c.body_contains.is_empty() {
            self.out.push_str(" {");
            if !c.status.is_empty() {
                self.out.push_str("status: ");
                self.out.push_str(&statuses(&c.status));
            }
            self.out.push_str("}\n");
            return;
        }
        self.out.push('\n');
        if !c.status.is_empty() {
            let s = statuses(&c.status);
            self.key(4, &format!("{path}.status"), "status");
            let _ = writeln!(self.out, " {s}");
        }
        self.rules(4, &format!("{path}.json"), &c.json);
        if !c.body_contains.is_empty() {
            let v = Value::Array(c.body_contains.iter().cloned().map(Value::String).collect());
            self.key(4, &format!("{path}.body_contains"), "body_contains");
            self.out.push(' ');
            emit::flow_with(&mut self.out, &v, Quotes::Single);
            self.out.push('\n');
        }
    }

    fn refresh_on(&mut self, path: &str, r: &RefreshOn) {
        self.key(2, path, "refresh_on");
        self.out.push('\n');
        if !r.status.is_empty() {
            self.key(4, &format!("{path}.status"), "status");
            let _ = writeln!(
                self.out,
                " [{}]",
                r.status
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        self.rules(4, &format!("{path}.json"), &r.json);
    }

    fn rules(&mut self, indent: usize, path: &str, rules: &[JsonRule]) {
        if rules.is_empty() {
            return;
        }
        self.key(indent, path, "json");
        if let [rule] = rules {
            self.out.push(' ');
            emit::flow_with(&mut self.out, &rule_value(rule), Quotes::Single);
            self.out.push('\n');
            return;
        }
        self.out.push('\n');
        for (i, rule) in rules.iter().enumerate() {
            self.comment(indent, &format!("{path}[{i}]"));
            self.pad(indent);
            self.out.push_str("- ");
            emit::flow_with(&mut self.out, &rule_value(rule), Quotes::Single);
            self.out.push('\n');
        }
    }

    fn load(&mut self, l: &Load) {
        self.key(0, "load", "load");
        self.out.push('\n');
        self.kv(2, "load.executor", "executor", l.executor.name());
        let stage_list = |items: Vec<(String, String)>| {
            let parts: Vec<String> = items
                .into_iter()
                .map(|(to, over)| format!("{{to: {to}, over: {over}}}"))
                .collect();
            format!("[{}]", parts.join(", "))
        };
        let field = |w: &mut Self, name: &str, value: String| {
            w.key(2, &format!("load.{name}"), name);
            let _ = writeln!(w.out, " {value}");
        };
        match &l.executor {
            Executor::ConstantVus { vus, duration } => {
                field(self, "vus", vus.to_string());
                field(self, "duration", format_duration(*duration));
            }
            Executor::RampingVus { start_vus, stages } => {
                if *start_vus != 0 {
                    field(self, "start_vus", start_vus.to_string());
                }
                let items = stages
                    .iter()
                    .map(|s| (s.to.to_string(), format_duration(s.over)))
                    .collect();
                field(self, "stages", stage_list(items));
            }
            Executor::ConstantRate {
                rate,
                duration,
                max_vus,
                pre_allocated_vus,
            } => {
                field(self, "rate", rate.to_string());
                field(self, "duration", format_duration(*duration));
                field(self, "max_vus", max_vus.to_string());
                if let Some(n) = pre_allocated_vus {
                    field(self, "pre_allocated_vus", n.to_string());
                }
            }
            Executor::RampingRate {
                start_rate,
                stages,
                max_vus,
                pre_allocated_vus,
            } => {
                if *start_rate != super::Rate::per_second(0) {
                    field(self, "start_rate", start_rate.to_string());
                }
                let items = stages
                    .iter()
                    .map(|s| (s.to.to_string(), format_duration(s.over)))
                    .collect();
                field(self, "stages", stage_list(items));
                field(self, "max_vus", max_vus.to_string());
                if let Some(n) = pre_allocated_vus {
                    field(self, "pre_allocated_vus", n.to_string());
                }
            }
        }
        if let Some(n) = l.iterations {
            field(self, "iterations", n.to_string());
        }
    }
}

fn statuses(s: &[u16]) -> String {
    match s {
        [one] => one.to_string(),
        many => format!(
            "[{}]",
            many.iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn rule_value(rule: &JsonRule) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("path".into(), Value::String(rule.path.as_str().to_string()));
    let (key, value) = match &rule.test {
        JsonTest::Equals(v) => ("equals", v.clone()),
        JsonTest::In(vs) => ("in", Value::Array(vs.clone())),
        JsonTest::Exists(b) => ("exists", Value::Bool(*b)),
    };
    map.insert(key.into(), value);
    Value::Object(map)
}

fn template_map(fields: &IndexMap<String, Template>) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
            .collect(),
    )
}
