//! The proxy's client side: connections to the real servers.
//!
//! Each client connection gets its own upstream connections, opened when its first request
//! needs them and closed with it, the way mitmproxy pairs them. A phone's keep-alive
//! connection is then one keep-alive connection upstream too (HTTP/2 or HTTP/1.1, negotiated
//! by ALPN on its own, whatever the phone spoke), requests never wait on a global pool, and no
//! connection is opened speculatively. Requests that arrive together for one origin wait for
//! the one dial in progress and share its connection when it is HTTP/2 (a client multiplexing
//! a thousand streams gets one upstream connection, not hundreds); an HTTP/1.1 origin gets a
//! connection per exchange in flight, at most [`MAX_H1_PER_ORIGIN`]. A connection no exchange
//! has used for the upstream idle timeout is closed. Certificates are verified against the system's roots (plus
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
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

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

/// HTTP/1.1 connections one client connection may have open to one origin, the exchanges
/// beyond waiting for one of them. Above what a real client runs at once (WeChat allows a mini
/// program 10 `wx.request`s in flight, browsers open 6 connections per host), so a phone never
/// waits on it; a load tool multiplexing hundreds of streams over one HTTP/2 connection to the
/// proxy queues instead of opening hundreds of upstream connections.
const MAX_H1_PER_ORIGIN: usize = 16;

/// A connection's request handle, and what tells its watchdog whether it is in use.
struct Conn<S> {
    sender: S,
    activity: Arc<Activity>,
}

type H1 = Conn<http1::SendRequest<ProxyBody>>;
type H2 = Conn<http2::SendRequest<ProxyBody>>;

impl H2 {
    fn share(&self) -> H2 {
        Conn {
            sender: self.sender.clone(),
            activity: self.activity.clone(),
        }
    }
}

enum Sender {
    H1(H1),
    H2(H2),
}

/// A connection for one exchange: busy for it, with its place among the origin's HTTP/1.1
/// connections. `fresh` when dialed for it (a failure then is not a stale connection's).
struct Ready {
    sender: Sender,
    busy: Busy,
    place: Option<OwnedSemaphorePermit>,
    fresh: bool,
}

/// The outcome of a dial others wait for: `None` while dialing, then the error, if any, that
/// they fail with too.
type Dialed = Option<Result<(), String>>;

/// The upstream connections of one client connection.
pub(crate) struct Session {
    connector: Arc<Connector>,
    /// Per origin: the HTTP/2 connection every request shares, the idle HTTP/1.1 ones. Only
    /// this client connection's requests touch it.
    slots: Mutex<HashMap<Origin, Slot>>,
}

struct Slot {
    h2: Option<H2>,
    idle_h1: Vec<H1>,
    /// The origin answered HTTP/1.1: each exchange needs a connection of its own.
    http1: bool,
    /// The dial in progress while the protocol is unknown or HTTP/2: the requests that come
    /// meanwhile wait for it (single flight) instead of each dialing.
    dialing: Option<watch::Receiver<Dialed>>,
    /// [`MAX_H1_PER_ORIGIN`] places; an HTTP/1.1 exchange holds one until it is done.
    h1_places: Arc<Semaphore>,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            h2: None,
            idle_h1: Vec::new(),
            http1: false,
            dialing: None,
            h1_places: Arc::new(Semaphore::new(MAX_H1_PER_ORIGIN)),
        }
    }
}

/// What a request does next to get a connection.
enum Step {
    Use(Ready),
    /// Wait for another request's dial.
    Wait(watch::Receiver<Dialed>),
    /// Dial, and tell the waiters how it went.
    Dial(watch::Sender<Dialed>),
    /// Take one of the origin's HTTP/1.1 places.
    Http1(Arc<Semaphore>),
}

/// A connection in use by one exchange until its response body has been read: it is not
/// closed as idle meanwhile, and an HTTP/1.1 one goes back to the session on
/// [`release`](Lease::release) (dropped instead, it closes), giving its place back after.
pub(crate) struct Lease {
    h1: Option<(Arc<Session>, Origin, H1)>,
    _place: Option<OwnedSemaphorePermit>,
    _busy: Busy,
}

