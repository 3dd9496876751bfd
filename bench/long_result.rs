//! A result of a run of many hours, made from a real short one, for `bench/long-result.sh`
//! (nobody waits 72 hours for a benchmark): the real run's busy seconds repeated for every
//! second of the long run, each pushed through the engine's own [`Timeline`] so that the
//! result has the shape a real long run's has (1 s for the last 10 minutes, 10 s for the last day,
//! 1 min beyond, histograms added), and the counts scaled to the length.
//!
//! `cargo run --release --example long-result -- REAL.json OUT.json HOURS [K/N]`

use std::process::ExitCode;

use loadtape_report::result::{RunResult, Second};
use loadtape_report::timeline::Timeline;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [real, out, hours, rest @ ..] = args.as_slice() else {
        eprintln!("usage: long-result REAL.json OUT.json HOURS [K/N]");
        return ExitCode::from(2);
    };
    match make(real, out, hours, rest.first()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("long-result: {e}");
            ExitCode::FAILURE
        }
    }
}

fn make(real: &str, out: &str, hours: &str, segment: Option<&String>) -> Result<(), String> {
    let text = std::fs::read_to_string(real).map_err(|e| format!("{real}: {e}"))?;
    let mut r: RunResult = serde_json::from_str(&text).map_err(|e| format!("{real}: {e}"))?;
    let hours: u64 = hours.parse().map_err(|e| format!("HOURS {hours}: {e}"))?;
    // The first and last seconds of a run are partial: the busy middle is what repeats.
    let busy: Vec<Second> = r
        .timeline
        .iter()
        .skip(1)
        .take(r.timeline.len().saturating_sub(2))
        .filter(|s| s.requests > 0 && s.seconds() == 1)
        .cloned()
        .collect();
    if busy.is_empty() {
        return Err(format!("{real}: no busy second in its timeline"));
    }
    let seconds = hours * 3600;
    let mut timeline = Timeline::new();
    for t in 0..seconds {
        let mut s = busy[(t % busy.len() as u64) as usize].clone();
        s.t = t;
        timeline.push(s);
    }
    let scale = seconds as f64 / r.duration_s.max(1.0);
    for s in r
        .tokens
        .iter_mut()
        .chain(&mut r.steps)
        .chain([&mut r.total])
    {
        s.requests = (s.requests as f64 * scale) as u64;
        s.errors = (s.errors as f64 * scale) as u64;
        s.succeeded = s.succeeded.map(|n| (n as f64 * scale) as u64);
    }
    r.iterations = (r.iterations as f64 * scale) as u64;
    r.timeline = timeline.into_vec();
    r.duration_s = seconds as f64;
    r.settings.duration_s = seconds as f64;
    let started = chrono::DateTime::parse_from_rfc3339(&r.started).map_err(|e| e.to_string())?;
    let ended = started + chrono::Duration::seconds(seconds as i64);
    r.ended = ended.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    r.settings.segment = segment.cloned();
    let json = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
    std::fs::write(out, json + "\n").map_err(|e| format!("{out}: {e}"))
}
