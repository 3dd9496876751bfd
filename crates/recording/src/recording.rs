//! The `recording/v1` data model: what one recorded HTTP exchange holds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::body::Body;

/// The value of the header document's `loadtape` key.
pub const RECORDING_V1: &str = "recording/v1";

/// The first document of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingHeader {
    /// The format and its version, [`RECORDING_V1`]; a reader refuses any other value.
    pub loadtape: String,
    /// What the recording is of (`record --name`, else the file's stem); `convert` gives the
    /// scenario this name.
    pub name: String,
    /// When recording began (for an imported HAR, its first request).
    pub created: DateTime<Utc>,
}

impl RecordingHeader {
    /// A `recording/v1` header named `name`, created now: how the proxy starts a recording.
    pub fn new(name: impl Into<String>) -> RecordingHeader {
        RecordingHeader {
            loadtape: RECORDING_V1.to_string(),
            name: name.into(),
            created: Utc::now(),
        }
    }
}

/// One request and what became of it: a response, or an `error` when there was none (upstream
/// unreachable, TLS failure, client gone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// Names the exchange in messages. The proxy numbers requests from 1 as they arrive but
    /// writes exchanges as they complete, so ids need not be in file order.
    pub id: u64,
    /// When the request arrived.
    pub started: DateTime<Utc>,
    /// Milliseconds from the request's arrival to the end of the response body (or the
    /// failure).
    pub duration_ms: f64,
    /// The address of the device that sent the request, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The tester whose device sent it (`record --tester`: the proxy user name it
    /// authenticated with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tester: Option<String>,
    /// The flow it belongs to: the group its tester last marked (`http://loadtape.ca/mark/NAME`
    /// through the proxy, or a name typed in the proxy's terminal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// What the client asked.
    pub request: Request,
    /// The server's answer; absent when none came (then `error` says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    /// What went wrong: why there is no response, or that its body was interrupted. A reader
    /// requires `response`, `error` or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A drop: the exchange `dropped` is no longer part of the recording.
///
/// A recording is append-only (the proxy never rewrites what is on disk, so a crash cannot
/// lose what was already written), so removing an exchange while recording (the recorder's
/// UI) appends this document instead:
///
/// ```yaml
/// ---
/// dropped: 12
/// at: 2026-12-07T15:04:05.123Z
/// ...
/// ```
///
/// It names an exchange by `id` and drops every earlier document with that id; the reader
/// leaves those out of [`Recording::exchanges`](crate::Recording), so `tokens`, `convert`,
/// the HAR export and `verify` never see them. The format stays `recording/v1`: a file
/// without drops is byte for byte what it was, and a reader from before drops refuses a
/// file with one (it is not an exchange: no `request`) instead of replaying what was dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tombstone {
    /// The `id` of the exchange dropped.
    pub dropped: u64,
    /// When it was dropped.
    pub at: DateTime<Utc>,
}

/// A request as the client sent it: the material `convert` turns into scenario steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The method as sent (`GET`, `POST`, …).
    pub method: String,
    /// Absolute URL as the client meant it (scheme, authority, path and query).
    pub url: String,
    /// `HTTP/1.0`, `HTTP/1.1`, `HTTP/2.0`: the version this side really spoke.
    pub version: String,
    /// The request's header fields in the order sent (`[]` or absent when there are none).
    #[serde(default)]
    pub headers: Headers,
    /// The request body; absent when there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

/// The server's answer: where detection finds the values (tokens, ids) later requests send back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The version the server answered in, spelled as in [`Request::version`].
    pub version: String,
    /// The response's header fields as the server sent them, `content-encoding` included
    /// even though the body is stored decoded.
    #[serde(default)]
    pub headers: Headers,
    /// The response body; absent when there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

/// Header fields as ordered `[name, value]` pairs: order and repeats (`Set-Cookie`) are kept,
/// which a map would lose. Names are stored as received (HTTP/2 sends them lower-case).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// No header fields.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Adds a field after the others; an earlier field of the same name is kept, not replaced.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// The first value of a header, compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every `(name, value)` pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many fields there are, repeats counted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no fields (written as `headers: []`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Copies an `http::HeaderMap`, keeping its order and repeats. Values that are not valid
    /// UTF-8 (rare, but legal as obs-text) are kept as Latin-1, which is what they mean.
    pub fn from_http(map: &http::HeaderMap) -> Headers {
        Headers(
            map.iter()
                .map(|(name, value)| {
                    let value = match value.to_str() {
                        Ok(v) => v.to_string(),
                        Err(_) => value.as_bytes().iter().map(|&b| b as char).collect(),
                    };
                    (name.as_str().to_string(), value)
                })
                .collect(),
        )
    }
}

impl FromIterator<(String, String)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Headers {
        Headers(iter.into_iter().collect())
    }
}

/// The spelling the format uses for an HTTP version.
pub fn version_str(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_11 => "HTTP/1.1",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}
