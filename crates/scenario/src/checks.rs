//! What a step does with a response: extractors, checks, token refresh rules and expiry.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::de::{did_you_mean, fail, fail_at, one_or_many};
use super::time::{self, parse_duration};
use super::values::{self, JsonPathExpr, RegexExpr};
use crate::template::{RenderError, Template, Vars};

/// Takes a value out of a response into a variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Extractor {
    /// The first node a JSONPath selects in the JSON body; a string as is, anything else as
    /// its compact JSON text (`7200`, `true`).
    Json(JsonPathExpr),
    /// A response header, by name (case-insensitive); the first when repeated.
    Header(String),
    /// A cookie the response sets (`Set-Cookie`), by name.
    Cookie(String),
    /// A capture group of a regex matched against the body text (group 0 is the whole match).
    Regex {
        /// The regex (`regex:` in the file).
        pattern: RegexExpr,
        /// The capture group taken (`group:`); without one, 1, or 0 when the regex has no
        /// capture group.
        group: usize,
    },
}

const EXTRACTOR_KEYS: [&str; 5] = ["json", "header", "cookie", "regex", "group"];
const EXTRACTOR_HINT: &str =
    "an extractor is one of {json: $.data.token}, {header: x-token}, {cookie: sid}, {regex: 'token=(\\w+)', group: 1}";

impl Extractor {
    /// `json`, `header`, `cookie` or `regex`.
    pub fn kind(&self) -> &'static str {
        match self {
            Extractor::Json(_) => "json",
            Extractor::Header(_) => "header",
            Extractor::Cookie(_) => "cookie",
            Extractor::Regex { .. } => "regex",
        }
    }

    /// For `Regex`, the capture of the first match in `text`.
    pub fn capture<'t>(&self, text: &'t str) -> Option<&'t str> {
        match self {
            Extractor::Regex { pattern, group } => pattern
                .regex()
                .captures(text)
                .and_then(|c| c.get(*group))
                .map(|m| m.as_str()),
            _ => None,
        }
    }

    /// For `Json`, the selected value as variable text.
    pub fn select_json(&self, body: &Value) -> Option<String> {
        match self {
            Extractor::Json(path) => path.first(body).map(json_text),
            _ => None,
        }
    }
}

/// A JSON value as the text a template gets: strings unquoted, the rest as compact JSON.
pub fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl<'de> Deserialize<'de> for Extractor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Extractor, D::Error> {
        d.deserialize_any(ExtractorVisitor)
    }
}

/// A hand-written visitor rather than a derive: the source key (`json`, `header`, ...) picks
/// the variant, and each mistake gets its own message instead of serde's "data did not match".
struct ExtractorVisitor;

impl<'de> Visitor<'de> for ExtractorVisitor {
    type Value = Extractor;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an extractor mapping")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Extractor, E> {
        let hint = if v.starts_with('$') {
            format!("write {{json: '{v}'}}")
        } else {
            EXTRACTOR_HINT.to_string()
        };
        Err(fail(
            "an extractor is a mapping naming where the value comes from",
            hint,
        ))
    }
    /// `group` may come before or after `regex`, so it is only applied once the whole mapping
    /// has been read.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Extractor, A::Error> {
        let mut found: Option<(String, Extractor)> = None;
        let mut group: Option<usize> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "group" {
                group = Some(map.next_value()?);
                continue;
            }
            check_source_key(&key, found.as_ref().map(|(first, _)| first.as_str()))?;
            let ex = source_value(&key, &mut map)?;
            found = Some((key, ex));
        }
        let Some((_, ex)) = found else {
            return Err(fail("an extractor needs a source", EXTRACTOR_HINT));
        };
        with_group(ex, group)
    }
}

/// Runs before the value is read, so a second source is reported at its key even when its
/// value would not parse either.
fn check_source_key<E: de::Error>(key: &str, first: Option<&str>) -> Result<(), E> {
    if !EXTRACTOR_KEYS.contains(&key) {
        return Err(fail_at(
            key,
            format!("unknown field `{key}`"),
            format!("{} {EXTRACTOR_HINT}", did_you_mean(key, EXTRACTOR_KEYS)),
        ));
    }
    if let Some(first) = first {
        return Err(fail_at(
            key,
            format!("an extractor takes one source, this one has `{first}` and `{key}`"),
            "split it into two variables",
        ));
    }
    Ok(())
}

