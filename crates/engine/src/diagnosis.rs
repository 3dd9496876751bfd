//! Why an answer failed: the first rule of its step's check it breaks, or the extractor that
//! found nothing, and what the answer had instead (`$.errno == 0`, got `402`). A bare `check`
//! error count does not say that the server answered HTTP 200 with `errno 402`; this does.
//! Built only on a failure — a passing answer never pays for it — then tallied per step in
//! the worker's metrics (a step's `check_failures`) and shown by `--debug`.

use loadtape_scenario::{Check, Extractor, JsonRule, JsonTest};
use serde_json::Value;

/// How much of a value (found or expected) a description keeps: enough to tell `402` from
/// `501` or to recognise a message, short enough for one summary line.
const SHOWN_CHARS: usize = 60;

/// `got` when a JSON path selects nothing.
pub(crate) const MISSING: &str = "missing";
/// `got` when the body does not parse as JSON.
pub(crate) const NOT_JSON: &str = "not JSON";
/// `got` when an extractor found nothing.
pub(crate) const NOTHING_FOUND: &str = "nothing found";

/// One failed rule and what the answer had instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What was tested: `$.errno`, `status`, `body`, `extract orderId ($.data.orderId)`.
    pub subject: String,
    /// What it had to be: `== 0`, `in [401, 501]`, `exists`; empty for an extractor.
    pub expected: String,
    /// What the answer had: a JSON-rendered value, [`MISSING`], [`NOT_JSON`],
    /// [`NOTHING_FOUND`], `not found` (a body needle) or a status.
    pub got: String,
}

impl Failure {
    /// The rule on its own, the key failures are grouped by: `$.errno == 0`.
    pub fn rule(&self) -> String {
        if self.expected.is_empty() {
            self.subject.clone()
        } else {
            format!("{} {}", self.subject, self.expected)
        }
    }

    /// For `--debug`: `$.errno: expected == 0, got 402`, or for an extractor
    /// `extract orderId ($.data.orderId): nothing found`.
    pub fn line(&self) -> String {
        if self.expected.is_empty() {
            format!("{}: {}", self.subject, self.got)
        } else {
            format!(
                "{}: expected {}, got {}",
                self.subject, self.expected, self.got
            )
        }
    }
}

/// The first rule the answer breaks, in the order the engine judges: the status, each JSON
/// rule, each `body_contains`. Without a check the rule is "status below 400". `None` when
/// every rule holds (the caller asks only after a failure).
pub(crate) fn check_failure(
    check: Option<&Check>,
    status: u16,
    json: Option<&Value>,
    body: &[u8],
) -> Option<Failure> {
    let Some(check) = check else {
        return (status >= 400).then(|| status_failure(&[], status));
    };
    if !check.status_ok(status) {
        return Some(status_failure(&check.status, status));
    }
    for rule in &check.json {
        if !json.is_some_and(|j| rule.matches(j)) {
            return Some(json_failure(rule, json));
        }
    }
    let needle = check
        .body_contains
        .iter()
        .find(|n| !memchr_find(body, n.as_bytes()))?;
    Some(Failure {
        subject: "body".into(),
        expected: format!("contains {}", shown(&Value::String(needle.clone()))),
        got: "not found".into(),
    })
}

/// The rules of a step's check as `check_failures` names them, in the order the engine
/// counts them (`vu::count_rules`): the status rule, each JSON rule, each `body_contains`.
/// Without a check, the one rule "status < 400".
pub(crate) fn rule_names(check: Option<&Check>) -> Vec<String> {
    let Some(check) = check else {
        return vec![status_failure(&[], 0).rule()];
    };
    let mut out = vec![status_failure(&check.status, 0).rule()];
    out.extend(check.json.iter().map(|r| json_failure(r, None).rule()));
    out.extend(
        check
            .body_contains
            .iter()
            .map(|n| format!("body contains {}", shown(&Value::String(n.clone())))),
    );
    out
}

fn status_failure(accepted: &[u16], status: u16) -> Failure {
    let expected = match accepted {
        [] => "< 400".to_string(),
        [one] => format!("== {one}"),
        many => format!("in [{}]", join(many.iter().map(u16::to_string))),
    };
    Failure {
        subject: "status".into(),
        expected,
        got: status.to_string(),
    }
}

/// A broken JSON rule: its path, its test, and the first node the path selects.
fn json_failure(rule: &JsonRule, json: Option<&Value>) -> Failure {
    let expected = match &rule.test {
        JsonTest::Equals(v) => format!("== {}", shown(v)),
        JsonTest::In(vs) => format!("in [{}]", join(vs.iter().map(shown))),
        JsonTest::Exists(true) => "exists".into(),
        JsonTest::Exists(false) => "absent".into(),
    };
    let got = match json {
        None => NOT_JSON.to_string(),
        Some(j) => rule
            .path
            .first(j)
            .map_or_else(|| MISSING.to_string(), shown),
    };
    Failure {
        subject: rule.path.as_str().to_string(),
        expected: cut(expected),
        got,
    }
}

/// An extractor of variable `name` that found nothing: `extract orderId ($.data.orderId)`.
pub(crate) fn extract_failure(name: &str, e: &Extractor, json: Option<&Value>) -> Failure {
    let source = match e {
        Extractor::Json(path) => path.as_str().to_string(),
        Extractor::Header(h) => format!("header {h}"),
        Extractor::Cookie(c) => format!("cookie {c}"),
        Extractor::Regex { pattern, .. } => format!("regex {}", pattern.as_str()),
    };
    let got = if matches!(e, Extractor::Json(_)) && json.is_none() {
        NOT_JSON
    } else {
        NOTHING_FOUND
    };
    Failure {
        subject: cut(format!("extract {name} ({source})")),
        expected: String::new(),
        got: got.into(),
    }
}

