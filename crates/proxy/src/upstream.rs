//! The proxy's client side: connections to the real servers.
//!
//! One pooled hyper client negotiates HTTP/2 or HTTP/1.1 with each upstream by ALPN on its own,
//! whatever the phone spoke, and verifies certificates against the system's roots (plus
//! `--upstream-ca`), unless `--insecure-upstream`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::ProxyBody;

pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

pub struct Upstreams {
    /// HTTP/2 or HTTP/1.1 by ALPN.
    pub any: UpstreamClient,
    /// HTTP/1.1 only: upgrades (WebSocket) need an HTTP/1.1 connection of their own.
    pub http1: UpstreamClient,
}

pub fn client_tls(extra_ca: Option<&Path>, insecure: bool) -> Result<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(crate::crypto_provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = extra_ca {
            use rustls::pki_types::pem::PemObject as _;
            let certs: Vec<_> = CertificateDer::pem_file_iter(path)
                .with_context(|| format!("--upstream-ca {}: cannot read it", path.display()))?
                .collect::<Result<_, _>>()
                .with_context(|| {
                    format!("--upstream-ca {}: not PEM certificates", path.display())
                })?;
            anyhow::ensure!(
                !certs.is_empty(),
                "--upstream-ca {}: no certificate in it",
                path.display()
            );
            for cert in certs {
                roots.add(cert).with_context(|| {
                    format!(
                        "--upstream-ca {}: not a usable CA certificate",
                        path.display()
                    )
                })?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(config)
}

pub fn build(tls: ClientConfig) -> Upstreams {
    let tls = Arc::new(tls);
    let make = |h2: bool| {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http();
        let connector = if h2 {
            builder.enable_all_versions().wrap_connector(http)
        } else {
            builder.enable_http1().wrap_connector(http)
        };
        Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector)
    };
    Upstreams {
        any: make(true),
        http1: make(false),
    }
}

/// `--insecure-upstream`: accepts any upstream certificate (self-signed staging servers).
/// Signatures are still checked so the handshake itself is sound.
#[derive(Debug)]
struct NoVerification;

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &crate::crypto_provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &crate::crypto_provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        crate::crypto_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
