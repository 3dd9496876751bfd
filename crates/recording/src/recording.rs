//! The `recording/v1` data model: what one recorded HTTP exchange holds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::body::Body;

/// The value of the header document's `loadtape` key.
pub const RECORDING_V1: &str = "recording/v1";

/// The first document of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingHeader {
    pub loadtape: String,
    pub name: String,
    pub created: DateTime<Utc>,
}

impl RecordingHeader {
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
    pub id: u64,
    pub started: DateTime<Utc>,
    pub duration_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    pub request: Request,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub method: String,
    /// Absolute URL as the client meant it (scheme, authority, path and query).
    pub url: String,
    /// `HTTP/1.0`, `HTTP/1.1`, `HTTP/2.0`: the version this side really spoke.
    pub version: String,
    #[serde(default)]
    pub headers: Headers,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub status: u16,
    pub version: String,
    #[serde(default)]
    pub headers: Headers,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

/// Header fields as ordered `[name, value]` pairs: order and repeats (`Set-Cookie`) are kept,
/// which a map would lose. Names are stored as received (HTTP/2 sends them lower-case).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

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

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

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
