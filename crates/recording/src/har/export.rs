//! Recorded exchanges to HAR 1.2 entries.
//!
//! Every field HAR 1.2 requires is written, with `-1` where the recording does not know the
//! value (header sizes, the compressed size of a decoded body), so Chrome DevTools and HAR
//! viewers open the file. What HAR has no field for is kept in `_loadtape*` fields (custom
//! fields start with `_` in HAR), so `har import` of an exported file gives back the same
//! recording: exchange ids, the client address, truncation, the recording's name.

use base64::Engine as _;
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use crate::body::{Body, BodyContent, BASE64};
use crate::reader::Recording;
use crate::recording::{Exchange, Headers};

pub(super) fn export(recording: &Recording) -> Value {
    json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "loadtape", "version": env!("CARGO_PKG_VERSION")},
            "pages": pages(recording),
            "entries": recording.exchanges.iter().map(entry).collect::<Vec<_>>(),
            "_loadtapeRecording": {
                "name": recording.header.name,
                "created": timestamp(&recording.header.created),
            },
        }
    })
}

fn timestamp(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn entry(e: &Exchange) -> Value {
    let r = &e.request;
    let mut request = json!({
        "method": r.method,
        "url": r.url,
        "httpVersion": r.version,
        "cookies": request_cookies(&r.headers),
        "headers": headers(&r.headers),
        "queryString": query(&r.url),
        "headersSize": -1,
        "bodySize": r.body.as_ref().map_or(0, |b| b.to_bytes().len() as i64),
    });
    if let Some(body) = &r.body {
        request["postData"] = post_data(body, r.headers.get("content-type"));
    }
    let response = match &e.response {
        Some(resp) => {
            let mime = resp.headers.get("content-type").unwrap_or("x-unknown");
            let mut v = json!({
                "status": resp.status,
                "statusText": http::StatusCode::from_u16(resp.status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or(""),
                "httpVersion": resp.version,
                "cookies": response_cookies(&resp.headers),
                "headers": headers(&resp.headers),
                "content": content(resp.body.as_ref(), mime),
                "redirectURL": resp.headers.get("location").unwrap_or(""),
                "headersSize": -1,
                "bodySize": match &resp.body {
                    // The transferred (compressed) size is not recorded.
                    Some(b) if b.decoded_from.is_some() || b.truncated => -1,
                    Some(b) => b.to_bytes().len() as i64,
                    None => 0,
                },
            });
            if let Some(error) = &e.error {
                v["_error"] = json!(error);
            }
            v
        }
        // The shape Chrome and mitmproxy write for a request that got no response.
        None => json!({
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "_error": e.error.as_deref().unwrap_or("no response"),
        }),
    };
    let mut v = json!({
        "startedDateTime": timestamp(&e.started),
        "time": e.duration_ms,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"send": 0, "wait": e.duration_ms, "receive": 0},
        "_loadtapeId": e.id,
    });
    if let Some(client) = &e.client {
        v["_loadtapeClient"] = json!(client);
    }
    if let Some(tester) = &e.tester {
        v["_loadtapeTester"] = json!(tester);
    }
    if let Some(group) = &e.group {
        v["pageref"] = json!(page_id(group));
        v["_loadtapeGroup"] = json!(group);
    }
    v
}

/// One HAR page per group, in order of first use, starting with its first exchange: HAR
/// viewers then show the flows as pages.
fn pages(recording: &Recording) -> Vec<Value> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for e in &recording.exchanges {
        let Some(g) = e.group.as_deref() else {
            continue;
        };
        if seen.contains(&g) {
            continue;
        }
        seen.push(g);
        out.push(json!({
            "startedDateTime": timestamp(&e.started),
            "id": page_id(g),
            "title": g,
            "pageTimings": {},
        }));
    }
    out
}

fn page_id(group: &str) -> String {
    format!("group_{group}")
}

fn headers(h: &Headers) -> Vec<Value> {
    h.iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect()
}

/// Body text as HAR holds it: the characters of a text or JSON body, base64 otherwise.
fn text_of(body: &Body) -> (String, Option<&'static str>) {
    match &body.content {
        BodyContent::Binary(b) => (BASE64.encode(b), Some("base64")),
        _ => (String::from_utf8_lossy(&body.to_bytes()).into_owned(), None),
    }
}

fn content(body: Option<&Body>, mime: &str) -> Value {
    let Some(body) = body else {
        return json!({"size": 0, "mimeType": mime});
    };
    let (text, encoding) = text_of(body);
    let len = body.to_bytes().len() as u64;
    let mut c = Map::new();
    c.insert("size".into(), json!(body.size.unwrap_or(len)));
    c.insert("mimeType".into(), json!(mime));
    c.insert("text".into(), json!(text));
    if let Some(enc) = encoding {
        c.insert("encoding".into(), json!(enc));
    }
    if body.truncated {
        c.insert("_loadtapeTruncated".into(), json!(body.size.unwrap_or(len)));
    }
    Value::Object(c)
}

fn post_data(body: &Body, content_type: Option<&str>) -> Value {
    let mime = content_type.unwrap_or("");
    let (text, encoding) = text_of(body);
    let params = if mime.to_ascii_lowercase().contains("x-www-form-urlencoded") {
        pairs(&text)
    } else {
        Vec::new()
    };
    let mut p = json!({"mimeType": mime, "text": text, "params": params});
    // Not in HAR 1.2 (postData has no `encoding`), but the only way to carry binary bytes;
    // several tools write it, and viewers ignore it.
    if let Some(enc) = encoding {
        p["encoding"] = json!(enc);
    }
    if body.truncated {
        p["_loadtapeTruncated"] = json!(body.size);
    }
    p
}

fn query(url: &str) -> Vec<Value> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let q = q.split('#').next().unwrap_or("");
    pairs(q)
}

/// `a=1&b=x+y` as HAR name/value pairs, decoded.
fn pairs(s: &str) -> Vec<Value> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_decode_str(&s).decode_utf8_lossy().into_owned()
    };
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            json!({"name": decode(n), "value": decode(v)})
        })
        .collect()
}

fn request_cookies(h: &Headers) -> Vec<Value> {
    h.get_all("cookie")
        .flat_map(|v| v.split(';'))
        .filter_map(|c| {
            let (n, v) = c.trim().split_once('=')?;
            Some(json!({"name": n.trim(), "value": v.trim()}))
        })
        .collect()
}

fn response_cookies(h: &Headers) -> Vec<Value> {
    h.get_all("set-cookie")
        .filter_map(|line| {
            let mut parts = line.split(';');
            let (name, value) = parts.next()?.trim().split_once('=')?;
            let mut c = Map::new();
            c.insert("name".into(), json!(name.trim()));
            c.insert("value".into(), json!(value.trim()));
            for attr in parts {
                let (k, v) = attr.trim().split_once('=').unwrap_or((attr.trim(), ""));
                match k.to_ascii_lowercase().as_str() {
                    "path" => c.insert("path".into(), json!(v)),
                    "domain" => c.insert("domain".into(), json!(v)),
                    "expires" => chrono::DateTime::parse_from_rfc2822(v)
                        .ok()
                        .and_then(|t| c.insert("expires".into(), json!(t.to_rfc3339()))),
                    "httponly" => c.insert("httpOnly".into(), json!(true)),
                    "secure" => c.insert("secure".into(), json!(true)),
                    "samesite" => c.insert("sameSite".into(), json!(v)),
                    _ => None,
                };
            }
            Some(Value::Object(c))
        })
        .collect()
}
