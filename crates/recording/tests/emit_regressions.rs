//! A fixed list of the strings YAML readers disagree on, each put everywhere the emitter writes
//! a string, read back by serde_yaml, saphyr and PyYAML; and the written forms themselves,
//! which should be what a careful YAML writer produces: plain when plain is safe, single quotes
//! when no escape is needed, double quotes with escapes otherwise.

mod support {
    pub(crate) mod cases;
}
#[path = "support/yaml_readers.rs"]
mod yaml_readers;

use base64::Engine as _;
use loadtape_recording::{emit, Body, Exchange, Headers, Request, Response};
use serde_json::{json, Value};
use support::cases::{judge_exchange, judge_value, value_docs};

/// Each with what goes wrong when it is written plain (YAML 1.1 is PyYAML's version).
const NASTY: &[&str] = &[
    // Flow indicators in a flow sequence: `[user-agent, ...]` must stay two items.
    "Mozilla/5.0 (Windows NT 10.0; rv:109.0) Gecko/20100101 Firefox/119.0",
    "a, b",
    "a,b",
    "[a]",
    "a[0]",
    "{a}",
    "a{b}",
    "a]",
    "a}",
    // `?` ends a plain scalar in a 1.1 flow collection; `: ` and ` #` anywhere.
    "a?b",
    "?",
    "?a",
    "a: b",
    "a:",
    ":a",
    ":",
    "a #b",
    "a#b",
    "#a",
    // Leading indicators.
    "-",
    "-a",
    "- a",
    ",",
    "[",
    "]",
    "{",
    "}",
    "&a",
    "*a",
    "!a",
    "|",
    ">",
    "'a",
    "\"a",
    "%a",
    "@a",
    "`a",
    "<<",
    "=",
    "---",
    "...",
    // Spaces at either end, breaks, tabs and non-printables.
    " a",
    "a ",
    "a  b",
    "",
    "a\nb",
    "a\r\nb",
    "a\tb",
    "\u{85}",
    "\u{2028}",
    "\u{feff}a",
    "\u{7f}",
    "\u{1}",
    "\r",
    "é",
    "中文",
    "a\\b",
    "C:\\temp",
    "it's",
    "say \"hi\"",
    // Words YAML 1.1 or 1.2 reads as booleans or null.
    "yes",
    "Yes",
    "YES",
    "no",
    "No",
    "on",
    "On",
    "off",
    "OFF",
    "y",
    "Y",
    "n",
    "N",
    "~",
    "null",
    "Null",
    "NULL",
    "true",
    "True",
    "FALSE",
    // Numbers in either version, and what 1.1 alone reads as a number or a date.
    "0x1f",
    "0o7",
    "0b101",
    "012",
    "1e3",
    "1E3",
    "1.5e-3",
    "-1",
    "+1",
    ".5",
    "5.",
    ".inf",
    "-.inf",
    ".NaN",
    "1_000",
    "1:30",
    "190:20:30",
    "1234",
    "192.168.1.23",
    "2026-11-21",
    "2026-11-21T10:00:00Z",
    "2026-11-21T10:00:00.123Z",
    "2020-08-20 11:29:55",
    "2001-12-14t21:59:43.10-05:00",
    // Plain-safe ones that must stay readable.
    "https://a.b/c?d=e&f=g",
    "Bearer abc.def-ghi",
    "sid=abc; Path=/; HttpOnly",
    "200 OK",
];

/// An exchange with `s` in every string field, as a header name and value, a JSON key and
/// value, a text body and a content encoding.
fn exchange_with(s: &str) -> Exchange {
    let mut headers = Headers::new();
    headers.push(s, s);
    headers.push("x", s);
    Exchange {
        id: 7,
        started: chrono::DateTime::from_timestamp_millis(1_795_255_201_123).expect("in range"),
        duration_ms: 3.25,
        client: Some(s.to_string()),
        tester: None,
        group: None,
        request: Request {
            method: s.to_string(),
            url: s.to_string(),
            version: s.to_string(),
            headers: headers.clone(),
            body: Some(Body::json(json!({ s: [s, {s: s}], "k": s })).decoded_from(s)),
        },
        response: Some(Response {
            status: 200,
            version: s.to_string(),
            headers,
            body: Some(Body::text(s)),
        }),
        error: Some(s.to_string()),
    }
}

/// Every case's documents and how each must read: as `exchange_with(s)` or as its JSON value.
enum Want {
    Exchange(Box<Exchange>),
    Value(Value),
}

