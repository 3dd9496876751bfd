//! Walking every value of a request or a response, each with its [`Place`].

use loadtape_recording::{BodyContent, Headers, Request, Response};
use serde_json::Value;

use crate::finding::Place;
use crate::shape;

pub(crate) use crate::query::{decode_component, key_step, pairs, path_and_query};

/// One value and where it sits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slot {
    pub place: Place,
    pub value: String,
}

/// Headers whose values are about the connection, the client or the content, never a token;
/// walking them only adds noise (`content-type: application/json` everywhere).
const SKIP_HEADERS: [&str; 24] = [
    "host",
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "accept",
    "accept-encoding",
    "accept-language",
    "user-agent",
    "referer",
    "origin",
    "cache-control",
    "pragma",
    "date",
    "server",
    "vary",
    "etag",
    "if-none-match",
    "last-modified",
    "if-modified-since",
    "expires",
    "age",
];

fn skip_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SKIP_HEADERS.contains(&n.as_str()) || n.starts_with("sec-") || n.starts_with(':')
}

/// Which values become slots: candidates (long enough to be a token by themselves), or short
/// ids, which only a name or a REST path can vouch for (see `rules::short_ids`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Candidate,
    ShortId,
    /// Every non-empty value, headers included: what evidence from outside the rules (a
    /// verify round, a second recording) is matched against, whatever its shape.
    Any,
}

impl Kind {
    fn keeps(self, value: &str) -> bool {
        match self {
            Kind::Candidate => shape::is_candidate(value),
            Kind::ShortId => shape::is_short_id(value),
            Kind::Any => !value.is_empty(),
        }
    }
}

/// Every value a request sends.
pub(crate) fn request_slots(req: &Request) -> Vec<Slot> {
    request_slots_of(req, Kind::Candidate)
}

/// Every value of `kind` a request sends: path segments, query, headers, JSON leaves, form
/// and multipart fields.
pub(crate) fn request_slots_of(req: &Request, kind: Kind) -> Vec<Slot> {
    let mut out = Vec::new();
    let push_kind = |out: &mut Vec<Slot>, place: Place, value: String| match kind {
        Kind::Candidate => push(out, place, value),
        _ if kind.keeps(&value) => out.push(Slot { place, value }),
        _ => {}
    };
    let (path, query) = path_and_query(&req.url);
    for (i, seg) in path.split('/').filter(|s| !s.is_empty()).enumerate() {
        push_kind(&mut out, Place::PathSegment(i), decode_component(seg));
    }
    for (k, v) in query.map(pairs).unwrap_or_default() {
        json_in(&Place::Query(k.clone()), &v, kind, &mut out);
        push_kind(&mut out, Place::Query(k), v);
    }
    match kind {
        Kind::Candidate => header_slots(&req.headers, &mut out, push),
        Kind::Any => header_slots(&req.headers, &mut out, push_kind),
        Kind::ShortId => {}
    }
    if let Some(body) = &req.body {
        match &body.content {
            BodyContent::Json(v) => json_slots("$", v, kind, &mut out),
            // A flat XML body (WeChat Pay's `<xml>…</xml>`): its elements, by name.
            BodyContent::Text(t) if t.trim_start().starts_with('<') => {
                for (k, v) in crate::query::xml_fields(t) {
                    push_kind(&mut out, Place::TextField(k), v);
                }
            }
            BodyContent::Text(t) => {
                let fields = crate::multipart::fields(&req.headers, t)
                    .or_else(|| is_form(&req.headers, t).then(|| pairs(t)));
                for (k, v) in fields.unwrap_or_default() {
                    json_in(&Place::Form(k.clone()), &v, kind, &mut out);
                    push_kind(&mut out, Place::Form(k), v);
                }
            }
            _ => {}
        }
    }
    out
}

/// Every value a response carries; `text` bodies are searched separately (see
/// [`text_body`]).
pub(crate) fn response_slots(resp: &Response) -> Vec<Slot> {
    response_slots_of(resp, Kind::Candidate)
}