/// A value as compact JSON (a string keeps its quotes, so `"402"` and `402` differ), cut.
fn shown(v: &Value) -> String {
    cut(v.to_string())
}

/// At most [`SHOWN_CHARS`] characters, `…` marking a cut.
fn cut(mut s: String) -> String {
    if let Some((at, _)) = s.char_indices().nth(SHOWN_CHARS) {
        s.truncate(at);
        s.push('…');
    }
    s
}

fn join(parts: impl Iterator<Item = String>) -> String {
    parts.collect::<Vec<_>>().join(", ")
}

/// Whether `hay` contains `needle`: a check's `body_contains`. Here rather than in `response`
/// because `response` uses `http`, which uses `metrics`, which uses this module.
pub(crate) fn memchr_find(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A check as a scenario would state it (in JSON: the engine has no YAML parser).
    fn check(text: &str) -> Check {
        serde_json::from_str(text).unwrap()
    }

    fn failed(c: &Check, status: u16, body: &str) -> Failure {
        let json = serde_json::from_str::<Value>(body).ok();
        check_failure(Some(c), status, json.as_ref(), body.as_bytes()).unwrap()
    }

    #[test]
    fn a_json_rule_names_its_path_its_test_and_the_value_found() {
        let c = check(r#"{"status": 200, "json": {"path": "$.errno", "equals": 0}}"#);
        let f = failed(&c, 200, r#"{"errno":402,"errmsg":"参数值不对"}"#);
        assert_eq!(f.rule(), "$.errno == 0");
        assert_eq!(f.got, "402");
        assert_eq!(f.line(), "$.errno: expected == 0, got 402");
        assert_eq!(failed(&c, 200, r#"{"errno":"402"}"#).got, r#""402""#);
        assert_eq!(failed(&c, 200, r#"{"code":0}"#).got, MISSING);
        assert_eq!(failed(&c, 200, "<html>busy</html>").got, NOT_JSON);
        let passing = json!({"errno": 0});
        assert_eq!(check_failure(Some(&c), 200, Some(&passing), b""), None);
    }

    #[test]
    fn every_rule_kind_is_described() {
        let c = check(
            r#"{"json": [{"path": "$.ok", "exists": true}, {"path": "$.err", "exists": false},
                {"path": "$.code", "in": [0, "00"]}]}"#,
        );
        assert_eq!(failed(&c, 200, r#"{"x":1}"#).rule(), "$.ok exists");
        let f = failed(&c, 200, r#"{"ok":1,"err":{"m":"no"}}"#);
        assert_eq!(f.line(), r#"$.err: expected absent, got {"m":"no"}"#);
        let f = failed(&c, 200, r#"{"ok":1,"code":7}"#);
        assert_eq!(f.rule(), r#"$.code in [0, "00"]"#);
        let c = check(r#"{"body_contains": ["ok", "done"]}"#);
        let f = failed(&c, 200, "ok");
        assert_eq!(
            (f.rule().as_str(), f.got.as_str()),
            (r#"body contains "done""#, "not found")
        );
    }

    #[test]
    fn rules_are_named_as_their_failures_are() {
        let c = check(
            r#"{"status": 200, "json": {"path": "$.errno", "equals": 0}, "body_contains": ["ok"]}"#,
        );
        assert_eq!(
            rule_names(Some(&c)),
            ["status == 200", "$.errno == 0", r#"body contains "ok""#]
        );
        assert_eq!(
            failed(&c, 200, r#"{"errno":1}"#).rule(),
            rule_names(Some(&c))[1]
        );
        assert_eq!(
            failed(&c, 200, r#"{"errno":0}"#).rule(),
            rule_names(Some(&c))[2]
        );
        assert_eq!(rule_names(None), ["status < 400"]);
    }

    #[test]
    fn statuses_come_first_and_long_values_are_cut() {
        let c = check(r#"{"status": [200, 204], "json": {"path": "$.errno", "equals": 0}}"#);
        let f = failed(&c, 502, "{}");
        assert_eq!(f.line(), "status: expected in [200, 204], got 502");
        let one = check(r#"{"status": 200}"#);
        assert_eq!(failed(&one, 500, "").rule(), "status == 200");
        let none = check_failure(None, 404, None, b"").unwrap();
        assert_eq!(none.rule(), "status < 400");
        assert_eq!(check_failure(None, 302, None, b""), None);
        let c = check(r#"{"json": {"path": "$.msg", "equals": "ok"}}"#);
        let long = format!(r#"{{"msg":"{}"}}"#, "错".repeat(100));
        let got = failed(&c, 200, &long).got;
        assert_eq!(got.chars().count(), SHOWN_CHARS + 1, "{got}");
        assert!(got.starts_with("\"错错") && got.ends_with('…'), "{got}");
    }

    #[test]
    fn an_extractor_that_found_nothing_names_its_variable_and_source() {
        let e: Extractor = serde_json::from_str(r#"{"json": "$.data.orderId"}"#).unwrap();
        let f = extract_failure("orderId", &e, Some(&json!({"errno": 402})));
        assert_eq!(f.line(), "extract orderId ($.data.orderId): nothing found");
        assert_eq!(f.rule(), "extract orderId ($.data.orderId)");
        assert_eq!(extract_failure("orderId", &e, None).got, NOT_JSON);
        let h: Extractor = serde_json::from_str(r#"{"header": "x-token"}"#).unwrap();
        assert_eq!(
            extract_failure("t", &h, None).line(),
            "extract t (header x-token): nothing found"
        );
    }
}
