//! `--debug`: every request, response, extracted value and check on stdout, so an engineer
//! sees why a converted scenario fails before loading a server with it. Each call writes its
//! lines under one stdout lock, so VUs on different threads do not interleave within a block.

use std::io::Write as _;

use bytes::Bytes;
use http::header::HeaderMap;
use http::uri::PathAndQuery;
use http::Method;

use crate::diagnosis::Failure;
use crate::http::Answer;
use crate::plan::Origin;

/// Body text shown: the first bytes, as text when they are UTF-8.
const SHOWN: usize = 1024;

pub fn snippet(body: &[u8], max: usize) -> String {
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

fn out(text: String) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

pub fn request(
    step: &str,
    method: &Method,
    origin: &Origin,
    pq: &PathAndQuery,
    headers: &HeaderMap,
    body: &Bytes,
) {
    let scheme = if origin.https { "https" } else { "http" };
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
    out(s);
}

pub fn response(a: &Answer) {
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
    out(s);
}

pub fn extracted(name: &str, value: Option<&str>) {
    out(match value {
        Some(v) => format!("    extract {name} = {}\n", snippet(v.as_bytes(), 120)),
        None => format!("    extract {name}: NOT FOUND\n"),
    });
}

/// The check's verdict: `passed`, or the broken rule and what the answer had
/// (`FAILED $.errno: expected == 0, got 402`); the error kind when there is no description.
pub fn check(error: Option<&str>, failure: Option<&Failure>) {
    out(match (error, failure) {
        (None, _) => "    check: passed\n".to_string(),
        (Some(_), Some(f)) => format!("    check: FAILED {}\n", f.line()),
        (Some(kind), None) => format!("    check: FAILED ({kind})\n"),
    });
}

pub fn failure(message: &str) {
    out(format!("<<< failed: {message}\n"));
}

pub fn note(message: &str) {
    out(format!("    {message}\n"));
}
