//! The engine's own HTTP/1.1 client connection: the request written as one buffer, the
//! response head parsed in place with `httparse`, the body framed by its length, by chunks
//! or by the close — all inside the VU's task, with no channel, no second task and no
//! waker beyond the socket's. hyper's client connection (kept for HTTP/2, and by the proxy)
//! costs about 12 % more CPU per request than wrk on one GET (its request and body channels,
//! wakers, dispatch state; see the README's profile); this is what closes that gap.
//!
//! It sends exactly the bytes hyper's `client::conn::http1` sends for the engine's requests
//! (the request line, the headers in order, `content-length` after them for a body; tested
//! byte for byte against hyper) and reads responses as hyper does (informational answers
//! skipped, no body for `HEAD`, 204 and 304, `transfer-encoding` over `content-length`,
//! conflicting lengths refused, keep-alive by version and `connection`), with hyper's words
//! for what is wrong, so results read the same.
//!
//! With many VUs (`lean`) the read and write buffers exist only while a request is in flight:
//! a VU that thinks holds its socket and nothing else.

use std::pin::Pin;
use std::task::Context;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::body::{Collected, KEPT};
use crate::failure::{fail, Failure};
use crate::metrics::ErrorKind;

/// The byte stream under a connection (a dialed [`loadtape_net::Stream`]).
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

/// The most headers a response may have: hyper's default.
const MAX_HEADERS: usize = 100;
/// The longest response head: hyper's default read-buffer limit.
const MAX_HEAD: usize = 8192 + 4096 * 100;
/// The longest chunk-size line or trailer section accepted.
const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

/// One HTTP/1.1 connection.
pub(crate) struct Client {
    io: Box<dyn Io>,
    /// Bytes read and not used yet.
    buf: BytesMut,
    /// The request being written (its capacity kept unless `lean`).
    out: Vec<u8>,
    /// How much to read at a time.
    chunk: usize,
    /// Release the buffers between requests.
    lean: bool,
    /// The connection must not carry another request (closed, close-delimited, broken).
    done: bool,
}

/// A response read to the end of its body.
pub(crate) struct Response {
    pub parts: http::response::Parts,
    /// Its first [`KEPT`] bytes.
    pub body: Bytes,
    /// The whole body's length.
    pub size: u64,
    /// From the request handed over to the response head.
    pub ttfb: Duration,
    /// From the head to the end of the body.
    pub transfer: Duration,
}

/// How an exchange on the connection ended.
pub(crate) enum Sent {
    Done(Response),
    /// Nothing was written: the connection had been closed meanwhile (a kept connection the
    /// server timed out). The request may go out on a fresh one.
    Unsent,
    Failed(Failure),
}

impl Client {
    /// A connection over `io`; `read_buf` fixes the read size and makes the buffers exist
    /// only while a request is in flight (many VUs).
    pub(crate) fn new(io: Box<dyn Io>, read_buf: Option<usize>) -> Client {
        Client {
            io,
            buf: BytesMut::new(),
            out: Vec::new(),
            chunk: read_buf.unwrap_or(8192),
            lean: read_buf.is_some(),
            done: false,
        }
    }

    /// The connection cannot carry another request.
    pub(crate) fn is_closed(&self) -> bool {
        self.done
    }

    /// Sends `req` and reads its whole answer; `label` names the origin in errors.
    pub(crate) async fn send(&mut self, label: &str, req: &Request<Bytes>) -> Sent {
        if self.stale() {
            self.done = true;
            return Sent::Unsent;
        }
        encode(req, &mut self.out);
        let at = Instant::now();
        let written = async {
            self.io.write_all(&self.out).await?;
            self.io.flush().await
        }
        .await;
        if self.lean {
            self.out = Vec::new();
        }
        if let Err(e) = written {
            self.done = true;
            return Sent::Failed(io_failure(label, &e));
        }
        let read = self.response(req.method() == Method::HEAD, at).await;
        if self.lean && self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
        match read {
            Ok(r) => Sent::Done(r),
            Err(why) => {
                self.done = true;
                Sent::Failed(why.failure(label))
            }
        }
    }

    /// A kept connection the server closed (or wrote to unasked) while it was idle: what
    /// hyper finds when it polls the connection before writing. Reads without waiting.
    fn stale(&mut self) -> bool {
        if self.done || !self.buf.is_empty() {
            return true;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut probe = [0u8; 64];
        let mut rb = ReadBuf::new(&mut probe);
        // Ready means the end of the stream, unasked bytes or an error: not a connection to
        // send on.
        Pin::new(&mut self.io)
            .poll_read(&mut cx, &mut rb)
            .is_ready()
    }

    async fn response(&mut self, head_only: bool, at: Instant) -> Result<Response, Why> {
        loop {
            let (parts, keep_alive) = self.head().await?;
            let status = parts.status;
            // Informational answers (100 Continue, 103 Early Hints) come before the real one.
            if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
                continue;
            }
            let head = Instant::now();
            let framing = framing(&parts, head_only)?;
            let (body, size) = self.body(framing).await?;
            if !keep_alive || framing == Framing::Close || !self.buf.is_empty() {
                self.done = true;
            }
            return Ok(Response {
                parts,
                body,
                size,
                ttfb: head - at,
                transfer: head.elapsed(),
            });
        }
    }

