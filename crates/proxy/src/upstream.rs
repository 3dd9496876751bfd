//! The proxy's client side: connections to the real servers.
//!
//! Each client connection gets its own upstream connections, opened when its first request
//! needs them and closed with it, the way mitmproxy pairs them. A phone's keep-alive
//! connection is then one keep-alive connection upstream too (HTTP/2 or HTTP/1.1, negotiated
//! by ALPN on its own, whatever the phone spoke), requests never wait on a global pool, and no
//! connection is opened speculatively. A connection no exchange has used for the upstream idle
//! timeout is closed. Certificates are verified against the system's roots (plus
//! `--upstream-ca`) unless `--insecure-upstream`.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use http::{header, HeaderValue, Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use loadtape_net::{DialError, Origin, Protocol, TlsConfig, CONNECT_TIMEOUT};
use rustls::ClientConfig;

use crate::body::ProxyBody;
use crate::idle::{Activity, Busy};

/// TLS settings for upstream connections, shared by every session.
pub(crate) struct Connector {
    /// Offers `h2` and `http/1.1`.
    any: TlsConfig,
    /// Offers `http/1.1` only: upgrades (WebSocket) need an HTTP/1.1 connection.
    http1: TlsConfig,
    /// How long a connection may go unused before it is closed.
    idle: Duration,
}

impl Connector {
    pub(crate) fn new(tls: ClientConfig, idle: Duration) -> Connector {
        Connector {
            any: TlsConfig::new(tls.clone(), &[b"h2", b"http/1.1"]),
            http1: TlsConfig::new(tls, &[b"http/1.1"]),
            idle,
        }
    }
}

/// Why an upstream exchange failed, in words for the tester.
#[derive(Debug)]
pub(crate) struct UpstreamError(pub String);

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn origin_of(uri: &Uri) -> Result<Origin, UpstreamError> {
    Origin::from_uri(uri).ok_or_else(|| UpstreamError("the URL has no host".into()))
}

/// A connection's request handle, and what tells its watchdog whether it is in use.
struct Conn<S> {
    sender: S,
    activity: Arc<Activity>,
}

type H1 = Conn<http1::SendRequest<ProxyBody>>;
type H2 = Conn<http2::SendRequest<ProxyBody>>;

enum Sender {
    H1(H1),
    H2(H2),
}

/// The upstream connections of one client connection.
pub(crate) struct Session {
    connector: Arc<Connector>,
    /// HTTP/2 connections are shared by every request; idle HTTP/1.1 ones wait here for the
    /// next. Only this client connection's requests touch it.
    slots: Mutex<HashMap<Origin, Slot>>,
}

#[derive(Default)]
struct Slot {
    h2: Option<H2>,
    idle_h1: Vec<H1>,
}

/// A connection in use by one exchange until its response body has been read: it is not
/// closed as idle meanwhile, and an HTTP/1.1 one goes back to the session on
/// [`release`](Lease::release) (dropped instead, it closes).
pub(crate) struct Lease {
    _busy: Busy,
    h1: Option<(Arc<Session>, Origin, H1)>,
}

impl Lease {
    /// The response was read to its end: an HTTP/1.1 connection is ready for the next request.
    pub(crate) fn release(self) {
        let Some((session, origin, conn)) = self.h1 else {
            return;
        };
        let mut slots = session.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(origin).or_default().idle_h1.push(conn);
    }
}

impl Session {
    pub(crate) fn new(connector: Arc<Connector>) -> Arc<Session> {
        Arc::new(Session {
            connector,
            slots: Mutex::new(HashMap::new()),
        })
    }

    /// Sends `req` (an absolute URI) upstream. An HTTP/1.1 connection comes back as a lease
    /// to release once the response body is done. `upgrade` asks for a fresh HTTP/1.1
    /// connection with upgrades enabled (it is never reused).
    pub(crate) async fn send(
        self: &Arc<Self>,
        mut req: Request<ProxyBody>,
        upgrade: bool,
    ) -> Result<(Response<Incoming>, Option<Lease>), UpstreamError> {
        let origin = origin_of(req.uri())?;
        let uri = req.uri().clone();
        if upgrade {
            let (Sender::H1(mut conn), _busy) = self.connect(&origin, true).await? else {
                unreachable!("an upgrade connection offers only http/1.1")
            };
            prepare(&mut req, &origin, false);
            let response = conn
                .sender
                .send_request(req)
                .await
                .map_err(|e| failure(&origin, &e))?;
            return Ok((response, None));
        }
        // A kept connection may have been closed by the server since its last use: then the
        // request comes back unsent and goes out on a new connection.
        let mut attempts = 0;
        loop {
            attempts += 1;
            *req.uri_mut() = uri.clone();
            let cached = self.checkout(&origin);
            let ((sender, busy), fresh) = match cached {
                Some(cached) => (cached, false),
                None => (self.connect(&origin, false).await?, true),
            };
            match sender {
                Sender::H2(mut h2) => {
                    prepare(&mut req, &origin, true);
                    match h2.sender.try_send_request(req).await {
                        Ok(response) => {
                            let lease = Lease {
                                _busy: busy,
                                h1: None,
                            };
                            return Ok((response, Some(lease)));
                        }
                        Err(mut e) => match e.take_message() {
                            Some(unsent) if !fresh && attempts < 3 => {
                                self.forget_h2(&origin);
                                req = unsent;
                            }
                            _ => return Err(failure(&origin, &e.into_error())),
                        },
                    }
                }
                Sender::H1(mut h1) => {
                    prepare(&mut req, &origin, false);
                    if h1.sender.ready().await.is_err() && !fresh && attempts < 3 {
                        continue;
                    }
                    match h1.sender.try_send_request(req).await {
                        Ok(response) => {
                            let lease = Lease {
                                _busy: busy,
                                h1: Some((self.clone(), origin, h1)),
                            };
                            return Ok((response, Some(lease)));
                        }
                        Err(mut e) => match e.take_message() {
                            Some(unsent) if !fresh && attempts < 3 => req = unsent,
                            _ => return Err(failure(&origin, &e.into_error())),
                        },
                    }
                }
            }
        }
    }

