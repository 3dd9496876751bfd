//! The root certificate authority a tester installs on the phone.
//!
//! Three files in the CA directory: `loadtape-ca.pem` (the certificate, PEM), `loadtape-ca.cer`
//! (the same in DER, which Android and Windows import by tapping it) and `loadtape-ca.key` (the
//! private key, mode 0600). The CA is made once and kept: a phone that trusts it keeps working
//! across proxy restarts.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::CertificateDer;

/// The certificate in PEM: the file that says a directory holds a CA, and the name the CA
/// page's `/ca.pem` download is saved under.
pub const CERT_PEM: &str = "loadtape-ca.pem";
/// The certificate in DER, which Android and Windows import by tapping it; the name of the CA
/// page's `/ca.cer` download.
pub const CERT_DER: &str = "loadtape-ca.cer";
/// The private key in PEM, written mode 0600; never served.
pub const KEY_PEM: &str = "loadtape-ca.key";

/// A loaded CA: its certificate and the key that signs leaves.
pub struct CertificateAuthority {
    /// The directory the CA's three files are in.
    pub dir: PathBuf,
    /// The certificate as PEM, as read from [`CERT_PEM`]; what clients are told to trust.
    pub cert_pem: String,
    /// The same certificate in DER: the `.cer` download, and what the fingerprint is taken of.
    pub cert_der: CertificateDer<'static>,
    pub(crate) issuer: rcgen::Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("dir", &self.dir)
            .finish()
    }
}

impl CertificateAuthority {
    /// Creates a new CA in `dir`; `made_by` (`loadtape ca init`, `loadtape record`) goes into
    /// its subject, so that a tester looking at the device's trust settings knows where it came
    /// from. Refuses to replace an existing one unless `force`: every device that trusts the
    /// old CA would have to be set up again.
    pub fn init(dir: &Path, force: bool, made_by: &str) -> Result<CertificateAuthority> {
        let cert_path = dir.join(CERT_PEM);
        if !force && (cert_path.exists() || dir.join(KEY_PEM).exists()) {
            bail!(
                "a CA already exists in {} (devices that trust it keep working); pass --force to replace it",
                dir.display()
            );
        }
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let key = KeyPair::generate().context("cannot generate the CA key")?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "loadtape CA");
        name.push(DnType::OrganizationName, "loadtape");
        name.push(
            DnType::OrganizationalUnitName,
            format!(
                "made on {} by {made_by}",
                chrono::Utc::now().format("%Y-%m-%d")
            ),
        );
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = time_now();
        params.not_before = now - time::Duration::days(2);
        // Ten years: a root is installed by hand and should outlive the project's test cycles.
        params.not_after = now + time::Duration::days(3650);
        let cert = params
            .self_signed(&key)
            .context("cannot sign the CA certificate")?;

        write_file(&dir.join(KEY_PEM), key.serialize_pem().as_bytes(), true)?;
        write_file(&dir.join(CERT_DER), cert.der(), false)?;
        write_file(&cert_path, cert.pem().as_bytes(), false)?;
        CertificateAuthority::load(dir)
    }

    /// Loads the CA from `dir`.
    pub fn load(dir: &Path) -> Result<CertificateAuthority> {
        let cert_path = dir.join(CERT_PEM);
        let key_path = dir.join(KEY_PEM);
        let cert_pem = fs::read_to_string(&cert_path).with_context(|| {
            format!(
                "cannot read {}; create a CA with `loadtape ca init`",
                cert_path.display()
            )
        })?;
        let key_pem = fs::read_to_string(&key_path)
            .with_context(|| format!("cannot read {}", key_path.display()))?;
        let key = KeyPair::from_pem(&key_pem)
            .with_context(|| format!("{} is not a private key in PEM", key_path.display()))?;
        let der = pem_to_der(&cert_pem)
            .with_context(|| format!("{} is not a certificate in PEM", cert_path.display()))?;
        let issuer = rcgen::Issuer::from_ca_cert_der(&der, key)
            .with_context(|| format!("{} cannot be used to sign", cert_path.display()))?;
        Ok(CertificateAuthority {
            dir: dir.to_path_buf(),
            cert_pem,
            cert_der: der,
            issuer,
        })
    }

    /// Loads the CA, creating it first if the directory has none (what `record` does).
    /// Returns whether it was created.
    pub fn load_or_init(dir: &Path) -> Result<(CertificateAuthority, bool)> {
        if dir.join(CERT_PEM).exists() {
            Ok((CertificateAuthority::load(dir)?, false))
        } else {
            Ok((
                CertificateAuthority::init(dir, false, "loadtape record")?,
                true,
            ))
        }
    }

    /// Where the PEM certificate is, for telling the tester which file to install.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CERT_PEM)
    }

    /// What `loadtape ca show` prints about the certificate.
    pub fn describe(&self) -> Result<CaInfo> {
        let (_, x509) = x509_parser::parse_x509_certificate(&self.cert_der)
            .map_err(|e| anyhow::anyhow!("cannot parse the CA certificate: {e}"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.cert_der);
        let fingerprint = digest
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        Ok(CaInfo {
            path: self.cert_path(),
            subject: x509.subject().to_string(),
            fingerprint_sha256: fingerprint,
            not_before: x509.validity().not_before.to_string(),
            not_after: x509.validity().not_after.to_string(),
        })
    }
}

/// The facts about a CA that a tester compares against what the phone shows.
#[derive(Debug, Clone)]
pub struct CaInfo {
    /// The PEM certificate's path ([`CertificateAuthority::cert_path`]).
    pub path: PathBuf,
    /// The subject's distinguished name as text (`CN=loadtape CA, O=loadtape, …`).
    pub subject: String,
    /// SHA-256 of the DER certificate, upper-case hex bytes joined by `:`, as phones show it.
    pub fingerprint_sha256: String,
    /// Start of validity; loadtape backdates its CA two days, for phones whose clocks lag.
    pub not_before: String,
    /// End of validity; ten years after creation for a CA loadtape made.
    pub not_after: String,
}

pub(crate) fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn pem_to_der(pem: &str) -> Result<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject as _;
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn write_file(path: &Path, contents: &[u8], secret: bool) -> Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let _ = secret;
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, contents)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    if secret {
        // `mode` applies only when the file is created; a replaced key is tightened too.
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
