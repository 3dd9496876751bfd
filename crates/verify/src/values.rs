//! The values a request carries and where a JSON answer holds each of its values: the
//! material for "this request sends verbatim what an earlier answer issued".

use loadtape_engine::Observed;
use loadtape_recording::Request;
use serde_json::Value;

/// A value a request sends, with the name it goes by (query or form key, header or cookie
/// name, JSON key) when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sent {
    pub(crate) key: String,
    pub(crate) value: String,
}

fn push(out: &mut Vec<Sent>, key: &str, value: &str) {
    let value = value.trim();
    if !value.is_empty() {
        out.push(Sent {
            key: key.to_ascii_lowercase(),
            value: value.to_string(),
        });
    }
}

/// `a=1&b=2` pairs (query strings and form bodies), percent-decoding left out: ids and
/// tokens are URL-safe, and a value must match byte for byte anyway.
fn pairs(text: &str, out: &mut Vec<Sent>) {
    for pair in text.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            push(out, k, v);
        }
    }
}

fn url_values(url: &str, out: &mut Vec<Sent>) {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let (path, query) = after_scheme.split_once('?').unwrap_or((after_scheme, ""));
    for seg in path.split('/').skip(1) {
        push(out, "path", seg);
    }
    pairs(query, out);
}

fn header_values(name: &str, value: &str, out: &mut Vec<Sent>) {
    let name = name.to_ascii_lowercase();
    if name == "cookie" {
        for c in value.split(';') {
            if let Some((k, v)) = c.split_once('=') {
                push(out, k, v);
            }
        }
    } else if let Some((_, v)) = value.split_once(' ').filter(|_| name == "authorization") {
        push(out, &name, v);
    } else {
        push(out, &name, value);
    }
}

fn json_values(key: &str, v: &Value, out: &mut Vec<Sent>) {
    match v {
        Value::String(s) => push(out, key, s),
        Value::Number(n) => push(out, key, &n.to_string()),
        Value::Array(items) => items.iter().for_each(|i| json_values(key, i, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| json_values(k, v, out)),
        _ => {}
    }
}

fn body_values(body: &[u8], out: &mut Vec<Sent>) {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        json_values("body", &v, out);
    } else if let Ok(text) = std::str::from_utf8(body) {
        pairs(text, out);
    }
}

/// Everything the live request sent.
pub(crate) fn live_request(o: &Observed) -> Vec<Sent> {
    let mut out = Vec::new();
    url_values(&o.url, &mut out);
    for (k, v) in &o.headers {
        header_values(k.as_str(), &String::from_utf8_lossy(v.as_bytes()), &mut out);
    }
    body_values(&o.body, &mut out);
    out
}

/// Everything the recorded request sent.
pub(crate) fn recorded_request(r: &Request) -> Vec<Sent> {
    let mut out = Vec::new();
    url_values(&r.url, &mut out);
    for (k, v) in &r.headers.0 {
        header_values(k, v, &mut out);
    }
    if let Some(b) = &r.body {
        body_values(&b.to_bytes(), &mut out);
    }
    out
}

/// Every scalar of a JSON document with its JSONPath (`$.data[0].id`), in document order.
pub(crate) fn leaves(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(v, "$".to_string(), &mut out);
    out
}

fn walk(v: &Value, path: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((path, s.clone())),
        Value::Number(n) => out.push((path, n.to_string())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                walk(v, format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// The value at a path [`leaves`] produced.
pub(crate) fn at(v: &Value, path: &str) -> Option<String> {
    leaves(v)
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, v)| v)
}

/// A variable name for the value at `path`: its last key (`$.data[0].id` → `data_id`
/// when the key alone says little).
pub(crate) fn variable_for(path: &str, key: &str) -> String {
    let last = path
        .rsplit('.')
        .next()
        .unwrap_or("value")
        .split('[')
        .next()
        .unwrap_or("value");
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    // A name of two letters (`no`, `id`) says less than the answer's own (`ticket`).
    let telling = key.len() > 2 || last.len() <= 2;
    if !key.is_empty() && telling && key != "path" && key != "body" && key != "authorization" {
        return clean(key);
    }
    clean(last)
}