    /// Reads more into the buffer; `Ok(0)` at the end of the stream.
    async fn fill(&mut self) -> Result<usize, Why> {
        self.fill_for(self.chunk).await
    }

    /// Reads more, with room for `want` bytes (a body's known rest, up to 1 MiB at a time).
    async fn fill_for(&mut self, want: usize) -> Result<usize, Why> {
        self.buf.reserve(want.clamp(self.chunk, 1 << 20));
        self.io.read_buf(&mut self.buf).await.map_err(Why::Io)
    }

    /// Reads and parses a response head; with whether the connection stays open after it.
    async fn head(&mut self) -> Result<(http::response::Parts, bool), Why> {
        loop {
            if !self.buf.is_empty() {
                if let Some(parsed) = parse_head(&mut self.buf)? {
                    return Ok(parsed);
                }
                if self.buf.len() >= MAX_HEAD {
                    return Err(Why::Protocol("message head is too large".into()));
                }
            }
            if self.fill().await? == 0 {
                return Err(Why::Closed);
            }
        }
    }

    /// The body as framed: its kept bytes (up to [`KEPT`]) and its whole size.
    async fn body(&mut self, framing: Framing) -> Result<(Bytes, u64), Why> {
        match framing {
            Framing::Empty => Ok((Bytes::new(), 0)),
            Framing::Length(n) if n <= KEPT as u64 => {
                while (self.buf.len() as u64) < n {
                    let rest = (n - self.buf.len() as u64).min(1 << 20) as usize;
                    if self.fill_for(rest).await? == 0 {
                        return Err(Why::Closed);
                    }
                }
                Ok((self.buf.split_to(n as usize).freeze(), n))
            }
            Framing::Length(n) => {
                let mut body = Collected::default();
                self.data(n, &mut body).await?;
                Ok(body.finish())
            }
            Framing::Close => {
                let mut body = Collected::default();
                while self.fill().await? > 0 {
                    body.push(self.buf.split().freeze());
                }
                body.push(self.buf.split().freeze());
                Ok(body.finish())
            }
            Framing::Chunked => self.chunked().await,
        }
    }

    /// Moves the next `n` bytes of the stream into `body`, read as they come.
    async fn data(&mut self, mut n: u64, body: &mut Collected) -> Result<(), Why> {
        while n > 0 {
            if self.buf.is_empty() && self.fill_for(n.min(1 << 20) as usize).await? == 0 {
                return Err(Why::Closed);
            }
            let take = (self.buf.len() as u64).min(n) as usize;
            body.push_slice(&self.buf[..take]);
            self.buf.advance(take);
            n -= take as u64;
        }
        Ok(())
    }

    /// A chunked body: each chunk's size line (extensions ignored), its data and CRLF, up
    /// to the last chunk and the trailers after it (read and dropped, as hyper does unless
    /// asked for them).
    async fn chunked(&mut self) -> Result<(Bytes, u64), Why> {
        let mut body = Collected::default();
        loop {
            let line = self.line(MAX_CHUNK_LINE).await?;
            let size = chunk_size(&line)?;
            if size == 0 {
                let mut trailers = 0;
                loop {
                    let t = self.line(MAX_TRAILERS).await?;
                    trailers += t.len() + 2;
                    if t.is_empty() {
                        return Ok(body.finish());
                    }
                    if trailers > MAX_TRAILERS {
                        return Err(Why::Protocol("chunk trailers are too large".into()));
                    }
                }
            }
            self.data(size, &mut body).await?;
            while self.buf.len() < 2 {
                if self.fill().await? == 0 {
                    return Err(Why::Closed);
                }
            }
            if &self.buf[..2] != b"\r\n" {
                return Err(Why::Protocol(
                    "invalid chunk: no CRLF after its data".into(),
                ));
            }
            self.buf.advance(2);
        }
    }

    /// The next CRLF-terminated line, without its CRLF.
    async fn line(&mut self, max: usize) -> Result<Bytes, Why> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(at + 2).freeze();
                return Ok(line.slice(..at));
            }
            if self.buf.len() > max {
                return Err(Why::Protocol("invalid chunk size line: too long".into()));
            }
            if self.fill().await? == 0 {
                return Err(Why::Closed);
            }
        }
    }
}

/// What went wrong reading an answer, before the origin is named.
enum Why {
    /// The stream ended before the answer did.
    Closed,
    Io(std::io::Error),
    /// Not HTTP as it should be: hyper's words.
    Protocol(String),
}

