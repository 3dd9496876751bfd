//! `loadtape convert a.yaml b.yaml c.yaml [--weights 70,20,10]`: several recordings (each a
//! business flow a tester recorded) become one mixed scenario, one flow per recording, the
//! token steps they share said once (see `loadtape_detect::mix`).

use std::path::{Path, PathBuf};

use loadtape_detect::{analyze, convert, group_recordings, mix, MixPart};
use loadtape_recording::Recording;
use loadtape_scenario::Scenario;

use crate::convert_args::{
    analysis_options, bad, convert_options, print_next_run, read, write_scenario, Args,
};
use crate::exit::Failure;

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    refuse_single_recording_options(args)?;
    let n = args.recordings.len();
    if !args.weights.is_empty() && args.weights.len() != n {
        return Err(bad(format!(
            "--weights gives {} weight(s) for {n} recording(s): give one per recording, in their order (e.g. --weights {})",
            args.weights.len(),
            vec!["1"; n].join(",")
        )));
    }
    if let Some(i) = args.weights.iter().position(|&w| w == 0) {
        return Err(bad(format!(
            "--weights: the weight of {} is 0; every flow needs at least 1 (leave out a recording that should not run)",
            args.recordings[i].display()
        )));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.recordings));
    crate::outputs::refuse_existing(&out, args.force, "-o")?;
    let mut parts = Vec::with_capacity(n);
    for (i, path) in args.recordings.iter().enumerate() {
        let rec = read(path)?;
        let analysis = analyze(&rec, &analysis_options(args)?).map_err(bad)?;
        let conversion = convert(&rec, &analysis, &convert_options(args, &out, false));
        if conversion.scenario.steps.is_empty() {
            return Err(bad(format!(
                "{}: nothing to replay in this recording (every exchange dropped or turned into a token step); --keep-static keeps static assets and beacons",
                path.display()
            )));
        }
        for w in &analysis.warnings {
            outln!("warning: {}: {w}", path.display());
        }
        parts.push(MixPart {
            flow: flow_name(path, &analysis.name),
            weight: args.weights.get(i).copied(),
            conversion,
        });
    }
    let name = format!(
        "mix-{}",
        parts
            .iter()
            .map(|p| p.flow.as_str())
            .collect::<Vec<_>>()
            .join("-")
    );
    let from: Vec<String> = args
        .recordings
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    finish(args, &out, &name, parts, &from, false)
}

/// A recording whose exchanges carry groups (marked while recording): one flow per group,
/// each made of the exchanges before the first mark (the login, as a rule) and its own.
pub(crate) fn run_groups(args: &Args, rec: &Recording) -> Result<(), Failure> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| crate::convert_args::default_out(args.recording()));
    crate::outputs::refuse_existing(&out, args.force, "-o")?;
    let testers: Vec<&str> = distinct(rec.exchanges.iter().filter_map(|e| e.tester.as_deref()));
    if testers.len() > 1 {
        outln!(
            "note: {} testers recorded; their groups are converted from {}'s exchanges (convert `record --split`'s files one by one for the others)",
            testers.len(),
            testers[0]
        );
    }
    let flows = group_recordings(rec);
    let groups: Vec<&str> = flows.iter().map(|(g, _)| g.as_str()).collect();
    if !args.weights.is_empty() && args.weights.len() != groups.len() {
        return Err(bad(format!(
            "--weights gives {} weight(s) for {} group(s) ({}): give one per group, in their order",
            args.weights.len(),
            groups.len(),
            groups.join(", ")
        )));
    }
    let mut parts = Vec::with_capacity(groups.len());
    for (i, (g, sub)) in flows.iter().enumerate() {
        let analysis = analyze(sub, &analysis_options(args)?).map_err(bad)?;
        let conversion = convert(sub, &analysis, &convert_options(args, &out, false));
        if conversion.scenario.steps.is_empty() {
            return Err(bad(format!(
                "{}: group `{g}` has nothing to replay (every exchange dropped or turned into a token step)",
                args.recording().display()
            )));
        }
        parts.push(MixPart {
            flow: flow_name(Path::new(g), g),
            weight: args.weights.get(i).copied(),
            conversion,
        });
    }
    let from: Vec<String> = groups
        .iter()
        .map(|g| format!("group `{g}` of {}", args.recording().display()))
        .collect();
    finish(args, &out, &rec.header.name, parts, &from, true)
}

fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// The parts mixed and written, with the summary and the next command.
fn finish(
    args: &Args,
    out: &Path,
    name: &str,
    parts: Vec<MixPart>,
    from: &[String],
    one_recording: bool,
) -> Result<(), Failure> {
    let recorded: usize = parts
        .iter()
        .map(|p| p.conversion.scenario.tokens.len())
        .sum();
    // Flows of one recording's groups can still be verified against it.
    let recording = one_recording
        .then(|| {
            parts
                .first()
                .and_then(|p| p.conversion.scenario.recording.clone())
        })
        .flatten();
    let Some(mut mixed) = mix(name, parts) else {
        return Err(bad("nothing to convert: no flow".into()));
    };
    mixed.scenario.recording = recording;
    write_scenario(out, &mixed.yaml(), args.force)?;
    summary(out, &mixed.scenario, recorded, from);
    Ok(())
}

/// `--token-csv`, `--login-csv`, `--also` and `--verify` are about one recording's flow.
fn refuse_single_recording_options(args: &Args) -> Result<(), Failure> {
    let used = [
        ("--token-csv", args.token_csv.is_some()),
        ("--login-csv", args.login_csv.is_some()),
        ("--also", !args.also.is_empty()),
        ("--verify", args.verify),
        ("--token-step", args.token_step.is_some()),
    ];
    if let Some((flag, _)) = used.iter().find(|(_, on)| *on) {
        return Err(bad(format!(
            "{flag} is for converting one recording; with several, convert and check each on its own first (`loadtape convert REC.yaml {flag} …`), then mix them"
        )));
    }
    Ok(())
}

/// The flow's name: the recording's `name`, else its file's stem, in the characters a
/// threshold can name (`checkout.p95`).
fn flow_name(path: &Path, recorded: &str) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = if recorded.trim().is_empty() {
        stem.as_str()
    } else {
        recorded
    };
    let name: String = base
        .trim_end_matches(".yaml")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "flow".into()
    } else {
        name
    }
}

/// `mix.scenario.yaml` beside the first recording.
fn default_out(recordings: &[PathBuf]) -> PathBuf {
    recordings[0].with_file_name("mix.scenario.yaml")
}

fn summary(out: &Path, s: &Scenario, recorded: usize, from: &[String]) {
    outln!(
        "wrote {}: {} flow(s), {} token step(s) ({} recorded, equal ones shared), {} step(s)",
        out.display(),
        s.flows.len(),
        s.tokens.len(),
        recorded,
        s.steps.len()
    );
    for (f, source) in s.flows.iter().zip(from) {
        outln!(
            "  flow {}: weight {}, {} step(s), from {source}",
            f.name,
            f.weight_or_one(),
            f.steps.len(),
        );
    }
    // One VU with as many iterations as the weights add up to runs every flow once or more.
    let iterations: u32 = s.flows.iter().map(|f| f.weight_or_one()).sum();
    let debug = if iterations <= 10 { " --debug" } else { "" };
    print_next_run(s, out, &format!("--vus 1 --iterations {iterations}{debug}"));
}
