//! What follows a CONNECT.
//!
//! The proxy answers `200` and reads the tunnel's first bytes: a TLS ClientHello is intercepted
//! with a leaf for its SNI (else the CONNECT host); plain HTTP is proxied as HTTP; anything
//! else, and every host outside `--include` or inside `--passthrough`, is tunnelled blind.
//! [`Tunnels`] holds what that takes: the host rules, the leaf issuer, the upstream TLS
//! settings and the [`Forwarder`] the intercepted requests go to.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::uri::Authority;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use loadtape_net::{DialError, Origin, Scheme};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::net::TcpStream;

use crate::body::{empty, simple, ProxyBody};
use crate::client_hello;
use crate::forward::{Forwarder, Target};
use crate::idle::{serve_until_idle, Activity, Watched};
use crate::leaf::LeafIssuer;
use crate::notices::Notices;
use crate::prefixed::Prefixed;
use crate::recorder::LinePrinter;
use crate::rules::HostRules;
use crate::testers::Client;
use crate::timeouts::Timeouts;
use crate::upstream::{Connector, Session};

/// Everything a CONNECT tunnel needs, shared by every tunnel of one proxy.
pub(crate) struct Tunnels {
    pub hosts: HostRules,
    pub leaves: LeafIssuer,
    pub connector: Arc<Connector>,
    pub forwarder: Arc<Forwarder>,
    /// Advice about a host (a pinned app, an untrusted CA) is printed once per host.
    pub notices: Notices,
    pub print: LinePrinter,
    /// The CA page's address, for the advice to install the CA.
    pub listen: SocketAddr,
    pub timeouts: Timeouts,
}

/// Answers a CONNECT: `200` and the tunnel handled in its own task, or the reason it cannot be.
pub(crate) async fn connect(
    req: Request<Incoming>,
    client: Client,
    tunnels: Arc<Tunnels>,
) -> Response<ProxyBody> {
    let Some(authority) = req.uri().authority().cloned() else {
        return simple(
            StatusCode::BAD_REQUEST,
            "loadtape: CONNECT needs host:port\n",
        );
    };
    // A CONNECT without a port means HTTPS's.
    let Origin { host, port, .. } = Origin::from_authority(Scheme::Https, &authority);
    if !tunnels.hosts.intercepts(&host) {
        // Connect first, so that an unreachable host is a 502 the client sees.
        let upstream = match loadtape_net::connect_tcp(&host, port).await {
            Ok(stream) => stream,
            Err(DialError::ConnectTimeout) => {
                return simple(
                    StatusCode::GATEWAY_TIMEOUT,
                    &format!("loadtape: {host}:{port} did not answer\n"),
                )
            }
            Err(e) => {
                return simple(
                    StatusCode::BAD_GATEWAY,
                    &format!("loadtape: cannot reach {host}:{port}: {e}\n"),
                )
            }
        };
        let idle = tunnels.timeouts.blind_idle;
        tokio::spawn(async move {
            if let Ok(upgraded) = hyper::upgrade::on(req).await {
                splice(TokioIo::new(upgraded), upstream, idle).await;
            }
        });
        return Response::new(empty());
    }
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(req).await {
            intercept(
                TokioIo::new(upgraded),
                authority,
                host,
                port,
                client,
                tunnels,
            )
            .await;
        }
    });
    Response::new(empty())
}

async fn intercept<T>(
    mut io: T,
    authority: Authority,
    host: String,
    port: u16,
    client: Client,
    tunnels: Arc<Tunnels>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let timeouts = tunnels.timeouts;
    let mut first = vec![0u8; 4096];
    let n = match tokio::time::timeout(timeouts.first_bytes, io.read(&mut first)).await {
        Ok(Ok(0)) | Ok(Err(_)) => return,
        Ok(Ok(n)) => n,
        Err(_) => {
            blind_after_silence(io, &host, port, timeouts).await;
            return;
        }
    };
    first.truncate(n);
    let kind = first[0];
    if kind == 0x16 {
        if let Some(name) = client_hello::name_with_port(&first) {
            tunnels.notices.once(
                &format!("{host} sni-port"),
                &format!(
                    "!! {host}: the client names the server `{name}` (with a port) in its TLS \
                     ClientHello, which loadtape's TLS library refuses: its traffic is passed \
                     through unrecorded (`hey` sends such names; curl, browsers and phones send the bare host)"
                ),
            );
            if let Ok(upstream) = loadtape_net::connect_tcp(&host, port).await {
                splice(Prefixed::new(first, io), upstream, timeouts.blind_idle).await;
            }
            return;
        }
    }
    let io = Prefixed::new(first, io);
    if kind == 0x16 {
        intercept_tls(io, authority, host, client, tunnels).await;
    } else if kind.is_ascii_uppercase() {
        serve_http(io, Target::tunnel("http", authority), client, tunnels).await;
    } else if let Ok(upstream) = loadtape_net::connect_tcp(&host, port).await {
        splice(io, upstream, timeouts.blind_idle).await;
    }
}

