//! The HAR 1.2 shapes as real exporters write them, for reading.
//!
//! HAR files in the wild bend the spec in small ways: Chrome adds `_`-prefixed fields and writes
//! `-1` for sizes it does not know, Charles writes `null` where a string belongs, mitmproxy
//! leaves `content` empty for a failed request, k6 Studio leaves `startedDateTime` empty when it
//! has no timestamp, some tools write numbers as strings. The types here accept all of that
//! (unknown fields are ignored, `null` means "absent", scalars are coerced), and reject only
//! what cannot be understood: a value of the wrong kind where a value is needed, an unparseable
//! date, an impossible status. Such checks run while deserializing, so serde_path_to_error and
//! serde_json report them with the JSON path and the line of the offending value.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub(super) struct HarFile {
    pub log: Log,
}

#[derive(Debug, Deserialize)]
pub(super) struct Log {
    #[serde(default)]
    pub creator: Option<Creator>,
    pub entries: Vec<Entry>,
    /// The pages entries refer to (`pageref`): with two or more, each is a group. Tools
    /// write `null` or odd shapes here (Charles); those are no pages.
    #[serde(default, deserialize_with = "lenient_pages")]
    pub pages: Vec<Page>,
    /// Written by `loadtape har export`, so a round trip keeps the recording's own header.
    #[serde(default, rename = "_loadtapeRecording")]
    pub recording: Option<RecordingMeta>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Creator {
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RecordingMeta {
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Entry {
    #[serde(default, rename = "startedDateTime", deserialize_with = "opt_time")]
    pub started: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub time: Option<f64>,
    pub request: HarRequest,
    #[serde(default)]
    pub response: Option<HarResponse>,
    #[serde(default)]
    pub timings: Option<Timings>,
    /// Chrome and some proxies put the failure here rather than on the response.
    #[serde(default, rename = "_error", deserialize_with = "opt_string")]
    pub error: Option<String>,
    #[serde(default, rename = "_loadtapeId", deserialize_with = "opt_f64")]
    pub id: Option<f64>,
    #[serde(default, rename = "_loadtapeClient", deserialize_with = "opt_string")]
    pub client: Option<String>,
    #[serde(default, rename = "pageref", deserialize_with = "opt_string")]
    pub pageref: Option<String>,
    #[serde(default, rename = "_loadtapeTester", deserialize_with = "opt_string")]
    pub tester: Option<String>,
    #[serde(default, rename = "_loadtapeGroup", deserialize_with = "opt_string")]
    pub group: Option<String>,
}

fn lenient_pages<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Page>, D::Error> {
    let v = Value::deserialize(d)?;
    let Value::Array(items) = v else {
        return Ok(Vec::new());
    };
    Ok(items
        .into_iter()
        .filter_map(|p| serde_json::from_value(p).ok())
        .collect())
}

/// A HAR page: what a browser loaded, or (exported by loadtape) a group of the recording.
#[derive(Debug, Deserialize)]
pub(super) struct Page {
    #[serde(default, deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub title: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Timings {
    #[serde(default, deserialize_with = "opt_f64")]
    pub blocked: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub dns: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub connect: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub send: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub wait: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub receive: Option<f64>,
    // `ssl` is part of `connect` in HAR 1.2, so it is not summed.
}

#[derive(Debug, Deserialize)]
pub(super) struct HarRequest {
    #[serde(deserialize_with = "method")]
    pub method: String,
    #[serde(deserialize_with = "url")]
    pub url: String,
    #[serde(default, rename = "httpVersion", deserialize_with = "opt_string")]
    pub http_version: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub headers: Vec<NameValue>,
    #[serde(default, rename = "queryString", deserialize_with = "nullable")]
    pub query: Vec<NameValue>,
    #[serde(default, deserialize_with = "nullable")]
    pub cookies: Vec<Cookie>,
    #[serde(default, rename = "postData")]
    pub post_data: Option<PostData>,
}

#[derive(Debug, Deserialize)]
pub(super) struct HarResponse {
    #[serde(default, deserialize_with = "status")]
    pub status: u16,
    #[serde(default, rename = "statusText", deserialize_with = "opt_string")]
    pub status_text: Option<String>,
    #[serde(default, rename = "httpVersion", deserialize_with = "opt_string")]
    pub http_version: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub headers: Vec<NameValue>,
    #[serde(default, deserialize_with = "nullable")]
    pub cookies: Vec<Cookie>,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default, rename = "_error", deserialize_with = "opt_string")]
    pub error: Option<String>,
    /// Charles explains a failed request here.
    #[serde(default, deserialize_with = "opt_string")]
    pub comment: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct NameValue {
    #[serde(deserialize_with = "string")]
    pub name: String,
    #[serde(default, deserialize_with = "opt_string")]
    pub value: Option<String>,
    /// `params` entries of a multipart upload.
    #[serde(default, rename = "fileName", deserialize_with = "opt_string")]
    pub file_name: Option<String>,
    #[serde(default, rename = "contentType", deserialize_with = "opt_string")]
    pub content_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Cookie {
    #[serde(deserialize_with = "string")]
    pub name: String,
    #[serde(default, deserialize_with = "opt_string")]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub path: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub domain: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub expires: Option<String>,
    #[serde(default, rename = "httpOnly", deserialize_with = "opt_bool")]
    pub http_only: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub secure: Option<bool>,
    #[serde(default, rename = "sameSite", deserialize_with = "opt_string")]
    pub same_site: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct PostData {
    #[serde(default, rename = "mimeType", deserialize_with = "opt_string")]
    pub mime_type: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub text: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub params: Vec<NameValue>,
    /// Not in HAR 1.2, but written by some tools (and by `loadtape har export`) for binary
    /// request bodies.
    #[serde(default, deserialize_with = "opt_string")]
    pub encoding: Option<String>,
    #[serde(default, rename = "_loadtapeTruncated", deserialize_with = "opt_f64")]
    pub truncated_size: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Content {
    #[serde(default, rename = "mimeType", deserialize_with = "opt_string")]
    pub mime_type: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub text: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub encoding: Option<String>,
    /// The real size of a body the recorder cut short (`loadtape har export` writes it).
    #[serde(default, rename = "_loadtapeTruncated", deserialize_with = "opt_f64")]
    pub truncated_size: Option<f64>,
}

/// `null` (or absence, with `#[serde(default)]`) becomes the type's default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A string; numbers and booleans are taken as their text, `null` as absent.
fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(D::Error::custom(format!(
            "expected a string, found {}",
            kind(&other)
        ))),
    }
}

fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_string(d)?.ok_or_else(|| D::Error::custom("expected a string, found null"))
}

fn method<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let m = string(d)?;
    let is_token = !m.is_empty()
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if is_token {
        Ok(m)
    } else {
        Err(D::Error::custom(format!(
            "`{m}` is not an HTTP method (expected a token such as GET or POST)"
        )))
    }
}

/// An absolute `http(s)://` or `ws(s)://` URL with a host; a path (`/...`, resolved later from
/// the `:authority` or `Host` header); or `host:port` (a CONNECT tunnel, skipped later).
fn url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let u = string(d)?;
    let u = u.trim().to_string();
    if u.starts_with('/') {
        return Ok(u);
    }
    if let Some((scheme, rest)) = u.split_once("://") {
        let known = ["http", "https", "ws", "wss"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(scheme));
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        if !known {
            return Err(D::Error::custom(format!(
                "unsupported URL scheme `{scheme}` in `{u}` (expected http, https, ws or wss)"
            )));
        }
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(D::Error::custom(format!("the URL `{u}` has no valid host")));
        }
        return Ok(u);
    }
    let authority_like = !u.is_empty()
        && u.rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
    if authority_like {
        return Ok(u);
    }
    Err(D::Error::custom(format!(
        "`{u}` is not an absolute URL (expected e.g. https://host/path)"
    )))
}

