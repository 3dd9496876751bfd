//! Whether results handed to `merge` look like the shares of one run. `merge` refuses what
//! cannot be one run (other scenarios, starts further apart than the run lasts); these are the
//! softer signs — a whole run among segments, a split with a share missing or twice, starts
//! minutes apart, different lengths — said as warnings (`report merge --strict` refuses them),
//! so that merging yesterday's full run into today's `1/2` does not pass without a word.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::result::RunResult;

/// How far apart segments of one run start before it is worth a word: machines started by
/// `--start-at` or one scheduler are within seconds.
const START_GAP_S: i64 = 60;

/// `K/N` as `(K, N)`.
pub(crate) fn parse_segment(s: &str) -> Option<(u64, u64)> {
    let (k, n) = s.split_once('/')?;
    Some((k.trim().parse().ok()?, n.trim().parse().ok()?))
}

/// Why `results` may not be the segments of one run, one sentence each; inputs are named by
/// their position, from 1.
pub fn doubts(results: &[RunResult]) -> Vec<String> {
    let mut out = Vec::new();
    segment_doubts(results, &mut out);
    let starts: Vec<Option<DateTime<Utc>>> =
        results.iter().map(|r| r.started.parse().ok()).collect();
    if let Some(first) = starts.iter().flatten().min() {
        for (i, s) in starts.iter().enumerate() {
            if let Some(s) = s.filter(|s| (*s - *first).num_seconds() > START_GAP_S) {
                out.push(format!(
                    "input {} started {} s after the first: segments of one run start together \
                     (the same `--start-at`)",
                    i + 1,
                    (s - *first).num_seconds()
                ));
            }
        }
    }
    let longest = results
        .iter()
        .map(|r| r.settings.duration_s)
        .fold(0.0, f64::max);
    for (i, r) in results.iter().enumerate() {
        if r.settings.duration_s < longest * 0.9 {
            out.push(format!(
                "input {} was planned for {} s and another for {longest} s: segments of one run \
                 share its schedule",
                i + 1,
                r.settings.duration_s
            ));
        }
    }
    out
}

fn segment_doubts(results: &[RunResult], out: &mut Vec<String>) {
    let segs: Vec<Option<&str>> = results
        .iter()
        .map(|r| r.settings.segment.as_deref())
        .collect();
    let whole: Vec<usize> = segs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| i + 1)
        .collect();
    if whole.len() == segs.len() {
        out.push(
            "no input is a `--segment` share: merging whole runs adds up separate tests".into(),
        );
        return;
    }
    for i in &whole {
        out.push(format!(
            "input {i} is a whole run (no `--segment`) among segments"
        ));
    }
    let parsed: Vec<(u64, u64)> = segs
        .iter()
        .flatten()
        .filter_map(|s| parse_segment(s))
        .collect();
    let splits: BTreeSet<u64> = parsed.iter().map(|(_, n)| *n).collect();
    if splits.len() > 1 {
        let list: Vec<String> = splits.iter().map(|n| format!("1/{n}")).collect();
        out.push(format!(
            "the segments come from different splits ({})",
            list.join(", ")
        ));
        return;
    }
    let Some(&n) = splits.first() else { return };
    let mut seen = BTreeSet::new();
    for (k, _) in &parsed {
        if !seen.insert(*k) {
            out.push(format!("segment {k}/{n} is given twice"));
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !seen.contains(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        out.push(format!(
            "segment(s) {} missing: the merge is part of the run",
            missing.join(", ")
        ));
    }
}
