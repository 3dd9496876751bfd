//! The `loadtape` command line: record a mini program's traffic, convert it, replay it as load.
//!
//! Each subcommand lives in a module of its own; this file parses the command line, runs the
//! chosen command and turns its outcome into the exit code scripts and CI rely on.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// jemalloc instead of glibc's malloc: with thousands of VUs, each handing its socket to a
/// fresh hyper connection every 32 requests, glibc's arenas fragment and resident memory
/// creeps up for as long as the run lasts (260 MiB at 20 s, 296 MiB at 4 min for 10,000
/// VUs); jemalloc's size classes keep it flat (bench/replay.sh part 3).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main` (its `_rjem_` prefix: `_RJEM_MALLOC_CONF` in the
/// environment adds to them). Freed pages are kept 2 minutes, not 10 s, before they go back
/// to the kernel: a checkpoint of `--out` each minute merges every worker's histograms (~6
/// MiB at 1,000 VUs), and with a 10 s decay that memory was returned and faulted back each
/// time, so the resident size of a 30-minute soak went up and down by 12 % around a flat
/// working set (bench/soak.sh). Longer than the checkpoint period, the pages are reused by
/// the next checkpoint: resident memory is the working set's high-water mark, flat.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8; 22] = b"dirty_decay_ms:120000\0";

#[macro_use]
mod out;

mod along;
mod ca;
mod capacity;
mod compare;
mod convert;
mod convert_args;
mod convert_mix;
mod demo;
mod exit;
mod har;
mod hints;
mod live;
mod outputs;
mod record;
mod record_testers;
mod repair;
mod report;
mod run;
mod runtime;
mod secret_env;
mod server_args;
mod testbed;
mod timeline_file;
mod tokens;
mod verify;

/// Record a mini program's HTTPS traffic, find its tokens, replay it as load.
///
/// The three jobs: `record` (an MITM proxy a phone points at), `tokens`/`convert` (turn the
/// recording into a scenario with a refreshable token step), `run` (replay it as load).
/// `testbed` serves a small WeChat-shaped backend to try everything against; `demo` runs the
/// whole pipeline on it.
#[derive(Debug, Parser)]
#[command(name = "loadtape", version, about, long_about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Record(record::Args),
    Ca(ca::Args),
    Tokens(tokens::Args),
    Convert(convert_args::Args),
    Verify(verify::Args),
    Run(run::Args),
    Report(report::Args),
    Har(har::Args),
    Testbed(testbed::Args),
    Demo(demo::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Record(args) => record::run(args),
        Command::Ca(args) => ca::run(args),
        Command::Testbed(args) => testbed::run(args),
        Command::Har(args) => har::run(args),
        Command::Run(args) => run::run(args),
        Command::Report(args) => report::run(args),
        Command::Tokens(args) => tokens::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Demo(args) => demo::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
