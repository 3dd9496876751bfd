//! `loadtape har`: HAR 1.2 import and export, for traffic captured by other tools (Chrome or
//! Safari DevTools, Charles, Fiddler, Proxyman, mitmproxy, k6 Studio) and for looking at a
//! recording in a HAR viewer.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use loadtape_recording::{import_har_capped, read_recording, write_har, write_recording};

use crate::exit::Failure;

/// Convert between HAR 1.2 files and loadtape recordings.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Turn a HAR file into a recording (recording/v1).
    ///
    /// Entries keep their order, timings, HTTP versions, headers (repeats kept, HTTP/2
    /// pseudo-headers dropped), bodies and cookies; failed requests become exchanges with an
    /// error. CONNECT tunnels are skipped. `convert` and `tokens` also read a HAR directly.
    Import {
        /// The HAR file.
        file: PathBuf,
        /// Where to write the recording (default: beside the HAR, NAME.yaml).
        #[arg(short, long, value_name = "REC.yaml")]
        out: Option<PathBuf>,
        /// Replace the output file if it exists.
        #[arg(long)]
        force: bool,
        /// How much of each body to keep once decoded (e.g. 16M, 512k), as `record` does: a
        /// compressed body that inflates past it (a gzip bomb) is cut and marked truncated.
        #[arg(long, default_value = "16M", value_name = "SIZE", value_parser = crate::record::parse_size)]
        max_body: usize,
    },
    /// Turn a recording into a HAR 1.2 file that DevTools and HAR viewers open.
    Export {
        /// The recording.
        recording: PathBuf,
        /// Where to write the HAR (default: beside the recording, NAME.har).
        #[arg(short, long, value_name = "FILE.har")]
        out: Option<PathBuf>,
        /// Replace the output file if it exists.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(args: Args) -> Result<(), Failure> {
    match args.command {
        Command::Import {
            file,
            out,
            force,
            max_body,
        } => import(&file, out, force, max_body),
        Command::Export {
            recording,
            out,
            force,
        } => export(&recording, out, force),
    }
}

fn import(file: &Path, out: Option<PathBuf>, force: bool, max_body: usize) -> Result<(), Failure> {
    let out = out.unwrap_or_else(|| file.with_extension("yaml"));
    check_output(file, &out, force)?;
    let imported = import_har_capped(file, max_body).map_err(|e| Failure::BadInput(e.into()))?;
    write_recording(&out, &imported.recording)
        .map_err(|e| anyhow!("cannot write {}: {e}", out.display()))?;
    let exchanges = &imported.recording.exchanges;
    let errors = exchanges.iter().filter(|e| e.error.is_some()).count();
    let by = imported
        .creator
        .as_deref()
        .map(|c| format!(" (written by {c})"))
        .unwrap_or_default();
    outln!(
        "imported {} exchanges from {}{by} into {}",
        exchanges.len(),
        file.display(),
        out.display()
    );
    if errors > 0 {
        outln!("  {errors} of them without a response (kept, with their error)");
    }
    for skipped in &imported.skipped {
        outln!("  skipped {skipped}");
    }
    if exchanges.is_empty() {
        outln!(
            "nothing to convert: the HAR lists no request (export it with the requests of the \
             flow listed, not filtered out)"
        );
    } else {
        outln!("next: loadtape tokens {}", out.display());
    }
    Ok(())
}

fn export(recording: &Path, out: Option<PathBuf>, force: bool) -> Result<(), Failure> {
    let out = out.unwrap_or_else(|| recording.with_extension("har"));
    check_output(recording, &out, force)?;
    let rec = read_recording(recording).map_err(|e| Failure::BadInput(e.into()))?;
    if let Some(tail) = &rec.truncated_tail {
        eprintln!(
            "warning: {}:{}: {}; the exchanges before it are exported",
            recording.display(),
            tail.line,
            tail.reason
        );
    }
    write_har(&out, &rec).map_err(|e| anyhow!("cannot write {}: {e}", out.display()))?;
    outln!(
        "exported {} exchanges from {} to {}",
        rec.exchanges.len(),
        recording.display(),
        out.display()
    );
    Ok(())
}

/// An existing output is never replaced without --force, and never the input itself.
fn check_output(input: &Path, out: &Path, force: bool) -> Result<(), Failure> {
    let same = match (input.canonicalize(), out.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(Failure::BadInput(anyhow!(
            "{}: the output would replace the input; choose another with -o",
            out.display()
        )));
    }
    crate::outputs::refuse_existing(out, force, "-o")
}
