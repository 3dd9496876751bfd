//! `loadtape convert`: a recording becomes a parameterized load scenario.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use loadtape_detect::{
    analyze, compare_recordings, convert, Analysis, Conversion, ConvertOptions, Evidence, Options,
    TokenCsv,
};
use loadtape_recording::Recording;
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

pub fn run(args: Args) -> Result<(), Failure> {
    if args.recordings.len() > 1 {
        return crate::convert_mix::run(&args);
    }
    let server = &args.server;
    if !args.verify && (!server.targets.is_empty() || !server.ca.is_empty() || server.insecure) {
        return Err(bad(
            "--target, --ca and --insecure are for --verify (convert alone sends nothing)".into(),
        ));
    }
    let rec = read(args.recording())?;
    if rec.exchanges.iter().any(|e| e.group.is_some()) {
        return crate::convert_mix::run_groups(&args, &rec);
    }
    if !args.weights.is_empty() {
        return Err(bad(format!(
            "--weights is for several flows: several recordings (`loadtape convert a.yaml b.yaml --weights 70,30`) or a recording with group marks, and {} has none",
            args.recording().display()
        )));
    }
    let others = args
        .also
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let (rec, others) = by_tester(rec, others);
    // Values that differ between the recordings (testers, `--also`) go to the users CSV.
    let users = !others.is_empty();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(args.recording()));
    crate::outputs::refuse_existing(&out, args.force, "-o")?;
    let mut evidence = Evidence::default();
    if !others.is_empty() {
        let first = analyze(&rec, &analysis_options(&args)).map_err(bad)?;
        for f in compare_recordings(&rec, &first, &others).facts() {
            evidence.add(f.clone());
        }
    }
    let (analysis, conversion, changes) = build(&args, &rec, &evidence, &out, users)?;
    prepare_csvs(&args, &conversion, &out)?;
    write_scenario(&out, &conversion.yaml(), args.force)?;
    let compared = if args.also.is_empty() {
        "compared between the testers"
    } else {
        "compared with --also"
    };
    crate::out::list(compared, &changes);
    print_summary(&out, &analysis, &conversion.scenario, !args.verify);
    if !args.verify {
        return Ok(());
    }
    let rebuild = |ev: &Evidence| -> Result<Vec<String>, Failure> {
        let (_, c, changes) = build(&args, &rec, ev, &out, users)?;
        write_scenario(&out, &c.yaml(), true)?;
        Ok(changes)
    };
    let repair = crate::repair::Repair {
        scenario: &out,
        recording: &rec,
        server,
        rounds: args.rounds,
    };
    repair.run(evidence, rebuild)
}

/// A recording of several testers (`record --tester`) is one recording per tester of the
/// same flow, as `--also` takes them: the first tester's is converted, and the values that
/// differ per tester become the users CSV, one row per tester in their order.
fn by_tester(rec: Recording, mut others: Vec<Recording>) -> (Recording, Vec<Recording>) {
    let mut testers: Vec<String> = Vec::new();
    for e in &rec.exchanges {
        if let Some(t) = &e.tester {
            if !testers.contains(t) {
                testers.push(t.clone());
            }
        }
    }
    if testers.len() < 2 {
        return (rec, others);
    }
    let of = |t: &str| Recording {
        header: rec.header.clone(),
        exchanges: rec
            .exchanges
            .iter()
            .filter(|e| e.tester.as_deref() == Some(t))
            .cloned()
            .collect(),
        truncated_tail: None,
    };
    outln!(
        "{} testers recorded ({}): the values that differ between them become one data row each",
        testers.len(),
        testers.join(", ")
    );
    let mut split: Vec<Recording> = testers.iter().map(|t| of(t)).collect();
    let first = split.remove(0);
    split.append(&mut others);
    (first, split)
}

pub(crate) fn read(path: &Path) -> Result<loadtape_recording::Recording, Failure> {
    loadtape_recording::read_any(path).map_err(|e| bad(e.to_string()))
}

pub(crate) fn analysis_options(args: &Args) -> Options {
    Options {
        keep_static: args.keep_static,
        token_step: args.token_step.clone(),
    }
}

