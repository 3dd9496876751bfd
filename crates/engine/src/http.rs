//! A VU's connections: one keep-alive connection per origin, HTTP/2 or HTTP/1.1 by ALPN
//! (plain `http://` is HTTP/1.1). HTTP/2 goes through hyper's `client::conn` `SendRequest`;
//! HTTP/1.1 through the engine's own lean connection ([`crate::h1`]), driven inside the VU's
//! task. No pool is shared between VUs, so no lock and no queue on the request path.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http2, TrySendError};
use hyper_util::rt::{TokioExecutor, TokioIo};
use loadtape_net::{DialError, DialTiming, Protocol, TlsConfig};

pub(crate) use crate::failure::Failure;
use crate::failure::{broken, fail};
use crate::metrics::ErrorKind;
use crate::plan::Origin;
use crate::timing::Timing;

/// TLS settings shared by every VU of the run.
#[derive(Clone)]
pub(crate) struct Tls {
    /// Offers `h2` and `http/1.1`.
    config: TlsConfig,
    /// HTTP/1.1 read size; `None`: 8 KiB, buffers kept between requests. Thousands of mostly
    /// idle VUs set a small one, and hold no buffer while they think: memory stays flat.
    pub read_buf: Option<usize>,
}

impl Tls {
    /// System roots plus `ca_files`, or no verification with `insecure`. Fails on an
    /// unreadable CA file; with no roots at all, https origins fail at connect.
    pub(crate) fn new(ca_files: &[std::path::PathBuf], insecure: bool) -> Result<Tls, String> {
        let config = loadtape_net::tls::client_config("--ca", ca_files, insecure)?;
        Ok(Tls {
            config: TlsConfig::new(config, &[b"h2", b"http/1.1"]),
            read_buf: None,
        })
    }
}

/// One open connection.
pub(crate) enum Conn {
    /// Boxed: its buffers and stream are big next to an HTTP/2 sender.
    H1(Box<crate::h1::Client>),
    /// HTTP/2 multiplexes, so its connection runs as a task of its own.
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Conn {
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Conn::H1(c) => c.is_closed(),
            Conn::H2(s) => s.is_closed(),
        }
    }
}

/// Opens a connection to `origin`: dialing (and timing it) is [`loadtape_net::dial_timed`]'s;
/// what is left here is the engine's wording of its errors and the HTTP handshake.
pub(crate) async fn connect(tls: &Tls, origin: &Origin) -> Result<(Conn, DialTiming), Failure> {
    let (stream, protocol, timing) = loadtape_net::dial_timed(&origin.at, &tls.config)
        .await
        .map_err(|e| dial_failure(origin, e))?;
    if protocol == Protocol::H2 {
        let (sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| fail(ErrorKind::Connect, format!("{}: {e}", origin.label)))?;
        tokio::task::spawn_local(async move {
            let _ = conn.await;
        });
        return Ok((Conn::H2(sender), timing));
    }
    let conn = crate::h1::Client::new(Box::new(stream), tls.read_buf);
    Ok((Conn::H1(Box::new(conn)), timing))
}

fn dial_failure(origin: &Origin, e: DialError) -> Failure {
    let key = &origin.label;
    match e {
        DialError::ConnectTimeout => {
            fail(ErrorKind::Connect, format!("connect to {key}: no answer"))
        }
        DialError::Connect(e) => fail(ErrorKind::Connect, format!("connect to {key}: {e}")),
        DialError::ServerName => fail(
            ErrorKind::Tls,
            format!("`{}` is not a TLS server name", origin.at.host),
        ),
        DialError::TlsTimeout => fail(
            ErrorKind::Tls,
            format!("TLS handshake with {key}: no answer"),
        ),
        DialError::Tls(e) => fail(ErrorKind::Tls, format!("TLS handshake with {key}: {e}")),
    }
}

/// A response with its body read to the end.
pub(crate) struct Answer {
    /// The status line and headers.
    pub response: http::response::Parts,
    /// The body as received (not decompressed), its first [`KEPT`](crate::body::KEPT) bytes.
    pub body: Bytes,
    /// The whole body's length.
    pub size: u64,
    /// Where its time went; `dial` is set by [`attempts`] when it opened the connection.
    pub timing: Timing,
}

/// How one attempt on a connection ended.
enum Attempt {
    Done(Answer),
    /// The request was not sent (a kept connection the server had closed): send it again
    /// on a fresh connection.
    Unsent,
    Failed(Failure),
}

