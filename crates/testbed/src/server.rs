//! Accepting connections and serving them, with a bounded graceful shutdown.
//!
//! One task accepts; each connection gets its own task (TLS handshake included, so a slow
//! handshake never holds up the accept loop). `hyper_util`'s auto builder sniffs the HTTP/2
//! preface, so one listener serves HTTP/1.1, h2 over TLS (ALPN) and h2c with prior knowledge.
//!
//! Shutdown is a `watch` channel: the accept loop stops, every connection is told to finish its
//! in-flight requests and close (HTTP/2 GOAWAY, HTTP/1 close after the current response), and
//! whatever is still open after [`GRACE`] is aborted. Dropping the sender (the `Testbed`) is the
//! same signal, so a forgotten testbed does not keep a port open.

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::handlers::App;

/// How long shutdown waits for open connections before aborting them.
pub const GRACE: Duration = Duration::from_secs(2);
/// A client that has not finished the TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Spawns the accept loop on the current runtime.
pub(crate) fn spawn(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    tokio::spawn(accept_loop(listener, tls, Arc::new(builder), app, shutdown))
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    app.counters.connection();
                    conns.spawn(connection(
                        stream,
                        tls.clone(),
                        builder.clone(),
                        app.clone(),
                        shutdown.clone(),
                    ));
                }
                // Out of file descriptors and the like: back off instead of spinning, and keep
                // serving the connections already open.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            // Reap finished connections so the set does not grow with the connection count.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            // A sent value or a dropped sender: either way, stop.
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let drained =
        tokio::time::timeout(GRACE, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}

async fn connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: Arc<App>,
    shutdown: watch::Receiver<bool>,
) {
    // Responses are small and latency is what a load test measures.
    let _ = stream.set_nodelay(true);
    match tls {
        None => serve(stream, &builder, app, shutdown).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
            // On failure (a client that does not trust our CA, a port scanner, a timeout)
            // there is nobody to answer: just close.
            if let Ok(Ok(tls_stream)) = handshake.await {
                serve(tls_stream, &builder, app, shutdown).await;
            }
        }
    }
}

async fn serve<I>(
    io: I,
    builder: &auto::Builder<TokioExecutor>,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let app = app.clone();
        async move { app.handle(req).await }
    });
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        // Client errors (resets, garbage) end the connection; nothing to report.
        _ = conn.as_mut() => return,
        _ = shutdown.changed() => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}
