//! What a VU takes from an answer: extracted values, the parsed JSON body, its size.

use http::header::SET_COOKIE;
use loadtape_scenario::Extractor;
use serde_json::Value;

use crate::body::KEPT;
use crate::failure::{fail, Failure};
use crate::http::Answer;
use crate::metrics::ErrorKind;
use crate::plan::ExtractPlan;

pub(crate) fn parse_json(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

pub(crate) fn received_size(a: &Answer) -> u64 {
    let headers: usize = a
        .response
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    (17 + headers) as u64 + a.size
}

/// The value and whether it is typed JSON (a non-string a `json` extractor took).
pub(crate) fn extract(e: &ExtractPlan, a: &Answer, json: Option<&Value>) -> Option<(String, bool)> {
    let text = match &e.extractor {
        Extractor::Json(path) => {
            return Some(match path.first(json?)? {
                Value::String(s) => (s.clone(), false),
                other => (other.to_string(), true),
            })
        }
        Extractor::Header(name) => a
            .response
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        Extractor::Cookie(name) => a.response.headers.get_all(SET_COOKIE).iter().find_map(|v| {
            let pair = v.to_str().ok()?.split(';').next()?;
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_string())
        }),
        Extractor::Regex { .. } => {
            let text = String::from_utf8_lossy(&a.body);
            e.extractor.capture(&text).map(str::to_string)
        }
    };
    text.map(|t| (t, false))
}

/// `a` when its body is whole or nothing judges it (`needed`: the step's checks, extractors
/// or `refresh_on` rules look into the body; `--debug` showing it does not count);
/// otherwise the failure that says it was cut.
pub(crate) fn whole(a: Answer, needed: bool) -> Result<Answer, Failure> {
    if !needed || a.size == a.body.len() as u64 {
        return Ok(a);
    }
    Err(fail(
        ErrorKind::Check,
        format!(
            "the response body is {} bytes, over the {} MiB loadtape keeps of one answer; \
             this step's checks or extractors need all of it (check the URL, or read the \
             value from a smaller answer)",
            a.size,
            KEPT >> 20
        ),
    ))
}
