//! A virtual user and the flow it runs: data rows and variables, the token steps before the
//! steps, the steps in order with their think times, checks and extractions. The VU's state is
//! in [`state`], its requests in [`request`], its token steps in [`token_steps`]; this module
//! uses them and none of them uses it back.

mod diagnose;
mod request;
mod state;
mod token_steps;

use std::time::Instant;

use loadtape_scenario::{Pick, Template};

use crate::control::EndReason;
use crate::debug;
use crate::diagnosis::{check_failure, extract_failure, memchr_find, Failure};
use crate::http::Answer;
use crate::metrics::{ErrorKind, Sample};
use crate::response::{extract, parse_json, received_size, whole};
use crate::row::Row;
use diagnose::Failed;
pub(crate) use state::Vu;
use token_steps::Got;

/// What the VU's loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// How a flow's steps ended.
enum Ran {
    Done,
    /// A funnel ended the iteration before a step, as its share asked.
    CutShort,
    Stopped,
}

enum StepEnd {
    Next,
    /// The flow cannot go on (a value was not extracted, a token could not be had).
    Abort,
    /// A per-VU token was refreshed mid-iteration: start again from the first step, so that
    /// no value extracted under the dead session is sent.
    Restart,
    Stop,
}

impl Vu {
    /// One run of the flow. `intended` is when a rate executor scheduled it: the first
    /// request's latency counts from then, so time spent waiting for a free VU or a token is
    /// not hidden (no coordinated omission).
    pub(crate) async fn iteration(&mut self, intended: Option<Instant>) -> Flow {
        let ctx = self.ctx.clone();
        if ctx.stopped() {
            return Flow::Stop;
        }
        if let Some(flow) = self.prepare().await {
            return flow;
        }
        let f = ctx.pick_flow();
        for &t in &ctx.plan.flows[f].tokens {
            // Boxed only when there is work: the common case is a cheap check.
            if self.token_fresh(t) {
                continue;
            }
            match Box::pin(self.ensure_token(t, None)).await {
                Got::Ready => {}
                Got::Stopped => return Flow::Stop,
                Got::GaveUp(why) => {
                    // The iteration is over, failed: `--iterations N` still ends.
                    self.iterations += 1;
                    self.gave_up(t, &why);
                    return if ctx.stopped() {
                        Flow::Stop
                    } else {
                        Flow::Continue
                    };
                }
            }
        }
        let cut = match self.steps(f, intended).await {
            Ran::Stopped => return Flow::Stop,
            Ran::Done => false,
            Ran::CutShort => true,
        };
        self.iterations += 1;
        let mut m = ctx.metrics.borrow_mut();
        m.iterations += 1;
        let count = m.flow_mut(f);
        count.iterations += 1;
        count.cut_short += cut as u64;
        Flow::Continue
    }

    /// Picks this iteration's data rows and renders the variables; `Some` when the
    /// iteration cannot run.
    async fn prepare(&mut self) -> Option<Flow> {
        let ctx = self.ctx.clone();
        let plan = &ctx.plan;
        for (i, d) in plan.data.iter().enumerate() {
            if d.pick != Pick::PerVu {
                match d.next() {
                    Some(row) => self.rows[i] = Some(row),
                    None => {
                        ctx.control.end(EndReason::Data);
                        return Some(Flow::Stop);
                    }
                }
            }
        }
        if self.vars_ready && !plan.variables_each_iteration {
            return None;
        }
        for (slot, t) in &plan.variables {
            let value = t.render_to_string(&self.view()).map(|c| c.into_owned());
            match value {
                Ok(v) => self.locals[*slot] = Some(v),
                Err(e) => {
                    ctx.warn_once(&format!("variables: {e}"));
                    // Counted against the first step, which cannot run without the
                    // variables (there is no row for the variables themselves).
                    ctx.metrics
                        .borrow_mut()
                        .error_only(Row::Step(0), ErrorKind::Check);
                    let go_on = ctx.sleep(std::time::Duration::from_millis(100)).await;
                    return Some(if go_on { Flow::Continue } else { Flow::Stop });
                }
            }
        }
        self.vars_ready = true;
        None
    }

    /// Flow `f`'s steps in order, with their think times; restarted from the first (once per
    /// iteration) when a step refreshed a per-VU token. A funnel's iteration ends before a
    /// step its share does not reach.
    async fn steps(&mut self, f: usize, intended: Option<Instant>) -> Ran {
        let ctx = self.ctx.clone();
        let flow = &ctx.plan.flows[f];
        let first = flow.steps.start;
        let mut intended = intended;
        let mut restarted = false;
        // Steps before this one were judged by the funnel (a restart does not judge again).
        let mut judged = first;
        let mut s = first;
        while s < flow.steps.end {
            if ctx.stopped() {
                return Ran::Stopped;
            }
            if s >= judged {
                if !ctx.funnel_passes(s, flow.go_on[s - first]) {
                    return Ran::CutShort;
                }
                judged = s + 1;
            }
            let may_restart = !restarted && s > first;
            match self.step(s, intended.take(), may_restart).await {
                StepEnd::Next => {}
                StepEnd::Abort => break,
                StepEnd::Stop => return Ran::Stopped,
                StepEnd::Restart => {
                    restarted = true;
                    s = first;
                    continue;
                }
            }
            if let Some(think) = ctx.plan.steps[s].think {
                if !ctx.sleep(think).await {
                    return Ran::Stopped;
                }
            }
            s += 1;
        }
        Ran::Done
    }

