//! `loadtape verify`: replay one iteration against the target and compare every answer with
//! the recorded exchange it was converted from; for the first step that diverged, name the
//! likely cause and the scenario edit that fixes it. Exit 0 matched, 1 diverged, 2 bad input.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use loadtape_engine::{Options, Sink};
use loadtape_scenario::load_scenario;
use loadtape_verify::{Report, StepResult};
use serde_json::json;

use crate::exit::Failure;

/// Replay one iteration (one VU, token steps included) and compare it with the recording.
///
/// Each step's answer is compared with its recorded exchange (`recorded:` in the scenario):
/// status, redirects, content type, JSON shape, result fields (`errcode`, `code`, `errno`,
/// `ret`, `success`), body size, refusal words. For the first step that diverged the likely
/// cause is named with its evidence and the edit that fixes it. Exit code: 0 every step
/// matched, 1 a step diverged, 2 bad input.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario (scenario/v1 YAML), as `loadtape convert` writes it.
    scenario: PathBuf,
    /// The recording to compare with (default: the scenario's `recording`, beside it).
    #[arg(long, value_name = "FILE")]
    recording: Option<PathBuf>,
    /// `--target`, `--ca`, `--insecure`, as `loadtape run` takes them.
    #[command(flatten)]
    server: crate::server_args::ServerArgs,
    /// Print the report as JSON, for tools.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let bad = |e: anyhow::Error| Failure::BadInput(e);
    let scenario = load_scenario(&args.scenario).map_err(|e| bad(anyhow!(e)))?;
    let rec_path = recording_path(&args, scenario.recording.as_deref())?;
    let recording = loadtape_recording::read_any(&rec_path)
        .map_err(|e| bad(anyhow!("{}: {e}", rec_path.display())))?;
    let report = check(&args.scenario, &recording, &args.server)?;
    if args.json {
        outln!("{}", to_json(&report));
    } else {
        print_table(&report);
    }
    if report.matched() {
        if !args.json {
            outln!(
                "next: loadtape run {}{}",
                args.scenario.display(),
                args.server.as_flags()
            );
        }
        return Ok(());
    }
    let step = report.cause.as_ref().map_or("?", |c| c.step.as_str());
    Err(Failure::Other(anyhow!(
        "the replay diverged from the recording at step `{step}`"
    )))
}

fn recording_path(args: &Args, named: Option<&str>) -> Result<PathBuf, Failure> {
    if let Some(p) = &args.recording {
        return Ok(p.clone());
    }
    let named = named.ok_or_else(|| {
        Failure::BadInput(anyhow!(
            "{}: the scenario names no `recording`: give it with --recording FILE",
            args.scenario.display()
        ))
    })?;
    let p = Path::new(named);
    Ok(match args.scenario.parent() {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_path_buf(),
    })
}

/// Replays one iteration of the scenario in `file` against `server` and compares it with
/// `recording`.
pub(crate) fn check(
    file: &Path,
    recording: &loadtape_recording::Recording,
    server: &crate::server_args::ServerArgs,
) -> Result<Report, Failure> {
    let bad = |e: anyhow::Error| Failure::BadInput(e);
    let scenario = load_scenario(file).map_err(|e| bad(anyhow!(e)))?;
    let seen = loadtape_verify::run_once(&scenario, file, options(server)?)
        .map_err(|e| bad(anyhow!("{}: {e}", file.display())))?;
    Ok(loadtape_verify::compare(&scenario, recording, &seen))
}

fn options(server: &crate::server_args::ServerArgs) -> Result<Options, Failure> {
    Ok(Options {
        targets: server.targets()?,
        ca_files: server.ca.clone(),
        insecure: server.insecure,
        sink: Sink::new(crate::out::Terminal),
        request_timeout: Duration::from_secs(30),
        ..Options::default()
    })
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

fn status(s: Option<u16>) -> String {
    s.map_or("-".into(), |s| s.to_string())
}

pub(crate) fn print_table(r: &Report) {
    let width = r
        .steps
        .iter()
        .map(|s| s.name.len() + 2)
        .max()
        .unwrap_or(4)
        .clamp(4, 24);
    outln!(
        "{:<width$} {:>8} {:>6}  {:<11} reason",
        "step",
        "recorded",
        "live",
        "verdict"
    );
    for s in &r.steps {
        let name = if s.token {
            format!("{} *", s.name)
        } else {
            s.name.clone()
        };
        outln!(
            "{:<width$} {:>8} {:>6}  {:<11} {}",
            clip(&name, width),
            status(s.recorded_status),
            status(s.live_status),
            s.verdict.as_str(),
            clip(&s.reasons.join("; "), 60)
        );
    }
    outln!("(* token step)");
    if let Some(c) = &r.cause {
        outln!();
        outln!("first divergence: step `{}`: {}", c.step, c.summary);
        for e in &c.evidence {
            outln!("  {e}");
        }
        if let Some(f) = &c.fix {
            outln!("fix: {}", f.edit(&c.step));
        }
        if let Some(a) = &c.advice {
            outln!("to do: {a}");
        }
    }
}

fn step_json(s: &StepResult) -> serde_json::Value {
    json!({
        "name": s.name,
        "token": s.token,
        "recorded": s.recorded,
        "recorded_status": s.recorded_status,
        "live_status": s.live_status,
        "verdict": s.verdict.as_str(),
        "reasons": s.reasons,
    })
}

fn to_json(r: &Report) -> String {
    let cause = r.cause.as_ref().map(|c| {
        json!({
            "step": c.step,
            "summary": c.summary,
            "evidence": c.evidence,
            "fix": c.fix.as_ref().map(|f| f.edit(&c.step)),
            "advice": c.advice,
        })
    });
    let v = json!({
        "matched": r.matched(),
        "steps": r.steps.iter().map(step_json).collect::<Vec<_>>(),
        "cause": cause,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
