//! A small YAML emitter for loadtape's own documents.
//!
//! serde_yaml writes every sequence in block style, which turns each header pair into three
//! lines. The recording format uses flow style where it reads better (`- [name, value]`, short
//! JSON bodies on one line), so documents are written here. Strings are written plain when
//! YAML 1.1 and 1.2 readers alike read them back unchanged, and quoted otherwise (the rules are
//! in `emit/scalar.rs`); the property tests hold every output to serde_yaml, saphyr and PyYAML,
//! which is what keeps this honest.

use std::fmt::Write as _;

mod scalar;

use scalar::IMPLICIT_KEY_MAX;
pub use scalar::{comment_text, scalar, scalar_with, Quotes};

use base64::Engine as _;
use serde_json::Value;

use crate::body::{Body, BodyContent, BASE64};
use crate::recording::{Exchange, Headers, RecordingHeader, Request, Response, Tombstone};

/// A JSON value whose compact flow form is at most this long is written on one line.
const FLOW_WIDTH: usize = 100;

/// The header document (without separators).
pub fn header(h: &RecordingHeader) -> String {
    let mut out = String::new();
    kv(&mut out, 0, "loadtape", &h.loadtape);
    kv(&mut out, 0, "name", &h.name);
    kv(&mut out, 0, "created", &timestamp(&h.created));
    out
}

/// A tombstone document (without separators): see [`Tombstone`].
pub fn tombstone(t: &Tombstone) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "dropped: {}", t.dropped);
    kv(&mut out, 0, "at", &timestamp(&t.at));
    out
}

/// One exchange document (without separators).
pub fn exchange(e: &Exchange) -> String {
    let mut out = String::with_capacity(512);
    exchange_into(&mut out, e);
    out
}

/// [`exchange`], appended to `out`: the writer emits a batch into one buffer, with no
/// document of its own per exchange to copy from.
pub fn exchange_into(out: &mut String, e: &Exchange) {
    let _ = writeln!(out, "id: {}", e.id);
    kv(out, 0, "started", &timestamp(&e.started));
    let _ = writeln!(out, "duration_ms: {}", number(e.duration_ms));
    if let Some(client) = &e.client {
        kv(out, 0, "client", client);
    }
    if let Some(tester) = &e.tester {
        kv(out, 0, "tester", tester);
    }
    if let Some(group) = &e.group {
        kv(out, 0, "group", group);
    }
    request(out, &e.request);
    if let Some(r) = &e.response {
        response(out, r);
    }
    if let Some(error) = &e.error {
        kv(out, 0, "error", error);
    }
}

fn request(out: &mut String, r: &Request) {
    out.push_str("request:\n");
    kv(out, 2, "method", &r.method);
    kv(out, 2, "url", &r.url);
    kv(out, 2, "version", &r.version);
    headers(out, 2, &r.headers);
    if let Some(b) = &r.body {
        body(out, 2, b);
    }
}

fn response(out: &mut String, r: &Response) {
    out.push_str("response:\n");
    let _ = writeln!(out, "  status: {}", r.status);
    kv(out, 2, "version", &r.version);
    headers(out, 2, &r.headers);
    if let Some(b) = &r.body {
        body(out, 2, b);
    }
}

fn headers(out: &mut String, indent: usize, h: &Headers) {
    pad(out, indent);
    if h.is_empty() {
        out.push_str("headers: []\n");
        return;
    }
    out.push_str("headers:\n");
    for (name, value) in h.iter() {
        pad(out, indent);
        out.push_str("- [");
        scalar(out, name, true);
        out.push_str(", ");
        scalar(out, value, true);
        out.push_str("]\n");
    }
}

/// `body: {json: ...}` on one line when short and plain, else a block mapping.
pub fn body(out: &mut String, indent: usize, b: &Body) {
    let mut flags = Vec::new();
    if b.truncated {
        flags.push("truncated: true".to_string());
    }
    if let Some(size) = b.size {
        flags.push(format!("size: {size}"));
    }
    if let Some(enc) = &b.decoded_from {
        flags.push(format!("decoded_from: {}", scalar_string(enc, true)));
    }
    let (key, inline) = match &b.content {
        BodyContent::Json(v) => ("json", flow_if_short(v)),
        BodyContent::Text(t) => ("text", Some(scalar_string(t, true))),
        // Base64 can spell a number (`1234`, `0x12`): it goes through the same quoting.
        BodyContent::Binary(bytes) => ("base64", Some(scalar_string(&BASE64.encode(bytes), true))),
    };
    pad(out, indent);
    match inline {
        Some(inline) => {
            let _ = write!(out, "body: {{{key}: {inline}");
            for flag in &flags {
                out.push_str(", ");
                out.push_str(flag);
            }
            out.push_str("}\n");
        }
        None => {
            out.push_str("body:\n");
            pad(out, indent + 2);
            let _ = writeln!(out, "{key}:");
            if let BodyContent::Json(v) = &b.content {
                block(out, indent + 4, v);
            }
            for flag in &flags {
                pad(out, indent + 2);
                out.push_str(flag);
                out.push('\n');
            }
        }
    }
}

