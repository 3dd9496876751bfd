//! Building answers: fixed JSON and HTML bodies, serialised JSON, bounded request bodies, and
//! gzip for the JSON answers large enough to gain from it.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, SERVER, VARY};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Serialize;

use crate::body::Body;
use crate::gzip;

/// Request bodies above this size are refused with 413 before they are buffered.
pub const MAX_BODY: usize = 1 << 20;

/// JSON bodies above this size are gzip-encoded when the client accepts it. Below it the gzip
/// framing (18 bytes) and the CPU are not worth the few bytes saved; above it sit the goods list
/// and `/stats`, the answers a real backend would compress.
pub(super) const GZIP_MIN: usize = 256;

/// The response type of every route.
pub(crate) type Resp = Response<Body>;

pub(super) const TOO_LARGE: &[u8] = br#"{"errcode":413,"errmsg":"request body too large"}"#;
pub(super) const BAD_BODY: &[u8] = br#"{"errcode":400,"errmsg":"could not read request body"}"#;

pub(super) enum BodyError {
    TooLarge,
    Read,
    Json,
}

/// Buffers at most [`MAX_BODY`] bytes of `body` and parses them as `T`.
pub(super) async fn read_json<T, B>(body: B) -> Result<T, BodyError>
where
    T: serde::de::DeserializeOwned,
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let bytes = read_bytes(body).await?;
    serde_json::from_slice(&bytes).map_err(|_| BodyError::Json)
}

/// Buffers at most [`MAX_BODY`] bytes of `body`.
pub(super) async fn read_bytes<B>(body: B) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // A declared Content-Length over the cap is refused before reading a byte of it.
    if body.size_hint().lower() > MAX_BODY as u64 {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Read),
    }
}

pub(super) fn with_headers(status: StatusCode, content_type: &'static str, body: Body) -> Resp {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(SERVER, HeaderValue::from_static("loadtape-testbed"));
    resp
}

/// A fixed JSON answer: no allocation.
pub(super) fn json(status: StatusCode, body: &'static [u8]) -> Resp {
    with_headers(
        status,
        "application/json",
        Body::full(Bytes::from_static(body)),
    )
}

pub(super) fn to_json<T: Serialize>(value: &T) -> Resp {
    match serde_json::to_vec(value) {
        Ok(v) => with_headers(StatusCode::OK, "application/json", Body::full(v.into())),
        // Only reachable through a bug in a Serialize impl; still no panic.
        Err(_) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"errcode":500,"errmsg":"internal error"}"#,
        ),
    }
}

pub(super) fn html(page: &'static str) -> Resp {
    with_headers(
        StatusCode::OK,
        "text/html; charset=utf-8",
        Body::full(Bytes::from_static(page.as_bytes())),
    )
}

/// The last step for every answer: a JSON body over [`GZIP_MIN`] says `vary: accept-encoding`
/// (its encoding depends on that header, compressed or not, so a cache must key on it) and is
/// gzip-encoded when `request` accepts gzip. Everything else passes untouched.
pub(super) fn encode(mut resp: Resp, request: &HeaderMap) -> Resp {
    let body = match resp.body().as_full() {
        Some(b) if b.len() > GZIP_MIN => b.clone(),
        _ => return resp,
    };
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v == "application/json");
    if !is_json {
        return resp;
    }
    resp.headers_mut()
        .insert(VARY, HeaderValue::from_static("accept-encoding"));
    if !gzip::accepts(request) {
        return resp;
    }
    if let Some(z) = gzip::compress(&body) {
        *resp.body_mut() = Body::full(z.into());
        resp.headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}
