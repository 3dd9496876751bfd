//! Diagnostics: the first failing exchanges of each step (or token step) and error kind, kept
//! in the result (`diagnostics`) with their request, their answer and why they failed, so that
//! a user sees why requests failed without running again with `--debug`. Bounded: at most
//! [`DIAGNOSTICS_KEPT`] per step and kind, bodies cut at [`BODY_KEPT`] bytes.
//!
//! The engine redacts credentials before an exchange gets here (a result file is shared);
//! this module only holds, merges and shows what it was given. The text of one exchange
//! (`>>> [step] GET …`, `<<< 404 Not Found HTTP/1.1`) is written here once for the summary,
//! the HTML report and JUnit. `--debug` (engine `debug.rs`) still writes its own, in the same
//! shape but unmasked and from the live request: making it use these blocks is open work.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::escape::esc;
use crate::units::secs;

/// How many failing exchanges are kept per step (or token step) and error kind.
pub const DIAGNOSTICS_KEPT: usize = 5;

/// How much of a body a diagnostic keeps: enough for an error page or a JSON refusal.
pub const BODY_KEPT: usize = 2048;

/// One failing exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// The step's (or token step's) name.
    pub step: String,
    /// The row is a token step's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub token: bool,
    /// The error kind, as `errors_by_kind` names it (`connect`, `status`, `check`, …); for a
    /// token step the cause under its `token` count.
    pub kind: String,
    /// Seconds since the run's start (after a merge: since the earliest input's start).
    pub t: f64,
    /// The VU that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vu: Option<u64>,
    /// The VU's iteration (from 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u64>,
    /// What went wrong: what the socket, TLS or hyper said, or the broken rule and the value
    /// found (`status: expected == 200, got 404`).
    pub message: String,
    /// For an answer that failed its check: the rule alone (`status == 200`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The request as sent; `None` when none could be built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// The answer; `None` when none came (connect, TLS, timeout, reset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
}

/// The request side of an exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The whole URL it went to.
    pub url: String,
    /// Headers as sent, in order (`[name, value]`).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The start of the body; `None` without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

/// The answer side of an exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Its reason phrase (`Not Found`), when it has a standard one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// `HTTP/1.1`, `HTTP/2.0`.
    pub version: String,
    /// Headers as received, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The start of the body; `None` without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

/// The start of a body, as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Body {
    /// The first bytes as UTF-8 (a character cut at the end dropped), or `<N bytes binary>`.
    pub text: String,
    /// The whole body's size in bytes.
    pub bytes: u64,
    /// `text` is only the start of the body.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The body is not text: `text` only says its size.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub binary: bool,
}

impl Body {
    /// The first `max` bytes of `body` as text; `None` for an empty body.
    pub fn of(body: &[u8], max: usize) -> Option<Body> {
        if body.is_empty() {
            return None;
        }
        let cut = &body[..body.len().min(max)];
        let (text, binary) = match std::str::from_utf8(cut) {
            Ok(t) => (t.to_string(), false),
            // Only a character cut by `max` is invalid: the text before it is kept.
            Err(e) if e.error_len().is_none() => (
                String::from_utf8_lossy(&cut[..e.valid_up_to()]).into_owned(),
                false,
            ),
            Err(_) => {
                let text = String::from_utf8_lossy(cut);
                let bad = text
                    .chars()
                    .filter(|c| *c == char::REPLACEMENT_CHARACTER)
                    .count();
                // Text in another encoding, or one broken character, reads; an image does not.
                if cut.contains(&0) || bad * 10 > text.chars().count() {
                    (format!("<{} bytes binary>", body.len()), true)
                } else {
                    (text.into_owned(), false)
                }
            }
        };
        Some(Body {
            text,
            bytes: body.len() as u64,
            truncated: !binary && cut.len() < body.len(),
            binary,
        })
    }

    /// The text as shown: a cut body says how long it was.
    pub fn shown(&self) -> String {
        if self.truncated {
            format!("{}… ({} bytes in all)", self.text, self.bytes)
        } else {
            self.text.clone()
        }
    }
}

/// Lines (each ending in a newline) of header `pairs` and a body, indented by four spaces.
fn headers_and_body(s: &mut String, pairs: &[(String, String)], body: Option<&Body>) {
    for (k, v) in pairs {
        let _ = writeln!(s, "    {k}: {v}");
    }
    if let Some(b) = body {
        let _ = writeln!(s, "    {}", b.shown());
    }
}

/// `>>> [step] METHOD URL`, then the headers and the body: the summary's text of a request
/// (in the shape `--debug` prints).
pub fn request_block(step: &str, r: &Request) -> String {
    let mut s = format!(">>> [{step}] {} {}\n", r.method, r.url);
    headers_and_body(&mut s, &r.headers, r.body.as_ref());
    s
}

/// `<<< 404 Not Found HTTP/1.1`, then the headers and the body.
pub fn response_block(r: &Response) -> String {
    let mut s = format!("<<< {}", r.status);
    if !r.reason.is_empty() {
        s.push(' ');
        s.push_str(&r.reason);
    }
    let _ = writeln!(s, " {}", r.version);
    headers_and_body(&mut s, &r.headers, r.body.as_ref());
    s
}

/// Which step and kind a diagnostic is kept under.
fn key(d: &Diagnostic) -> (bool, &str, &str) {
    (d.token, &d.step, &d.kind)
}

