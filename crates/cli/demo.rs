//! `loadtape demo`: the whole pipeline on the built-in testbed, in one command.
//!
//! It runs what a user runs, in order: a backend (the testbed, over HTTPS, with tokens that
//! expire every few seconds), the recording proxy, a scripted WeChat mini-program session
//! through it, then the real `loadtape tokens`, `convert` and `run` commands on the recording,
//! and finally the testbed's own counts. Every command is this same binary, so what the demo
//! shows is exactly what the README describes.

mod session;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use loadtape_proxy::{Proxy, ProxyConfig};
use loadtape_testbed::{Config, Stats, Testbed};

use crate::exit::Failure;
use crate::runtime::runtime;

/// Run the whole pipeline on the built-in testbed: record, detect, convert, replay, report.
///
/// Starts the testbed over HTTPS with a short token lifetime, records a scripted WeChat
/// mini-program session through the proxy, converts it, replays it for longer than several
/// token lifetimes, and checks the server's own counts (zero auth failures expected).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the demo writes its recording, scenario, result and report.
    #[arg(long, default_value = "recordings", value_name = "DIR")]
    dir: PathBuf,
    /// How long the replay runs.
    #[arg(long, default_value = "15s", value_name = "DURATION", value_parser = loadtape_scenario::parse_duration)]
    duration: Duration,
    /// Virtual users in the replay.
    #[arg(long, default_value_t = 20)]
    vus: u32,
    /// Token lifetime on the testbed: shorter than the run, so tokens must be refreshed.
    #[arg(long, default_value = "4s", value_name = "DURATION", value_parser = loadtape_scenario::parse_duration)]
    token_ttl: Duration,
}

/// A WeChat-shaped appid (`wx` and 16 hex digits), so the converter recognises the traffic.
const APPID: &str = "wx5f3c9a1b2d4e6f70";
const SECRET: &str = "testbed-secret";

pub fn run(args: Args) -> Result<(), Failure> {
    runtime()?.block_on(demo(args)).map_err(Failure::Other)
}

async fn demo(args: Args) -> Result<()> {
    let files = Files::fresh(&args.dir)?;
    let certs = PathBuf::from("certs");
    let (testbed, testbed_ca) = start_testbed(&args, &certs).await?;
    record(&args, &files, &certs, &testbed, &testbed_ca).await?;

    step(3, "find the tokens: loadtape tokens", &args);
    loadtape(&["tokens", path(&files.recording)], "step 3")?;

    step(4, "convert to a scenario: loadtape convert", &args);
    loadtape(
        &[
            "convert",
            path(&files.recording),
            "-o",
            path(&files.scenario),
            "--force",
        ],
        "step 4",
    )?;

    let before = testbed.stats();
    replay(&args, &files, &testbed_ca)?;

    step(6, "the testbed's own counts", &args);
    let after = testbed.stats();
    testbed.shutdown().await;
    server_counts(&before, &after)?;
    outln!();
    outln!(
        "demo passed: {:.0} token lifetimes replayed with fresh tokens and zero auth failures.",
        args.duration.as_secs_f64() / args.token_ttl.as_secs_f64()
    );
    outln!(
        "files: {}, {}, {}, {} (open the report in a browser)",
        files.recording.display(),
        files.scenario.display(),
        files.result.display(),
        files.html.display()
    );
    Ok(())
}

/// The demo's outputs, one of each, in `--dir`.
struct Files {
    recording: PathBuf,
    scenario: PathBuf,
    result: PathBuf,
    html: PathBuf,
}

impl Files {
    /// The outputs in `dir`, created if missing. The demo's own outputs from an earlier run
    /// are removed (and the user told so: every other command refuses to replace a file
    /// without `--force`), so a failed step never leaves a stale file looking like its
    /// output; nothing else is touched.
    fn fresh(dir: &Path) -> Result<Files> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let files = Files {
            recording: dir.join("demo.yaml"),
            scenario: dir.join("demo.scenario.yaml"),
            result: dir.join("demo-result.json"),
            html: dir.join("demo-report.html"),
        };
        for old in [
            &files.recording,
            &files.scenario,
            &files.result,
            &files.html,
        ] {
            if std::fs::remove_file(old).is_ok() {
                outln!("replacing {} (from an earlier demo)", old.display());
            }
        }
        Ok(files)
    }
}

