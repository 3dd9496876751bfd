//! `loadtape run`: replay a scenario as load, print a summary, write `result/v1`, and let the
//! thresholds decide the exit code (0 passed, 99 failed, 2 bad input, 1 anything else).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use loadtape_engine::{Options, Plan, Progress, Segment, Sink};
use loadtape_scenario::{load_scenario, Scenario};
use loadtape_scenario::{Executor, Rate, RateStage, VuStage};

use crate::exit::Failure;

/// Replay a scenario as load: virtual users or a target rate, with fresh tokens throughout.
///
/// `--iterations 1 --debug` is the smoke test: one flow per VU with every request, response,
/// extracted value and check printed. Exit code: 0 thresholds passed, 99 a threshold failed
/// (one without data too), 2 bad input (the scenario's file:line: field is printed), 1
/// anything else: a token step that never succeeded (nothing was tested), an interrupted run
/// (its result is written with `partial: true`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario (scenario/v1 YAML), as `loadtape convert` writes it.
    scenario: PathBuf,
    /// VUs: the count of constant-vus (ramping-vus becomes constant-vus), max_vus of a rate
    /// executor.
    #[arg(long, value_name = "N")]
    vus: Option<u32>,
    /// Run length (constant executors); ramping stages are scaled to it.
    #[arg(long, value_name = "D", value_parser = loadtape_scenario::parse_duration)]
    duration: Option<Duration>,
    /// Flow iterations started per second (makes the executor constant-rate), e.g. 500/s.
    #[arg(long, value_name = "R/s", value_parser = Rate::parse)]
    rate: Option<Rate>,
    /// Each VU stops after this many flows.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    iterations: Option<u64>,
    /// `--target`, `--ca`, `--insecure`.
    #[command(flatten)]
    server: crate::server_args::ServerArgs,
    /// The VUs share N HTTP/2 connections per origin and multiplex their requests over them
    /// (h2load's `-c N`, Gatling's shareConnections), instead of one connection per VU. An
    /// origin that answers with HTTP/1.1 keeps one connection per VU.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    connections: Option<u32>,
    /// No progress output; only the summary.
    #[arg(long)]
    quiet: bool,
    /// Print every request, response, extracted value and check.
    #[arg(long)]
    debug: bool,
    /// Run the K-th of N equal shares of the load (VUs, rates, ramp targets, data rows), on one
    /// of N machines or pods; `loadtape report merge` adds the N results up.
    #[arg(long, value_name = "K/N", value_parser = Segment::parse)]
    segment: Option<Segment>,
    /// Start at this time (RFC 3339, e.g. 2026-11-21T08:00:00Z), so that the segments of a
    /// distributed run begin together.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Append every second of the run to this file as it ends, one JSON line each (k6's
    /// `--out json`): the whole-resolution series of a long run, kept even if the run dies.
    #[arg(long, value_name = "FILE")]
    timeline: Option<PathBuf>,
    /// With `--out`: rewrite the result this often while the run goes (partial until the end),
    /// so that a run that dies leaves what it measured; `0s` only at the end.
    #[arg(long, value_name = "D", default_value = "1m", value_parser = loadtape_scenario::parse_duration)]
    checkpoint: Duration,
    /// A name for this run among others (the setting a tuning sweep varied: `c16`, `after`),
    /// kept in the result; `loadtape report compare` shows runs by it.
    #[arg(long, value_name = "NAME")]
    label: Option<String>,
    /// Where the result goes: `--out`, `--html`, `--junit`, written at the end, partial or
    /// not; `--force` replaces files that exist.
    #[command(flatten)]
    files: crate::outputs::ResultFiles,
    /// Watching the run live: `--metrics` (Prometheus), `--dashboard` (a web page).
    #[command(flatten)]
    live: crate::live::LiveArgs,
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 time ({e}), e.g. 2026-11-21T08:00:00Z"))
}

