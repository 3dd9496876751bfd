//! A failing exchange written down for the result's diagnostics (PTS's "error diagnostics"):
//! the request as sent, the answer as received and why it failed, credentials masked, so
//! that a user sees why requests failed without running again with `--debug`. Built only
//! while its step and kind have fewer than [`DIAGNOSTICS_KEPT`]: a failure past those pays
//! one scan of a short list, a success nothing.
//!
//! [`DIAGNOSTICS_KEPT`]: loadtape_report::diagnostics::DIAGNOSTICS_KEPT

use loadtape_report::diagnostics::{self as report, Body, Diagnostic, BODY_KEPT};

use super::request::Built;
use super::state::Vu;
use crate::diagnosis::Failure;
use crate::http::Answer;
use crate::redact;
use crate::row::Row;

/// What went wrong with one exchange, as the VU's flow saw it.
pub(super) struct Failed<'a> {
    pub(super) row: Row,
    /// The error kind's name (`status`, `check`, `connect`, …), or a token step's cause.
    pub(super) kind: &'a str,
    /// What the socket said; empty for an answer judged a failure (see `broken`).
    pub(super) message: String,
    /// The broken rule of an answer judged a failure, formatted only if the diagnostic is
    /// kept: an error storm past the first few pays no formatting.
    pub(super) broken: Option<&'a Failure>,
    /// The request, when one was built.
    pub(super) request: Option<&'a Built>,
    /// The answer, when one came.
    pub(super) answer: Option<&'a Answer>,
}

impl<'a> Failed<'a> {
    /// A failure without an answer (and, unless set, without a request).
    pub(super) fn unsent(row: Row, kind: &'a str, message: String) -> Failed<'a> {
        Failed {
            row,
            kind,
            message,
            broken: None,
            request: None,
            answer: None,
        }
    }

    /// An answer judged a failure: its broken rule, when one was found.
    pub(super) fn judged(row: Row, kind: &'a str, f: Option<&'a Failure>) -> Failed<'a> {
        Failed {
            broken: f,
            ..Failed::unsent(row, kind, String::new())
        }
    }
}

impl Vu {
    /// Keeps `f` among the run's diagnostics, if its step and kind still want one.
    pub(super) fn diagnose(&self, f: Failed) {
        let ctx = &self.ctx;
        let plan = &ctx.plan;
        let (token, step) = match f.row {
            Row::Token(t) => (true, plan.tokens[t].name.as_str()),
            Row::Step(s) => (false, plan.steps[s].name.as_str()),
        };
        if !ctx.metrics.borrow().wants_diagnostic(token, step, f.kind) {
            return;
        }
        let (message, rule) = match f.broken {
            Some(b) => (b.line(), Some(b.rule())),
            None if f.message.is_empty() => (f.kind.to_string(), None),
            None => (f.message, None),
        };
        let known = self.token_values();
        let d = Diagnostic {
            step: step.to_string(),
            token,
            kind: f.kind.to_string(),
            t: (ctx.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            vu: Some(self.id),
            iteration: Some(self.iterations),
            message: redact::values(&message, &known),
            rule,
            request: f.request.map(|b| self.request_of(b, &known)),
            response: f.answer.map(|a| response_of(a, &known)),
        };
        ctx.metrics.borrow_mut().diagnose(d);
    }

    /// The token values this VU holds (shared and its own), to be masked wherever they
    /// show up: a custom header, a body echoing the session, a URL path. A token not yet
    /// had (its first fetch is what failed) has none, and may have no local slot yet.
    fn token_values(&self) -> Vec<&str> {
        let plan = &self.ctx.plan;
        let mut out = Vec::new();
        for (t, tp) in plan.tokens.iter().enumerate() {
            match &self.shared[t] {
                Some(v) if tp.shared => out.extend(v.values.iter().map(String::as_str)),
                _ => out.extend(
                    tp.extract
                        .iter()
                        .filter_map(|e| self.locals.get(e.slot)?.as_deref()),
                ),
            }
        }
        out
    }

    fn request_of(&self, b: &Built, known: &[&str]) -> report::Request {
        let origin = &self.ctx.plan.origins[b.origin];
        let url = format!("{}://{}{}", origin.scheme.as_str(), origin.authority, b.pq);
        report::Request {
            method: b.method.to_string(),
            url: redact::values(&redact::url(&url), known),
            headers: shown_headers(&b.headers, known),
            body: body_of(&b.body, known),
        }
    }
}

fn response_of(a: &Answer, known: &[&str]) -> report::Response {
    let status = a.response.status;
    report::Response {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or_default().to_string(),
        version: format!("{:?}", a.response.version),
        headers: shown_headers(&a.response.headers, known),
        body: body_of(&a.body, known),
    }
}

fn shown_headers(h: &http::HeaderMap, known: &[&str]) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v.as_bytes());
            let shown = redact::values(&redact::header(k.as_str(), &v), known);
            (k.as_str().to_string(), shown)
        })
        .collect()
}

fn body_of(body: &[u8], known: &[&str]) -> Option<Body> {
    let mut b = Body::of(body, BODY_KEPT)?;
    if !b.binary {
        b.text = redact::text(&b.text, known);
    }
    Some(b)
}
