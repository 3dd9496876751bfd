//! `loadtape tokens`: what detection finds in a recording, before anything is converted.

use std::path::PathBuf;

use loadtape_detect::{analyze, findings_json, render_table, Options};

use crate::exit::Failure;

/// Print the tokens found in a recording: one row per finding (variable, class, where it is
/// used, where it comes from, confidence), suggestions, and what a human must decide.
///
/// Classes: correlated (issued by an earlier response), session token (issued by a login),
/// platform token (WeChat/Alipay presets, or used but never issued), generated (timestamps,
/// nonces, UUIDs, signatures, login codes), appid. `loadtape convert` applies exactly the
/// rows above the suggestions.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording (recording/v1 YAML, or a HAR file).
    recording: PathBuf,
    /// Treat this step (name or recorded exchange id) as the token step.
    #[arg(long, value_name = "STEP")]
    token_step: Option<String>,
    /// Keep static assets and analytics beacons.
    #[arg(long)]
    keep_static: bool,
    /// An environment variable holding a candidate signing secret; repeatable (as
    /// `convert --secret-env`).
    #[arg(long, value_name = "NAME")]
    secret_env: Vec<String>,
    /// Print the findings as JSON (for tools) instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let rec = loadtape_recording::read_any(&args.recording)
        .map_err(|e| Failure::BadInput(anyhow::anyhow!("{e}")))?;
    let opts = Options {
        keep_static: args.keep_static,
        token_step: args.token_step,
        secrets: crate::secret_env::read(&args.secret_env)?,
    };
    let analysis = analyze(&rec, &opts).map_err(|e| Failure::BadInput(anyhow::anyhow!(e)))?;
    if args.json {
        let text = serde_json::to_string_pretty(&findings_json(&analysis))
            .map_err(|e| Failure::Other(anyhow::anyhow!("{e}")))?;
        outln!("{text}");
        return Ok(());
    }
    out!("{}", render_table(&analysis));
    let kept = analysis
        .steps
        .iter()
        .filter(|s| s.dropped.is_none())
        .count();
    if rec.exchanges.is_empty() && rec.truncated_tail.is_some() {
        outln!("\nnothing to convert: the one exchange was cut off (see the warning above)");
    } else if rec.exchanges.is_empty() {
        outln!(
            "\nnothing to convert: the recording holds no exchange: {}",
            crate::hints::nothing_reached_the_proxy()
        );
    } else if kept == 0 {
        outln!(
            "\nnothing to convert: every exchange was dropped (static assets, beacons, failed \
             requests); `--keep-static` keeps static assets and beacons"
        );
    } else {
        outln!("\nnext: loadtape convert {}", args.recording.display());
    }
    Ok(())
}
