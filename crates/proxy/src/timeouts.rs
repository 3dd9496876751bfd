//! How long the proxy keeps a connection that is not being used.
//!
//! Every connection costs a file descriptor, on the client side and upstream. A connection
//! that is opened and never used, or stops halfway through a request head or a TLS
//! ClientHello, would otherwise hold its descriptor for ever, and a few hundred of them (a
//! phone that went to sleep, a port scanner, a load tool's leftovers) starve the real clients
//! of a proxy running under a low `ulimit -n`. Each wait below ends such a connection; the
//! values are long enough that no working client ever meets them.

use std::time::Duration;

/// From the moment an HTTP/1 connection waits for a request (just accepted, or after the
/// previous response) until that request's head is complete; so it is also the HTTP/1
/// keep-alive idle timeout. hyper's own default: a real client sends a head at once, and one
/// that comes back after 30 s reconnects in a round trip.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// No byte either way on a client connection (an HTTP/2 connection with no stream open, a
/// response the client stopped reading): it is shut down gracefully, letting exchanges in
/// flight finish, and dropped after a second such period. nginx's `keepalive_timeout`
/// default, which every mobile HTTP stack already lives with; and above the 60 s an upstream
/// has to start its answer, so a slow answer comes before the shutdown.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// A client that has not spoken this long after CONNECT is taken to wait for the server (a
/// server-speaks-first protocol): the tunnel goes blind. A TLS or HTTP client speaks within a
/// round trip.
pub const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(5);

/// A TLS handshake with a client, from its first byte to the end, and separately its
/// ClientHello once the first byte came: the same 10 s the proxy gives an upstream to connect
/// and to finish its own handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// No byte either way through a blind tunnel (a pinned host, a host outside `--include`):
/// the proxy cannot see what the tunnel carries, so it waits as long as nginx's stream proxy
/// does by default (`proxy_timeout`), longer than the heartbeat of the long-lived connections
/// apps keep (push, chat, MQTT).
pub const BLIND_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// An upstream connection that no exchange has used for this long is closed. Servers close
/// idle connections themselves (AWS load balancers after 60 s, nginx after 75 s), and a
/// request sent on one they just closed has to be retried; and the idle connections of a
/// long-lived client connection would hold descriptors for hosts it no longer calls.
pub const UPSTREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Every connection timeout of one proxy. [`Timeouts::default`] is the constants above;
/// [`Timeouts::capped`] shortens them all, for tests that watch a timeout fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// [`HEADER_READ_TIMEOUT`].
    pub header_read: Duration,
    /// [`IDLE_TIMEOUT`].
    pub idle: Duration,
    /// [`FIRST_BYTES_TIMEOUT`].
    pub first_bytes: Duration,
    /// [`HANDSHAKE_TIMEOUT`].
    pub handshake: Duration,
    /// [`BLIND_IDLE_TIMEOUT`].
    pub blind_idle: Duration,
    /// [`UPSTREAM_IDLE_TIMEOUT`].
    pub upstream_idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            header_read: HEADER_READ_TIMEOUT,
            idle: IDLE_TIMEOUT,
            first_bytes: FIRST_BYTES_TIMEOUT,
            handshake: HANDSHAKE_TIMEOUT,
            blind_idle: BLIND_IDLE_TIMEOUT,
            upstream_idle: UPSTREAM_IDLE_TIMEOUT,
        }
    }
}

impl Timeouts {
    /// Each timeout, but none longer than `cap` (at least 1 ms: a zero wait would close every
    /// connection before its first byte).
    pub fn capped(self, cap: Duration) -> Timeouts {
        let cap = cap.max(Duration::from_millis(1));
        Timeouts {
            header_read: self.header_read.min(cap),
            idle: self.idle.min(cap),
            first_bytes: self.first_bytes.min(cap),
            handshake: self.handshake.min(cap),
            blind_idle: self.blind_idle.min(cap),
            upstream_idle: self.upstream_idle.min(cap),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_shortens_only_what_is_longer() {
        let t = Timeouts::default().capped(Duration::from_secs(8));
        assert_eq!(t.first_bytes, FIRST_BYTES_TIMEOUT);
        assert_eq!(t.header_read, Duration::from_secs(8));
        assert_eq!(t.blind_idle, Duration::from_secs(8));
        assert_eq!(
            Timeouts::default().capped(Duration::ZERO).idle,
            Duration::from_millis(1)
        );
    }
}