/// A regex starts at group 1; [`with_group`] settles the real group once `group` is known.
fn source_value<'de, A: MapAccess<'de>>(key: &str, map: &mut A) -> Result<Extractor, A::Error> {
    Ok(match key {
        "json" => Extractor::Json(map.next_value()?),
        "regex" => Extractor::Regex {
            pattern: map.next_value()?,
            group: 1,
        },
        kind => {
            let name: String = map.next_value()?;
            named(kind, name)?
        }
    })
}

/// Header and cookie names are checked here so a bad name fails when the scenario loads, not
/// on every response during the run.
fn named<E: de::Error>(kind: &str, name: String) -> Result<Extractor, E> {
    let valid = if kind == "header" {
        http::HeaderName::from_bytes(name.as_bytes()).is_ok()
    } else {
        !name.is_empty() && !name.contains([';', '=', ' '])
    };
    if !valid {
        return Err(fail_at(
            kind,
            format!("`{name}` is not a valid {kind} name"),
            "",
        ));
    }
    Ok(if kind == "header" {
        Extractor::Header(name)
    } else {
        Extractor::Cookie(name)
    })
}

/// Without `group`, a regex with no capture group takes the whole match (group 0), so
/// `regex: 'v\d+'` works without writing `group: 0`.
fn with_group<E: de::Error>(mut ex: Extractor, group: Option<usize>) -> Result<Extractor, E> {
    if let Some(g) = group {
        match &mut ex {
            Extractor::Regex { pattern, group } => {
                let groups = pattern.regex().captures_len() - 1;
                if g > groups {
                    return Err(fail_at(
                        "group",
                        format!("the regex has {groups} capture group(s), so there is no group {g}"),
                        "add parentheses around the part to capture, or use group: 0 for the whole match",
                    ));
                }
                *group = g;
            }
            other => {
                return Err(fail_at(
                    "group",
                    format!(
                        "`group` only applies to a regex extractor, not `{}`",
                        other.kind()
                    ),
                    "remove it",
                ))
            }
        }
    } else if let Extractor::Regex { pattern, group } = &mut ex {
        if pattern.regex().captures_len() == 1 {
            *group = 0;
        }
    }
    Ok(ex)
}

/// A test on the JSON body: the nodes a path selects, compared with a value.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRule {
    /// Where in the body to look (`path: $.errcode`).
    pub path: JsonPathExpr,
    /// What the selected nodes must be: the rule's `equals`, `in` or `exists`.
    pub test: JsonTest,
}

/// What a [`JsonRule`] requires of the nodes its path selects: the key beside `path`.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTest {
    /// A selected node equals the value.
    Equals(Value),
    /// A selected node equals one of the values.
    In(Vec<Value>),
    /// The path selects something (`true`) or nothing (`false`).
    Exists(bool),
}

impl JsonRule {
    /// Whether the body passes the test. Numbers compare by value (`1` equals `1.0`), and a
    /// number equals the same number written as a string (backends disagree on `errcode`).
    pub fn matches(&self, body: &Value) -> bool {
        let nodes = self.path.path().query(body);
        match &self.test {
            JsonTest::Exists(want) => nodes.is_empty() != *want,
            JsonTest::Equals(v) => nodes.iter().any(|n| loose_eq(n, v)),
            JsonTest::In(vs) => nodes.iter().any(|n| vs.iter().any(|v| loose_eq(n, v))),
        }
    }
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            s.parse::<f64>().ok() == n.as_f64() && !s.is_empty()
        }
        _ => a == b,
    }
}

