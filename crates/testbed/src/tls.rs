//! A throwaway certificate authority and server certificate, made fresh at every start.
//!
//! A real mini-program backend is HTTPS-only, and the recorder's MITM proxy must verify the
//! upstream it talks to like any client would. A new CA per run means there is no long-lived key
//! to protect and nothing to install system-wide: the proxy (or curl, or a test) trusts exactly
//! the `testbed-ca.pem` written for this run. The leaf is separate from the CA so that trusting
//! the file is the same operation as trusting a real private CA.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Name of the CA certificate file written into the configured certificate directory.
pub const CA_FILE_NAME: &str = "testbed-ca.pem";

/// Validity of both certificates, from an hour before now (clock skew between machines). Under
/// the 398 days browsers allow a leaf, so even a strict client never objects; a run longer than
/// this would need a restart.
const VALIDITY: Duration = Duration::from_secs(397 * 24 * 3600);
const BACKDATE: Duration = Duration::from_secs(3600);

/// What a TLS start produces: the server configuration and the CA to trust.
pub(crate) struct Material {
    pub server_config: Arc<rustls::ServerConfig>,
    pub ca_pem: String,
}

/// Generates a CA ("loadtape testbed CA") and a leaf for `localhost`, 127.0.0.1 and ::1 (plus
/// `extra_ip`, the listen address, when it is a specific non-loopback address), and builds a
/// rustls server configuration (ring provider, ALPN `h2` then `http/1.1`, or `http/1.1` alone
/// when `http1_only`).
pub(crate) fn generate(extra_ip: Option<IpAddr>, http1_only: bool) -> anyhow::Result<Material> {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock is before 1970")?;
    let not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch.saturating_sub(BACKDATE);
    let not_after = not_before + BACKDATE + VALIDITY;

    let ca_key = KeyPair::generate().context("generating the testbed CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "loadtape testbed CA");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "loadtape");
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .context("self-signing the testbed CA")?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().context("generating the testbed server key")?;
    let mut sans = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Some(ip) = extra_ip.filter(|ip| !ip.is_loopback() && !ip.is_unspecified()) {
        sans.push(ip.to_string());
    }
    let mut leaf_params = CertificateParams::new(sans)?;
    leaf_params.distinguished_name = rcgen::DistinguishedName::new();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf_params.not_before = not_before;
    leaf_params.not_after = not_after;
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .context("signing the testbed server certificate")?;

    let chain = vec![
        leaf_cert.der().clone(),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("choosing TLS versions")?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .context("loading the testbed server certificate")?;
    config.alpn_protocols = if http1_only {
        vec![b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    };

    Ok(Material {
        server_config: Arc::new(config),
        ca_pem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_usable_config() {
        let m = generate(Some("10.1.2.3".parse().unwrap()), false).unwrap();
        assert!(m.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(
            m.server_config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        let h1 = generate(None, true).unwrap();
        assert_eq!(h1.server_config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
