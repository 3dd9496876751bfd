//! The page a phone opens to install the CA: served for any plain-HTTP request to the proxy's
//! own address, and for `http://loadtape.ca/` through the proxy.

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};

use crate::server::Shared;
use crate::ProxyBody;

const PAGE: &str = include_str!("ca_page.html");

pub(crate) fn serve<B>(req: &Request<B>, shared: &Shared) -> Response<ProxyBody> {
    match req.uri().path() {
        "/ca.pem" => file(
            shared.ca.cert_pem.as_bytes().to_vec(),
            "application/x-pem-file",
            "loadtape-ca.pem",
        ),
        "/ca.cer" | "/ca.crt" => file(
            shared.ca.cert_der.to_vec(),
            "application/x-x509-ca-cert",
            "loadtape-ca.cer",
        ),
        "/favicon.ico" => {
            let mut r = Response::new(body(Vec::new()));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
        _ => {
            let fingerprint = shared
                .ca
                .describe()
                .map(|i| i.fingerprint_sha256)
                .unwrap_or_default();
            let html = PAGE
                .replace("{{PROXY}}", &shared.listen.to_string())
                .replace("{{PORT}}", &shared.listen.port().to_string())
                .replace("{{FINGERPRINT}}", &fingerprint);
            let mut r = Response::new(body(html.into_bytes()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
    }
}

fn file(bytes: Vec<u8>, content_type: &'static str, name: &str) -> Response<ProxyBody> {
    let mut r = Response::new(body(bytes));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

fn body(bytes: Vec<u8>) -> ProxyBody {
    Full::new(Bytes::from(bytes))
        .map_err(|never| match never {})
        .boxed()
}
