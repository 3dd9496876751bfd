//! The one response body type the servers answer with, and how a response is made.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt as _;

/// Any response body: a whole one, a counted one (`/metrics`), a stream (`/events`).
pub(crate) type Boxed = BoxBody<Bytes, Infallible>;

/// A response with `status`, `Content-Type` and `body`; never cached (every answer is a
/// moment of a run).
pub(crate) fn response<B>(status: u16, content_type: &str, body: B) -> http::Response<Boxed>
where
    B: http_body::Body<Data = Bytes, Error = Infallible> + Send + Sync + 'static,
{
    let mut r = http::Response::new(body.boxed());
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    r
}

/// A short text answer (404, 405, a pointer to the right path).
pub(crate) fn text(status: u16, text: &'static str) -> http::Response<Boxed> {
    response(
        status,
        "text/plain; charset=utf-8",
        http_body_util::Full::new(Bytes::from_static(text.as_bytes())),
    )
}
