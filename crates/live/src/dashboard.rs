//! The live dashboard: `GET /` (one self-contained page, `dashboard.html`: no external
//! resource, so it works on a closed network), `GET /events` (server-sent events, one JSON
//! snapshot per second and the final one last, then the stream ends) and `GET /snapshot`
//! (the latest snapshot's JSON, for scripts and curl).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::channel::Channel;
use http_body_util::Full;
use tokio::sync::watch;

use crate::body::{response, Boxed};
use crate::json::snapshot;
use crate::state::State;

/// The page, as shipped in the binary.
const PAGE: &str = include_str!("dashboard.html");

/// `GET /`.
pub(crate) fn page() -> http::Response<Boxed> {
    response(
        200,
        "text/html; charset=utf-8",
        Full::new(Bytes::from_static(PAGE.as_bytes())),
    )
}

/// `GET /snapshot`.
pub(crate) fn latest(state: &State) -> http::Response<Boxed> {
    let s = state.feed.borrow().clone();
    response(
        200,
        "application/json",
        Full::new(Bytes::from(snapshot(&s).to_string())),
    )
}

/// `GET /events`: a task writes each new snapshot as an event, the final one last; it ends
/// early when the reader goes away or the server shuts down.
pub(crate) fn events(
    state: &Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) -> http::Response<Boxed> {
    let (mut tx, body) = Channel::<Bytes, Infallible>::new(2);
    let state = state.clone();
    state.stream_opened();
    tokio::spawn(async move {
        let mut feed = state.feed.clone();
        // Reconnect quickly if the connection drops mid-run.
        let mut event = String::from("retry: 1000\n");
        loop {
            let s = feed.borrow_and_update().clone();
            event.push_str(&format!("data: {}\n\n", snapshot(&s)));
            if tx
                .send_data(Bytes::from(std::mem::take(&mut event)))
                .await
                .is_err()
                || s.finished
            {
                break;
            }
            tokio::select! {
                changed = feed.changed() => if changed.is_err() { break },
                _ = shutdown.changed() => break,
            }
        }
        state.stream_done();
    });
    let mut r = response(200, "text/event-stream", body);
    r.headers_mut().insert(
        http::header::HeaderName::from_static("x-accel-buffering"),
        http::HeaderValue::from_static("no"),
    );
    r
}
