//! Sending one request upstream and its response back, with both bodies teed for the recording.
//!
//! A [`Forwarder`] is what every exchange needs from the proxy: which hosts are recorded, the
//! recorder, the body cap, exchange ids, and the in-flight count shutdown waits on. Plain-HTTP
//! requests reach it from the listener, requests inside a CONNECT tunnel from the tunnel.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use loadtape_net::{hop, Origin};
use loadtape_recording::{version_str, Headers};
use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::TaskTracker;

use crate::body::{empty, simple, BoxError, ProxyBody};
use crate::capture::{lock, OnEnd, SharedCapture, Tee};
use crate::recorder::{Draft, RecorderHandle, ResponseHead};
use crate::rules::HostRules;
use crate::testers::{Client, Marks};
use crate::upstream::{Lease, Session};

/// How long an upstream may take to start answering before the client gets a 504.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything forwarding an exchange needs, shared by every connection of one proxy.
pub(crate) struct Forwarder {
    hosts: HostRules,
    recorder: RecorderHandle,
    max_body: usize,
    /// Which group each client's exchanges belong to.
    marks: Arc<Marks>,
    next_id: AtomicU64,
    /// The exchanges being forwarded: shutdown waits for them to be recorded.
    in_flight: TaskTracker,
    /// Set by shutdown: new exchanges get a 503 while the running ones finish.
    stopping: AtomicBool,
}

impl Forwarder {
    pub(crate) fn new(
        hosts: HostRules,
        recorder: RecorderHandle,
        max_body: usize,
        marks: Arc<Marks>,
    ) -> Forwarder {
        Forwarder {
            hosts,
            marks,
            recorder,
            max_body,
            next_id: AtomicU64::new(1),
            in_flight: TaskTracker::new(),
            stopping: AtomicBool::new(false),
        }
    }

    /// Refuses new exchanges from now on and returns once the running ones are recorded (or
    /// handed to the recorder: its `close` then writes them before closing the file).
    pub(crate) async fn drain(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.in_flight.close();
        self.in_flight.wait().await;
    }

    /// Tells the recorder that nothing more comes.
    pub(crate) fn close_recording(&self) {
        self.recorder.close();
    }

    /// Forwards `req` upstream through `session` and streams the answer back, recording both
    /// when the exchange ends (the response body read to its end, or a failure).
    pub(crate) async fn forward(
        self: &Arc<Self>,
        mut req: Request<Incoming>,
        target: Target,
        client: Client,
        session: Arc<Session>,
    ) -> Response<ProxyBody> {
        if self.stopping.load(Ordering::Relaxed) {
            return simple(
                StatusCode::SERVICE_UNAVAILABLE,
                "loadtape: the proxy is shutting down\n",
            );
        }
        let uri = match upstream_uri(&req, &target) {
            Ok(uri) => uri,
            Err(why) => return simple(StatusCode::BAD_REQUEST, &format!("loadtape: {why}\n")),
        };
        // Inside a tunnel the host was already chosen for interception; a plain-HTTP request is
        // forwarded either way, but only recorded when `--include`/`--passthrough` allow its
        // host.
        let record =
            target.connect.is_some() || uri.host().is_some_and(|h| self.hosts.intercepts(h));
        let exchange = Exchange {
            guard: self.in_flight.token(),
            draft: self.draft(&req, &uri, client, record),
        };
        let upgrade = hop::is_upgrade(req.headers());
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        let body = Tee::new(
            body,
            exchange.draft.request_body.clone(),
            self.max_body,
            None,
        )
        .map_err(|e| Box::new(e) as BoxError)
        .boxed();
        parts.uri = uri;
        hop::strip(&mut parts.headers, upgrade);
        // Rebuilt from the URI upstream: `Host` for HTTP/1.1, `:authority` for HTTP/2, whatever
        // the client sent on its side.
        parts.headers.remove(header::HOST);
        let sent = tokio::time::timeout(
            RESPONSE_TIMEOUT,
            session.send(Request::from_parts(parts, body), upgrade),
        )
        .await;
        match sent {
            Err(_) => {
                let why = format!(
                    "upstream: no response within {}s",
                    RESPONSE_TIMEOUT.as_secs()
                );
                self.fail(exchange, StatusCode::GATEWAY_TIMEOUT, why)
            }
            Ok(Err(e)) => self.fail(exchange, StatusCode::BAD_GATEWAY, format!("upstream: {e}")),
            Ok(Ok((response, lease))) => self.respond(response, lease, exchange, client_upgrade),
        }
    }

    /// The recording's view of a request, before anything is sent.
    fn draft(&self, req: &Request<Incoming>, uri: &Uri, client: Client, record: bool) -> Draft {
        let start = Instant::now();
        Draft {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            started: chrono::Utc::now(),
            start,
            end: start,
            group: self.marks.group_of(&client),
            client,
            method: req.method().to_string(),
            url: display_url(uri),
            request_version: version_str(req.version()),
            request_headers: recorded_headers(req.headers()),
            request_body: SharedCapture::default(),
            response: None,
            error: None,
            record,
        }
    }

