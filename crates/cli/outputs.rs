//! The one rule for the files commands write (`run`/`report` `--out/--html/--junit`,
//! `convert -o`, `har import/export -o`): a file that exists is kept unless `--force` says to
//! replace it — a result or a report from an earlier run is evidence, and losing it to a
//! re-run with the same flags is silent. `record` never replaces a recording (it has no
//! `--force`); `demo` replaces its own files and says so.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use loadtape_report::result::RunResult;

use crate::exit::Failure;

/// Refuses to write `path` over an existing file unless `force`; `flag` is the option that
/// chose the path, for the message.
pub fn refuse_existing(path: &Path, force: bool, flag: &str) -> Result<(), Failure> {
    if force || !path.exists() {
        return Ok(());
    }
    Err(Failure::BadInput(anyhow!(
        "{} already exists; pass --force to replace it, or give {flag} another path",
        path.display()
    )))
}

/// Where `run` and `report` write a result: `--out` (result/v1 JSON), `--html` (the report),
/// `--junit` (the thresholds as JUnit XML, for CI).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ResultFiles {
    /// Write the result (result/v1 JSON) here, partial or not.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the self-contained HTML report here (charts inline, no network needed).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the thresholds as JUnit XML test cases here (GitLab, GitHub and Jenkins show them).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Replace these files when they exist (without it the command refuses, before a run).
    #[arg(long)]
    pub force: bool,
}

impl ResultFiles {
    /// Refuses, before any work, a file that exists without `--force`.
    pub fn check(&self) -> Result<(), Failure> {
        for (path, flag) in [
            (&self.out, "--out"),
            (&self.html, "--html"),
            (&self.junit, "--junit"),
        ] {
            if let Some(path) = path {
                refuse_existing(path, self.force, flag)?;
            }
        }
        Ok(())
    }

    /// Writes each file asked for and says where.
    pub fn write(&self, r: &RunResult) -> Result<(), Failure> {
        let said = |path: &Path, written: std::io::Result<()>, what: &str| {
            written.map_err(|e| Failure::Other(anyhow!("writing {}: {e}", path.display())))?;
            outln!("{what} written to {}", path.display());
            Ok::<(), Failure>(())
        };
        let write = |path: &Path, text: String, what: &str| {
            said(
                path,
                write_atomic(path, |w| w.write_all(text.as_bytes())),
                what,
            )
        };
        if let Some(path) = &self.out {
            said(path, write_result(path, r), "result")?;
        }
        if let Some(path) = &self.html {
            for name in loadtape_report::histogram::unreadable(r) {
                eprintln!(
                    "warning: the latency histogram of `{name}` does not decode (the result was \
                     edited or damaged): the HTML report leaves its distribution out"
                );
            }
            write(path, loadtape_report::html::render(r), "HTML report")?;
        }
        if let Some(path) = &self.junit {
            write(path, loadtape_report::junit::junit(r), "JUnit report")?;
        }
        Ok(())
    }
}

/// Writes what `fill` writes to `path` whole or not at all: to a temporary file beside it,
/// buffered, synced, then renamed over it. A reader (a checkpointed `--out` read while the run
/// goes on, a CI job that picks up the report) never sees half a file, and a full disk leaves
/// the previous version. `fill` writes as it goes: a result is never a string in memory too.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let name = path.file_name().map_or_else(
        || std::ffi::OsString::from("out"),
        std::ffi::OsStr::to_os_string,
    );
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(&name);
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        fill(&mut f)?;
        let f = f
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A result as `--out` has it (pretty JSON and a newline), written by [`write_atomic`].
pub fn write_result(path: &Path, r: &RunResult) -> std::io::Result<()> {
    write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, r)?;
        w.write_all(b"\n")
    })
}
