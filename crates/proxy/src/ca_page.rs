//! The page a phone opens to install the CA: served for any plain-HTTP request to the proxy's
//! own address, and for `http://loadtape.ca/` through the proxy. It needs the CA and the
//! address to print, nothing else of the proxy.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{header, HeaderValue, Request, Response, StatusCode};

use crate::body::{full, ProxyBody};
use crate::ca::{self, CertificateAuthority};

/// Where a phone finds the CA page: the proxy's own address, or the magic host through it.
pub const MAGIC_HOST: &str = "loadtape.ca";

const PAGE: &str = include_str!("ca_page.html");

/// The CA page of one proxy.
pub(crate) struct CaPage {
    pub ca: Arc<CertificateAuthority>,
    /// The proxy's address, as the page tells the tester to set it.
    pub listen: SocketAddr,
}

impl CaPage {
    /// Whether `host` (a request's absolute-form host, lower-case) asks for this page: no host
    /// at all (a request to the proxy itself) or the magic host.
    pub(crate) fn is_for(host: Option<&str>) -> bool {
        host.is_none_or(|h| h == MAGIC_HOST)
    }

    pub(crate) fn serve<B>(&self, req: &Request<B>) -> Response<ProxyBody> {
        match req.uri().path() {
            "/ca.pem" => file(
                self.ca.cert_pem.as_bytes().to_vec(),
                "application/x-pem-file",
                ca::CERT_PEM,
            ),
            "/ca.cer" | "/ca.crt" => file(
                self.ca.cert_der.to_vec(),
                "application/x-x509-ca-cert",
                ca::CERT_DER,
            ),
            "/favicon.ico" => {
                let mut r = Response::new(full(Vec::new()));
                *r.status_mut() = StatusCode::NOT_FOUND;
                r
            }
            _ => self.page(),
        }
    }

    fn page(&self) -> Response<ProxyBody> {
        let fingerprint = self
            .ca
            .describe()
            .map(|i| i.fingerprint_sha256)
            .unwrap_or_default();
        let html = PAGE
            .replace("{{PROXY}}", &self.listen.to_string())
            .replace("{{PORT}}", &self.listen.port().to_string())
            .replace("{{FINGERPRINT}}", &fingerprint);
        let mut r = Response::new(full(html.into_bytes()));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

fn file(bytes: Vec<u8>, content_type: &'static str, name: &str) -> Response<ProxyBody> {
    let mut r = Response::new(full(bytes));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}