fn flow_if_short(v: &Value) -> Option<String> {
    let mut s = String::new();
    flow(&mut s, v);
    (s.len() <= FLOW_WIDTH).then_some(s)
}

/// Writes any JSON value as YAML: block style, nested collections indented below their key.
/// The caller has written `key:` and a newline; `indent` is where the value's lines start.
pub fn block(out: &mut String, indent: usize, v: &Value) {
    block_with(out, indent, v, Quotes::Single);
}

/// [`block`] with a choice of quotes.
pub fn block_with(out: &mut String, indent: usize, v: &Value, q: Quotes) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, item) in map {
                block_entry(out, indent, k, item, q);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                pad(out, indent);
                out.push('-');
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        // The first key goes on the dash's line; the rest line up under it.
                        let mut nested = String::new();
                        block_with(&mut nested, indent + 2, item, q);
                        out.push(' ');
                        out.push_str(&nested[indent + 2..]);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        let mut nested = String::new();
                        block_with(&mut nested, indent + 2, item, q);
                        out.push(' ');
                        out.push_str(&nested[indent + 2..]);
                    }
                    _ => {
                        out.push(' ');
                        block_scalar(out, item, q);
                        out.push('\n');
                    }
                }
            }
        }
        _ => {
            pad(out, indent);
            block_scalar(out, v, q);
            out.push('\n');
        }
    }
}

/// One `key: value` of a block mapping. A key too long to be implicit is written `? key`, and
/// `:` with the value goes on the next line, a nested collection indented below it.
fn block_entry(out: &mut String, indent: usize, key: &str, item: &Value, q: Quotes) {
    pad(out, indent);
    let key = scalar_string_with(key, false, q);
    if key.len() <= IMPLICIT_KEY_MAX {
        out.push_str(&key);
        out.push(':');
        block_value(out, indent, item, q);
        return;
    }
    let _ = writeln!(out, "? {key}");
    pad(out, indent);
    out.push(':');
    match item {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            block_with(out, indent + 2, item, q);
        }
        _ => block_value(out, indent + 2, item, q),
    }
}

/// A scalar or empty collection in block context, where a string may hold `,[]{}?` plain.
fn block_scalar(out: &mut String, v: &Value, q: Quotes) {
    match v {
        Value::String(s) => scalar_with(out, s, false, q),
        _ => flow_with(out, v, q),
    }
}

/// After `key:`: a scalar or empty collection on the same line, else the block below it.
/// Sequences under a mapping key are written at the key's own indentation, as is usual.
fn block_value(out: &mut String, indent: usize, v: &Value, q: Quotes) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            block_with(out, indent + 2, v, q);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            block_with(out, indent, v, q);
        }
        _ => {
            out.push(' ');
            block_scalar(out, v, q);
            out.push('\n');
        }
    }
}

/// Writes a JSON value in YAML flow style on one line.
pub fn flow(out: &mut String, v: &Value) {
    flow_with(out, v, Quotes::Single);
}

/// [`flow`] with a choice of quotes.
pub fn flow_with(out: &mut String, v: &Value, q: Quotes) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => scalar::number(out, n),
        Value::String(s) => scalar_with(out, s, true, q),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow_with(out, item, q);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let key = scalar_string_with(k, true, q);
                if key.len() > IMPLICIT_KEY_MAX {
                    out.push_str("? ");
                }
                out.push_str(&key);
                out.push_str(": ");
                flow_with(out, item, q);
            }
            out.push('}');
        }
    }
}

fn kv(out: &mut String, indent: usize, key: &str, value: &str) {
    pad(out, indent);
    out.push_str(key);
    out.push_str(": ");
    scalar(out, value, false);
    out.push('\n');
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn timestamp(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn number(f: f64) -> String {
    if f.is_finite() {
        // Microsecond precision is plenty for a duration in ms and keeps lines short.
        let rounded = (f * 1000.0).round() / 1000.0;
        format!("{rounded}")
    } else {
        "0".to_string()
    }
}

fn scalar_string(s: &str, in_flow: bool) -> String {
    scalar_string_with(s, in_flow, Quotes::Single)
}

fn scalar_string_with(s: &str, in_flow: bool, q: Quotes) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    scalar_with(&mut out, s, in_flow, q);
    out
}