impl<'de> Deserialize<'de> for JsonRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JsonRule, D::Error> {
        const KEYS: [&str; 4] = ["path", "equals", "in", "exists"];
        const HINT: &str = "write {path: $.code, equals: 0}, {path: $.errcode, in: [40001, 42001]} or {path: $.data, exists: true}";
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonRule;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON rule mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonRule, A::Error> {
                let mut path = None;
                let mut test: Option<(String, JsonTest)> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let t = match key.as_str() {
                        "path" => {
                            path = Some(map.next_value()?);
                            continue;
                        }
                        _ if test.is_some() && KEYS.contains(&key.as_str()) => {
                            let first = test.as_ref().map(|t| t.0.as_str()).unwrap_or("");
                            return Err(fail_at(
                                &key,
                                format!(
                                    "a JSON rule has one test, this one has `{first}` and `{key}`"
                                ),
                                "write two rules",
                            ));
                        }
                        "equals" => JsonTest::Equals(map.next_value()?),
                        "in" => JsonTest::In(map.next_value()?),
                        "exists" => JsonTest::Exists(map.next_value()?),
                        other => {
                            return Err(fail_at(
                                other,
                                format!("unknown field `{other}`"),
                                format!("{} {HINT}", did_you_mean(other, KEYS)),
                            ))
                        }
                    };
                    test = Some((key, t));
                }
                let path = path.ok_or_else(|| fail("a JSON rule needs a `path`", HINT))?;
                let (_, test) =
                    test.ok_or_else(|| fail("a JSON rule needs `equals`, `in` or `exists`", HINT))?;
                Ok(JsonRule { path, test })
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<JsonRule, E> {
                Err(fail("a JSON rule is a mapping", HINT))
            }
        }
        d.deserialize_any(V)
    }
}

/// What a business step's response must satisfy to count as a success.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Accepted statuses; empty means any status below 400.
    #[serde(default, deserialize_with = "values::statuses")]
    pub status: Vec<u16>,
    /// Every rule must match the JSON body.
    #[serde(default, deserialize_with = "one_or_many")]
    pub json: Vec<JsonRule>,
    /// Every string must occur in the body text.
    #[serde(default, deserialize_with = "one_or_many")]
    pub body_contains: Vec<String>,
}

impl Check {
    /// Whether `status` is accepted: one of `status`, or below 400 when none is listed.
    pub fn status_ok(&self, status: u16) -> bool {
        if self.status.is_empty() {
            status < 400
        } else {
            self.status.contains(&status)
        }
    }
}

/// When a response means "your token is no longer good": any listed status, or any JSON rule
/// matching (WeChat answers an expired token with HTTP 200 and `errcode: 42001`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshOn {
    /// Statuses that mean the token is stale (`status: [401]`).
    pub status: Vec<u16>,
    /// Rules of which any one matching the JSON body means the token is stale.
    pub json: Vec<JsonRule>,
}

impl RefreshOn {
    /// Whether a response (its status, and its body when that parsed as JSON) says the token
    /// must be refreshed.
    pub fn matches(&self, status: u16, body: Option<&Value>) -> bool {
        self.status.contains(&status)
            || body.is_some_and(|b| self.json.iter().any(|r| r.matches(b)))
    }
}

impl<'de> Deserialize<'de> for RefreshOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RefreshOn, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default, deserialize_with = "values::statuses")]
            status: Vec<u16>,
            #[serde(default, deserialize_with = "one_or_many")]
            json: Vec<JsonRule>,
        }
        let raw = Raw::deserialize(d)?;
        if raw.status.is_empty() && raw.json.is_empty() {
            return Err(fail(
                "`refresh_on` needs a `status` list or a `json` rule",
                "e.g. refresh_on: {status: [401], json: {path: $.errcode, in: [40001, 42001]}}",
            ));
        }
        Ok(RefreshOn {
            status: raw.status,
            json: raw.json,
        })
    }
}

/// How long a fetched token lives. When a token step has no `expires_in`, the engine reads
/// the `exp` claim of an extracted JWT; without either, the token is refreshed only on a
/// `refresh_on` response.
#[derive(Debug, Clone, PartialEq)]
pub enum Expiry {
    /// A duration written in the file (`expires_in: 2h`).
    Fixed(Duration),
    /// Rendered after the token step's extraction (`'{{ expires_in }}s'`); see
    /// [`Expiry::resolve`].
    Template(Template),
}

/// Why an `expires_in` template gave no lifetime for the token just fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    /// The template could not be rendered; the [`RenderError`] says why.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// It rendered to text (given here) that is neither a whole number of seconds nor a
    /// duration.
    #[error("expires_in rendered as `{0}`, which is not a duration")]
    NotADuration(String),
}

