//! `loadtape report`: print, merge and render `result/v1` files.
//!
//! `loadtape report r.json --html r.html` renders one run; `loadtape report merge a.json b.json
//! … --html all.html --out all.json` (or several files without `merge`) first merges the
//! segment results of a distributed run into the result of the whole run. The exit code is the
//! merged thresholds' verdict, as `loadtape run`'s: 0 passed, 99 failed, 2 bad input, 1 a run
//! that failed otherwise (a token step never succeeded). `loadtape report compare BASE.json
//! CANDIDATE.json…` compares runs instead (see `compare.rs`).

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use loadtape_report::compare::gate::Gate;
use loadtape_report::result::RunResult;

use crate::exit::Failure;

/// Print a run's result, merge segment results, write the HTML report.
///
/// One file: its summary (and `--html`, `--out`). Several files, or `merge` before them: the
/// results of the segments of one run (`loadtape run --segment K/N`) merged into one, with
/// histograms added (never percentiles averaged) and thresholds evaluated again on the merge.
/// Exit code: 0 thresholds passed, 99 a threshold failed (one without data too), 1 the run
/// failed otherwise (a token step never succeeded), 2 a file is not a result or the results
/// are not of one scenario.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Result files (result/v1 JSON from `loadtape run --out`); `merge FILE...` to merge even
    /// a single file; `compare BASELINE CANDIDATE...` to compare runs.
    #[arg(value_name = "[merge|compare] RESULT.json", required = true)]
    files: Vec<PathBuf>,
    /// Where the (merged) result goes: `--out`, `--html`, `--junit`; `--force` replaces.
    #[command(flatten)]
    outputs: crate::outputs::ResultFiles,
    /// `merge`: refuse inputs that do not look like the segments of one run (a whole run
    /// among segments, a share missing or twice, starts minutes apart) instead of warning.
    #[arg(long)]
    strict: bool,
    /// `compare`: a regression gate, e.g. `p99 +10%`, `goods.p95 +5ms`, `error_rate +0.5%`
    /// (percentage points), `rps -5%`, `p99 worse` (judged worse beyond noise); repeatable.
    /// Exit 99 when a candidate is worse than the baseline by more than a gate allows.
    #[arg(long = "fail-on", value_name = "RULE", value_parser = Gate::parse)]
    fail_on: Vec<Gate>,
    /// `compare`: results of other scenarios or step lists are compared on the steps they
    /// share, instead of refused.
    #[arg(long)]
    loose: bool,
    /// `compare`: print the comparison as JSON (`compare/v1`) instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    if args
        .files
        .first()
        .is_some_and(|f| f == Path::new("compare"))
    {
        return compare(&args);
    }
    if let Some(flag) = [
        (!args.fail_on.is_empty(), "--fail-on"),
        (args.loose, "--loose"),
        (args.json, "--json"),
    ]
    .iter()
    .find_map(|(set, flag)| set.then_some(flag))
    {
        return Err(Failure::BadInput(anyhow!(
            "{flag} is for `loadtape report compare BASELINE.json CANDIDATE.json...`"
        )));
    }
    let mut files = args.files.as_slice();
    let mut merge = files.len() > 1;
    if files.first().is_some_and(|f| f == Path::new("merge")) {
        files = &files[1..];
        merge = true;
        if files.is_empty() {
            return Err(Failure::BadInput(anyhow!(
                "report merge: give the result files to merge, e.g. loadtape report merge results/*.json"
            )));
        }
    }
    args.outputs.check()?;
    let mut results = Vec::with_capacity(files.len());
    for f in files {
        results.push(loadtape_report::load(f).map_err(|e| Failure::BadInput(anyhow!(e)))?);
    }
    if merge {
        let doubts = loadtape_report::doubts::doubts(&results);
        if args.strict && !doubts.is_empty() {
            return Err(Failure::BadInput(anyhow!(
                "cannot merge (--strict): these do not look like the segments of one run: {}",
                doubts.join("; ")
            )));
        }
        for d in &doubts {
            eprintln!("warning: {d} (inputs in the order given; --strict refuses this)");
        }
    }
    let result = if merge {
        loadtape_report::merge(&results).map_err(|e| {
            let file = e
                .index
                .and_then(|i| files.get(i))
                .map(|f| format!("{}: ", f.display()))
                .unwrap_or_default();
            Failure::BadInput(anyhow!("cannot merge: {file}{}", e.message))
        })?
    } else {
        results.swap_remove(0)
    };
    out!("{}", loadtape_report::summary(&result));
    if merge {
        outln!("merged {} results", files.len());
    }
    args.outputs.write(&result)?;
    verdict(&result)
}

/// `report compare`: only `--html` of the result files (a comparison is no result).
fn compare(args: &Args) -> Result<(), Failure> {
    let o = &args.outputs;
    if let Some(flag) = [
        (o.out.is_some(), "--out"),
        (o.junit.is_some(), "--junit"),
        (args.strict, "--strict"),
    ]
    .iter()
    .find_map(|(set, flag)| set.then_some(flag))
    {
        return Err(Failure::BadInput(anyhow!(
            "report compare writes no result: {flag} is for one result or a merge;              compare prints its tables (--json for JSON) and writes --html"
        )));
    }
    crate::compare::run(crate::compare::Asked {
        files: &args.files[1..],
        html: o.html.as_deref(),
        force: o.force,
        gates: &args.fail_on,
        loose: args.loose,
        json: args.json,
    })
}

/// Exit 99 when a threshold failed, naming them; 1 when the run failed otherwise.
fn verdict(r: &RunResult) -> Result<(), Failure> {
    crate::run::judged(r)
}