/// The earliest `n` of each step and kind, grouped (groups in the order they first appear,
/// each by time): what a worker's rows, the workers of a run and `report merge` all keep.
pub fn keep_earliest(list: Vec<Diagnostic>, n: usize) -> Vec<Diagnostic> {
    let mut group: HashMap<(bool, String, String), usize> = HashMap::new();
    let mut tagged: Vec<(usize, Diagnostic)> = list
        .into_iter()
        .map(|d| {
            let (token, step, kind) = key(&d);
            let next = group.len();
            let g = *group
                .entry((token, step.to_string(), kind.to_string()))
                .or_insert(next);
            (g, d)
        })
        .collect();
    tagged.sort_by(|(ga, a), (gb, b)| ga.cmp(gb).then(a.t.total_cmp(&b.t)));
    let mut taken = vec![0usize; group.len()];
    tagged
        .into_iter()
        .filter(|(g, _)| {
            taken[*g] += 1;
            taken[*g] <= n
        })
        .map(|(_, d)| d)
        .collect()
}

/// The diagnostics of several results of one run: each input's `t` moved onto the merge's
/// clock (`offset`: how many seconds after the earliest input it started), then the earliest
/// [`DIAGNOSTICS_KEPT`] of each step and kind.
pub fn merge<'a>(inputs: impl IntoIterator<Item = (&'a [Diagnostic], f64)>) -> Vec<Diagnostic> {
    let all = inputs
        .into_iter()
        .flat_map(|(list, offset)| {
            list.iter().map(move |d| Diagnostic {
                t: ((d.t + offset) * 1000.0).round() / 1000.0,
                ..d.clone()
            })
        })
        .collect();
    keep_earliest(all, DIAGNOSTICS_KEPT)
}

/// The diagnostics in their groups (step and kind), in order.
fn groups(list: &[Diagnostic]) -> Vec<&[Diagnostic]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=list.len() {
        if i == list.len() || key(&list[i]) != key(&list[start]) {
            out.push(&list[start..i]);
            start = i;
        }
    }
    out
}

/// `submit (status)` or `login (token step, connect)`.
fn title(d: &Diagnostic) -> String {
    if d.token {
        format!("{} (token step, {})", d.step, d.kind)
    } else {
        format!("{} ({})", d.step, d.kind)
    }
}

/// `at 1.234s, VU 3, iteration 2`.
fn when(d: &Diagnostic) -> String {
    let mut s = format!("at {}", secs(d.t));
    if let Some(vu) = d.vu {
        let _ = write!(s, ", VU {vu}");
    }
    if let Some(i) = d.iteration {
        let _ = write!(s, ", iteration {i}");
    }
    s
}

/// One line for a diagnostic after the first of its group:
/// `at 1.2s, VU 3: POST http://… → 404: status: expected == 200, got 404`.
fn line(d: &Diagnostic) -> String {
    let mut s = when(d);
    if let Some(r) = &d.request {
        let _ = write!(s, ": {} {}", r.method, r.url);
    }
    if let Some(r) = &d.response {
        let _ = write!(s, " → {}", r.status);
    }
    let _ = write!(s, ": {}", d.message);
    s
}

/// The first exchange of a group in full: when, why, the request and the answer.
fn full(d: &Diagnostic) -> String {
    let mut s = format!("{}: {}\n", when(d), d.message);
    if let Some(r) = &d.request {
        s.push_str(&request_block(&d.step, r));
    }
    match &d.response {
        Some(r) => s.push_str(&response_block(r)),
        None if d.request.is_some() => s.push_str("<<< no answer\n"),
        None => {}
    }
    s
}

/// The block the summary prints under its table: per step and kind, the first exchange in
/// full and the others one line each. Empty without diagnostics.
pub fn text(list: &[Diagnostic]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\ndiagnostics: the first {DIAGNOSTICS_KEPT} failing exchanges per step and error kind (all of them with --debug)\n"
    );
    for g in groups(list) {
        let _ = writeln!(out, "  {}:", title(&g[0]));
        for l in full(&g[0]).lines() {
            let _ = writeln!(out, "    {l}");
        }
        for d in &g[1..] {
            let _ = writeln!(out, "    {}", line(d));
        }
    }
    out
}

/// The HTML report's "Diagnostics" section (`<section id="diagnostics">`); empty without
/// diagnostics. Text wraps inside its box, so a long URL or body never widens the page.
pub fn html(list: &[Diagnostic]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let pre = "white-space:pre-wrap;word-break:break-all;background:var(--card);\
               border-radius:8px;padding:8px;font-size:.85em;margin:.4em 0";
    let mut o = format!(
        "<section id=\"diagnostics\"><h2>Diagnostics</h2><p class=\"mute\">The first \
         {DIAGNOSTICS_KEPT} failing exchanges of each step and error kind; credentials are \
         masked.</p>\n"
    );
    for g in groups(list) {
        let _ = write!(
            o,
            "<details class=\"diagnostic\" open><summary><b>{}</b> — {} kept</summary>\
             <pre style=\"{pre}\">{}</pre>",
            esc(&title(&g[0])),
            g.len(),
            esc(&full(&g[0]))
        );
        if g.len() > 1 {
            o.push_str("<ul>");
            for d in &g[1..] {
                let _ = write!(o, "<li><code>{}</code></li>", esc(&line(d)));
            }
            o.push_str("</ul>");
        }
        o.push_str("</details>\n");
    }
    o.push_str("</section>\n");
    o
}

/// The earliest diagnostic of the run, for a failed threshold's JUnit test case: the first
/// thing that went wrong is what a CI reader wants to see.
pub fn first(list: &[Diagnostic]) -> Option<&Diagnostic> {
    list.iter().min_by(|a, b| a.t.total_cmp(&b.t))
}

/// One diagnostic in full, as text (the JUnit `<system-out>`).
pub fn shown(d: &Diagnostic) -> String {
    format!("{}\n{}", title(d), full(d))
}

#[cfg(test)]
#[path = "diagnostics_tests.rs"]
mod tests;
