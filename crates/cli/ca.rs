//! `loadtape ca`: the root certificate a device installs to let the proxy record HTTPS.

use std::path::PathBuf;

use loadtape_proxy::CertificateAuthority;

use crate::exit::Failure;

/// Create or show the root CA that the recording proxy signs its certificates with.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create the CA (loadtape-ca.pem, loadtape-ca.cer in DER, loadtape-ca.key mode 0600).
    ///
    /// An existing CA is kept unless --force: every device that trusts it would otherwise
    /// have to be set up again. `loadtape record` creates one on first use.
    Init {
        /// Where the CA files live.
        #[arg(long, default_value = "certs", value_name = "DIR")]
        dir: PathBuf,
        /// Replace an existing CA.
        #[arg(long)]
        force: bool,
    },
    /// Print the CA's path, subject, SHA-256 fingerprint, validity, and how to install it.
    Show {
        /// Where the CA files live.
        #[arg(long, default_value = "certs", value_name = "DIR")]
        dir: PathBuf,
    },
}

pub fn run(args: Args) -> Result<(), Failure> {
    match args.command {
        Command::Init { dir, force } => {
            // Keeping the CA is what a second `ca init` should do: devices trust it already.
            if !force && dir.join(loadtape_proxy::ca::CERT_PEM).exists() {
                let ca = CertificateAuthority::load(&dir).map_err(Failure::BadInput)?;
                outln!(
                    "kept the CA in {}: devices that trust it keep working (--force makes a new \
                     one, which every device must then trust again)",
                    dir.display()
                );
                return show(&ca);
            }
            let ca = CertificateAuthority::init(&dir, force, "loadtape ca init")
                .map_err(Failure::BadInput)?;
            outln!("created a new CA in {}", dir.display());
            show(&ca)
        }
        Command::Show { dir } => {
            let ca = CertificateAuthority::load(&dir).map_err(Failure::BadInput)?;
            show(&ca)
        }
    }
}

fn show(ca: &CertificateAuthority) -> Result<(), Failure> {
    let info = ca.describe()?;
    outln!("certificate  {}", info.path.display());
    outln!(
        "DER copy     {}",
        ca.dir.join(loadtape_proxy::ca::CERT_DER).display()
    );
    outln!("subject      {}", info.subject);
    outln!("SHA-256      {}", info.fingerprint_sha256);
    outln!("valid        {} to {}", info.not_before, info.not_after);
    outln!();
    outln!(
        "To install it on a device, start `loadtape record`, set the device's Wi-Fi proxy to the"
    );
    outln!(
        "address it prints, and open http://<that address>/ (or http://loadtape.ca/ through the"
    );
    outln!(
        "proxy): the page has the download and the steps for iOS (remember the full-trust switch"
    );
    outln!("in Certificate Trust Settings), Android, WeChat DevTools and desktop browsers.");
    outln!(
        "curl: curl --proxy http://HOST:8888 --cacert {} https://...",
        info.path.display()
    );
    Ok(())
}
