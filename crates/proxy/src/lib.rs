//! loadtape's recording proxy.
//!
//! A man-in-the-middle HTTP(S) proxy for recording what a mini program really sends: a phone (or
//! WeChat DevTools, a browser, curl) is pointed at it and trusts its CA; every HTTP/1.1 and
//! HTTP/2 exchange is passed through unchanged and appended to a `recording/v1` file as it
//! completes.
//!
//! The pieces, each in its own module: [`ca`] (the root a device installs), [`leaf`]
//! (per-host certificates issued on the fly, cached), [`rules`] (which clients may connect,
//! which hosts are opened), `server` (the proxy-facing listener), `tunnel` (what follows a
//! CONNECT: interception, plain HTTP, or a blind tunnel), `forward` (sending a request upstream
//! while teeing both bodies), `recorder` (documents written off the hot path) and `ca_page`
//! (the page a phone downloads the CA from).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;

pub mod ca;
mod ca_page;
mod capture;
mod forward;
mod hints;
pub mod leaf;
mod prefixed;
mod recorder;
pub mod rules;
mod server;
mod tunnel;
mod upstream;

pub use ca::{CaInfo, CertificateAuthority};
pub use recorder::{LinePrinter, Summary};
pub use server::{Proxy, ProxyConfig};

/// The error type of bodies flowing through the proxy.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type on both sides of the proxy.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// The one crypto provider in the tree (ring), for the proxy's server and client sides alike.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    loadtape_net::provider()
}

/// Where a phone finds the CA page: the proxy's own address, or the magic host through it.
pub const MAGIC_HOST: &str = "loadtape.ca";

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

/// The default recording path: `recordings/<date-time>.yaml`.
pub fn default_recording_path() -> PathBuf {
    PathBuf::from("recordings").join(format!(
        "{}.yaml",
        chrono::Local::now().format("%Y-%m-%d-%H%M%S")
    ))
}
