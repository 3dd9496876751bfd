//! The TLS client settings the recording proxy (toward upstream servers) and the replay engine
//! (toward the system under test) share, so that both trust the same roots the same way and
//! the tree has one crypto provider: ring, for rustls and rcgen alike.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The one crypto provider in the tree.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that trusts the system's roots plus the CA certificates (PEM) in
/// `extra_cas`, or, with `insecure`, any certificate. `flag` names the command-line option the
/// files came from, for errors ("--ca certs/x.pem: no PEM certificate in it"). ALPN is left to
/// the caller.
pub fn client_config(
    flag: &str,
    extra_cas: &[PathBuf],
    insecure: bool,
) -> Result<ClientConfig, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    if insecure {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth());
    }
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    for file in extra_cas {
        let pem = std::fs::read(file).map_err(|e| format!("{flag} {}: {e}", file.display()))?;
        let mut found = 0;
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
            let cert: CertificateDer<'static> =
                cert.map_err(|e| format!("{flag} {}: {e:?}", file.display()))?;
            roots.add(cert).map_err(|e| {
                format!(
                    "{flag} {}: not a usable CA certificate: {e}",
                    file.display()
                )
            })?;
            found += 1;
        }
        if found == 0 {
            return Err(format!(
                "{flag} {}: no PEM certificate in it",
                file.display()
            ));
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// Accepts any server certificate (`--insecure`, `--insecure-upstream`: self-signed staging
/// servers) but still checks handshake signatures, so the connection itself is sound.
#[derive(Debug)]
pub struct NoVerification(pub Arc<CryptoProvider>);

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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_ca_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("loadtape-net-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = client_config("--ca", std::slice::from_ref(&empty), false).unwrap_err();
        assert!(
            err.starts_with("--ca ") && err.ends_with("no PEM certificate in it"),
            "{err}"
        );
        let err = client_config("--upstream-ca", &[dir.join("missing.pem")], false).unwrap_err();
        assert!(err.starts_with("--upstream-ca "), "{err}");
        assert!(client_config("--ca", &[], false).is_ok());
        assert!(
            client_config("--ca", &[empty], true).is_ok(),
            "insecure reads no CA file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
