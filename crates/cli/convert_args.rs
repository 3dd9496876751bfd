//! What the single and the mixed conversion (`convert.rs`, `convert_mix.rs`) share: the
//! arguments of `loadtape convert` and the way they become options, paths and files.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use loadtape_detect::{ConvertOptions, Options, TokenCsv};
use loadtape_scenario::Scenario;

use crate::exit::Failure;

/// Convert a recording into a scenario (scenario/v1) with token steps, extractors and
/// generators, commented where a human must decide (signatures, pre-fetched tokens).
///
/// Session tokens become per-VU token steps, platform tokens shared ones (refreshed ahead of
/// expiry and on WeChat errcode 40001/40014/42001 or HTTP 401); values issued by a response
/// become extractors; timestamps and nonces become now_ms()/uuid(); static assets and beacons
/// are dropped; cookies set by a response are left to each VU's cookie jar.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording (recording/v1 YAML, or a HAR file). Several make a mixed scenario:
    /// one flow per recording, equal token steps shared.
    #[arg(required = true, value_name = "RECORDING")]
    pub(crate) recordings: Vec<PathBuf>,
    /// With several recordings: each flow's weight, in their order (`70,20,10`)
    /// [default: equal].
    #[arg(long, value_name = "W,W,...", value_delimiter = ',')]
    pub(crate) weights: Vec<u32>,
    /// Where to write the scenario [default: NAME.scenario.yaml beside the recording].
    #[arg(long, short, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Treat this step (name or recorded exchange id) as the token step.
    #[arg(long, value_name = "STEP", conflicts_with = "token_csv")]
    pub(crate) token_step: Option<String>,
    /// Use pre-fetched tokens from this CSV (one column per token) instead of token steps;
    /// created with the recorded token as a starter row when it does not exist.
    #[arg(long, value_name = "FILE")]
    pub(crate) token_csv: Option<PathBuf>,
    /// Log in with the user-bound login material (wx.getUserInfo's rawData, signature,
    /// encryptedData, iv) from this CSV, one row per VU, so N VUs are N users; created with
    /// the recorded user's row as a starter when it does not exist.
    #[arg(long, value_name = "FILE")]
    pub(crate) login_csv: Option<PathBuf>,
    /// Keep static assets and analytics beacons.
    #[arg(long)]
    pub(crate) keep_static: bool,
    /// An environment variable holding a candidate signing secret (an API key, an app
    /// secret); repeatable. Signatures are searched with it; the scenario reads it with
    /// env("NAME") and never holds the value.
    #[arg(long, value_name = "NAME")]
    pub(crate) secret_env: Vec<String>,
    /// Overwrite the scenario if it exists.
    #[arg(long)]
    pub(crate) force: bool,
    /// Another recording of the same flow (another tester, another login); repeatable. A
    /// value that differs between the recordings at the same place is dynamic by evidence,
    /// one equal in all is static; per-user values become a CSV, one row per recording.
    #[arg(long, value_name = "FILE")]
    pub(crate) also: Vec<PathBuf>,
    /// Where the per-user values of `--also`, or of a recording by several testers, go
    /// [default: NAME.users.csv beside the scenario].
    #[arg(long, value_name = "FILE")]
    pub(crate) users_csv: Option<PathBuf>,
    /// Then replay one iteration against the target (`loadtape verify`), apply the fixes it
    /// finds (extractors from the live answers, generators), and verify again; exit 0 only
    /// when the last verify matched.
    #[arg(long)]
    pub(crate) verify: bool,
    /// With --verify: how many verify rounds at most.
    #[arg(long, value_name = "N", default_value_t = 5, requires = "verify")]
    pub(crate) rounds: u32,
    /// With --verify: `--target`, `--ca`, `--insecure`, as `loadtape run` takes them.
    #[command(flatten)]
    pub(crate) server: crate::server_args::ServerArgs,
}

impl Args {
    /// The (first) recording.
    pub(crate) fn recording(&self) -> &Path {
        &self.recordings[0]
    }
}

pub(crate) fn read(path: &Path) -> Result<loadtape_recording::Recording, Failure> {
    loadtape_recording::read_any(path).map_err(|e| bad(e.to_string()))
}

pub(crate) fn analysis_options(args: &Args) -> Result<Options, Failure> {
    Ok(Options {
        keep_static: args.keep_static,
        token_step: args.token_step.clone(),
        secrets: crate::secret_env::read(&args.secret_env)?,
    })
}