impl Lease {
    /// The response was read to its end: an HTTP/1.1 connection is ready for the next request.
    pub(crate) fn release(self) {
        let Some((session, origin, conn)) = self.h1 else {
            return;
        };
        let mut slots = session.lock();
        slots
            .entry(origin)
            .or_insert_with(Slot::new)
            .idle_h1
            .push(conn);
    }
}

impl Session {
    pub(crate) fn new(connector: Arc<Connector>) -> Arc<Session> {
        Arc::new(Session {
            connector,
            slots: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Origin, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `req` (an absolute URI) upstream; the lease is to release once the response
    /// body is done. `upgrade` asks for a fresh HTTP/1.1 connection with upgrades enabled (it
    /// is never reused).
    pub(crate) async fn send(
        self: &Arc<Self>,
        mut req: Request<ProxyBody>,
        upgrade: bool,
    ) -> Result<(Response<Incoming>, Option<Lease>), UpstreamError> {
        let origin = origin_of(req.uri())?;
        if upgrade {
            let (Sender::H1(mut conn), _busy) = self.dial(&origin, true).await? else {
                unreachable!("an upgrade connection offers only http/1.1")
            };
            prepare(&mut req, &origin, false);
            let response = conn.sender.send_request(req).await;
            return Ok((response.map_err(|e| failure(&origin, &e))?, None));
        }
        // A kept connection may have been closed by the server since its last use: then the
        // request comes back unsent and goes out on a new connection.
        let uri = req.uri().clone();
        let mut attempts = 0;
        loop {
            attempts += 1;
            *req.uri_mut() = uri.clone();
            let Ready {
                sender,
                busy,
                place,
                fresh,
            } = self.ready(&origin).await?;
            let retry = !fresh && attempts < 3;
            let sent = match sender {
                Sender::H2(mut h2) => {
                    prepare(&mut req, &origin, true);
                    let sent = h2.sender.try_send_request(req).await;
                    // Back unsent: the connection is gone (a stream's own failure is not).
                    if sent.as_ref().is_err_and(|e| e.message().is_some()) {
                        self.forget_h2(&origin, &h2);
                    }
                    sent.map(|response| (response, None))
                }
                Sender::H1(mut h1) => {
                    prepare(&mut req, &origin, false);
                    if h1.sender.ready().await.is_err() && retry {
                        continue;
                    }
                    let sent = h1.sender.try_send_request(req).await;
                    sent.map(|response| (response, Some((self.clone(), origin.clone(), h1))))
                }
            };
            match sent {
                Ok((response, h1)) => {
                    let lease = Lease {
                        h1,
                        _place: place,
                        _busy: busy,
                    };
                    return Ok((response, Some(lease)));
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if retry => req = unsent,
                    _ => return Err(failure(&origin, &e.into_error())),
                },
            }
        }
    }

    /// A connection for one exchange to `origin`: the shared HTTP/2 one, dialed once however
    /// many requests wait for it; for an HTTP/1.1 origin, a kept connection or a new one,
    /// within the origin's places.
    async fn ready(&self, origin: &Origin) -> Result<Ready, UpstreamError> {
        loop {
            match self.next_step(origin) {
                Step::Use(ready) => return Ok(ready),
                Step::Wait(mut dialing) => {
                    // The dial failed: so does this request, with its reason. Its requester
                    // went away before it ended: take its place.
                    if let Ok(dialed) = dialing.wait_for(Option::is_some).await {
                        if let Some(Err(why)) = &*dialed {
                            return Err(UpstreamError(why.clone()));
                        }
                    }
                }
                Step::Dial(done) => return self.dial_shared(origin, done).await,
                Step::Http1(places) => return self.ready_h1(origin, places).await,
            }
        }
    }

    /// Decides, under the lock, how this request gets its connection.
    fn next_step(&self, origin: &Origin) -> Step {
        let mut slots = self.lock();
        // (No `entry`: it would copy the origin for every request.)
        if !slots.contains_key(origin) {
            slots.insert(origin.clone(), Slot::new());
        }
        let Some(slot) = slots.get_mut(origin) else {
            unreachable!("inserted above")
        };
        if let Some(h2) = &slot.h2 {
            if !h2.sender.is_closed() {
                return Step::Use(Ready {
                    busy: h2.activity.busy(),
                    sender: Sender::H2(h2.share()),
                    place: None,
                    fresh: false,
                });
            }
            slot.h2 = None;
        }
        if slot.http1 {
            return Step::Http1(slot.h1_places.clone());
        }
        // A dial whose requester went away (its sender dropped) is no dial.
        if let Some(dialing) = &slot.dialing {
            if dialing.has_changed().is_ok() {
                return Step::Wait(dialing.clone());
            }
        }
        let (done, dialing) = watch::channel(None);
        slot.dialing = Some(dialing);
        Step::Dial(done)
    }

    /// Dials for the requests waiting on `done`: an HTTP/2 connection is kept for all of them;
    /// an HTTP/1.1 one is this request's, and the others then take their own.
    async fn dial_shared(
        &self,
        origin: &Origin,
        done: watch::Sender<Dialed>,
    ) -> Result<Ready, UpstreamError> {
        let dialed = self.dial(origin, false).await;
        let mut slots = self.lock();
        let slot = slots.entry(origin.clone()).or_insert_with(Slot::new);
        slot.dialing = None;
        let ready = dialed.map(|(sender, busy)| match sender {
            Sender::H2(h2) => {
                slot.h2 = Some(h2.share());
                Ready {
                    sender: Sender::H2(h2),
                    busy,
                    place: None,
                    fresh: true,
                }
            }
            Sender::H1(h1) => {
                slot.http1 = true;
                Ready {
                    sender: Sender::H1(h1),
                    busy,
                    // Free: nothing took an HTTP/1.1 place before the origin was known as one.
                    place: slot.h1_places.clone().try_acquire_owned().ok(),
                    fresh: true,
                }
            }
        });
        let _ = done.send(Some(ready.as_ref().map(|_| ()).map_err(|e| e.0.clone())));
        ready
    }

    /// An HTTP/1.1 exchange: once it has a place, a kept connection or a new one.
    async fn ready_h1(
        &self,
        origin: &Origin,
        places: Arc<Semaphore>,
    ) -> Result<Ready, UpstreamError> {
        let place = places
            .acquire_owned()
            .await
            .map_err(|_| UpstreamError("the session is closing".into()))?;
        if let Some(h1) = self.kept_h1(origin) {
            return Ok(Ready {
                busy: h1.activity.busy(),
                sender: Sender::H1(h1),
                place: Some(place),
                fresh: false,
            });
        }
        let (sender, busy) = self.dial(origin, false).await?;
        let place = match &sender {
            Sender::H1(_) => Some(place),
            // The origin speaks HTTP/2 now: share it from here on.
            Sender::H2(h2) => {
                let mut slots = self.lock();
                let slot = slots.entry(origin.clone()).or_insert_with(Slot::new);
                slot.h2 = Some(h2.share());
                slot.http1 = false;
                None
            }
        };
        Ok(Ready {
            sender,
            busy,
            place,
            fresh: true,
        })
    }

    /// An idle HTTP/1.1 connection to `origin` that is still open.
    fn kept_h1(&self, origin: &Origin) -> Option<H1> {
        let mut slots = self.lock();
        let slot = slots.get_mut(origin)?;
        std::iter::from_fn(|| slot.idle_h1.pop()).find(|h1| !h1.sender.is_closed())
    }

    /// `h2` failed a request: the next one dials anew (unless another already replaced it).
    fn forget_h2(&self, origin: &Origin, h2: &H2) {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(origin) {
            if slot
                .h2
                .as_ref()
                .is_some_and(|kept| Arc::ptr_eq(&kept.activity, &h2.activity))
            {
                slot.h2 = None;
            }
        }
    }

    /// A new connection to `origin`, busy for the exchange that asked for it.
    async fn dial(
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
