//! How loadtape reaches a server, shared by the recording proxy (toward upstream servers) and
//! the replay engine (toward the system under test), so that both name, dial and trust servers
//! the same way and differ only in what they do with a connection.
//!
//! - [`Origin`] (`scheme://host:port`): parsing, display, the default ports 80/443 and the
//!   `[::1]` bracket rule, written once for the whole tree.
//! - [`hop`]: the hop-by-hop header list (RFC 9110 §7.6.1) — headers about one connection that
//!   are never copied to another.
//! - [`dial`] (feature `dial`, on by default): TCP connect with a timeout, then TLS with
//!   rustls ([`TlsConfig`]: system roots plus `--ca` files, or `--insecure`) and ALPN; it
//!   returns the byte stream and the negotiated protocol, and the caller runs its own HTTP/2 or
//!   HTTP/1.1 handshake on it. [`tls::client_config`] and [`provider`] are the rustls pieces.
//!
//! Without the `dial` feature only `Origin` and `hop` are built, on the `http` crate alone:
//! that is what loadtape-detect uses, so converting a recording pulls in no tokio or rustls.

pub mod hop;
mod origin;

pub use origin::{default_port, strip_brackets, Origin, Scheme};

#[cfg(feature = "dial")]
mod dial;
#[cfg(feature = "dial")]
pub mod tls;

#[cfg(feature = "dial")]
pub use dial::{
    connect_tcp, dial, dial_timed, DialError, DialTiming, Protocol, Stream, TlsConfig,
    CONNECT_TIMEOUT,
};
#[cfg(feature = "dial")]
pub use tls::provider;
