//! Why an exchange failed, as a count and in words. The kind decides what a user looks at
//! (the address, the certificate, a server that does not speak HTTP, one that drops
//! connections, a slow one), so it comes from what hyper and the socket said — a parse error,
//! a reset, an early close — and the words keep their full chain of causes (`connection
//! error: Connection reset by peer (os error 104)`), never a guess.

use std::error::Error as _;
use std::io;

use crate::metrics::ErrorKind;

/// Why an exchange failed.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// How it is counted.
    pub kind: ErrorKind,
    /// What happened, for `--debug`, warnings and the result's `error_messages`.
    pub message: String,
}

/// A failure of `kind`, said as `message`.
pub(crate) fn fail(kind: ErrorKind, message: impl Into<String>) -> Failure {
    Failure {
        kind,
        message: message.into(),
    }
}

/// A failure hyper reported on an exchange that was under way (`what` says which: the
/// origin, or `reading the body`).
pub(crate) fn broken(what: &str, e: &hyper::Error) -> Failure {
    fail(kind_of(e), format!("{what}: {}", describe(e)))
}

/// hyper's own judgement first (it knows a parse error from a close), then the I/O error
/// under it.
fn kind_of(e: &hyper::Error) -> ErrorKind {
    if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() {
        return ErrorKind::Protocol;
    }
    if e.is_timeout() {
        return ErrorKind::Timeout;
    }
    match io_kind(e) {
        Some(io::ErrorKind::TimedOut) => ErrorKind::Timeout,
        Some(io::ErrorKind::InvalidData) => ErrorKind::Protocol,
        // Reset, aborted, broken pipe, early EOF, a closed or cancelled exchange, and an
        // HTTP/2 stream the server reset or a connection it went away from.
        _ => ErrorKind::Reset,
    }
}

/// The kind of the first I/O error in `e`'s chain of causes.
fn io_kind(e: &hyper::Error) -> Option<io::ErrorKind> {
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        cause = c.source();
    }
    None
}

/// `e` and each of its causes, joined: hyper's top-level message alone (`connection error`)
/// does not say what happened.
fn describe(e: &hyper::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = c.source();
    }
    text
}
