//! Endpoints that model no business, only the shape of traffic: a big download (`/blob`) for
//! proxy tests of streaming and back-pressure, and a late answer (`/slow`) for timeouts and
//! latency accounting. Neither needs a token, and a stall does not hold them.

use std::time::Duration;

use http::header::{HeaderValue, CONTENT_LENGTH};
use http::StatusCode;
use serde::Serialize;

use super::reply::{json, to_json, with_headers, Resp};
use crate::body::{Blob, Body};
use crate::query;

/// The largest `/blob` download.
pub(super) const MAX_BLOB: u64 = 1 << 30;
/// `/blob` without `?bytes=`.
pub(super) const DEFAULT_BLOB: u64 = 1 << 20;
/// The longest `/slow` sleep, in ms.
pub(super) const MAX_SLOW_MS: u64 = 60_000;

const INVALID_BYTES: &[u8] = br#"{"errcode":400,"errmsg":"invalid bytes"}"#;
const INVALID_MS: &[u8] = br#"{"errcode":400,"errmsg":"invalid ms"}"#;

#[derive(Serialize)]
struct SlowResp {
    errcode: u32,
    slept_ms: u64,
}

/// `GET /blob?bytes=N`: N bytes (0 ≤ N ≤ 1 GiB, default 1 MiB) of the pattern in
/// [`crate::body`], with a `content-length`, streamed in 64 KiB frames as the client reads
/// them — never held in memory whole, so a slow reader costs the server nothing but a socket.
pub(super) fn blob(query: Option<&str>) -> Resp {
    let len = match query::param(query, "bytes") {
        None => Some(DEFAULT_BLOB),
        Some(n) => n.parse::<u64>().ok().filter(|&n| n <= MAX_BLOB),
    };
    let Some(len) = len else {
        return json(StatusCode::BAD_REQUEST, INVALID_BYTES);
    };
    let mut resp = with_headers(
        StatusCode::OK,
        "application/octet-stream",
        Body::Blob(Blob::new(len)),
    );
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// `GET /slow?ms=N` (0 ≤ N ≤ 60000, required): answers after N ms. The sleep is in this
/// request's task, so other requests — on other connections, or other HTTP/2 streams of this
/// one — are answered meanwhile.
pub(super) async fn slow(query: Option<&str>) -> Resp {
    let ms = query::param(query, "ms")
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|&n| n <= MAX_SLOW_MS);
    let Some(ms) = ms else {
        return json(StatusCode::BAD_REQUEST, INVALID_MS);
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    to_json(&SlowResp {
        errcode: 0,
        slept_ms: ms,
    })
}