/// A number; a numeric string counts, `null` is absent.
fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("expected a number, found `{s}`"))),
        other => Err(D::Error::custom(format!(
            "expected a number, found {}",
            kind(&other)
        ))),
    }
}

fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => Some(s.eq_ignore_ascii_case("true")),
        Value::Number(n) => Some(n.as_f64().is_some_and(|n| n != 0.0)),
        _ => None,
    })
}

/// 0 (no response, as Chrome and mitmproxy write it) or a three-digit status. Missing or
/// `null` is 0 too.
fn status<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let Some(n) = opt_f64(d)? else {
        return Ok(0);
    };
    if n == -1.0 || n == 0.0 {
        return Ok(0);
    }
    if n.fract() == 0.0 && (100.0..=999.0).contains(&n) {
        return Ok(n as u16);
    }
    Err(D::Error::custom(format!(
        "{n} is not an HTTP status (expected 100 to 999, or 0 for no response)"
    )))
}

/// RFC 3339 as the spec asks, plus what exporters write instead: an offset without a colon
/// (`+0800`), seven fractional digits (Fiddler), no offset at all (taken as UTC). An empty
/// string (k6 Studio without a timestamp) is absent.
fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(s) = opt_string(d)? else {
        return Ok(None);
    };
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    parse_time(s).map(Some).ok_or_else(|| {
        D::Error::custom(format!(
            "`{s}` is not a date-time (expected ISO 8601, e.g. 2026-11-21T10:00:01.123Z)"
        ))
    })
}

pub(super) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let with_offset = ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"];
    for f in with_offset {
        if let Ok(t) = DateTime::<FixedOffset>::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    None
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