pub fn run(args: Args) -> Result<(), Failure> {
    // Before the run, not after it: a refusal at the end would lose the run.
    args.files.check()?;
    let timeline = match &args.timeline {
        Some(path) => Some(crate::timeline_file::TimelineFile::create(
            path,
            args.files.force,
        )?),
        None => None,
    };
    let mut scenario = load_scenario(&args.scenario).map_err(|e| Failure::BadInput(anyhow!(e)))?;
    apply_overrides(&mut scenario, &args)?;
    let segment = args.segment.unwrap_or(Segment::WHOLE);
    apply_segment(&mut scenario, segment)?;
    let plan = Plan::compile(&scenario, &args.scenario, engine_options(&args, segment)?)
        .map_err(|e| Failure::BadInput(anyhow!("{}: {e}", args.scenario.display())))?;
    crate::capacity::check(plan.max_vus(), crate::capacity::raise_open_files())
        .map_err(|e| Failure::BadInput(anyhow!("{}: {e}", args.scenario.display())))?;
    let planned = plan.duration();
    // Before the run: an address that cannot be bound is bad input, not a lost run.
    let bound = args.live.bind()?;
    if let Some(at) = args.start_at {
        wait_until(at, args.quiet);
    }
    let mut running = loadtape_engine::start(plan).map_err(|e| Failure::BadInput(anyhow!(e)))?;
    let live = bound.start(&running)?;
    let checkpoint = args
        .files
        .out
        .clone()
        .filter(|_| !args.checkpoint.is_zero());
    let mut along = crate::along::Along::new(
        timeline,
        checkpoint,
        crate::along::Stamp {
            scenario_file: args.scenario.display().to_string(),
            segment: (segment != Segment::WHOLE).then(|| segment.to_string()),
            label: args.label.clone(),
        },
    );
    along.started(&running);
    // Ctrl-C or SIGTERM: stop cleanly, still report and write the (partial) result.
    let stopped = Arc::new(AtomicBool::new(false));
    watch_signals(running.stopper(), stopped.clone())?;
    show_progress(&mut running, planned, &args, &mut along);
    let outcome = running.finish();
    along.finished(&outcome);
    let result = along.result(&outcome);
    out!("{}", loadtape_report::summary(&result));
    // Before the verdict, so that a failed or partial run leaves them.
    args.files.write(&result)?;
    live.finish(args.quiet, &stopped);
    verdict(&result)
}

/// `--segment`: this machine's share of the load. A share with no VU is bad input, not an
/// empty run that passes.
fn apply_segment(scenario: &mut Scenario, segment: Segment) -> Result<(), Failure> {
    let whole_vus = scenario.load.executor.max_vus();
    segment.apply(&mut scenario.load.executor);
    for f in &mut scenario.flows {
        if let Some(l) = &mut f.load {
            segment.apply(&mut l.executor);
        }
    }
    if scenario.load.executor.max_vus() == 0 && whole_vus > 0 {
        return Err(Failure::BadInput(anyhow!(
            "--segment {segment}: a share of {whole_vus} VUs in {} has no VU; use at most {whole_vus} segments",
            segment.n()
        )));
    }
    Ok(())
}

/// The engine's options from the command line (`--target`, `--ca`, `--insecure`, `--debug`)
/// and `LOADTAPE_WORKERS`.
fn engine_options(args: &Args, segment: Segment) -> Result<Options, Failure> {
    Ok(Options {
        targets: args.server.targets()?,
        ca_files: args.server.ca.clone(),
        insecure: args.server.insecure,
        debug: args.debug,
        sink: Sink::new(crate::out::Terminal),
        // Worker threads (default: one per core); for benchmarks that pin the server to a core.
        workers: std::env::var("LOADTAPE_WORKERS")
            .ok()
            .and_then(|w| w.parse().ok())
            .unwrap_or(0),
        segment,
        stream_seconds: args.timeline.is_some(),
        checkpoint: (args.files.out.is_some() && !args.checkpoint.is_zero())
            .then_some(args.checkpoint),
        live: args.live.wanted(),
        shared_connections: args.connections.map(|n| n as usize),
        ..Options::default()
    })
}

