//! `--debug`: every request, response, extracted value and check, so an engineer sees why a
//! converted scenario fails before loading a server with it. Each call hands its lines to the
//! run's [`Sink`] as one block, so VUs on different threads do not interleave within a block
//! (the CLI's sink writes a block under one stdout lock).

use bytes::Bytes;
use http::header::HeaderMap;
use http::uri::PathAndQuery;
use http::Method;

use crate::diagnosis::Failure;
use crate::http::Answer;
use crate::output::Sink;
use crate::plan::Origin;

/// Body text shown: the first bytes, as text when they are UTF-8.
const SHOWN: usize = 1024;

pub(crate) fn snippet(body: &[u8], max: usize) -> String {
    let cut = &body[..body.len().min(max)];
    let mut s = match std::str::from_utf8(cut) {
        Ok(t) => t.to_string(),
        Err(e) if e.valid_up_to() + 4 > cut.len() => {
            String::from_utf8_lossy(&cut[..e.valid_up_to()]).into_owned()
        }
        Err(_) => format!("<{} bytes of binary>", body.len()),
    };
    if body.len() > max {
        s.push_str(&format!("… ({} bytes in all)", body.len()));
    }
    s
}

pub(crate) fn request(
    sink: &Sink,
    step: &str,
    method: &Method,
    origin: &Origin,
    pq: &PathAndQuery,
    headers: &HeaderMap,
    body: &Bytes,
) {
    let scheme = origin.at.scheme.as_str();
    let mut s = format!(
        "\n>>> [{step}] {method} {scheme}://{}{pq}\n",
        origin.authority
    );
    for (k, v) in headers {
        s.push_str(&format!(
            "    {k}: {}\n",
            String::from_utf8_lossy(v.as_bytes())
        ));
    }
    if !body.is_empty() {
        s.push_str(&format!("    {}\n", snippet(body, SHOWN)));
    }
    sink.debug(&s);
}

pub(crate) fn response(sink: &Sink, a: &Answer) {
    let mut s = format!("<<< {} {:?}\n", a.response.status, a.response.version);
    for (k, v) in &a.response.headers {
        s.push_str(&format!(
            "    {k}: {}\n",
            String::from_utf8_lossy(v.as_bytes())
        ));
    }
    if !a.body.is_empty() {
        s.push_str(&format!("    {}\n", snippet(&a.body, SHOWN)));
    }
    sink.debug(&s);
}

pub(crate) fn extracted(sink: &Sink, name: &str, value: Option<&str>) {
    sink.debug(&match value {
        Some(v) => format!("    extract {name} = {}\n", snippet(v.as_bytes(), 120)),
        None => format!("    extract {name}: NOT FOUND\n"),
    });
}

/// The check's verdict: `passed`, or the broken rule and what the answer had
/// (`FAILED $.errno: expected == 0, got 402`); the error kind when there is no description.
pub(crate) fn check(sink: &Sink, error: Option<&str>, failure: Option<&Failure>) {
    sink.debug(&match (error, failure) {
        (None, _) => "    check: passed\n".to_string(),
        (Some(_), Some(f)) => format!("    check: FAILED {}\n", f.line()),
        (Some(kind), None) => format!("    check: FAILED ({kind})\n"),
    });
}

pub(crate) fn failure(sink: &Sink, message: &str) {
    sink.debug(&format!("<<< failed: {message}\n"));
}

pub(crate) fn note(sink: &Sink, message: &str) {
    sink.debug(&format!("    {message}\n"));
}