    /// Step `s`: one request, sent again once after a `refresh_on` answer refreshed a token it
    /// used — or, for a per-VU token past the first step (`may_restart`), the iteration starts
    /// over with the new session.
    async fn step(&mut self, s: usize, intended: Option<Instant>, may_restart: bool) -> StepEnd {
        let ctx = self.ctx.clone();
        let plan = &ctx.plan;
        let sp = &plan.steps[s];
        let row = Row::Step(s);
        let mut start_ref = intended;
        for attempt in 0..2 {
            let used = self.tokens_used(s);
            let built = match self
                .render_vars(&sp.vars)
                .and_then(|()| self.build(&sp.request))
            {
                Ok(b) => b,
                Err(m) => {
                    ctx.warn_once(&format!("step `{}`: {m}", sp.name));
                    ctx.metrics.borrow_mut().error_only(row, ErrorKind::Check);
                    self.diagnose(Failed::unsent(row, ErrorKind::Check.name(), m));
                    return StepEnd::Abort;
                }
            };
            let sent_at = Instant::now();
            let start = start_ref.take().unwrap_or(sent_at).min(sent_at);
            let (result, sent) = self.send(&built, &sp.name, row).await;
            let end = Instant::now();
            let answer = match result.and_then(|a| whole(a, sp.judges_body)) {
                Ok(a) => a,
                Err(f) => {
                    if plan.options.debug {
                        debug::failure(ctx.sink(), &f.message);
                    }
                    self.record(row, start, sent_at, end, None, Some(f.kind), sent, 0);
                    ctx.metrics
                        .borrow_mut()
                        .exchange_failed(row, f.kind, &f.message);
                    self.diagnose(Failed {
                        request: Some(&built),
                        ..Failed::unsent(row, f.kind.name(), f.message)
                    });
                    return StepEnd::Next;
                }
            };
            let status = answer.response.status.as_u16();
            let received = received_size(&answer);
            let json = sp.needs_body.then(|| parse_json(&answer.body)).flatten();
            self.jar.store(
                &ctx.plan.origins[built.origin].at.host,
                &answer.response.headers,
            );
            let stale: Vec<(usize, u64)> = used
                .into_iter()
                .filter(|(t, _)| {
                    plan.tokens[*t]
                        .refresh_on
                        .as_ref()
                        .is_some_and(|r| r.matches(status, json.as_ref()))
                })
                .collect();
            if attempt == 0 && !stale.is_empty() {
                ctx.metrics.borrow_mut().record(
                    row,
                    &Sample {
                        latency: end - start,
                        service: end - sent_at,
                        status: Some(status),
                        error: None,
                        sent,
                        received,
                        rejected: true,
                    },
                );
                match self.refresh_stale(row, stale, sent_at, may_restart).await {
                    Some(end) => return end,
                    None => continue,
                }
            }
            let (next, error, failure) = self.judge(s, &answer, json.as_ref(), status);
            self.record(
                row,
                start,
                sent_at,
                end,
                Some(status),
                error,
                sent,
                received,
            );
            if let Some(kind) = error {
                self.diagnose(Failed {
                    request: Some(&built),
                    answer: Some(&answer),
                    ..Failed::judged(row, kind.name(), failure.as_ref())
                });
            }
            return next;
        }
        StepEnd::Next
    }

    /// A step's or token step's `vars`, rendered in order into their slots (afresh for a
    /// second sending: a new nonce, a new signature).
    pub(super) fn render_vars(&mut self, vars: &[(usize, Template)]) -> Result<(), String> {
        for (slot, t) in vars {
            let value = t
                .render_to_string(&self.view())
                .map_err(|e| e.to_string())?;
            self.locals[*slot] = Some(value.into_owned());
        }
        Ok(())
    }

    /// The tokens step `s` uses, with the generation of each this VU holds.
    fn tokens_used(&self, s: usize) -> Vec<(usize, u64)> {
        let plan = &self.ctx.plan;
        plan.steps[s]
            .request
            .tokens
            .iter()
            .map(|&t| {
                let generation = match &self.shared[t] {
                    Some(v) if plan.tokens[t].shared => v.generation,
                    _ => self.own[t].generation,
                };
                (t, generation)
            })
            .collect()
    }

