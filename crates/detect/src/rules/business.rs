//! The business status mini-program backends answer in HTTP 200 (`{"errno": 0}`, WeChat's
//! `errcode`, `code`, `ret`, `success`, `resultCode`, at the top or under `data`/`result`):
//! where a step's recorded answer carries one with its success value, the step gets a check
//! for it, so an answer that is HTTP 200 but says "failed" counts as an error.

use std::collections::HashMap;

use serde_json::Value;

use crate::walk::key_step;

/// Field names that carry a business status, most specific first.
const FIELDS: [&str; 13] = [
    "errcode",
    "errno",
    "err_code",
    "error_code",
    "errCode",
    "ret",
    "retcode",
    "resultCode",
    "result_code",
    "code",
    "success",
    "status",
    "rc",
];

/// Objects that wrap the status (`{"data": {"code": 0, ...}}`).
const WRAPPERS: [&str; 3] = ["", "data", "result"];

/// Values that mean success whatever the backend.
fn success_like(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64().is_some_and(|n| n == 0 || n == 200),
        Value::String(s) => matches!(
            s.to_ascii_lowercase().as_str(),
            "0" | "00" | "000" | "0000" | "00000" | "200" | "ok" | "success" | "succeed" | "true"
        ),
        _ => false,
    }
}

/// The business status fields of a recording and the value most of its answers give each.
#[derive(Debug, Default)]
pub(crate) struct Dialect {
    common: HashMap<String, (Value, usize)>,
}

impl Dialect {
    /// Learns from every recorded JSON answer.
    pub(crate) fn learn<'a>(answers: impl Iterator<Item = &'a Value>) -> Dialect {
        let mut counts: HashMap<String, Vec<(Value, usize)>> = HashMap::new();
        for j in answers {
            if let Some((path, v)) = status_field(j) {
                let seen = counts.entry(path).or_default();
                match seen.iter_mut().find(|(x, _)| *x == v) {
                    Some((_, n)) => *n += 1,
                    None => seen.push((v, 1)),
                }
            }
        }
        let common = counts
            .into_iter()
            .filter_map(|(path, vs)| {
                vs.into_iter()
                    .max_by_key(|(_, n)| *n)
                    .map(|best| (path, best))
            })
            .collect();
        Dialect { common }
    }

    /// The check for one recorded answer: its status field and the success value, when the
    /// answer shows success (a value that means success, or the one most answers give).
    pub(crate) fn check(&self, answer: &Value) -> Option<(String, Value)> {
        let (path, v) = status_field(answer)?;
        let status = path.ends_with(".status") || path.ends_with(".success");
        let usual = self
            .common
            .get(&path)
            .is_some_and(|(c, n)| *c == v && *n >= 2 && !status);
        (success_like(&v) || usual).then_some((path, v))
    }

    /// The status field paths whose values are numbers: where auth failures show.
    pub(crate) fn numeric_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self
            .common
            .iter()
            .filter(|(_, (v, _))| v.is_number())
            .map(|(p, _)| p.clone())
            .collect();
        paths.sort();
        paths
    }
}

/// The first business status field of an answer: its JSONPath and scalar value.
fn status_field(j: &Value) -> Option<(String, Value)> {
    for w in WRAPPERS {
        let (obj, at) = if w.is_empty() {
            (j.as_object()?, "$".to_string())
        } else {
            match j.get(w).and_then(Value::as_object) {
                Some(o) => (o, format!("${}", key_step(w))),
                None => continue,
            }
        };
        for f in FIELDS {
            if let Some(v) = obj
                .get(f)
                .filter(|v| v.is_number() || v.is_string() || v.is_boolean())
            {
                return Some((format!("{at}{}", key_step(f)), v.clone()));
            }
        }
    }
    None
}

/// Business codes that mean "log in again" in the dialects loadtape knows: 401, WeChat's
/// 40001/40014/42001, litemall's 501 ("请登录"), and -14 (a login state gone stale).
pub(crate) const AUTH_CODES: [i64; 6] = [401, 501, 40001, 40014, 42001, -14];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn success_values_and_dialects() {
        let answers = [
            json!({"errno": 0, "data": {"id": 7}}),
            json!({"errno": 0, "errmsg": "成功"}),
            json!({"code": 1, "rspList": []}),
            json!({"code": 1}),
            json!({"id": 1330, "status": "publish"}),
            json!({"data": {"code": "SUCCESS"}}),
        ];
        let d = Dialect::learn(answers.iter());
        assert_eq!(d.check(&answers[0]), Some(("$.errno".into(), json!(0))));
        // A game answering `code: 1` on every call: 1 is its success.
        assert_eq!(d.check(&answers[2]), Some(("$.code".into(), json!(1))));
        // A post's `status` is data, not a business status.
        assert_eq!(d.check(&answers[4]), None);
        assert_eq!(
            d.check(&answers[5]),
            Some(("$.data.code".into(), json!("SUCCESS")))
        );
        // A recorded failure gets no check.
        assert_eq!(d.check(&json!({"errno": 501, "errmsg": "请登录"})), None);
        assert_eq!(d.numeric_paths(), ["$.code", "$.errno"]);
    }
}
