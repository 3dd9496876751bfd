//! loadtape's recording proxy.
//!
//! A man-in-the-middle HTTP(S) proxy for recording what a mini program really sends: a phone (or
//! WeChat DevTools, a browser, curl) is pointed at it and trusts its CA; every HTTP/1.1 and
//! HTTP/2 exchange is passed through unchanged and appended to a `recording/v1` file as it
//! completes.
//!
//! The main types: [`Proxy`] (started from a [`ProxyConfig`], stopped into a [`Summary`]) and
//! [`CertificateAuthority`]. The pieces, each in its own module, depend on each other in one
//! direction only (no module uses one that uses it back):
//!
//! - `server`: the proxy-facing listener — who may connect, proxy credentials, and dispatch to
//!   the CA page, a tunnel or the forwarder; it builds everything below and nothing uses it.
//! - `accept`: the accept loop — the cap on client connections (from the descriptor limit)
//!   and accept errors backed off and said once per burst.
//! - `tunnel` (`Tunnels`): what follows a CONNECT — interception, plain HTTP, or a
//!   blind tunnel; intercepted requests go to the forwarder.
//! - `forward` (`Forwarder`): sending a request upstream while teeing both bodies, recording
//!   the exchange, counting it in flight for shutdown (`drain`).
//! - `upstream`: the upstream connections of one client connection, dialed by
//!   [`loadtape_net::dial`].
//! - `ca_page` (`CaPage`: the CA and the address): the page a phone downloads the CA from.
//! - `recorder` (documents written off the hot path), `capture` (teed bodies), `hints` (token
//!   names in a line), `notices` (advice printed once), `body` (the body type, short answers),
//!   `prefixed` (a tunnel's first bytes, read to tell what it carries, replayed), `idle` (when
//!   a connection is idle, and ending it then).
//! - [`ui_hook`]: where the recorder's web UI (the `loadtape-ui` crate) plugs in, served at
//!   `/ui` behind the proxy's guards; [`feed`]: what it shows live, published by the
//!   recorder thread (bounded, drop-oldest: a slow page never slows recording).
//! - [`timeouts`]: how long unused connections are kept, client side and upstream.
//! - [`ca`] (the root a device installs), [`leaf`] (per-host certificates issued on the fly,
//!   cached), [`rules`] (which clients may connect, which hosts are opened).

use std::net::SocketAddr;
use std::sync::Arc;

mod accept;
mod body;
pub mod ca;
mod ca_page;
mod capture;
mod client_hello;
pub mod feed;
mod forward;
mod hints;
mod idle;
pub mod leaf;
mod notices;
mod prefixed;
mod recorder;
pub mod rules;
mod server;
pub mod testers;
pub mod timeouts;
mod tunnel;
pub mod ui_hook;
mod upstream;

pub use body::{BoxError, ProxyBody};
pub use ca::{CaInfo, CertificateAuthority};
pub use ca_page::MAGIC_HOST;
pub use feed::{Feed, FeedEvent, Row};
pub use recorder::{Drops, LinePrinter, Summary};
pub use server::{default_recording_path, Proxy, ProxyConfig};
pub use testers::{Marks, Testers};
pub use timeouts::Timeouts;
pub use ui_hook::{UiContext, UiFuture, UiHook, UiPages, UI_PATH};

/// The one crypto provider in the tree (ring), for the proxy's server and client sides alike.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    loadtape_net::provider()
}

/// The addresses a phone on the LAN can use to reach a proxy listening on `listen`: each
/// non-loopback interface address when listening on all interfaces, else the address itself.
pub fn reachable_addresses(listen: SocketAddr) -> Vec<SocketAddr> {
    if !listen.ip().is_unspecified() {
        return vec![listen];
    }
    let mut addrs: Vec<SocketAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !i.is_loopback())
        .map(|i| i.ip())
        .filter(|ip| ip.is_ipv4() == listen.is_ipv4() || listen.is_ipv6())
        .filter(|ip| match ip {
            // Link-local IPv6 needs a zone id a phone's proxy setting cannot take.
            std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
            _ => true,
        })
        .map(|ip| SocketAddr::new(ip, listen.port()))
        .collect();
    addrs.sort();
    addrs.dedup();
    if addrs.is_empty() {
        addrs.push(SocketAddr::new([127, 0, 0, 1].into(), listen.port()));
    }
    addrs
}

/// A QR code of `text` drawn with Unicode half blocks, for a phone's camera to read off the
/// terminal.
pub fn qr_code(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}