impl Why {
    fn failure(self, label: &str) -> Failure {
        match self {
            Why::Closed => fail(
                ErrorKind::Reset,
                format!("{label}: connection closed before message completed"),
            ),
            Why::Io(e) => io_failure(label, &e),
            Why::Protocol(m) => fail(ErrorKind::Protocol, format!("{label}: {m}")),
        }
    }
}

/// An I/O error under an exchange: a timeout, garbage under TLS, or (most) a reset.
fn io_failure(label: &str, e: &std::io::Error) -> Failure {
    let kind = match e.kind() {
        std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
        std::io::ErrorKind::InvalidData => ErrorKind::Protocol,
        _ => ErrorKind::Reset,
    };
    fail(kind, format!("{label}: connection error: {e}"))
}

/// The request as hyper's HTTP/1.1 client writes it: the request line, each header as
/// `name: value` in the map's order, `content-length` last for a non-empty body (the engine
/// never sets one itself), a blank line, the body.
pub(crate) fn encode(req: &Request<Bytes>, out: &mut Vec<u8>) {
    out.clear();
    let body = req.body();
    out.reserve(256 + body.len());
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in req.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() && !req.headers().contains_key(CONTENT_LENGTH) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Parses a complete head at the start of `buf` (and takes it out); `None` when more bytes
/// are needed.
fn parse_head(buf: &mut BytesMut) -> Result<Option<(http::response::Parts, bool)>, Why> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(Why::Protocol(parse_words(e).into())),
    };
    let code = resp.code.unwrap_or(0);
    let version = match resp.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    // Where each name and value lies in the head, so that values can share its bytes.
    let start = buf.as_ptr() as usize;
    let at = |s: &[u8]| (s.as_ptr() as usize - start, s.len());
    let spans: Vec<((usize, usize), (usize, usize))> = resp
        .headers
        .iter()
        .map(|h| (at(h.name.as_bytes()), at(h.value)))
        .collect();
    let head = buf.split_to(len).freeze();
    let status = StatusCode::from_u16(code)
        .map_err(|_| Why::Protocol("invalid HTTP status-code parsed".into()))?;
    let mut map = HeaderMap::with_capacity(spans.len());
    for ((n, nl), (v, vl)) in spans {
        let name = HeaderName::from_bytes(&head[n..n + nl])
            .map_err(|_| Why::Protocol("invalid HTTP header parsed".into()))?;
        let value = HeaderValue::from_maybe_shared(head.slice(v..v + vl))
            .map_err(|_| Why::Protocol("invalid HTTP header parsed".into()))?;
        map.append(name, value);
    }
    let keep_alive = match version {
        Version::HTTP_11 => !has_token(&map, CONNECTION, "close"),
        _ => has_token(&map, CONNECTION, "keep-alive"),
    };
    let mut parts = http::Response::new(()).into_parts().0;
    parts.status = status;
    parts.version = version;
    parts.headers = map;
    Ok(Some((parts, keep_alive)))
}

/// hyper's words for httparse's errors.
fn parse_words(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::Version => "invalid HTTP version parsed",
        httparse::Error::Status => "invalid HTTP status-code parsed",
        httparse::Error::TooManyHeaders => "message head is too large",
        _ => "invalid HTTP header parsed",
    }
}

/// Whether a comma-separated header (`connection`, `transfer-encoding`) lists `token`.
fn has_token(map: &HeaderMap, name: HeaderName, token: &str) -> bool {
    map.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// Until the connection closes.
    Close,
}

fn framing(parts: &http::response::Parts, head_only: bool) -> Result<Framing, Why> {
    let s = parts.status;
    if head_only
        || s.is_informational()
        || s == StatusCode::NO_CONTENT
        || s == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    let h = &parts.headers;
    if h.contains_key(TRANSFER_ENCODING) {
        // Chunked only when it is the last coding; any other makes the body run to the close.
        let last_is_chunked = h
            .get_all(TRANSFER_ENCODING)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.rsplit(',').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"));
        return Ok(if last_is_chunked && parts.version == Version::HTTP_11 {
            Framing::Chunked
        } else {
            Framing::Close
        });
    }
    let mut length: Option<u64> = None;
    for v in h.get_all(CONTENT_LENGTH) {
        let text = v.to_str().map_err(|_| bad_length())?;
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad_length());
            }
            let n: u64 = part.parse().map_err(|_| bad_length())?;
            if length.is_some_and(|l| l != n) {
                return Err(bad_length());
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(Framing::Close, Framing::Length))
}

fn bad_length() -> Why {
    Why::Protocol("invalid content-length parsed".into())
}

/// The size of a chunk from its size line (hex digits, then perhaps `;extensions`).
fn chunk_size(line: &[u8]) -> Result<u64, Why> {
    let bad = || Why::Protocol("invalid chunk size line".into());
    let digits = line
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if digits.is_empty() || digits.len() > 16 {
        return Err(bad());
    }
    let text = std::str::from_utf8(digits).map_err(|_| bad())?;
    u64::from_str_radix(text, 16).map_err(|_| bad())
}

#[cfg(test)]
#[path = "h1_tests.rs"]
mod tests;