/// Sends `req` on the VU's connection to `origin` (opening one when there is none or it was
/// closed), and reads the whole answer within `timeout`. `build` makes the request for the
/// connection's protocol (`true`: HTTP/2). A kept connection the server closed meanwhile gets
/// the request back unsent; it then goes out once more on a fresh connection.
pub(crate) async fn exchange(
    slot: &mut Option<Conn>,
    tls: &Tls,
    origin: &Origin,
    timeout: Duration,
    build: &mut dyn FnMut(bool) -> Request<Bytes>,
) -> Result<Answer, Failure> {
    let outcome = {
        let work = std::pin::pin!(attempts(slot, tls, origin, build));
        tokio::select! {
            r = work => Some(r),
            _ = tokio::time::sleep(timeout) => None,
        }
    };
    match outcome {
        Some(Ok(a)) => Ok(a),
        Some(Err(f)) => {
            *slot = None;
            Err(f)
        }
        None => {
            // The connection may still carry the late answer: never reuse it.
            *slot = None;
            Err(fail(
                ErrorKind::Timeout,
                format!(
                    "{}: no answer within {}s",
                    origin.label,
                    timeout.as_secs_f64()
                ),
            ))
        }
    }
}

/// An unsent request on a kept connection (the server closed it meanwhile) goes out once more
/// on a fresh one; unsent on a fresh connection is an error.
async fn attempts(
    slot: &mut Option<Conn>,
    tls: &Tls,
    origin: &Origin,
    build: &mut dyn FnMut(bool) -> Request<Bytes>,
) -> Result<Answer, Failure> {
    for _ in 0..2 {
        let dialed = ensure_conn(slot, tls, origin).await?;
        let fresh = dialed.is_some();
        let Some(conn) = slot.as_mut() else { continue };
        let attempt = send_on(conn, origin, build).await;
        match attempt {
            Attempt::Done(mut a) => {
                a.timing.dial = dialed;
                return Ok(a);
            }
            Attempt::Unsent if !fresh => *slot = None,
            Attempt::Unsent => return Err(closed_early(origin)),
            Attempt::Failed(f) => return Err(f),
        }
    }
    Err(closed_early(origin))
}

/// Leaves an open connection in `slot`. `Some` (how dialing went) when it had to open a new
/// one, which [`attempts`] does not retry.
async fn ensure_conn(
    slot: &mut Option<Conn>,
    tls: &Tls,
    origin: &Origin,
) -> Result<Option<DialTiming>, Failure> {
    if slot.as_ref().is_none_or(Conn::is_closed) {
        // Boxed: the TLS handshake's future is big, and every VU would carry its space.
        let (conn, timing) = Box::pin(connect(tls, origin)).await?;
        *slot = Some(conn);
        return Ok(Some(timing));
    }
    Ok(None)
}

/// One request on `conn`.
async fn send_on(
    conn: &mut Conn,
    origin: &Origin,
    build: &mut dyn FnMut(bool) -> Request<Bytes>,
) -> Attempt {
    match conn {
        Conn::H2(s) => {
            if s.ready().await.is_err() {
                Attempt::Unsent
            } else {
                let request = build(true).map(Full::new);
                let at = Instant::now();
                let sent = s.try_send_request(request).await;
                answer(sent, origin, at).await
            }
        }
        Conn::H1(c) => {
            let request = build(false);
            match c.send(&origin.label, &request).await {
                crate::h1::Sent::Done(r) => Attempt::Done(Answer {
                    response: r.parts,
                    body: r.body,
                    size: r.size,
                    timing: Timing {
                        dial: None,
                        ttfb: r.ttfb,
                        transfer: r.transfer,
                    },
                }),
                crate::h1::Sent::Unsent => Attempt::Unsent,
                crate::h1::Sent::Failed(f) => Attempt::Failed(f),
            }
        }
    }
}

/// The request went out (or was about to) on an open connection, and the server closed it
/// without a word, twice: counted as a reset, not as a failure to connect.
fn closed_early(origin: &Origin) -> Failure {
    fail(
        ErrorKind::Reset,
        format!("{}: the connection closed before answering", origin.label),
    )
}

type Sent = Result<Response<hyper::body::Incoming>, TrySendError<Request<Full<Bytes>>>>;

/// The answer to a request handed to its connection at `at`: the time to its head and then
/// to the end of its body are the exchange's [`Timing`].
async fn answer(sent: Sent, origin: &Origin, at: Instant) -> Attempt {
    match sent {
        Ok(resp) => match read(resp, at).await {
            Ok(a) => Attempt::Done(a),
            Err(f) => Attempt::Failed(f),
        },
        Err(mut e) => {
            if e.take_message().is_some() {
                Attempt::Unsent
            } else {
                Attempt::Failed(broken(&origin.label, &e.into_error()))
            }
        }
    }
}

async fn read(resp: Response<hyper::body::Incoming>, at: Instant) -> Result<Answer, Failure> {
    let head = Instant::now();
    let (parts, mut body) = resp.into_parts();
    let mut collected = crate::body::Collected::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| broken("reading the body", &e))?;
        if let Ok(data) = frame.into_data() {
            collected.push(data);
        }
    }
    let (body, size) = collected.finish();
    Ok(Answer {
        response: parts,
        body,
        size,
        timing: Timing {
            dial: None,
            ttfb: head - at,
            transfer: head.elapsed(),
        },
    })
}