    /// A kept connection to `origin`, marked busy before the lock is let go (so its watchdog
    /// cannot close it in between).
    fn checkout(&self, origin: &Origin) -> Option<(Sender, Busy)> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots.get_mut(origin)?;
        if let Some(h2) = &slot.h2 {
            if !h2.sender.is_closed() {
                let busy = h2.activity.busy();
                let conn = Conn {
                    sender: h2.sender.clone(),
                    activity: h2.activity.clone(),
                };
                return Some((Sender::H2(conn), busy));
            }
            slot.h2 = None;
        }
        while let Some(h1) = slot.idle_h1.pop() {
            if !h1.sender.is_closed() {
                let busy = h1.activity.busy();
                return Some((Sender::H1(h1), busy));
            }
        }
        None
    }

    fn forget_h2(&self, origin: &Origin) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get_mut(origin) {
            slot.h2 = None;
        }
    }

    /// A new connection to `origin`, busy for the exchange that asked for it. An HTTP/2 one is
    /// kept in the session for the requests after.
    async fn connect(
        &self,
        origin: &Origin,
        http1_only: bool,
    ) -> Result<(Sender, Busy), UpstreamError> {
        let tls = if http1_only {
            &self.connector.http1
        } else {
            &self.connector.any
        };
        let (stream, protocol) = loadtape_net::dial(origin, tls)
            .await
            .map_err(|e| dial_failure(origin, e))?;
        let activity = Activity::new();
        let busy = activity.busy();
        let idle = self.connector.idle;
        if protocol == Protocol::H2 {
            let (sender, conn) = http2::Builder::new(TokioExecutor::new())
                .handshake(TokioIo::new(stream))
                .await
                .map_err(|e| failure(origin, &e))?;
            tokio::spawn(until_idle(conn, activity.clone(), idle));
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(origin.clone()).or_default().h2 = Some(Conn {
                sender: sender.clone(),
                activity: activity.clone(),
            });
            Ok((Sender::H2(Conn { sender, activity }), busy))
        } else {
            let (sender, conn) = http1::Builder::new()
                .preserve_header_case(true)
                .handshake(TokioIo::new(stream))
                .await
                .map_err(|e| failure(origin, &e))?;
            if http1_only {
                // An upgrade: the connection leaves hyper with its 101, and is spliced.
                tokio::spawn(conn.with_upgrades());
            } else {
                tokio::spawn(until_idle(conn, activity.clone(), idle));
            }
            Ok((Sender::H1(Conn { sender, activity }), busy))
        }
    }
}

/// Drives an upstream connection until it ends, or until no exchange has used it for `idle`:
/// dropping it then closes it.
async fn until_idle<F: std::future::Future>(conn: F, activity: Arc<Activity>, idle: Duration) {
    tokio::select! {
        _ = conn => {}
        _ = activity.idle(idle) => {}
    }
}

/// Dialing failures as the tester reads them (`upstream: connect to host:port: …`).
fn dial_failure(origin: &Origin, e: DialError) -> UpstreamError {
    let (host, port) = (&origin.host, origin.port);
    let wait = CONNECT_TIMEOUT.as_secs();
    UpstreamError(match e {
        DialError::ConnectTimeout => {
            format!("connect to {host}:{port}: no answer within {wait}s")
        }
        DialError::Connect(e) => format!("connect to {host}:{port}: {e}"),
        DialError::ServerName => format!("`{host}` is not a valid TLS server name"),
        DialError::TlsTimeout => format!("TLS handshake with {host}: no answer within {wait}s"),
        DialError::Tls(e) => format!("TLS handshake with {host}: {}", chain(&e)),
    })
}

/// HTTP/2 takes the absolute URI (it becomes `:scheme` and `:authority`); HTTP/1.1 takes the
/// path and a `Host` header.
fn prepare(req: &mut Request<ProxyBody>, origin: &Origin, h2: bool) {
    if h2 {
        *req.version_mut() = Version::HTTP_2;
        req.headers_mut().remove(header::HOST);
        return;
    }
    *req.version_mut() = Version::HTTP_11;
    if !req.headers().contains_key(header::HOST) {
        if let Ok(v) = HeaderValue::from_str(&origin.authority()) {
            req.headers_mut().insert(header::HOST, v);
        }
    }
    if let Some(pq) = req.uri().path_and_query().cloned() {
        *req.uri_mut() = Uri::from(pq);
    }
}

fn failure(origin: &Origin, e: &hyper::Error) -> UpstreamError {
    UpstreamError(format!("{}:{}: {}", origin.host, origin.port, chain(e)))
}

/// An error and its causes on one line, each said once.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    parts.join(": ")
}

pub(crate) fn client_tls(extra_ca: Option<&Path>, insecure: bool) -> Result<ClientConfig> {
    let extra: Vec<_> = extra_ca.map(Path::to_path_buf).into_iter().collect();
    loadtape_net::tls::client_config("--upstream-ca", &extra, insecure).map_err(anyhow::Error::msg)
}