/// The analysis with the evidence applied, the conversion, and what the evidence changed.
fn build(
    args: &Args,
    rec: &loadtape_recording::Recording,
    evidence: &Evidence,
    out: &Path,
    users: bool,
) -> Result<(Analysis, Conversion, Vec<String>), Failure> {
    let mut analysis = analyze(rec, &analysis_options(args)).map_err(bad)?;
    let changes = evidence.apply(rec, &mut analysis);
    let conversion = convert(rec, &analysis, &convert_options(args, out, users));
    if conversion.scenario.steps.is_empty() {
        let dropped = analysis.steps.len();
        return Err(bad(format!(
            "{}: nothing to replay: {dropped} exchange(s), none left for the flow (dropped or \
             turned into token steps); --keep-static keeps static assets and beacons",
            args.recording().display()
        )));
    }
    Ok((analysis, conversion, changes))
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
fn users_csv(args: &Args, out: &Path) -> PathBuf {
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

/// The `--token-csv` and `--login-csv` files, checked or created with the recorded row;
/// before the scenario is written, so a scenario is never left naming a CSV that fails.
fn prepare_csvs(args: &Args, conversion: &Conversion, out: &Path) -> Result<(), Failure> {
    if !conversion.users_columns.is_empty() {
        let csv = users_csv(args, out);
        prepare_csv(
            &csv,
            &conversion.users_columns,
            &conversion.users_rows,
            "one row per recording of the flow: add a row per test user",
        )?;
    }
    if let Some(csv) = &args.token_csv {
        prepare_csv(
            csv,
            &conversion.csv_columns,
            std::slice::from_ref(&conversion.csv_row),
            "the recorded token(s) as one row: replace them with fresh, pre-fetched ones",
        )?;
    }
    if let Some(csv) = &args.login_csv {
        if conversion.login_columns.is_empty() {
            return Err(bad(format!(
                "--login-csv: {} sends no user-bound login material (rawData, signature, \
                 encryptedData, iv); nothing to take from a CSV",
                args.recording().display()
            )));
        }
        prepare_csv(
            csv,
            &conversion.login_columns,
            std::slice::from_ref(&conversion.login_row),
            "the recorded user's login material as one row: add a row per test user",
        )?;
    }
    Ok(())
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

/// What was written, the warnings a human must read, and the command to try it with (with
/// `--ca` when the target's certificate is not publicly trusted).
pub(crate) fn print_summary(out: &Path, analysis: &Analysis, s: &Scenario, hint: bool) {
    let extractors: usize = s.steps.iter().map(|st| st.extract.len()).sum();
    outln!(
        "wrote {}: {} token step(s), {} step(s), {} extractor(s), {} finding(s) applied, {} suggestion(s)",
        out.display(),
        s.tokens.len(),
        s.steps.len(),
        extractors,
        analysis.applied().count(),
        analysis.suggestions().count()
    );
    if !analysis.warnings.is_empty() {
        outln!("warnings:");
        for w in &analysis.warnings {
            outln!("  - {w}");
        }
    }
    if !hint {
        return;
    }
    let private = talks_to_private_https(s);
    // The testbed writes its CA here (`loadtape testbed --tls`): a hint that works as printed.
    let testbed_ca = std::path::Path::new("certs/testbed-ca.pem");
    let ca = if private && testbed_ca.exists() {
        format!(" --ca {}", testbed_ca.display())
    } else {
        String::new()
    };
    outln!(
        "next: loadtape run {} --vus 1 --iterations 1 --debug{ca}",
        out.display()
    );
    if private && ca.is_empty() {
        outln!("      (add --ca FILE with the target's CA: its HTTPS certificate is not publicly trusted)");
    }
}

/// Whether the scenario talks HTTPS to a host on this machine or a private network, whose
/// certificate (a testbed's, a staging server's) no public root vouches for.
pub(crate) fn talks_to_private_https(s: &Scenario) -> bool {
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

/// An existing CSV must have the token columns; a missing one is created with the recorded
/// tokens as a starter row (they expire: replace them with fresh ones).
fn prepare_csv(
    csv: &Path,
    columns: &[String],
    rows: &[Vec<String>],
    what: &str,
) -> Result<(), Failure> {
    if columns.is_empty() {
        return Err(Failure::BadInput(anyhow!(
            "--token-csv: the recording has no token to read from a CSV"
        )));
    }
    if csv.exists() {
        let text = std::fs::read_to_string(csv)
            .with_context(|| format!("cannot read {}", csv.display()))?;
        let header: Vec<&str> = text
            .lines()
            .next()
            .unwrap_or("")
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        let missing: Vec<&str> = columns
            .iter()
            .map(String::as_str)
            .filter(|c| !header.contains(c))
            .collect();
        if !missing.is_empty() {
            return Err(Failure::BadInput(anyhow!(
                "{}: the header row has no column {} (it has: {})",
                csv.display(),
                missing.join(", "),
                header.join(", ")
            )));
        }
        return Ok(());
    }
    write_starter(csv, columns, rows).with_context(|| format!("cannot write {}", csv.display()))?;
    outln!("wrote {} with {what}", csv.display());
    Ok(())
}

/// A starter CSV: the header and the recorded row, quoted where the engine's CSV reader
/// needs it (login material is JSON, full of commas and quotes).
fn write_starter(csv: &Path, columns: &[String], rows: &[Vec<String>]) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_path(csv)?;
    w.write_record(columns)?;
    for row in rows {
        w.write_record(row)?;
    }
    w.flush()?;
    Ok(())
}
