//! `loadtape report compare BASELINE.json CANDIDATE.json...`: the same test before and after a
//! change (or across a sweep of one setting), figure by figure, with a verdict on each and the
//! `--fail-on` gates of a CI regression check. Exit code: 0 no gate failed, 99 a gate failed,
//! 2 bad input (a file that is not a result, results of different tests, a bad rule).

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use loadtape_report::compare::{self, gate, gate::Gate, Input};

use crate::exit::Failure;

/// What `report compare` was asked for.
pub struct Asked<'a> {
    /// Baseline first, then the candidates.
    pub files: &'a [PathBuf],
    /// `--html`.
    pub html: Option<&'a Path>,
    /// `--force`.
    pub force: bool,
    /// `--fail-on`.
    pub gates: &'a [Gate],
    /// `--loose`.
    pub loose: bool,
    /// `--json`.
    pub json: bool,
}

pub fn run(a: Asked) -> Result<(), Failure> {
    if a.files.len() < 2 {
        return Err(Failure::BadInput(anyhow!(
            "report compare: give the baseline's result and at least one candidate's, e.g. \
             loadtape report compare before.json after.json"
        )));
    }
    if let Some(path) = a.html {
        crate::outputs::refuse_existing(path, a.force, "--html")?;
    }
    let mut results = Vec::with_capacity(a.files.len());
    for f in a.files {
        results.push(loadtape_report::load(f).map_err(|e| Failure::BadInput(anyhow!(e)))?);
    }
    let inputs: Vec<Input> = results
        .iter()
        .zip(a.files)
        .map(|(result, f)| Input {
            result,
            file: f.display().to_string(),
        })
        .collect();
    let mut c = compare::compare(&inputs, a.loose).map_err(|e| {
        Failure::BadInput(anyhow!(
            "cannot compare: {}: {}",
            a.files[e.index].display(),
            e.message
        ))
    })?;
    gate::apply(&mut c, a.gates).map_err(|e| Failure::BadInput(anyhow!(e)))?;
    for r in std::iter::once(&c.baseline).chain(&c.candidates) {
        if !r.passed || r.partial {
            eprintln!(
                "warning: `{}` ({}) did not pass its own run ({}): its figures are compared as \
                 they are; with --fail-on a candidate like it fails the comparison",
                r.label,
                r.file,
                if r.partial { "PARTIAL" } else { "FAILED" }
            );
        }
    }
    if a.json {
        let text = serde_json::to_string_pretty(&c)
            .map_err(|e| Failure::Other(anyhow!("the comparison as JSON: {e}")))?;
        outln!("{text}");
    } else {
        out!("{}", compare::text::text(&c));
    }
    if let Some(path) = a.html {
        let all: Vec<_> = results.iter().collect();
        crate::outputs::write_atomic(path, |w| {
            w.write_all(compare::page::render(&c, &all).as_bytes())
        })
        .map_err(|e| Failure::Other(anyhow!("writing {}: {e}", path.display())))?;
        // On stderr with --json, so that stdout stays one JSON document.
        if a.json {
            eprintln!("HTML comparison written to {}", path.display());
        } else {
            outln!("HTML comparison written to {}", path.display());
        }
    }
    if c.passed {
        return Ok(());
    }
    let failed: Vec<String> = c
        .gates
        .iter()
        .filter(|g| g.failed)
        .map(|g| format!("`{}` on {} ({})", g.rule, g.candidate, g.observed))
        .collect();
    Err(Failure::Thresholds(anyhow!(
        "--fail-on: {} failed",
        failed.join(", ")
    )))
}
