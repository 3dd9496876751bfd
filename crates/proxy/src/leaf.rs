//! Leaf certificates issued on the fly, one per host name, behind a bounded cache.
//!
//! As mitmproxy and hudsucker do, one leaf key is generated at start-up and serves every host:
//! issuing a leaf is then a single ECDSA signature by the CA (tens of microseconds), not a key
//! generation. The TLS server configuration built around each leaf is cached, so a host's first
//! connection pays for issuance and every later one is a cache hit.

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use quick_cache::sync::Cache;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;

use crate::ca::{time_now, CertificateAuthority};

/// How many hosts' configurations are kept. A phone session touches tens of hosts; this bound
/// only matters for a proxy left running for days.
const CACHE_CAPACITY: usize = 2048;

/// Issues the certificate an intercepted host is shown, signed by the CA, and keeps the TLS
/// server configuration built around it, one per host name.
pub struct LeafIssuer {
    ca: Arc<CertificateAuthority>,
    key: KeyPair,
    key_der: PrivatePkcs8KeyDer<'static>,
    cache: Cache<String, Arc<ServerConfig>>,
}

impl LeafIssuer {
    /// Generates the one leaf key every host's certificate shares; fails only if key
    /// generation does.
    pub fn new(ca: Arc<CertificateAuthority>) -> Result<LeafIssuer> {
        let key = KeyPair::generate().context("cannot generate the leaf key")?;
        let key_der = PrivatePkcs8KeyDer::from(key.serialize_der());
        Ok(LeafIssuer {
            ca,
            key,
            key_der,
            cache: Cache::new(CACHE_CAPACITY),
        })
    }

    /// The TLS configuration presenting a leaf for `host` (a DNS name or an IP address), issued
    /// on first use. Concurrent first connections to one host issue it once.
    pub fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.cache
            .get_or_insert_with(&host, || self.issue(&host).map(Arc::new))
    }

    fn issue(&self, host: &str) -> Result<ServerConfig> {
        let cert = self.certificate(host)?;
        let mut config = ServerConfig::builder_with_provider(loadtape_net::provider())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(vec![cert], PrivateKeyDer::Pkcs8(self.key_der.clone_key()))
            .context("cannot use the issued leaf")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// A leaf as browsers require it: the name as a SAN of the right type, serverAuth EKU,
    /// digitalSignature key usage, backdated two days (phone clocks drift) and valid for far
    /// less than Apple's 397-day limit.
    pub fn certificate(&self, host: &str) -> Result<CertificateDer<'static>> {
        let san = match loadtape_net::strip_brackets(host).parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                host.to_string()
                    .try_into()
                    .with_context(|| format!("`{host}` is not a valid host name"))?,
            ),
        };
        let mut params = CertificateParams::default();
        params.subject_alt_names = vec![san];
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, host);
        name.push(DnType::OrganizationName, "loadtape");
        params.distinguished_name = name;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = time_now();
        params.not_before = now - time::Duration::days(2);
        params.not_after = now + time::Duration::days(300);
        params.serial_number = Some(random_serial());
        let cert = params
            .signed_by(&self.key, &self.ca.issuer)
            .with_context(|| format!("cannot sign a leaf for {host}"))?;
        Ok(cert.der().clone())
    }
}

/// A random positive 16-byte serial: browsers reject two certificates with one serial from the
/// same issuer, which would happen across proxy restarts with a counter.
fn random_serial() -> rcgen::SerialNumber {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    rcgen::SerialNumber::from_slice(&bytes)
}
