//! How `run` and `verify` reach the system under test: the same three flags, read once.

use std::path::PathBuf;

use anyhow::anyhow;

use crate::exit::Failure;

/// `--target`, `--ca`, `--insecure`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerArgs {
    /// Send requests for a recorded origin elsewhere: https://api.example.com=http://127.0.0.1:9090.
    #[arg(long = "target", value_name = "ORIGIN=URL")]
    pub targets: Vec<String>,
    /// Also trust this CA certificate (PEM), e.g. the testbed's certs/testbed-ca.pem.
    #[arg(long, value_name = "FILE")]
    pub ca: Vec<PathBuf>,
    /// Do not check server certificates.
    #[arg(long)]
    pub insecure: bool,
}

impl ServerArgs {
    /// The flags as given, for a `next:` hint that reaches the same server when followed.
    pub fn as_flags(&self) -> String {
        let mut out = String::new();
        for t in &self.targets {
            out.push_str(&format!(" --target {t}"));
        }
        for ca in &self.ca {
            out.push_str(&format!(" --ca {}", ca.display()));
        }
        if self.insecure {
            out.push_str(" --insecure");
        }
        out
    }

    /// `--target ORIGIN=URL` flags as (recorded origin, where to send) pairs (the engine
    /// checks both halves are origins).
    pub fn targets(&self) -> Result<Vec<(String, String)>, Failure> {
        self.targets
            .iter()
            .map(|t| {
                let (from, to) = t.split_once('=').ok_or_else(|| {
                    Failure::BadInput(anyhow!(
                        "--target {t}: write ORIGIN=URL, e.g. https://api.example.com=http://127.0.0.1:9090"
                    ))
                })?;
                Ok((from.to_string(), to.to_string()))
            })
            .collect()
    }
}
