//! One exchange opened: its headers, its bodies in a form the page can draw (a JSON tree,
//! text, an image, hex for other bytes) and its timing. Only the opened exchange is sent, and
//! long bodies are cut to what a page can show.

use base64::Engine as _;
use loadtape_recording::{Body, BodyContent, Exchange, Headers};
use serde_json::{json, Value};

use crate::rows::split_url;

/// Text (and JSON) beyond this many bytes is cut for the page; the download has it all.
const MAX_TEXT: usize = 1 << 20;
/// Bytes of a binary body shown as hex.
const MAX_HEX: usize = 4096;
/// Images up to this size are shown.
const MAX_IMAGE: usize = 4 << 20;

/// The exchange as the page's detail view reads it.
pub(crate) fn exchange(e: &Exchange) -> Value {
    let (host, path) = split_url(&e.request.url);
    let query: Vec<(String, String)> = path
        .split_once('?')
        .map(|(_, q)| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (k.to_string(), v.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": e.id,
        "started": e.started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "duration_ms": e.duration_ms,
        "client": e.client,
        "tester": e.tester,
        "group": e.group,
        "error": e.error,
        "request": {
            "method": e.request.method,
            "url": e.request.url,
            "host": host,
            "path": path,
            "version": e.request.version,
            "query": query,
            "headers": headers(&e.request.headers),
            "body": e.request.body.as_ref().map(|b| body(b, e.request.headers.get("content-type"))),
        },
        "response": e.response.as_ref().map(|r| json!({
            "status": r.status,
            "version": r.version,
            "headers": headers(&r.headers),
            "body": r.body.as_ref().map(|b| body(b, r.headers.get("content-type"))),
        })),
    })
}

fn headers(h: &Headers) -> Value {
    Value::Array(h.iter().map(|(n, v)| json!([n, v])).collect())
}

/// A body as `{kind, …}`: `json` (the value), `text`, `image` (base64 and its type) or
/// `binary` (the first bytes as hex), with its size and whether it was truncated.
fn body(b: &Body, content_type: Option<&str>) -> Value {
    let stored = b.to_bytes();
    let mut v = match &b.content {
        BodyContent::Json(value) if stored.len() <= MAX_TEXT => {
            json!({"kind": "json", "json": value})
        }
        BodyContent::Json(_) => {
            json!({"kind": "text", "text": cut(&String::from_utf8_lossy(&stored)), "cut": true})
        }
        BodyContent::Text(t) => json!({"kind": "text", "text": cut(t), "cut": t.len() > MAX_TEXT}),
        BodyContent::Binary(bytes) => binary(bytes, content_type),
    };
    v["size"] = json!(b.size.unwrap_or(stored.len() as u64));
    v["truncated"] = json!(b.truncated);
    v["decoded_from"] = json!(b.decoded_from);
    v
}

fn binary(bytes: &[u8], content_type: Option<&str>) -> Value {
    let ct = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    let image = ["image/png", "image/jpeg", "image/gif", "image/webp"];
    if image.contains(&ct) && bytes.len() <= MAX_IMAGE {
        return json!({
            "kind": "image",
            "mime": ct,
            "base64": base64::engine::general_purpose::STANDARD.encode(bytes),
        });
    }
    let hex: Vec<String> = bytes[..bytes.len().min(MAX_HEX)]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({"kind": "binary", "hex": hex.join(" "), "cut": bytes.len() > MAX_HEX})
}

fn cut(t: &str) -> &str {
    if t.len() <= MAX_TEXT {
        return t;
    }
    let mut end = MAX_TEXT;
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    &t[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_come_in_the_form_the_page_draws() {
        let v = body(&Body::json(json!({"a": [1]})), None);
        assert_eq!(
            (v["kind"].as_str(), &v["json"]),
            (Some("json"), &json!({"a": [1]}))
        );
        let png = [0x89, b'P', b'N', b'G', 0, 1];
        let v = body(&Body::binary(png.to_vec()), Some("image/png; q=1"));
        assert_eq!(v["kind"], "image");
        assert_eq!(v["mime"], "image/png");
        let v = body(
            &Body::binary(vec![0u8, 255, 16]),
            Some("application/octet-stream"),
        );
        assert_eq!(
            (v["kind"].as_str(), v["hex"].as_str()),
            (Some("binary"), Some("00 ff 10"))
        );
        let v = body(&Body::binary(vec![7u8; MAX_HEX + 1]), None);
        assert_eq!(v["cut"], true);
        assert_eq!(v["hex"].as_str().unwrap().split(' ').count(), MAX_HEX);
        let long = "é".repeat(MAX_TEXT);
        let v = body(&Body::text(long.clone()), None);
        assert_eq!(v["cut"], true);
        assert!(v["text"].as_str().unwrap().len() <= MAX_TEXT);
        assert_eq!(v["size"], long.len());
    }
}
