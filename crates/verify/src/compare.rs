//! One step's live answer against its recorded one. Values differ between any two sessions
//! (ids, tokens, times), so what is compared is what stays the same when a replay is right:
//! the status, where a redirect goes, the content type, the JSON's shape, the business
//! result fields, the size's order of magnitude, and words that mean refusal.

use std::collections::BTreeMap;
use std::io::Read as _;

use loadtape_engine::ObservedAnswer;
use loadtape_recording::Response;
use serde_json::Value;

/// Fields that carry a business result inside an HTTP 200 (WeChat's `errcode`, others').
pub(crate) const RESULT_FIELDS: &[&str] = &["errcode", "code", "errno", "ret", "success"];

/// Words in a body that mean the request was refused for its credentials or its freshness.
const REFUSAL_WORDS: &[&str] = &["expired", "invalid", "forbidden", "nonce"];

/// The live answer's body as text-decoded bytes (gzip undone), for comparing and for
/// looking values up.
pub(crate) fn live_body(a: &ObservedAnswer) -> Vec<u8> {
    let gzip = a
        .headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if gzip {
        let mut out = Vec::new();
        if flate2::read::GzDecoder::new(&a.body[..])
            .read_to_end(&mut out)
            .is_ok()
        {
            return out;
        }
    }
    a.body.to_vec()
}

/// The live answer's JSON, if it is JSON.
pub(crate) fn live_json(a: &ObservedAnswer) -> Option<Value> {
    serde_json::from_slice(&live_body(a)).ok()
}

/// Why the live answer is not the recorded one; empty when they match.
pub(crate) fn differences(rec: &Response, live: &ObservedAnswer) -> Vec<String> {
    let mut out = Vec::new();
    let (rs, ls) = (rec.status, live.status.as_u16());
    if rs != ls {
        let class = if rs / 100 != ls / 100 {
            ", another class"
        } else {
            ""
        };
        out.push(format!("status {rs} → {ls}{class}"));
    }
    redirect(rec, live, &mut out);
    let rec_ct = media_type(rec.headers.get("content-type"));
    let live_ct = media_type(
        live.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
    );
    if rec_ct != live_ct {
        out.push(format!(
            "content type {} → {}",
            rec_ct.as_deref().unwrap_or("none"),
            live_ct.as_deref().unwrap_or("none")
        ));
    }
    let body = live_body(live);
    let rec_json = rec.body.as_ref().and_then(|b| b.as_json());
    let live_json: Option<Value> = serde_json::from_slice(&body).ok();
    if let (Some(r), Some(l)) = (rec_json, live_json.as_ref()) {
        result_fields(r, l, &mut out);
        shape_differences(r, l, &mut out);
    }
    let rec_bytes = rec.body.as_ref().map(|b| b.to_bytes()).unwrap_or_default();
    if magnitude(rec_bytes.len()) != magnitude(body.len()) {
        out.push(format!(
            "body size {} → {} bytes",
            rec_bytes.len(),
            body.len()
        ));
    }
    refusal(&rec_bytes, &body, &mut out);
    out
}

fn redirect(rec: &Response, live: &ObservedAnswer, out: &mut Vec<String>) {
    let live_to = live.headers.get("location").and_then(|v| v.to_str().ok());
    let rec_to = rec.headers.get("location");
    if let Some(to) = live_to {
        let login = |s: &str| s.to_ascii_lowercase().contains("login");
        if login(to) && !rec_to.is_some_and(login) {
            out.push(format!("redirected to a login page ({to})"));
        } else if rec_to.is_none() {
            out.push(format!("redirected to {to}, the recording was not"));
        }
    }
}

fn media_type(ct: Option<&str>) -> Option<String> {
    ct.map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    })
}

/// Decimal orders of magnitude; empty bodies are their own.
fn magnitude(n: usize) -> i32 {
    if n == 0 {
        -1
    } else {
        (n as f64).log10().floor() as i32
    }
}

/// `errcode 0 → 42001`: the top-level (or `data`-level) result fields that changed.
fn result_fields(rec: &Value, live: &Value, out: &mut Vec<String>) {
    for field in RESULT_FIELDS {
        let (r, l) = (rec.get(*field), live.get(*field));
        if r != l {
            let show = |v: Option<&Value>| v.map_or("absent".to_string(), Value::to_string);
            out.push(format!("{field} {} → {}", show(r), show(l)));
        }
    }
}

/// Path → JSON type, arrays' elements merged under `[*]`.
fn shape(v: &Value, path: String, out: &mut BTreeMap<String, &'static str>) {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(items) => {
            for i in items {
                shape(i, format!("{path}[*]"), out);
            }
            "array"
        }
        Value::Object(map) => {
            for (k, v) in map {
                shape(v, format!("{path}.{k}"), out);
            }
            "object"
        }
    };
    out.insert(path, kind);
}

fn shape_differences(rec: &Value, live: &Value, out: &mut Vec<String>) {
    let (mut r, mut l) = (BTreeMap::new(), BTreeMap::new());
    shape(rec, "$".into(), &mut r);
    shape(live, "$".into(), &mut l);
    let mut said = 0;
    for (path, kind) in &r {
        let msg = match l.get(path) {
            None => format!("JSON {path} ({kind}) missing"),
            Some(k) if k != kind => format!("JSON {path} {kind} → {k}"),
            Some(_) => continue,
        };
        // A missing object explains its missing children: say the top ones only.
        if said < 3 {
            out.push(msg);
        }
        said += 1;
    }
    let added: Vec<&String> = l.keys().filter(|p| !r.contains_key(*p)).collect();
    if let Some(first) = added.first() {
        out.push(format!("JSON {first} not in the recording"));
    }
}

fn refusal(rec: &[u8], live: &[u8], out: &mut Vec<String>) {
    let (rec, live) = (
        String::from_utf8_lossy(rec).to_ascii_lowercase(),
        String::from_utf8_lossy(live).to_ascii_lowercase(),
    );
    for w in REFUSAL_WORDS {
        if live.contains(w) && !rec.contains(w) {
            out.push(format!("the body says `{w}`"));
        }
    }
}