async fn intercept_tls<T>(
    io: T,
    authority: Authority,
    host: String,
    client: Client,
    tunnels: Arc<Tunnels>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let acceptor = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io);
    let wait = tunnels.timeouts.handshake;
    let start = match tokio::time::timeout(wait, acceptor).await {
        Ok(Ok(start)) => start,
        Ok(Err(e)) => {
            // Once per host and cause: a later, different failure for the host is news.
            let line = format!("!! {host}: unreadable TLS ClientHello: {e}");
            tunnels.notices.once(&line, &line);
            return;
        }
        Err(_) => return,
    };
    let name = start
        .client_hello()
        .server_name()
        .map(str::to_string)
        .unwrap_or(host);
    let config = match tunnels.leaves.server_config(&name) {
        Ok(config) => config,
        Err(e) => {
            (tunnels.print)(&format!("!! {name}: cannot issue a certificate: {e:#}"));
            return;
        }
    };
    match tokio::time::timeout(wait, start.into_stream(config)).await {
        Ok(Ok(tls)) => serve_http(tls, Target::tunnel("https", authority), client, tunnels).await,
        Ok(Err(e)) => {
            let Some(alert) = trust_alert(&e) else {
                let line = format!("!! {name}: TLS handshake with the client failed: {e}");
                tunnels.notices.once(&line, &line);
                return;
            };
            {
                let page = format!("http://{}/", tunnels.listen);
                tunnels.notices.once(
                    &name,
                    &format!(
                        "!! {name}: the client rejected loadtape's certificate ({alert}). Either the device does not trust the loadtape CA yet (open {page} on it, or http://loadtape.ca/ through the proxy, and install it), or the app pins its certificates: then add --passthrough {name} to let it through, unrecorded"
                    ),
                );
            }
        }
        Err(_) => {}
    }
}

/// The TLS alert with which a client refuses a certificate it does not trust, if that is
/// what ended the handshake.
fn trust_alert(e: &std::io::Error) -> Option<String> {
    use rustls::AlertDescription as A;
    let inner = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    match inner {
        rustls::Error::AlertReceived(
            alert @ (A::UnknownCA | A::BadCertificate | A::CertificateUnknown | A::AccessDenied),
        ) => Some(format!("TLS alert {alert:?}")),
        _ => None,
    }
}

async fn serve_http<T>(io: T, target: Target, client: Client, tunnels: Arc<Tunnels>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let timeouts = tunnels.timeouts;
    let activity = Activity::new();
    let io = TokioIo::new(Watched::new(io, activity.clone(), None));
    let session = Session::new(tunnels.connector.clone());
    let forwarder = tunnels.forwarder.clone();
    let service = service_fn(move |req| {
        let forwarder = forwarder.clone();
        let target = target.clone();
        let session = session.clone();
        let client = client.clone();
        async move { Ok::<_, Infallible>(forwarder.forward(req, target, client, session).await) }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection_with_upgrades(io, service);
    serve_until_idle!(conn, activity, timeouts.idle);
}

/// A client silent since its CONNECT may wait for a server that speaks first: connect, and
/// splice once either side speaks. Such a server greets at once, so when it is silent as
/// long as the client was, nobody will speak and the tunnel is closed.
async fn blind_after_silence<T>(mut io: T, host: &str, port: u16, timeouts: Timeouts)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let Ok(upstream) = loadtape_net::connect_tcp(host, port).await else {
        return;
    };
    let mut server_first = [0u8; 1];
    let mut client_first = vec![0u8; 4096];
    let spoke = tokio::time::timeout(timeouts.first_bytes, async {
        tokio::select! {
            peeked = upstream.peek(&mut server_first) => {
                matches!(peeked, Ok(n) if n > 0).then(Vec::new)
            }
            read = io.read(&mut client_first) => match read {
                Ok(n) if n > 0 => Some(client_first[..n].to_vec()),
                _ => None,
            },
        }
    })
    .await;
    if let Ok(Some(first)) = spoke {
        splice(Prefixed::new(first, io), upstream, timeouts.blind_idle).await;
    }
}

/// Copies both ways until either side closes, or nothing has moved for `idle`.
async fn splice<T>(client: T, mut upstream: TcpStream, idle: Duration)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let _ = upstream.set_nodelay(true);
    let activity = Activity::new();
    // Both directions pass through the client's side.
    let mut client = Watched::new(client, activity.clone(), None);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        _ = activity.idle(idle) => {}
    }
}