/// Bad input (exit 2): the message is the whole story, no context chain.
pub(crate) fn bad(e: String) -> Failure {
    Failure::BadInput(anyhow!(e))
}

/// The converter's options: the CSVs are named relative to the scenario, which is where
/// the engine resolves them from.
pub(crate) fn convert_options(args: &Args, out: &Path, users: bool) -> ConvertOptions {
    let beside = |csv: &PathBuf| TokenCsv {
        path: relative_to(csv, out.parent().unwrap_or(Path::new("."))),
    };
    ConvertOptions {
        recording: args
            .recording()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
        token_csv: args.token_csv.as_ref().map(beside),
        login_csv: args.login_csv.as_ref().map(beside),
        users_csv: users.then(|| beside(&users_csv(args, out))),
    }
}

/// `--users-csv`, or `NAME.users.csv` beside the scenario.
pub(crate) fn users_csv(args: &Args, out: &Path) -> PathBuf {
    args.users_csv.clone().unwrap_or_else(|| {
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = name
            .strip_suffix(".scenario.yaml")
            .or_else(|| name.strip_suffix(".yaml"))
            .unwrap_or(&name);
        out.with_file_name(format!("{stem}.users.csv"))
    })
}

/// Writes the scenario (refusing to replace one without `--force`, even if it appeared since
/// the check) and loads it back.
pub(crate) fn write_scenario(out: &Path, yaml: &str, force: bool) -> Result<(), Failure> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .create_new(!force)
        .open(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    file.write_all(yaml.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    // What convert writes must load: a failure here is a bug in the converter.
    loadtape_scenario::load_scenario(out)
        .map_err(|e| anyhow!("the converted scenario does not load (a loadtape bug): {e}"))?;
    Ok(())
}

/// `next: loadtape run OUT FLAGS`, with `--ca` when the scenario talks to a private HTTPS
/// host and the testbed's CA is here, and what the hint needs besides: a CA to add, the
/// environment variables the scenario reads.
pub(crate) fn print_next_run(s: &Scenario, out: &Path, flags: &str) {
    let private = talks_to_private_https(s);
    // The testbed writes its CA here (`loadtape testbed --tls`): a hint that works as printed.
    let testbed_ca = Path::new("certs/testbed-ca.pem");
    let ca = if private && testbed_ca.exists() {
        format!(" --ca {}", testbed_ca.display())
    } else {
        String::new()
    };
    outln!("next: loadtape run {} {flags}{ca}", out.display());
    if private && ca.is_empty() {
        outln!("      (add --ca FILE with the target's CA: its HTTPS certificate is not publicly trusted)");
    }
    let env = s.env_names();
    if !env.is_empty() {
        outln!(
            "      (with {} set in the environment: the scenario reads {} with env())",
            env.join(", "),
            if env.len() == 1 { "it" } else { "them" }
        );
    }
}

/// Whether the scenario talks HTTPS to a host on this machine or a private network, whose
/// certificate (a testbed's, a staging server's) no public root vouches for.
fn talks_to_private_https(s: &Scenario) -> bool {
    let private = |url: String| {
        let Some(rest) = url.strip_prefix("https://") else {
            return false;
        };
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let Ok(authority) = authority.parse::<http::uri::Authority>() else {
            return false;
        };
        let host = loadtape_net::strip_brackets(authority.host());
        host == "localhost"
            || host.parse::<std::net::IpAddr>().is_ok_and(|ip| match ip {
                std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
                std::net::IpAddr::V6(v6) => v6.is_loopback(),
            })
    };
    let urls = s
        .tokens
        .iter()
        .map(|t| t.request.url.to_string())
        .chain(s.steps.iter().map(|st| st.request.url.to_string()));
    urls.into_iter().any(private)
}

/// `recordings/shop.yaml` → `recordings/shop.scenario.yaml`.
pub(crate) fn default_out(recording: &Path) -> PathBuf {
    let stem = recording
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recording".into());
    recording.with_file_name(format!("{stem}.scenario.yaml"))
}

/// The CSV's path as the scenario names it: relative to the scenario's directory when it is
/// below it, absolute otherwise.
fn relative_to(csv: &Path, dir: &Path) -> String {
    let abs = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        }
    };
    let (csv, dir) = (abs(csv), abs(dir));
    csv.strip_prefix(&dir)
        .map(Path::to_path_buf)
        .unwrap_or(csv)
        .to_string_lossy()
        .into_owned()
}
