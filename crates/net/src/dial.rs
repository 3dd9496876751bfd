//! Dialing a server: TCP connect (with a timeout, `TCP_NODELAY`), then for `https` the TLS
//! handshake (with a timeout) offering the caller's ALPN protocols. What runs on the stream —
//! an HTTP/2 or HTTP/1.1 client, a blind tunnel — is the caller's business; so is the wording
//! of errors, which the proxy and the engine each phrase for their own readers.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::Origin;

/// How long the TCP connect, and then the TLS handshake, may each take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS client settings with the ALPN protocols to offer; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct TlsConfig {
    connector: TlsConnector,
}

impl TlsConfig {
    /// `config` (see [`crate::tls::client_config`]) offering `alpn`, most preferred first.
    pub fn new(mut config: ClientConfig, alpn: &[&[u8]]) -> TlsConfig {
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsConfig {
            connector: TlsConnector::from(Arc::new(config)),
        }
    }
}

/// The protocol to speak on a dialed stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The server chose `h2` by ALPN.
    H2,
    /// Plain `http://`, or TLS where the server chose `http/1.1` or nothing.
    Http1,
}

/// Why dialing failed, for the caller to phrase. `Tls*` variants only happen for `https`.
#[derive(Debug)]
pub enum DialError {
    /// The TCP connect took longer than [`CONNECT_TIMEOUT`].
    ConnectTimeout,
    /// The TCP connect failed (refused, unreachable, unknown host).
    Connect(io::Error),
    /// The host cannot be a TLS server name.
    ServerName,
    /// The TLS handshake took longer than [`CONNECT_TIMEOUT`].
    TlsTimeout,
    /// The TLS handshake failed (untrusted certificate, protocol error).
    Tls(io::Error),
}

impl fmt::Display for DialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialError::ConnectTimeout | DialError::TlsTimeout => f.write_str("no answer"),
            DialError::Connect(e) | DialError::Tls(e) => write!(f, "{e}"),
            DialError::ServerName => f.write_str("not a TLS server name"),
        }
    }
}

impl std::error::Error for DialError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DialError::Connect(e) | DialError::Tls(e) => e.source(),
            _ => None,
        }
    }
}

/// A dialed byte stream: TCP, or TLS over it. `Send`, so either side can spawn its connection.
pub enum Stream {
    /// A plain TCP connection (`http://`).
    Tcp(TcpStream),
    /// TLS over TCP (`https://`), boxed: the TLS state is large.
    Tls(Box<TlsStream<TcpStream>>),
}

/// Opens a TCP connection to `host:port` within [`CONNECT_TIMEOUT`], with `TCP_NODELAY` (every
/// write of a request or a tunnel is meant to leave at once).
pub async fn connect_tcp(host: &str, port: u16) -> Result<TcpStream, DialError> {
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| DialError::ConnectTimeout)?
        .map_err(DialError::Connect)?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// How long dialing took, for the engine's timing breakdown (connect, TLS handshake per new
/// connection). Measured here because this is the one place that dials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialTiming {
    /// The TCP connect (name resolution included: `TcpStream::connect` does both).
    pub connect: Duration,
    /// The TLS handshake; `None` for plain `http://`.
    pub tls: Option<Duration>,
}

/// Connects to `origin`: TCP, then for `https` TLS with `tls`'s roots and ALPN. Returns the
/// stream and the protocol to speak on it.
pub async fn dial(origin: &Origin, tls: &TlsConfig) -> Result<(Stream, Protocol), DialError> {
    dial_timed(origin, tls).await.map(|(s, p, _)| (s, p))
}

/// [`dial`], also saying how long the TCP connect and the TLS handshake took (two clock
/// reads per phase, nothing per request).
pub async fn dial_timed(
    origin: &Origin,
    tls: &TlsConfig,
) -> Result<(Stream, Protocol, DialTiming), DialError> {
    let start = Instant::now();
    let tcp = connect_tcp(&origin.host, origin.port).await?;
    let connected = Instant::now();
    let mut timing = DialTiming {
        connect: connected - start,
        tls: None,
    };
    if !origin.is_https() {
        return Ok((Stream::Tcp(tcp), Protocol::Http1, timing));
    }
    let name = ServerName::try_from(origin.host.clone()).map_err(|_| DialError::ServerName)?;
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, tls.connector.connect(name, tcp))
        .await
        .map_err(|_| DialError::TlsTimeout)?
        .map_err(DialError::Tls)?;
    timing.tls = Some(connected.elapsed());
    let protocol = if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        Protocol::H2
    } else {
        Protocol::Http1
    };
    Ok((Stream::Tls(Box::new(stream)), protocol, timing))
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
