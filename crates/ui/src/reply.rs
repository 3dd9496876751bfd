//! The responses the UI answers with: JSON, a file to download, an error that says what to do.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use loadtape_proxy::ProxyBody;

/// A body of `bytes`.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// `bytes` as `content_type`, never cached (the recording changes under it).
pub(crate) fn bytes(content_type: &'static str, body: impl Into<Bytes>) -> Response<ProxyBody> {
    let mut r = Response::new(full(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A JSON document.
pub(crate) fn json(value: &serde_json::Value) -> Response<ProxyBody> {
    bytes("application/json", value.to_string())
}

/// A download named `name`.
pub(crate) fn download(
    content_type: &'static str,
    name: &str,
    body: impl Into<Bytes>,
) -> Response<ProxyBody> {
    let mut r = bytes(content_type, body);
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// An error as JSON (`{"error": …}`), which the page shows as it is.
pub(crate) fn error(status: StatusCode, why: impl Into<String>) -> Response<ProxyBody> {
    let mut r = json(&serde_json::json!({ "error": why.into() }));
    *r.status_mut() = status;
    r
}
