//! Message bodies as the recording stores them.
//!
//! A body is kept in the most useful form it allows: parsed JSON (key order kept, so a replay
//! sends what was recorded), text, or base64 for anything else. Up to the recorder's cap is
//! stored; a longer body is marked `truncated` with its real `size`. A body that came
//! compressed is stored decoded, with `decoded_from` naming the encoding.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a body holds, in the form it is stored in; a file has exactly one of the three keys.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyContent {
    /// Parsed JSON (`json:`), key order kept. Bytes are classified as JSON only when every
    /// number in them survives parsing exactly.
    Json(serde_json::Value),
    /// UTF-8 text (`text:`). Bytes are classified as text only when printable: no control
    /// characters but tab, CR and LF.
    Text(String),
    /// Any other bytes, stored as base64 (`base64:`).
    Binary(Vec<u8>),
}

/// A request or response body as a recording stores it: the content and whether it is all of
/// the body that went over the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// What was kept of the body.
    pub content: BodyContent,
    /// The stored content is a prefix of the real body.
    pub truncated: bool,
    /// The real body's size in bytes, when it was truncated.
    pub size: Option<u64>,
    /// The `content-encoding` the body was decoded from (`gzip`, `br`, `deflate`, `zstd`).
    pub decoded_from: Option<String>,
}

impl Body {
    /// A whole body of JSON.
    pub fn json(value: serde_json::Value) -> Body {
        Body::with(BodyContent::Json(value))
    }

    /// A whole body of text.
    pub fn text(text: impl Into<String>) -> Body {
        Body::with(BodyContent::Text(text.into()))
    }

    /// A whole body of bytes that are neither JSON nor text.
    pub fn binary(bytes: impl Into<Vec<u8>>) -> Body {
        Body::with(BodyContent::Binary(bytes.into()))
    }

    fn with(content: BodyContent) -> Body {
        Body {
            content,
            truncated: false,
            size: None,
            decoded_from: None,
        }
    }

    /// Classifies raw (already decoded) bytes: JSON when the content type says so or the bytes
    /// look like it and parse without loss, text when they are printable UTF-8, else binary.
    pub fn from_bytes(bytes: &[u8], content_type: Option<&str>) -> Body {
        Body::with(classify(bytes, content_type))
    }

    /// A body of which only `prefix` was kept out of `size` bytes. A prefix is never JSON; a
    /// UTF-8 sequence cut at the end is dropped so the prefix can still be stored as text.
    pub fn truncated(prefix: &[u8], size: u64, content_type: Option<&str>) -> Body {
        let stored = match std::str::from_utf8(prefix) {
            Err(e) if e.error_len().is_none() => &prefix[..e.valid_up_to()],
            _ => prefix,
        };
        let content = match classify(stored, content_type) {
            BodyContent::Json(_) => BodyContent::Text(String::from_utf8_lossy(stored).into_owned()),
            other => other,
        };
        Body {
            content,
            truncated: true,
            size: Some(size),
            decoded_from: None,
        }
    }

    /// Notes that the body was stored decoded from `encoding` (its `content-encoding`).
    pub fn decoded_from(mut self, encoding: impl Into<String>) -> Body {
        self.decoded_from = Some(encoding.into());
        self
    }

    /// The bytes to send when replaying. JSON is written compactly.
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.content {
            BodyContent::Json(v) => serde_json::to_vec(v).expect("a JSON value always serializes"),
            BodyContent::Text(t) => t.as_bytes().to_vec(),
            BodyContent::Binary(b) => b.clone(),
        }
    }

    /// The JSON value, when the body is stored as JSON.
    pub fn as_json(&self) -> Option<&serde_json::Value> {
        match &self.content {
            BodyContent::Json(v) => Some(v),
            _ => None,
        }
    }

    /// The text, when the body is stored as text (a JSON body is not).
    pub fn as_text(&self) -> Option<&str> {
        match &self.content {
            BodyContent::Text(t) => Some(t),
            _ => None,
        }
    }
}

fn classify(bytes: &[u8], content_type: Option<&str>) -> BodyContent {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let says_json = ct.contains("json");
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let looks_json = matches!(first, Some(b'{') | Some(b'['));
    if (says_json || looks_json) && numbers_are_exact(bytes) {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
            // A bare scalar is only JSON if the content type says so; `"abc"` in a text/plain
            // body is text.
            if says_json || value.is_object() || value.is_array() {
                return BodyContent::Json(value);
            }
        }
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if is_printable(text) => BodyContent::Text(text.to_string()),
        _ => BodyContent::Binary(bytes.to_vec()),
    }
}

fn is_printable(text: &str) -> bool {
    text.chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
}

/// True when every number in a JSON text survives parsing into `serde_json::Value` exactly:
/// integers within 64 bits and floats of at most 15 significant digits. Larger numbers (order
/// ids from some backends) would be rounded, and a replay would then send a different id, so
/// such a body is kept as text instead.
fn numbers_are_exact(bytes: &[u8]) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
            {
                i += 1;
            }
            let token = &bytes[start..i];
            let is_float = token.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
            let token = std::str::from_utf8(token).unwrap_or("");
            if is_float {
                let digits = token
                    .split(['e', 'E'])
                    .next()
                    .unwrap_or("")
                    .bytes()
                    .filter(u8::is_ascii_digit)
                    .skip_while(|&d| d == b'0')
                    .count();
                if digits > 15 {
                    return false;
                }
            } else if token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                return false;
            }
            continue;
        }
        i += 1;
    }
    true
}