/// Every value of `kind` a response carries in headers and JSON, and the named values of a
/// text body (hidden inputs, script objects, links).
pub(crate) fn response_slots_of(resp: &Response, kind: Kind) -> Vec<Slot> {
    let mut out = Vec::new();
    match kind {
        Kind::Candidate => header_slots(&resp.headers, &mut out, push),
        Kind::Any => header_slots(&resp.headers, &mut out, |o, place, value| {
            if !value.is_empty() {
                o.push(Slot { place, value })
            }
        }),
        Kind::ShortId => {}
    }
    match resp.body.as_ref().map(|b| &b.content) {
        Some(BodyContent::Json(v)) => json_slots("$", v, kind, &mut out),
        Some(BodyContent::Text(t)) => {
            for f in crate::text::fields(&crate::text::decode_entities(t)) {
                let place = Place::TextField(f.name);
                match kind {
                    Kind::Candidate => push(&mut out, place, f.value),
                    _ if kind.keeps(&f.value) => out.push(Slot {
                        place,
                        value: f.value,
                    }),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    out
}

/// A response's text body, when it is text (an HTML page, a `text/plain` token, JSONP).
pub(crate) fn text_body(resp: &Response) -> Option<&str> {
    resp.body.as_ref().and_then(|b| b.as_text())
}

fn is_form(headers: &Headers, text: &str) -> bool {
    headers
        .get("content-type")
        .is_some_and(|ct| ct.contains("x-www-form-urlencoded"))
        || (text.contains('=') && !text.contains(char::is_whitespace) && !text.starts_with('{'))
}

fn header_slots(
    headers: &Headers,
    out: &mut Vec<Slot>,
    push: impl Fn(&mut Vec<Slot>, Place, String),
) {
    for (name, value) in headers.iter() {
        let lower = name.to_ascii_lowercase();
        if skip_header(&lower) {
            continue;
        }
        match lower.as_str() {
            "cookie" => {
                for pair in value.split(';') {
                    if let Some((k, v)) = pair.trim().split_once('=') {
                        push(
                            out,
                            Place::Cookie(k.to_string()),
                            v.trim_matches('"').into(),
                        );
                    }
                }
            }
            "set-cookie" => {
                let first = value.split(';').next().unwrap_or("");
                if let Some((k, v)) = first.trim().split_once('=') {
                    push(
                        out,
                        Place::SetCookie(k.to_string()),
                        v.trim_matches('"').into(),
                    );
                }
            }
            _ => {
                let (scheme, rest) = value.split_once(' ').unwrap_or(("", value));
                if scheme.eq_ignore_ascii_case("bearer") {
                    push(out, Place::Bearer(lower), rest.trim().to_string());
                } else {
                    push(out, Place::Header(lower), value.to_string());
                }
            }
        }
    }
}

/// The leaves of a JSON document a query or form value holds (decoded already), each a slot
/// of its own: a cursor inside `q={"cursor":"…","size":10}` is sent like any other value.
fn json_in(at: &Place, value: &str, kind: Kind, out: &mut Vec<Slot>) {
    let t = value.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return;
    }
    let Ok(doc @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(value)
    else {
        return;
    };
    let mut leaves = Vec::new();
    json_leaves("$", &doc, &mut leaves);
    for (path, v) in leaves {
        if kind.keeps(&v) {
            out.push(Slot {
                place: Place::JsonIn(Box::new(at.clone()), path),
                value: v,
            });
        }
    }
}

/// Every leaf of a JSON value, with its path; strings holding JSON are walked too.
pub(crate) fn json_leaves(path: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                json_leaves(&format!("{path}{}", key_step(k)), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                json_leaves(&format!("{path}[{i}]"), v, out);
            }
        }
        Value::String(s) => out.push((path.to_string(), s.clone())),
        Value::Number(n) => out.push((path.to_string(), n.to_string())),
        Value::Bool(_) | Value::Null => {}
    }
}

fn json_slots(root: &str, v: &Value, kind: Kind, out: &mut Vec<Slot>) {
    let mut leaves = Vec::new();
    json_leaves(root, v, &mut leaves);
    for (path, value) in leaves {
        if kind != Kind::Candidate {
            if kind.keeps(&value) {
                out.push(Slot {
                    place: Place::Json(path),
                    value,
                });
            }
            continue;
        }
        // A layer of JSON inside a string (`"data": "{\"token\": ...}"`).
        let trimmed = value.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            if let Ok(inner @ (Value::Object(_) | Value::Array(_))) =
                serde_json::from_str::<Value>(&value)
            {
                let mut inner_leaves = Vec::new();
                json_leaves("$", &inner, &mut inner_leaves);
                for (p, v) in inner_leaves {
                    push(out, Place::JsonInString(path.clone(), p), v);
                }
                continue;
            }
        }
        push(out, Place::Json(path), value);
    }
}

/// Adds a slot when the value can be a candidate, plus the claims of a JWT.
fn push(out: &mut Vec<Slot>, place: Place, value: String) {
    if !shape::is_candidate(&value) {
        return;
    }
    if let Some(claims) = shape::jwt_claims(&value) {
        for (k, v) in claims {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            if shape::is_candidate(&text) {
                out.push(Slot {
                    place: Place::JwtClaim(Box::new(place.clone()), k),
                    value: text,
                });
            }
        }
    }
    out.push(Slot { place, value });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split() {
        assert_eq!(
            path_and_query("https://a.b/x/y?q=1#f"),
            ("/x/y", Some("q=1"))
        );
        assert_eq!(path_and_query("https://a.b"), ("/", None));
        assert_eq!(
            pairs("a=1%2B2&b=x+y&c"),
            vec![
                ("a".into(), "1+2".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "".into())
            ]
        );
    }

    #[test]
    fn json_paths() {
        let v =
            serde_json::json!({"data": [{"id": "g1"}], "a-b": 1, "s": "{\"t\":\"abcdefgh12\"}"});
        let mut out = Vec::new();
        json_slots("$", &v, Kind::Candidate, &mut out);
        assert_eq!(
            out,
            vec![Slot {
                place: Place::JsonInString("$.s".into(), "$.t".into()),
                value: "abcdefgh12".into()
            }]
        );
        let mut leaves = Vec::new();
        json_leaves("$", &v, &mut leaves);
        assert_eq!(leaves[0], ("$.data[0].id".to_string(), "g1".to_string()));
        assert_eq!(leaves[1].0, "$['a-b']");
    }
}
