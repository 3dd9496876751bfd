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
use loadtape_testbed::{Config, Testbed};

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
    let dir = args.dir.clone();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let recording = dir.join("demo.yaml");
    let scenario = dir.join("demo.scenario.yaml");
    let result = dir.join("demo-result.json");
    let html = dir.join("demo-report.html");
    // The demo's own outputs from an earlier run are replaced; nothing else is touched.
    for old in [&recording, &scenario, &result, &html] {
        let _ = std::fs::remove_file(old);
    }
    let certs = PathBuf::from("certs");

    step(
        1,
        "start the testbed (HTTPS, tokens expire every {ttl})",
        &args,
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
    let base = testbed.base_url();
    let testbed_ca = testbed
        .ca_path()
        .expect("a TLS testbed has a CA")
        .to_path_buf();
    outln!("   testbed at {base}, its CA in {}", testbed_ca.display());

    step(
        2,
        "start the recording proxy and play a WeChat mini-program session through it",
        &args,
    );
    let print: loadtape_proxy::LinePrinter = Arc::new(|line: &str| outln!("   {line}"));
    let proxy = Proxy::start(
        ProxyConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            out: recording.clone(),
            name: "demo".into(),
            ca_dir: certs.clone(),
            include: vec!["localhost".into()],
            upstream_ca: Some(testbed_ca.clone()),
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
    let played = async {
        session::MiniProgram::connect(proxy.local_addr(), &ca_pem, &base, APPID)
            .await?
            .play(SECRET)
            .await
    }
    .await;
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
        recording.display()
    );

    step(3, "find the tokens: loadtape tokens", &args);
    loadtape(&["tokens", path(&recording)], "step 3")?;

    step(4, "convert to a scenario: loadtape convert", &args);
    loadtape(
        &[
            "convert",
            path(&recording),
            "-o",
            path(&scenario),
            "--force",
        ],
        "step 4",
    )?;

    let before = testbed.stats();
    step(5, "replay it as load: loadtape run", &args);
    let duration = format!("{}s", args.duration.as_secs());
    let vus = args.vus.to_string();
    let ca = path(&testbed_ca).to_string();
    loadtape(
        &[
            "run",
            path(&scenario),
            "--vus",
            &vus,
            "--duration",
            &duration,
            "--ca",
            &ca,
            "--out",
            path(&result),
            "--html",
            path(&html),
        ],
        "step 5",
    )?;

    step(6, "the testbed's own counts", &args);
    let after = testbed.stats();
    testbed.shutdown().await;
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
    outln!();
    outln!(
        "demo passed: {:.0} token lifetimes replayed with fresh tokens and zero auth failures.",
        args.duration.as_secs_f64() / args.token_ttl.as_secs_f64()
    );
    outln!(
        "files: {}, {}, {}, {} (open the report in a browser)",
        recording.display(),
        scenario.display(),
        result.display(),
        html.display()
    );
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
