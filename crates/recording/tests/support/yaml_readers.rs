//! Three YAML readers that the emitter's output is held to, each giving every document of a
//! stream as JSON: serde_yaml (libyaml's grammar, the project's own reader), saphyr (a YAML 1.2
//! reader of its own lineage) and PyYAML (YAML 1.1, what most people's tools use; its pure
//! Python loader and, when built in, its libyaml one). A string that one of them reads as a
//! number, a date or a boolean shows up as a JSON value of another type, so comparing JSON
//! catches a changed meaning as well as a refusal.
//!
//! Shared by the recording's and detect's tests (`#[path]`), each using part of it.
#![allow(dead_code)]

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Map, Number, Value};

/// Reads a JSON array of YAML streams on stdin and writes, for each, `{"ok": [documents]}` or
/// `{"err": why}`, floats as their `repr` (see [`floats`]).
const SCRIPT: &str = r#"
import json, math, sys
import yaml

FLOAT = "\u0000float"

def plain(v):
    if isinstance(v, dict):
        for k in v:
            if not isinstance(k, str):
                raise TypeError("non-string key %r" % (k,))
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, float):
        if not math.isfinite(v):
            raise TypeError("non-finite float %r" % (v,))
        return {FLOAT: repr(v)}
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    raise TypeError("not JSON: %s %r" % (type(v).__name__, v))

loaders = [("pure", yaml.SafeLoader)]
if getattr(yaml, "__with_libyaml__", False):
    loaders.append(("libyaml", yaml.CSafeLoader))
out = []
for text in json.load(sys.stdin):
    res = None
    for name, loader in loaders:
        try:
            got = plain(list(yaml.load_all(text, Loader=loader)))
        except Exception as e:
            res = {"err": "PyYAML %s loader: %s: %s" % (name, type(e).__name__, e)}
            break
        if res is None:
            res = {"ok": got}
        elif res["ok"] != got:
            res = {"err": "PyYAML's loaders disagree: %r vs %r" % (res["ok"], got)}
            break
    out.append(res)
json.dump(out, sys.stdout)
"#;

/// PyYAML's reading of each stream in `docs`, in one python3 run (a run per case would cost a
/// Python start-up each): the documents as JSON, or the reader's complaint. Both of PyYAML's
/// safe loaders must agree. Dates, timestamps, non-finite floats and non-string keys are not
/// JSON and come back as errors, which is the point: the emitter wrote them as strings.
///
/// Panics with what to install when python3 or PyYAML is missing: a test that needs a judge
/// must not pass without one.
pub(crate) fn pyyaml(docs: &[String]) -> Vec<Result<Vec<Value>, String>> {
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: cannot run python3: {e}", missing()));
    let input = serde_json::to_vec(docs).expect("strings serialize");
    let mut stdin = child.stdin.take().expect("piped");
    // Written from a thread: python3 answers while it reads, and a full pipe would stall both.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("python3 ran");
    let written = writer.join().expect("writer thread");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No module named 'yaml'") {
        panic!("{}: {stderr}", missing());
    }
    assert!(output.status.success(), "python3 failed: {stderr}");
    written.expect("python3 read its input");
    let answers: Vec<Value> = serde_json::from_slice(&output.stdout).expect("python3 wrote JSON");
    assert_eq!(answers.len(), docs.len(), "one answer per document");
    answers
        .into_iter()
        .map(|a| match a {
            Value::Object(mut m) => match m.remove("ok") {
                Some(Value::Array(docs)) => Ok(docs.into_iter().map(floats).collect()),
                _ => Err(m["err"].as_str().unwrap_or("?").to_string()),
            },
            other => Err(format!("unexpected answer {other}")),
        })
        .collect()
}

/// Python's floats come as their `repr` (`{"\0float": "0.1"}`) and are parsed here: serde_json's
/// own float parsing may be one unit in the last place off, which would look like a change of
/// value that no YAML reader made.
fn floats(v: Value) -> Value {
    match v {
        Value::Object(m) if m.len() == 1 && m.contains_key("\0float") => {
            let repr = m["\0float"].as_str().expect("a repr");
            Value::from(repr.parse::<f64>().expect("Python wrote a float"))
        }
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, floats(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(floats).collect()),
        other => other,
    }
}

