//! What the emitter's tests feed it: strings built from the pieces YAML readers trip on, JSON
//! values and whole exchanges made of them, and how to read each reader's JSON back.
#![allow(dead_code)]

use loadtape_recording::emit::{self, Quotes};
use loadtape_recording::{Body, Exchange, Headers, Request, Response};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Pieces that change a YAML reading when they stand at the start, the end, next to each other
/// or alone: indicators, YAML 1.1 and 1.2 words, numbers and timestamps, breaks and controls.
pub(crate) const PIECES: &[&str] = &[
    "",
    "a",
    "Z",
    "0",
    "1",
    "12",
    "2026",
    "-",
    "--",
    "---",
    "...",
    ".",
    "?",
    ":",
    ": ",
    " #",
    "#",
    ",",
    ", ",
    "[",
    "]",
    "{",
    "}",
    "&",
    "*",
    "!",
    "|",
    ">",
    "'",
    "\"",
    "%",
    "@",
    "`",
    "~",
    " ",
    "  ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{feff}",
    "\u{1}",
    "\u{7f}",
    "\u{fffe}",
    "\u{1f600}",
    "é",
    "中文",
    "\\",
    "<<",
    "=",
    "=>",
    "$",
    "/",
    "//",
    "http://x",
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "N",
    "null",
    "NULL",
    "Null",
    "true",
    "False",
    "0x1f",
    "0o7",
    "0b101",
    "012",
    "1e3",
    "1.5e-3",
    "1E+3",
    ".inf",
    "-.Inf",
    ".NaN",
    "nan",
    "inf",
    "1_000",
    "1:30",
    "190:20:30",
    "2026-11-21",
    "2026-11-21T10:00:00Z",
    "2020-08-20 11:29:55",
    "T",
    "t",
    "e",
    "+",
    "_",
    "(",
    ")",
    ";",
    "^",
    "<",
    "Mozilla/5.0 (Windows NT 10.0; rv:109.0) Gecko/20100101 Firefox/119.0",
];

/// Strings of up to five pieces: where the awkward cases are, which `any::<String>()` rarely
/// reaches.
pub(crate) fn nasty() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..5).prop_map(|p| p.concat())
}

pub(crate) fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => nasty(),
        2 => any::<String>(),
        1 => "[a-z0-9:/ ._#,\\[\\]{}'\"-]{0,12}",
    ]
}

/// Keys as values are, plus ones past the 1024 characters YAML allows a simple key.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => string(),
        1 => "[a-z]{1010,1030}",
        1 => ("[a-z]{1000,1030}", nasty()).prop_map(|(a, b)| a + &b),
    ]
}

/// Numbers in every form JSON has: integers past `i64`, floats that print with an exponent.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e15f64..1e15).prop_map(Value::from),
        prop::num::f64::NORMAL.prop_map(Value::from),
        (-1e-3f64..1e-3).prop_map(Value::from),
        // One-digit mantissas print as `1e+300`, `5e-7`: no point, which YAML 1.1 requires.
        (-9i64..10, -320i32..308)
            .prop_map(|(m, e)| Value::from(format!("{m}e{e}").parse::<f64>().expect("a float"))),
    ]
}

pub(crate) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Body> {
    let content = prop_oneof![
        json_value().prop_map(Body::json),
        string().prop_map(Body::text),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(Body::binary),
    ];
    let flags = (
        any::<bool>(),
        prop::option::of(any::<u64>()),
        prop::option::of(string()),
    );
    (content, flags).prop_map(|(mut b, (truncated, size, decoded_from))| {
        b.truncated = truncated;
        b.size = size;
        b.decoded_from = decoded_from;
        b
    })
}

fn headers() -> impl Strategy<Value = Headers> {
    prop::collection::vec((string(), string()), 0..4).prop_map(|h| h.into_iter().collect())
}

/// Any exchange, every string field awkward. Durations are whole microseconds, as written.
pub(crate) fn exchange() -> impl Strategy<Value = Exchange> {
    let request = (
        string(),
        string(),
        string(),
        headers(),
        prop::option::of(body()),
    );
    let response = prop::option::of((any::<u16>(), string(), headers(), prop::option::of(body())));
    let meta = (
        any::<u64>(),
        0i64..4_102_444_800_000,
        0u32..10_000_000,
        prop::option::of(string()),
    );
    (meta, request, response, prop::option::of(string())).prop_map(|(meta, rq, rs, error)| {
        let (id, started_ms, micros, client) = meta;
        Exchange {
            id,
            started: chrono::DateTime::from_timestamp_millis(started_ms).expect("in range"),
            duration_ms: f64::from(micros) / 1000.0,
            // Awkward strings for the tester and group too (they are emitted like `client`).
            tester: client.clone(),
            group: client.as_ref().map(|c| format!("g {c}")),
            client,
            request: Request {
                method: rq.0,
                url: rq.1,
                version: rq.2,
                headers: rq.3,
                body: rq.4,
            },
            response: rs.map(|(status, version, headers, body)| Response {
                status,
                version,
                headers,
                body,
            }),
            error,
        }
    })
}

/// The documents a JSON value is written as: block and flow style, each with both quotes.
pub(crate) fn value_docs(v: &Value) -> Vec<String> {
    let mut docs = Vec::new();
    for q in [Quotes::Double, Quotes::Single] {
        let mut block = "v:\n".to_string();
        emit::block_with(&mut block, 2, v, q);
        let mut flow = "v: ".to_string();
        emit::flow_with(&mut flow, v, q);
        flow.push('\n');
        docs.extend([block, flow]);
    }
    docs
}

/// What a reader must have read from one of [`value_docs`].
pub(crate) fn judge_value(v: &Value, read: Result<Vec<Value>, String>) -> Result<(), String> {
    let docs = read?;
    let want = [json!({ "v": v })];
    if docs == want {
        return Ok(());
    }
    let diff =
        crate::yaml_readers::first_difference(&Value::Array(want.to_vec()), &Value::Array(docs));
    Err(diff.unwrap_or_default())
}

/// What a reader must have read from `emit::exchange(e)`: its JSON, read as an exchange, is `e`.
pub(crate) fn judge_exchange(e: &Exchange, read: Result<Vec<Value>, String>) -> Result<(), String> {
    let docs = read?;
    let [doc] = docs.as_slice() else {
        return Err(format!("{} documents, want 1", docs.len()));
    };
    let back: Exchange =
        serde_json::from_value(doc.clone()).map_err(|err| format!("not an exchange: {err}"))?;
    if &back == e {
        return Ok(());
    }
    let want = serde_json::to_value(e).expect("serializes");
    let got = serde_json::to_value(&back).expect("serializes");
    Err(crate::yaml_readers::first_difference(&want, &got).unwrap_or_else(|| "differs".into()))
}