    /// Passes the upstream response on; the exchange is recorded when its body ends.
    fn respond(
        self: &Arc<Self>,
        response: Response<Incoming>,
        lease: Option<Lease>,
        mut exchange: Exchange,
        client_upgrade: Option<OnUpgrade>,
    ) -> Response<ProxyBody> {
        let capture = SharedCapture::default();
        exchange.draft.response = Some(ResponseHead {
            status: response.status().as_u16(),
            version: version_str(response.version()),
            headers: Headers::from_http(response.headers()),
            body: capture.clone(),
        });
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client_upgrade) = client_upgrade {
                return self.bridge_upgrade(response, client_upgrade, exchange);
            }
        }
        let (mut parts, body) = response.into_parts();
        hop::strip(&mut parts.headers, false);
        let recorder = self.recorder.clone();
        let ended = capture.clone();
        let on_end: OnEnd = Box::new(move || {
            let Exchange { mut draft, guard } = exchange;
            draft.end = Instant::now();
            // A connection whose response was read to its end is ready for the next request.
            if let Some(lease) = lease {
                if lock(&ended).interrupted.is_none() {
                    lease.release();
                }
            }
            recorder.submit(draft);
            drop(guard);
        });
        let body = Tee::new(body, capture, self.max_body, Some(on_end))
            .map_err(|e| Box::new(e) as BoxError)
            .boxed();
        Response::from_parts(parts, body)
    }

    /// Records a failed exchange and answers the client with a readable reason.
    fn fail(&self, exchange: Exchange, status: StatusCode, why: String) -> Response<ProxyBody> {
        let Exchange { mut draft, guard } = exchange;
        draft.end = Instant::now();
        let text = format!("loadtape: {} {} failed: {why}\n", draft.method, draft.url);
        draft.error = Some(why);
        self.recorder.submit(draft);
        drop(guard);
        simple(status, &text)
    }

    /// A WebSocket (or other upgrade) accepted upstream: hand the 101 to the client and splice
    /// the two upgraded connections together. The exchange is recorded as the handshake.
    fn bridge_upgrade(
        &self,
        mut response: Response<Incoming>,
        client_upgrade: OnUpgrade,
        exchange: Exchange,
    ) -> Response<ProxyBody> {
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(async move {
            if let (Ok(client), Ok(upstream)) = tokio::join!(client_upgrade, upstream_upgrade) {
                let mut client = TokioIo::new(client);
                let mut upstream = TokioIo::new(upstream);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        });
        let Exchange { mut draft, guard } = exchange;
        draft.end = Instant::now();
        self.recorder.submit(draft);
        drop(guard);
        let (parts, _) = response.into_parts();
        Response::from_parts(parts, empty())
    }
}

/// One exchange being forwarded: what will be recorded, and its place in the in-flight count
/// (released once the draft is submitted).
struct Exchange {
    draft: Draft,
    guard: TaskTrackerToken,
}

/// Where requests on a connection are going.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    scheme: &'static str,
    /// The CONNECT target, for requests inside a tunnel (origin-form, no scheme of their own).
    connect: Option<Authority>,
}

impl Target {
    /// Absolute-form requests to the proxy carry their own scheme and authority.
    pub(crate) fn absolute(scheme: &'static str) -> Target {
        Target {
            scheme,
            connect: None,
        }
    }

    pub(crate) fn tunnel(scheme: &'static str, connect: Authority) -> Target {
        Target {
            scheme,
            connect: Some(connect),
        }
    }
}

/// The absolute URI to send upstream. Absolute-form and HTTP/2 requests carry their own
/// scheme and authority; an origin-form request inside a tunnel takes its `Host`, falling back
/// to the CONNECT target (whose port wins when `Host` names none).
fn upstream_uri(req: &Request<Incoming>, target: &Target) -> Result<Uri, String> {
    let uri = req.uri();
    if uri.scheme().is_some() && uri.authority().is_some() {
        return Ok(uri.clone());
    }
    let connect = target.connect.as_ref();
    let host_header = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<Authority>().ok());
    let authority = match (host_header, connect) {
        (Some(host), Some(connect)) if host.port().is_none() => {
            let default = loadtape_net::default_port(target.scheme == "https");
            match connect.port_u16() {
                Some(port) if port != default => format!("{}:{port}", host.host())
                    .parse()
                    .map_err(|_| "bad Host header".to_string())?,
                _ => host,
            }
        }
        (Some(host), _) => host,
        (None, Some(connect)) => connect.clone(),
        (None, None) => {
            return Err("the request names no host (send an absolute URL or a Host header)".into())
        }
    };
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let scheme = if target.scheme == "https" {
        Scheme::HTTPS
    } else {
        Scheme::HTTP
    };
    Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(path)
        .build()
        .map_err(|e| format!("cannot build the upstream URL: {e}"))
}

/// The URL as recorded: the default port left out, as a browser shows it.
fn display_url(uri: &Uri) -> String {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let scheme = uri.scheme_str().unwrap_or("http");
    match Origin::from_uri(uri) {
        Some(origin) => format!("{scheme}://{}{path}", origin.authority()),
        None => format!("{scheme}://{path}"),
    }
}

/// The request headers as the client sent them, minus the proxy's own credentials.
fn recorded_headers(map: &HeaderMap) -> Headers {
    let mut headers = Headers::from_http(map);
    headers.0.retain(|(n, _)| {
        !n.eq_ignore_ascii_case("proxy-authorization")
            && !n.eq_ignore_ascii_case("proxy-connection")
    });
    headers
}