/// Step 1: the testbed over HTTPS with the short token lifetime, and the path of its CA
/// (the proxy and the replay both trust it).
async fn start_testbed(args: &Args, certs: &Path) -> Result<(Testbed, PathBuf)> {
    step(
        1,
        "start the testbed (HTTPS, tokens expire every {ttl})",
        args,
    );
    let testbed = Testbed::start(Config {
        tls: true,
        cert_dir: certs.join("demo-testbed"),
        token_ttl: args.token_ttl,
        appid: APPID.into(),
        secret: SECRET.into(),
        ..Config::default()
    })
    .await
    .context("step 1: the testbed did not start")?;
    let testbed_ca = testbed
        .ca_path()
        .expect("a TLS testbed has a CA")
        .to_path_buf();
    outln!(
        "   testbed at {}, its CA in {}",
        testbed.base_url(),
        testbed_ca.display()
    );
    Ok((testbed, testbed_ca))
}

/// Step 2: the recording proxy, and the scripted session played through it. Fails unless
/// every request the session sent was recorded.
async fn record(
    args: &Args,
    files: &Files,
    certs: &Path,
    testbed: &Testbed,
    testbed_ca: &Path,
) -> Result<()> {
    step(
        2,
        "start the recording proxy and play a WeChat mini-program session through it",
        args,
    );
    let print: loadtape_proxy::LinePrinter = Arc::new(|lines: &str| {
        for line in lines.lines() {
            outln!("   {line}");
        }
    });
    let proxy = Proxy::start(
        ProxyConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            out: files.recording.clone(),
            name: "demo".into(),
            ca_dir: certs.to_path_buf(),
            include: vec!["localhost".into()],
            upstream_ca: Some(testbed_ca.to_path_buf()),
            ..ProxyConfig::default()
        },
        print,
    )
    .await
    .context("step 2: the proxy did not start")?;
    outln!(
        "   proxy at {}, CA {}",
        proxy.local_addr(),
        proxy.ca().cert_path().display()
    );
    let ca_pem = proxy.ca().cert_pem.clone();
    let base = testbed.base_url();
    let played = async {
        session::MiniProgram::connect(proxy.local_addr(), &ca_pem, &base, APPID)
            .await?
            .play(SECRET)
            .await
    }
    .await;
    // Stopped before the session's result is looked at: a failed session stops it too.
    let summary = proxy.stop(Duration::from_secs(5)).await;
    let played = played.context("step 2: the scripted session failed")?;
    if summary.exchanges != u64::from(played.requests) {
        bail!(
            "step 2: the session sent {} requests but {} were recorded",
            played.requests,
            summary.exchanges
        );
    }
    outln!(
        "   recorded {} exchanges to {}",
        summary.exchanges,
        files.recording.display()
    );
    Ok(())
}

/// Step 5: `loadtape run` on the converted scenario, for the demo's duration and VUs.
fn replay(args: &Args, files: &Files, testbed_ca: &Path) -> Result<()> {
    step(5, "replay it as load: loadtape run", args);
    let duration = format!("{}s", args.duration.as_secs());
    let vus = args.vus.to_string();
    let ca = path(testbed_ca).to_string();
    loadtape(
        &[
            "run",
            path(&files.scenario),
            "--vus",
            &vus,
            "--duration",
            &duration,
            "--ca",
            &ca,
            "--out",
            path(&files.result),
            "--html",
            path(&files.html),
            // Shown as the command to run again by hand: its files exist by then.
            "--force",
        ],
        "step 5",
    )
}

/// Step 6's check: what the testbed counted during the replay (the difference of its stats
/// before and after). Any auth failure or unknown id fails the demo: that is what it proves.
fn server_counts(before: &Stats, after: &Stats) -> Result<()> {
    let tokens = (
        after.tokens_issued.platform - before.tokens_issued.platform,
        after.tokens_issued.session - before.tokens_issued.session,
    );
    let failures = after.auth_failures_total() - before.auth_failures_total();
    let unknown = after.unknown_ids - before.unknown_ids;
    outln!(
        "   requests {}  platform tokens issued {}  session tokens issued {}  orders {}",
        after.requests_total() - before.requests_total(),
        tokens.0,
        tokens.1,
        after.orders - before.orders
    );
    outln!("   auth failures {failures}  unknown ids {unknown}");
    if failures != 0 || unknown != 0 {
        bail!("step 6: the testbed counted {failures} auth failure(s) and {unknown} unknown id(s); expected none");
    }
    Ok(())
}

fn step(n: u32, what: &str, args: &Args) {
    let what = what.replace("{ttl}", &loadtape_scenario::format_duration(args.token_ttl));
    outln!();
    outln!("== {n}/6 {what}");
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// Runs this binary with `args`, its output shown as it comes.
fn loadtape(args: &[&str], step: &str) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the loadtape binary")?;
    outln!("   $ loadtape {}", args.join(" "));
    let status = Command::new(exe)
        .args(args)
        .status()
        .with_context(|| format!("{step}: cannot run loadtape {}", args[0]))?;
    if !status.success() {
        return Err(anyhow!(
            "{step}: `loadtape {}` failed ({status})",
            args.join(" ")
        ));
    }
    Ok(())
}
