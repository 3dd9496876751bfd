//! The HTTP side: an accept loop on the server's own thread and runtime (the engine's workers
//! keep theirs to themselves), HTTP/1.1 connections, the routes of each [`Role`], and a
//! graceful stop that lets responses in flight (the last scrape, the final event) finish.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::body::{text, Boxed};
use crate::state::Role;
use crate::state::State;

/// How long connections get to finish what they are sending once the server stops.
const GRACE: Duration = Duration::from_secs(2);

/// Serves `role` on `listener` until `shutdown` turns true, then waits (up to [`GRACE`]) for
/// the open connections to finish their responses.
pub(crate) async fn serve(
    listener: TcpListener,
    role: Role,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopping(&mut shutdown) => break,
        };
        match accepted {
            Ok((stream, _)) => {
                let state = state.clone();
                let shutdown = shutdown.clone();
                tracker.spawn(connection(stream, role, state, shutdown));
            }
            // Out of descriptors or a connection reset before it was accepted: try again
            // shortly rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    tracker.close();
    let _ = tokio::time::timeout(GRACE, tracker.wait()).await;
}

async fn connection(
    stream: tokio::net::TcpStream,
    role: Role,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let stop = shutdown.clone();
    let service = service_fn(move |req: http::Request<Incoming>| {
        let r = route(role, &state, &req, stop.clone());
        async move { Ok::<_, Infallible>(r) }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopping(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.as_mut().await;
        }
    }
}

/// Resolves once the server is to stop (at once if it already is).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn route(
    role: Role,
    state: &Arc<State>,
    req: &http::Request<Incoming>,
    shutdown: watch::Receiver<bool>,
) -> http::Response<Boxed> {
    if req.method() != http::Method::GET {
        return text(405, "only GET\n");
    }
    let path = req.uri().path();
    match (role, path) {
        (Role::Metrics, "/metrics") => {
            let accept = req
                .headers()
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            crate::scrape::scrape(state, accept)
        }
        (Role::Metrics, _) => text(404, "loadtape: the metrics are at /metrics\n"),
        (Role::Dashboard, "/") => crate::dashboard::page(),
        (Role::Dashboard, "/events") => crate::dashboard::events(state, shutdown),
        (Role::Dashboard, "/snapshot") => crate::dashboard::latest(state),
        (Role::Dashboard, _) => text(404, "loadtape: the dashboard is at /\n"),
    }
}
