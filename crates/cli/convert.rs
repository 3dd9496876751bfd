//! `loadtape convert`: a recording becomes a parameterized load scenario.

use std::path::Path;

use anyhow::{anyhow, Context as _};

use loadtape_detect::{analyze, compare_recordings, convert, Analysis, Conversion, Evidence};
use loadtape_recording::Recording;
use loadtape_scenario::Scenario;

use crate::convert_args::{
    analysis_options, bad, convert_options, default_out, print_next_run, read, users_csv,
    write_scenario, Args,
};
use crate::exit::Failure;

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
        let first = analyze(&rec, &analysis_options(&args)?).map_err(bad)?;
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

/// The analysis with the evidence applied, the conversion, and what the evidence changed.
fn build(
    args: &Args,
    rec: &loadtape_recording::Recording,
    evidence: &Evidence,
    out: &Path,
    users: bool,
) -> Result<(Analysis, Conversion, Vec<String>), Failure> {
    let mut analysis = analyze(rec, &analysis_options(args)?).map_err(bad)?;
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
    print_next_run(s, out, "--vus 1 --iterations 1 --debug");
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