fn missing() -> &'static str {
    "this test holds the YAML emitter to PyYAML and needs python3 with PyYAML \
     (`pip3 install pyyaml` or `apt-get install python3-yaml`; .ci/run installs it)"
}

/// saphyr's reading of the stream (YAML 1.2 core schema). Scalars are resolved here from
/// saphyr's representation so that an integer past `i64` stays an integer (saphyr's own
/// resolution holds integers as `i64` and would call it a float); everything else is saphyr's.
pub(crate) fn saphyr(text: &str) -> Result<Vec<Value>, String> {
    use saphyr::{Yaml, YamlLoader};
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    let mut loader: YamlLoader<Yaml> = YamlLoader::default();
    loader.early_parse(false);
    parser
        .load(&mut loader, true)
        .map_err(|e| format!("saphyr: {e}"))?;
    if let Some(e) = loader.error() {
        return Err(format!("saphyr: {e}"));
    }
    loader.into_documents().iter().map(saphyr_json).collect()
}

fn saphyr_json(y: &saphyr::Yaml) -> Result<Value, String> {
    use saphyr::{Scalar, ScalarStyle, Yaml};
    Ok(match y {
        Yaml::Representation(text, style, tag) => {
            if let (ScalarStyle::Plain, None, Ok(n)) = (style, tag, text.parse::<u64>()) {
                return Ok(Value::from(n));
            }
            let scalar = Scalar::parse_from_cow_and_metadata(text.clone(), *style, tag.as_ref())
                .ok_or_else(|| format!("saphyr: bad scalar {text:?}"))?;
            match scalar {
                Scalar::Null => Value::Null,
                Scalar::Boolean(b) => Value::Bool(b),
                Scalar::Integer(i) => Value::from(i),
                Scalar::FloatingPoint(f) => Number::from_f64(f.0)
                    .map(Value::Number)
                    .ok_or_else(|| format!("saphyr: non-finite float from {text:?}"))?,
                Scalar::String(s) => Value::String(s.into_owned()),
            }
        }
        Yaml::Sequence(items) => {
            Value::Array(items.iter().map(saphyr_json).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let Value::String(k) = saphyr_json(k)? else {
                    return Err(format!("saphyr: non-string key {k:?}"));
                };
                out.insert(k, saphyr_json(v)?);
            }
            Value::Object(out)
        }
        other => return Err(format!("saphyr: unexpected node {other:?}")),
    })
}

/// serde_yaml's untyped reading of the stream, as JSON.
pub(crate) fn serde_yaml(text: &str) -> Result<Vec<Value>, String> {
    use serde::Deserialize as _;
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| {
            let v = serde_yaml::Value::deserialize(doc).map_err(|e| format!("serde_yaml: {e}"))?;
            serde_json::to_value(v).map_err(|e| format!("serde_yaml: not JSON: {e}"))
        })
        .collect()
}

/// Where two JSON values first differ (`$.a[2]: "x" vs 3`), for a failure message that points
/// at the field instead of printing two whole documents.
pub(crate) fn first_difference(want: &Value, got: &Value) -> Option<String> {
    fn walk(path: &mut String, want: &Value, got: &Value) -> Option<String> {
        match (want, got) {
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                a.iter().zip(b).enumerate().find_map(|(i, (x, y))| {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    let found = walk(path, x, y);
                    path.truncate(len);
                    found
                })
            }
            (Value::Object(a), Value::Object(b)) if a.keys().eq(b.keys()) => {
                a.iter().zip(b.values()).find_map(|((k, x), y)| {
                    let len = path.len();
                    path.push_str(&format!(".{k}"));
                    let found = walk(path, x, y);
                    path.truncate(len);
                    found
                })
            }
            _ if want == got => None,
            _ => Some(format!("{path}: want {}, got {}", cut(want), cut(got))),
        }
    }
    walk(&mut "$".to_string(), want, got)
}

fn cut(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}