/// The on-disk shape: exactly one of `json`, `text`, `base64`, plus the flags.
#[derive(Serialize)]
struct RawBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    json: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decoded_from: Option<String>,
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut raw = RawBody {
            json: None,
            text: None,
            base64: None,
            truncated: self.truncated,
            size: self.size,
            decoded_from: self.decoded_from.clone(),
        };
        match &self.content {
            BodyContent::Json(v) => raw.json = Some(v.clone()),
            BodyContent::Text(t) => raw.text = Some(t.clone()),
            BodyContent::Binary(b) => raw.base64 = Some(BASE64.encode(b)),
        }
        raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Body, D::Error> {
        d.deserialize_map(BodyVisitor)
    }
}

/// Reads a body mapping key by key, so that a problem is reported while the parser is still at
/// the offending key (serde_yaml then points at the right line).
struct BodyVisitor;

impl<'de> serde::de::Visitor<'de> for BodyVisitor {
    type Value = Body;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a body mapping: {json: ...}, {text: ...} or {base64: ...}")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
        use serde::de::Error as _;
        let mut content = None;
        let mut body = Body::text("");
        let set = |content: &mut Option<BodyContent>, c: BodyContent| {
            if content.is_some() {
                return Err(A::Error::custom(
                    "a body has exactly one of `json`, `text` or `base64`, not several",
                ));
            }
            *content = Some(c);
            Ok(())
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "json" => set(&mut content, BodyContent::Json(map.next_value()?))?,
                "text" => set(&mut content, BodyContent::Text(map.next_value()?))?,
                "base64" => {
                    let b64: String = map.next_value()?;
                    let bytes = BASE64.decode(b64.trim().as_bytes()).map_err(|e| {
                        A::Error::custom(format!("`base64` is not valid base64: {e}"))
                    })?;
                    set(&mut content, BodyContent::Binary(bytes))?
                }
                "truncated" => body.truncated = map.next_value()?,
                "size" => body.size = map.next_value()?,
                "decoded_from" => body.decoded_from = map.next_value()?,
                other => {
                    return Err(A::Error::unknown_field(
                        other,
                        &[
                            "json",
                            "text",
                            "base64",
                            "truncated",
                            "size",
                            "decoded_from",
                        ],
                    ))
                }
            }
        }
        body.content = content
            .ok_or_else(|| A::Error::custom("a body needs one of `json`, `text` or `base64`"))?;
        Ok(body)
    }
}

/// The base64 alphabet bodies are stored in (standard, padded); templates' `base64()` uses it too.
pub const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_is_recognised_by_type_or_shape() {
        let b = Body::from_bytes(br#"{"b":1,"a":[true,null]}"#, None);
        assert_eq!(
            b.content,
            BodyContent::Json(json!({"b": 1, "a": [true, null]}))
        );
        let b = Body::from_bytes(b"42", Some("application/json; charset=utf-8"));
        assert_eq!(b.content, BodyContent::Json(json!(42)));
        let b = Body::from_bytes(b"42", Some("text/plain"));
        assert_eq!(b.content, BodyContent::Text("42".into()));
    }

    #[test]
    fn key_order_is_kept() {
        let b = Body::from_bytes(br#"{"z":1,"a":2,"m":3}"#, None);
        assert_eq!(
            String::from_utf8(b.to_bytes()).unwrap(),
            r#"{"z":1,"a":2,"m":3}"#
        );
    }

    #[test]
    fn numbers_that_would_round_keep_the_body_as_text() {
        let raw = br#"{"order_id": 123456789012345678901234, "ok": true}"#;
        let b = Body::from_bytes(raw, Some("application/json"));
        assert_eq!(
            b.content,
            BodyContent::Text(String::from_utf8(raw.to_vec()).unwrap())
        );
        let b = Body::from_bytes(
            br#"{"pi": 3.14159, "n": -12, "big": 18446744073709551615}"#,
            None,
        );
        assert!(matches!(b.content, BodyContent::Json(_)));
        let b = Body::from_bytes(br#"{"x": 0.12345678901234567}"#, None);
        assert!(matches!(b.content, BodyContent::Text(_)));
        // Digits inside strings are not numbers.
        let b = Body::from_bytes(br#"{"s": "123456789012345678901234567"}"#, None);
        assert!(matches!(b.content, BodyContent::Json(_)));
    }

    #[test]
    fn text_and_binary() {
        assert_eq!(
            Body::from_bytes(b"a=1&b=2", None).content,
            BodyContent::Text("a=1&b=2".into())
        );
        assert_eq!(
            Body::from_bytes(b"{not json", None).content,
            BodyContent::Text("{not json".into())
        );
        let bin = [0u8, 159, 146, 150, 1, 2];
        assert_eq!(
            Body::from_bytes(&bin, None).content,
            BodyContent::Binary(bin.to_vec())
        );
        assert_eq!(
            Body::from_bytes(b"\x00\x01abc", None).content,
            BodyContent::Binary(b"\x00\x01abc".to_vec())
        );
    }

    #[test]
    fn truncation_keeps_a_clean_text_prefix() {
        let text = "héllo wörld".as_bytes();
        // Cut inside the two-byte 'ö'.
        let cut = &text[..9];
        let b = Body::truncated(cut, text.len() as u64, Some("text/plain"));
        assert_eq!(b.content, BodyContent::Text("héllo w".into()));
        assert!(b.truncated);
        assert_eq!(b.size, Some(text.len() as u64));
        let b = Body::truncated(br#"{"a": 1, "b""#, 100, Some("application/json"));
        assert_eq!(b.content, BodyContent::Text(r#"{"a": 1, "b""#.into()));
    }
}