    /// A `refresh_on` answer (to a request sent at `sent_at`) rejected the tokens in `stale`:
    /// learn from it, refresh them, and say how the step goes on: `None` to send it again,
    /// else how it ends (a restart when a per-VU token was refreshed and `may_restart`).
    async fn refresh_stale(
        &mut self,
        row: Row,
        stale: Vec<(usize, u64)>,
        sent_at: Instant,
        may_restart: bool,
    ) -> Option<StepEnd> {
        let ctx = self.ctx.clone();
        let plan = &ctx.plan;
        let restart = may_restart && stale.iter().any(|(t, _)| !plan.tokens[*t].shared);
        {
            let mut m = ctx.metrics.borrow_mut();
            if let Some(m) = m.row_mut(row) {
                if restart {
                    m.restarted += 1;
                } else {
                    m.retries += 1;
                }
            }
        }
        if plan.options.debug {
            debug::note(
                ctx.sink(),
                if restart {
                    "refresh_on matched a per-VU token: refreshing it and restarting the iteration from its first step"
                } else {
                    "refresh_on matched: refreshing the token and retrying once"
                },
            );
        }
        for (t, generation) in stale {
            self.rejected_at(t, sent_at);
            match Box::pin(self.ensure_token(t, Some(generation))).await {
                Got::Ready => {}
                Got::Stopped => return Some(StepEnd::Stop),
                Got::GaveUp(why) => {
                    ctx.metrics.borrow_mut().error_only(row, ErrorKind::Token);
                    self.gave_up(t, &why);
                    self.diagnose(Failed::unsent(row, ErrorKind::Token.name(), why));
                    return Some(StepEnd::Abort);
                }
            }
        }
        restart.then_some(StepEnd::Restart)
    }

    /// Step `s`'s checks and extractions on its answer: how the flow goes on, and the error
    /// to record, if any. A failure is also described (the first broken rule, or the first
    /// extractor that found nothing) and tallied on the step's row; only then is anything
    /// formatted.
    fn judge(
        &mut self,
        s: usize,
        answer: &Answer,
        json: Option<&serde_json::Value>,
        status: u16,
    ) -> (StepEnd, Option<ErrorKind>, Option<Failure>) {
        let plan = &self.ctx.plan;
        let sp = &plan.steps[s];
        let mut error = match self.count_rules(s, status, json, &answer.body) {
            (false, _) => Some(ErrorKind::Status),
            (true, false) => Some(ErrorKind::Check),
            (true, true) => None,
        };
        let mut failure =
            error.and_then(|_| check_failure(sp.check.as_ref(), status, json, &answer.body));
        if plan.options.debug {
            debug::check(
                self.ctx.sink(),
                error.map(ErrorKind::name),
                failure.as_ref(),
            );
        }
        let mut abort = false;
        for e in &sp.extract {
            let value = extract(e, answer, json);
            if plan.options.debug {
                debug::extracted(
                    self.ctx.sink(),
                    &e.name,
                    value.as_ref().map(|(v, _)| v.as_str()),
                );
            }
            match value {
                Some((v, j)) => {
                    self.locals[e.slot] = Some(v);
                    self.typed[e.slot] = j;
                }
                None => {
                    abort = true;
                    if error.is_none() {
                        error = Some(ErrorKind::Check);
                        failure = Some(extract_failure(&e.name, &e.extractor, json));
                    }
                }
            }
        }
        if let Some(f) = &failure {
            self.ctx.metrics.borrow_mut().check_failed(Row::Step(s), f);
        }
        let end = if abort { StepEnd::Abort } else { StepEnd::Next };
        (end, error, failure)
    }

    /// Judges every rule of step `s`'s check on an answer and counts each on the step's row
    /// (in `diagnosis::rule_names` order: the status, each JSON rule, each `body_contains`;
    /// without a check, status below 400). Every rule is judged, not only up to the first
    /// broken one, so that each has its own pass count. Returns whether the status rule held
    /// and whether the others all did.
    fn count_rules(
        &self,
        s: usize,
        status: u16,
        json: Option<&serde_json::Value>,
        body: &[u8],
    ) -> (bool, bool) {
        let plan = &self.ctx.plan;
        let mut metrics = self.ctx.metrics.borrow_mut();
        let Some(check) = &plan.steps[s].check else {
            let ok = status < 400;
            if let Some(c) = metrics.rules_mut(s, 1) {
                c[0].count(ok);
            }
            return (ok, true);
        };
        let rules = 1 + check.json.len() + check.body_contains.len();
        let mut counts = metrics.rules_mut(s, rules);
        let mut note = |i: usize, ok: bool| {
            if let Some(c) = counts.as_deref_mut() {
                c[i].count(ok);
            }
            ok
        };
        let status_ok = note(0, check.status_ok(status));
        let mut rest = true;
        for (i, r) in check.json.iter().enumerate() {
            rest &= note(1 + i, json.is_some_and(|j| r.matches(j)));
        }
        let first = 1 + check.json.len();
        for (i, needle) in check.body_contains.iter().enumerate() {
            rest &= note(first + i, memchr_find(body, needle.as_bytes()));
        }
        (status_ok, rest)
    }
}