/// Interrupts the run on Ctrl-C or SIGTERM, from a thread of its own: the engine's workers
/// keep their runtimes to themselves.
/// `stopped` is set too: after the run, it ends `--metrics`' wait for a last scrape.
fn watch_signals(
    stopper: loadtape_engine::Stopper,
    stopped: Arc<AtomicBool>,
) -> Result<(), Failure> {
    std::thread::Builder::new()
        .name("loadtape-signals".into())
        .spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(crate::runtime::wait_for_stop());
                stopped.store(true, Ordering::Release);
                stopper.interrupt();
            }
        })
        .map_err(|e| Failure::Other(anyhow!("cannot watch for Ctrl-C: {e}")))?;
    Ok(())
}

/// Polls the run until it ends, showing its progress: a spinner on a terminal, else a line
/// every 5 s (a CI log stays readable); nothing with `--quiet` or `--debug`.
fn show_progress(
    running: &mut loadtape_engine::Running,
    total: Duration,
    args: &Args,
    along: &mut crate::along::Along,
) {
    let live = !args.quiet && !args.debug && std::io::stdout().is_terminal();
    let bar = live.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let mut last_line = Instant::now();
    while let Some(p) = running.poll(Duration::from_millis(1000)) {
        along.update(running);
        match &bar {
            Some(bar) => bar.set_message(progress_line(&p, total)),
            None if !args.quiet && !args.debug && last_line.elapsed() >= Duration::from_secs(5) => {
                outln!("{}", progress_line(&p, total));
                last_line = Instant::now();
            }
            None => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// The exit code of a finished run: [`judged`], and 1 when the run was interrupted.
fn verdict(result: &loadtape_report::result::RunResult) -> Result<(), Failure> {
    judged(result)?;
    if result.partial {
        return Err(Failure::Other(anyhow!(
            "the run was interrupted; its result is partial"
        )));
    }
    Ok(())
}

/// A result's verdict (`run` and `report` alike): 99 when a threshold failed (one without data
/// too), 1 when the run failed otherwise (a token step never succeeded), else 0.
pub(crate) fn judged(result: &loadtape_report::result::RunResult) -> Result<(), Failure> {
    let failed: Vec<String> = result
        .thresholds
        .iter()
        .filter(|t| !t.passed)
        .map(|t| match t.observed {
            Some(_) => t.threshold.clone(),
            None => format!("{} (no data)", t.threshold),
        })
        .collect();
    let also = match &result.failure {
        Some(f) => format!("; and {f}"),
        None => String::new(),
    };
    // A run that could not test anything (a token step that never succeeded) failed as a
    // run (exit 1) unless the scenario's own thresholds judged it: the default one adds
    // nothing the failure does not already say.
    let only_default = result.thresholds.iter().all(|t| t.passed || t.default);
    let failure_says_it = only_default && result.failure.is_some();
    if !failed.is_empty() && !failure_says_it {
        return Err(Failure::Thresholds(anyhow!(
            "threshold(s) failed: {}{also}",
            failed.join(", ")
        )));
    }
    if let Some(f) = &result.failure {
        return Err(Failure::Other(anyhow!("the run failed: {f}")));
    }
    Ok(())
}

/// `--start-at`: sleeps until `at` (the scenario is already compiled, so a bad one failed
/// before the wait). A time already past starts at once, with a warning when it is late by
/// more than a second: that shard's timeline will be offset in the merge.
fn wait_until(at: chrono::DateTime<chrono::Utc>, quiet: bool) {
    let now = chrono::Utc::now();
    match (at - now).to_std() {
        Ok(wait) => {
            if !quiet {
                outln!("waiting {:.1}s to start at {at}", wait.as_secs_f64());
            }
            std::thread::sleep(wait);
        }
        Err(_) if (now - at).num_milliseconds() > 1000 => eprintln!(
            "warning: --start-at {at} passed {:.1}s ago; starting now",
            (now - at).num_milliseconds() as f64 / 1000.0
        ),
        Err(_) => {}
    }
}

fn progress_line(p: &Progress, total: Duration) -> String {
    format!(
        "{:>5.1}s/{}s  VUs {:>5}  {:>7} req/s  p99 {:>8.2}ms  requests {}  errors {}  tokens {}  dropped {}",
        p.elapsed.as_secs_f64(),
        total.as_secs(),
        p.active_vus,
        p.rps,
        p.p99_ms,
        p.requests,
        p.errors,
        p.token_requests,
        p.dropped
    )
}

/// `--vus`, `--duration`, `--rate` and `--iterations` over the scenario's `load`.
fn apply_overrides(s: &mut Scenario, args: &Args) -> Result<(), Failure> {
    let load = &mut s.load;
    if let Some(n) = args.iterations {
        load.iterations = Some(n);
    }
    if args.vus == Some(0) {
        return Err(Failure::BadInput(anyhow!("--vus must be at least 1")));
    }
    if args.duration.is_some_and(|d| d.is_zero()) {
        return Err(Failure::BadInput(anyhow!(
            "--duration must be more than zero"
        )));
    }
    if let Some(rate) = args.rate {
        if rate.count == 0 {
            return Err(Failure::BadInput(anyhow!("--rate must be more than zero")));
        }
        load.executor = rate_executor(&load.executor, rate, args);
        return Ok(());
    }
    override_executor(&mut load.executor, args.vus, args.duration);
    // A mixed scenario's flows with loads of their own: `--iterations` and `--duration` hold
    // for every executor of the run; `--vus` and `--rate` size the scenario's `load` only.
    for f in &mut s.flows {
        if let Some(l) = &mut f.load {
            if let Some(n) = args.iterations {
                l.iterations = Some(n);
            }
            override_executor(&mut l.executor, None, args.duration);
        }
    }
    Ok(())
}

/// `--rate` makes any executor constant-rate. Without `--vus` a rate executor keeps its
/// `max_vus`; a VU executor keeps its VUs, at least enough for one second of the rate.
fn rate_executor(executor: &Executor, rate: Rate, args: &Args) -> Executor {
    let max_vus = args.vus.unwrap_or_else(|| match executor {
        Executor::ConstantRate { max_vus, .. } | Executor::RampingRate { max_vus, .. } => *max_vus,
        other => other
            .max_vus()
            .max((rate.as_per_second().ceil() as u32).max(1)),
    });
    Executor::ConstantRate {
        rate,
        duration: args.duration.unwrap_or(executor.duration()),
        max_vus,
        pre_allocated_vus: None,
    }
}

/// `--vus` and `--duration` on the scenario's own executor: constant ones take them as they
/// are, ramping stages are scaled to the duration (their shape kept), and `--vus` makes a
/// VU ramp constant (a ramp to N has no single VU count to replace).
fn override_executor(
    executor: &mut Executor,
    vus_flag: Option<u32>,
    duration_flag: Option<Duration>,
) {
    let total = executor.duration();
    let scale =
        |over: Duration, d: Duration| over.mul_f64(d.as_secs_f64() / total.as_secs_f64().max(1e-9));
    match executor {
        Executor::ConstantVus { vus, duration } => {
            *vus = vus_flag.unwrap_or(*vus);
            *duration = duration_flag.unwrap_or(*duration);
        }
        Executor::RampingVus { stages, .. } => {
            if let Some(n) = vus_flag {
                *executor = Executor::ConstantVus {
                    vus: n,
                    duration: duration_flag.unwrap_or(total),
                };
            } else if let Some(d) = duration_flag {
                for VuStage { over, .. } in stages.iter_mut() {
                    *over = scale(*over, d);
                }
            }
        }
        Executor::ConstantRate {
            duration,
            max_vus,
            pre_allocated_vus,
            ..
        } => {
            *duration = duration_flag.unwrap_or(*duration);
            if let Some(n) = vus_flag {
                *max_vus = n;
                *pre_allocated_vus = pre_allocated_vus.map(|p| p.min(n));
            }
        }
        Executor::RampingRate {
            stages,
            max_vus,
            pre_allocated_vus,
            ..
        } => {
            if let Some(d) = duration_flag {
                for RateStage { over, .. } in stages.iter_mut() {
                    *over = scale(*over, d);
                }
            }
            if let Some(n) = vus_flag {
                *max_vus = n;
                *pre_allocated_vus = pre_allocated_vus.map(|p| p.min(n));
            }
        }
    }
}