impl Expiry {
    /// The lifetime, given the token step's variables. A bare number is taken as seconds
    /// (what OAuth's and WeChat's `expires_in` mean).
    pub fn resolve(&self, vars: &(impl Vars + ?Sized)) -> Result<Duration, ExpiryError> {
        match self {
            Expiry::Fixed(d) => Ok(*d),
            Expiry::Template(t) => {
                let text = t.render_to_string(vars)?;
                let text = text.trim();
                if let Ok(secs) = text.parse::<u64>() {
                    return Ok(Duration::from_secs(secs));
                }
                parse_duration(text).map_err(|_| ExpiryError::NotADuration(text.to_string()))
            }
        }
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expiry::Fixed(d) => f.write_str(&time::format_duration(*d)),
            Expiry::Template(t) => write!(f, "{t}"),
        }
    }
}

impl<'de> Deserialize<'de> for Expiry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Expiry, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Expiry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration (2h) or a template ('{{ expires_in }}s')")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Expiry, E> {
                if let Ok(n) = v.trim().parse::<u64>() {
                    return self.visit_u64(n);
                }
                let t = Template::deserialize(de::IntoDeserializer::<E>::into_deserializer(v))?;
                match t.as_literal() {
                    Some(text) => parse_duration(text).map(Expiry::Fixed).map_err(|m| {
                        fail(
                            m,
                            format!(
                                "{}; or a template: '{{{{ expires_in }}}}s'",
                                time::DURATION_HINT
                            ),
                        )
                    }),
                    None => Ok(Expiry::Template(t)),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Expiry, E> {
                Err(fail(
                    format!("`{v}` has no unit"),
                    format!("write {v}s, or '{{{{ expires_in }}}}s' to use the extracted lifetime"),
                ))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(yaml: &str) -> JsonRule {
        serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    #[test]
    fn json_rules_match_loosely_on_numbers() {
        let body = json!({"code": 0, "errcode": "42001", "data": {"list": [1, 2]}});
        assert!(rule("{path: $.code, equals: 0}").matches(&body));
        assert!(rule("{path: $.code, equals: 0.0}").matches(&body));
        assert!(!rule("{path: $.code, equals: '0x'}").matches(&body));
        assert!(rule("{path: $.errcode, in: [40001, 42001]}").matches(&body));
        assert!(rule("{path: $.data.list, exists: true}").matches(&body));
        assert!(rule("{path: $.nope, exists: false}").matches(&body));
        assert!(rule("{path: '$.data.list[*]', equals: 2}").matches(&body));
    }

    #[test]
    fn extractors() {
        let ex: Extractor = serde_yaml::from_str("{regex: 'token=(\\w+)'}").unwrap();
        assert_eq!(ex.capture("a token=abc9 b"), Some("abc9"));
        let ex: Extractor = serde_yaml::from_str("{regex: 'id=\\d+'}").unwrap();
        assert_eq!(ex.capture("x id=42"), Some("id=42"));
        let ex: Extractor = serde_yaml::from_str("{json: $.a}").unwrap();
        assert_eq!(
            ex.select_json(&json!({"a": {"b": 1}})).as_deref(),
            Some(r#"{"b":1}"#)
        );
        assert_eq!(ex.select_json(&json!({"a": "s"})).as_deref(), Some("s"));
        assert!(serde_yaml::from_str::<Extractor>("{header: 'bad name'}").is_err());
        assert!(serde_yaml::from_str::<Extractor>("{cookie: sid, group: 1}").is_err());
    }

    #[test]
    fn expiry_resolves_templates_and_plain_seconds() {
        let e: Expiry = serde_yaml::from_str("'{{ expires_in }}s'").unwrap();
        assert_eq!(
            e.resolve(&[("expires_in", "7200")]),
            Ok(Duration::from_secs(7200))
        );
        let e: Expiry = serde_yaml::from_str("'{{ expires_in }}'").unwrap();
        assert_eq!(
            e.resolve(&[("expires_in", " 30 ")]),
            Ok(Duration::from_secs(30))
        );
        assert_eq!(
            e.resolve(&[("expires_in", "soon")]),
            Err(ExpiryError::NotADuration("soon".into()))
        );
        assert!(matches!(e.resolve(&()), Err(ExpiryError::Render(_))));
        let e: Expiry = serde_yaml::from_str("2h").unwrap();
        assert_eq!(e, Expiry::Fixed(Duration::from_secs(7200)));
        assert_eq!(e.to_string(), "2h");
    }
}
