//! `loadtape-report`: the `result/v1` format and what happens to a result after the run
//! (SPEC §6). It needs no network stack: the engine depends on it, not the other way round.
//!
//! - [`result`]: [`RunResult`] and its parts ([`result::StepStats`], [`result::Latency`], …),
//!   what `loadtape run --out` writes.
//! - [`histogram`]: the lossless latency histograms a result stores (HdrHistogram V2 +
//!   deflate, base64) and the [`result::Latency`] figures read from them.
//! - [`breakdown`]: the timing breakdown (connect, TLS, time to first byte, transfer), check
//!   counts and latency bands of a row, added up for `report merge`.
//! - [`evaluate`] judges a scenario threshold against a result.
//! - [`units`]: the one formatter of each kind of number (`12.3ms`, `49.6 KiB`).
//! - [`load`] reads a result file and says plainly when a file is not one (a scenario, a
//!   recording, a corrupt or truncated JSON, another format version).
//! - [`merge()`] turns the results of the segments of one distributed run (`--segment K/N`,
//!   one per Kubernetes pod) into the result of the whole run. Histograms are decoded and
//!   added, never percentiles averaged: the p99 of two shards is not the mean of their p99s.
//! - [`compare`] sets runs side by side (before and after a change, a sweep of one setting):
//!   every figure's change and whether it is beyond the noise of the runs' seconds, and the
//!   `--fail-on` gates of a CI regression check.
//! - [`html`] renders one self-contained page (inline CSS and SVG, no script, no CDN) that can
//!   be mailed, archived as a CI artifact or opened on a phone.
//! - [`timeline`] keeps a run's seconds flat over days (recent ones whole, older ones folded)
//!   and downsamples them for charts.
//! - [`diagnostics`]: the first failing exchanges kept per step and error kind, and their text.
//! - [`summary`] is the table `loadtape run` prints at the end of a run.

use std::path::Path;

pub mod breakdown;
pub mod compare;
pub mod diagnostics;
pub mod doubts;
mod escape;
pub mod histogram;
pub mod html;
pub mod junit;
pub mod merge;
pub mod result;
#[cfg(test)]
mod sample;
mod svg;
mod table;
mod tally;
mod threshold;
pub mod timeline;
pub mod units;

pub use merge::{merge, MergeError};
pub use result::{RunResult, RESULT_V1};
pub use threshold::evaluate;

/// A file that could not be read as a `result/v1`.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {what}")]
pub struct LoadError {
    /// The path as given.
    pub file: String,
    /// What is wrong with it.
    pub what: String,
}

/// Reads a `result/v1` JSON file (as `loadtape run --out` writes it).
pub fn load(path: &Path) -> Result<RunResult, LoadError> {
    let fail = |what: String| LoadError {
        file: path.display().to_string(),
        what,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    parse(&text).map_err(fail)
}

/// Parses the text of a `result/v1` file; the error says what is wrong, without the file name.
pub fn parse(text: &str) -> Result<RunResult, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!("not valid JSON ({e}); a result is the JSON file `loadtape run --out` writes")
    })?;
    match value.get("loadtape").and_then(|v| v.as_str()) {
        Some(RESULT_V1) => {}
        Some(other) if other.starts_with("result/") => {
            return Err(format!(
                "is a `{other}` file; this loadtape reads `{RESULT_V1}` (written by loadtape {})",
                env!("CARGO_PKG_VERSION")
            ))
        }
        Some(other) => {
            return Err(format!(
                "is a `{other}` file, not a run result (`{RESULT_V1}`, written by `loadtape run --out`)"
            ))
        }
        None => {
            return Err(format!(
                "is not a loadtape result: it has no `\"loadtape\": \"{RESULT_V1}\"` key"
            ))
        }
    }
    if let Some((path, n)) = beyond_exact(&value, &mut String::new()) {
        return Err(format!(
            "`{path}` is {n}, beyond any run's count: a result holds integers up to 2^53, the \
             largest JSON tools read exactly (the file was edited or damaged)"
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("is not a complete {RESULT_V1}: {e}"))
}

/// The largest integer a result holds: 2^53, where JavaScript's (and many JSON tools')
/// numbers stop being exact. Bounding counts here is what lets the summary, the report and
/// `merge` add them up without overflow.
pub const MAX_COUNT: u64 = 1 << 53;

/// The first integer past [`MAX_COUNT`] in `v`, with its JSON path.
fn beyond_exact(v: &serde_json::Value, at: &mut String) -> Option<(String, u64)> {
    match v {
        serde_json::Value::Number(n) => n.as_u64().filter(|n| *n > MAX_COUNT).map(|n| {
            (
                if at.is_empty() {
                    ".".into()
                } else {
                    at.clone()
                },
                n,
            )
        }),
        serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, c)| {
            let len = at.len();
            at.push_str(&format!("[{i}]"));
            let found = beyond_exact(c, at);
            at.truncate(len);
            found
        }),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, c)| {
            let len = at.len();
            at.push_str(&format!(".{k}"));
            let found = beyond_exact(c, at);
            at.truncate(len);
            found
        }),
        _ => None,
    }
}

/// The end-of-run summary (the one `loadtape run` prints), for any result: the table, then
/// the first failing exchanges of each step and error kind.
pub fn summary(r: &RunResult) -> String {
    let mut s = table::table(r);
    s.push_str(&diagnostics::text(&r.diagnostics));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_a_file_is_when_it_is_not_a_result() {
        for (text, want) in [
            (
                "{\"loadtape\": \"scenario/v1\"}",
                "`scenario/v1` file, not a run result",
            ),
            (
                "{\"loadtape\": \"result/v2\"}",
                "`result/v2` file; this loadtape reads",
            ),
            ("{\"name\": 1}", "no `\"loadtape\": \"result/v1\"` key"),
            ("[1, 2", "not valid JSON"),
            ("{\"loadtape\": \"result/v1\"}", "not a complete result/v1"),
            ("", "not valid JSON"),
        ] {
            let e = parse(text).expect_err(text);
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
