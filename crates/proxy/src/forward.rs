//! Sending one request upstream and its response back, with both bodies teed for the recording.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use loadtape_recording::{version_str, Headers};

use crate::capture::{lock, OnEnd, SharedCapture, Tee};
use crate::recorder::{Draft, ResponseHead};
use crate::server::Shared;
use crate::upstream::Session;
use crate::{BoxError, ProxyBody};

/// How long an upstream may take to start answering before the client gets a 504.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Where requests on a connection are going.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    scheme: &'static str,
    /// The CONNECT target, for requests inside a tunnel (origin-form, no scheme of their own).
    connect: Option<Authority>,
}

impl Target {
    /// Absolute-form requests to the proxy carry their own scheme and authority.
    pub fn absolute(scheme: &'static str) -> Target {
        Target {
            scheme,
            connect: None,
        }
    }

    pub fn tunnel(scheme: &'static str, connect: Authority) -> Target {
        Target {
            scheme,
            connect: Some(connect),
        }
    }
}

pub(crate) async fn forward(
    mut req: Request<Incoming>,
    target: Target,
    client: IpAddr,
    shared: Arc<Shared>,
    session: Arc<Session>,
) -> Response<ProxyBody> {
    if shared.stopping.load(std::sync::atomic::Ordering::Relaxed) {
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
    // forwarded either way, but only recorded when `--include`/`--passthrough` allow its host.
    let record = target.connect.is_some() || uri.host().is_some_and(|h| shared.hosts.intercepts(h));
    let guard = shared.begin();
    let start = Instant::now();
    let upgrade = is_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let mut draft = Draft {
        id: shared
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        started: chrono::Utc::now(),
        start,
        end: start,
        client,
        method: req.method().to_string(),
        url: display_url(&uri),
        request_version: version_str(req.version()),
        request_headers: recorded_headers(req.headers()),
        request_body: SharedCapture::default(),
        response: None,
        error: None,
        record,
    };

    let (mut parts, body) = req.into_parts();
    let body = Tee::new(body, draft.request_body.clone(), shared.max_body, None)
        .map_err(|e| Box::new(e) as BoxError)
        .boxed();
    parts.uri = uri;
    strip_hop_by_hop(&mut parts.headers, upgrade);
    // Rebuilt from the URI upstream: `Host` for HTTP/1.1, `:authority` for HTTP/2, whatever
    // the client sent on its side.
    parts.headers.remove(header::HOST);
    let sent = tokio::time::timeout(
        RESPONSE_TIMEOUT,
        session.send(Request::from_parts(parts, body), upgrade),
    )
    .await;

    let (response, lease) = match sent {
        Err(_) => {
            let why = format!(
                "upstream: no response within {}s",
                RESPONSE_TIMEOUT.as_secs()
            );
            return fail(draft, guard, &shared, StatusCode::GATEWAY_TIMEOUT, why);
        }
        Ok(Err(e)) => {
            let why = format!("upstream: {e}");
            return fail(draft, guard, &shared, StatusCode::BAD_GATEWAY, why);
        }
        Ok(Ok(sent)) => sent,
    };

    let capture = SharedCapture::default();
    draft.response = Some(ResponseHead {
        status: response.status().as_u16(),
        version: version_str(response.version()),
        headers: Headers::from_http(response.headers()),
        body: capture.clone(),
    });

    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            return bridge_upgrade(response, client_upgrade, draft, guard, &shared);
        }
    }

    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    let shared_end = shared.clone();
    let ended = capture.clone();
    let on_end: OnEnd = Box::new(move || {
        draft.end = Instant::now();
        // A connection whose response was read to its end is ready for the next request.
        if let Some(lease) = lease {
            if lock(&ended).interrupted.is_none() {
                lease.release();
            }
        }
        shared_end.recorder.submit(draft);
        drop(guard);
    });
    let body = Tee::new(body, capture, shared.max_body, Some(on_end))
        .map_err(|e| Box::new(e) as BoxError)
        .boxed();
    Response::from_parts(parts, body)
}

/// Records a failed exchange and answers the client with a readable reason.
fn fail(
    mut draft: Draft,
    guard: crate::server::InFlight,
    shared: &Shared,
    status: StatusCode,
    why: String,
) -> Response<ProxyBody> {
    draft.end = Instant::now();
    let text = format!("loadtape: {} {} failed: {why}\n", draft.method, draft.url);
    draft.error = Some(why);
    shared.recorder.submit(draft);
    drop(guard);
    simple(status, &text)
}

/// A WebSocket (or other upgrade) accepted upstream: hand the 101 to the client and splice the
/// two upgraded connections together. The exchange is recorded as the handshake.
fn bridge_upgrade(
    mut response: Response<Incoming>,
    client_upgrade: hyper::upgrade::OnUpgrade,
    mut draft: Draft,
    guard: crate::server::InFlight,
    shared: &Shared,
) -> Response<ProxyBody> {
    let upstream_upgrade = hyper::upgrade::on(&mut response);
    tokio::spawn(async move {
        if let (Ok(client), Ok(upstream)) = tokio::join!(client_upgrade, upstream_upgrade) {
            let mut client = TokioIo::new(client);
            let mut upstream = TokioIo::new(upstream);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
    });
    draft.end = Instant::now();
    shared.recorder.submit(draft);
    drop(guard);
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, empty())
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
            let default = if target.scheme == "https" { 443 } else { 80 };
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
    let scheme = uri.scheme_str().unwrap_or("http");
    let host = uri.host().unwrap_or("");
    let default = if scheme == "https" { 443 } else { 80 };
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    match uri.port_u16() {
        Some(port) if port != default => format!("{scheme}://{host}:{port}{path}"),
        _ => format!("{scheme}://{host}{path}"),
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

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

/// Removes the headers that belong to one connection, not to the message (RFC 9110 §7.6.1),
/// including any the `Connection` header names. An upgrade keeps `Connection` and `Upgrade`.
fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .filter(|n| !(upgrade && *n == header::UPGRADE))
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "transfer-encoding",
    ] {
        headers.remove(name);
    }
    if !upgrade {
        headers.remove(header::CONNECTION);
        headers.remove(header::UPGRADE);
    }
}

pub(crate) fn empty() -> ProxyBody {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

/// A short plain-text response from the proxy itself.
pub(crate) fn simple(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(text.to_string()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