fn cases() -> Vec<(String, Want)> {
    let mut out = Vec::new();
    for s in NASTY {
        let e = exchange_with(s);
        out.push((emit::exchange(&e), Want::Exchange(Box::new(e))));
        let v = json!({ *s: s, "list": [s, 1, [s]], "map": {"k": s} });
        out.extend(
            value_docs(&v)
                .into_iter()
                .map(|doc| (doc, Want::Value(v.clone()))),
        );
    }
    // Base64 that spells a number or a word.
    for b64 in ["1234", "0x12", "1e10", "true", "null"] {
        let mut e = exchange_with("b");
        e.response.as_mut().expect("a response").body = Some(Body::binary(
            loadtape_recording::body::BASE64
                .decode(b64)
                .expect("base64"),
        ));
        out.push((emit::exchange(&e), Want::Exchange(Box::new(e))));
    }
    out
}

fn judge(want: &Want, read: Result<Vec<Value>, String>) -> Result<(), String> {
    match want {
        Want::Exchange(e) => judge_exchange(e, read),
        Want::Value(v) => judge_value(v, read),
    }
}

#[test]
fn nasty_strings_read_back_in_serde_yaml_saphyr_and_pyyaml() {
    let cases = cases();
    let docs: Vec<String> = cases.iter().map(|(doc, _)| doc.clone()).collect();
    let by_python = yaml_readers::pyyaml(&docs);
    let mut wrong = Vec::new();
    for ((doc, want), py) in cases.iter().zip(by_python) {
        let readers = [
            ("serde_yaml", yaml_readers::serde_yaml(doc)),
            ("saphyr", yaml_readers::saphyr(doc)),
            ("PyYAML", py),
        ];
        for (reader, read) in readers {
            if let Err(why) = judge(want, read) {
                wrong.push(format!("{reader}: {why}\n{doc}"));
            }
        }
        if let Want::Exchange(e) = want {
            let back: Result<Exchange, _> = serde_yaml::from_str(doc);
            if back.as_ref().ok() != Some(&**e) {
                wrong.push(format!("serde_yaml (typed): {back:?}\n{doc}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} readings differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

fn flow(v: Value) -> String {
    let mut out = String::new();
    emit::flow(&mut out, &v);
    out
}

fn block(v: Value) -> String {
    let mut out = String::new();
    emit::block(&mut out, 0, &v);
    out
}

#[test]
fn plain_when_safe_single_quotes_when_no_escape_is_needed_double_otherwise() {
    let ua = "Mozilla/5.0 (Windows NT 10.0; rv:109.0) Gecko/20100101 Firefox/119.0";
    assert_eq!(
        flow(json!(["user-agent", ua])),
        format!("[user-agent, {ua}]")
    );
    assert_eq!(
        flow(json!(["referer", "https://a.b/c?d=e&f=g"])),
        "[referer, 'https://a.b/c?d=e&f=g']"
    );
    assert_eq!(
        block(json!({"u": "https://a.b/c?d=e&f=g"})),
        "u: https://a.b/c?d=e&f=g\n"
    );
    assert_eq!(
        flow(json!(["accept", "a, b", "[x]", "{y}", "a #b", "a: b"])),
        "[accept, 'a, b', '[x]', '{y}', 'a #b', 'a: b']"
    );
    assert_eq!(block(json!({"k": "a,b[0]{c}"})), "k: a,b[0]{c}\n");
    assert_eq!(
        flow(json!([
            "yes", "No", "~", "null", "0x1f", "0o7", "1e3", ".inf", "1_000", "1:30"
        ])),
        "['yes', 'No', '~', 'null', '0x1f', '0o7', '1e3', '.inf', '1_000', '1:30']"
    );
    assert_eq!(
        flow(json!([
            "2026-11-21",
            "2026-11-21T10:00:00.123Z",
            "2020-08-20 11:29:55"
        ])),
        "['2026-11-21', '2026-11-21T10:00:00.123Z', '2020-08-20 11:29:55']"
    );
    assert_eq!(
        flow(json!(["it's", "'a'", "C:\\temp", "say \"hi\""])),
        r#"[it's, '''a''', 'C:\temp', 'say "hi"']"#
    );
    assert_eq!(
        flow(json!(["a\nb", "\u{85}", "\t", " a", "a "])),
        r#"["a\nb", "\u0085", "\t", ' a', 'a ']"#
    );
    assert_eq!(
        flow(json!([1e300, -5e-7, 0.25, 7, u64::MAX])),
        "[1.0e+300, -5.0e-7, 0.25, 7, 18446744073709551615]"
    );
}

#[test]
fn keys_past_the_implicit_key_limit_are_explicit() {
    let long = "k".repeat(1001);
    assert_eq!(block(json!({ &long: 1 })), format!("? {long}\n: 1\n"));
    assert_eq!(
        block(json!({ &long: {"a": [1]} })),
        format!("? {long}\n:\n  a:\n  - 1\n")
    );
    assert_eq!(
        block(json!({ &long: [1] })),
        format!("? {long}\n:\n  - 1\n")
    );
    assert_eq!(
        flow(json!({ &long: 1, "b": 2 })),
        format!("{{? {long}: 1, b: 2}}")
    );
    let short = "k".repeat(1000);
    assert_eq!(block(json!({ &short: 1 })), format!("{short}: 1\n"));
}
