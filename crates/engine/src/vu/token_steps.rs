//! A VU's token steps: making a token usable before the flow (or after a `refresh_on`),
//! fetching it, scheduling its refresh, learning a lifetime nobody stated, and giving up after
//! [`TOKEN_ATTEMPTS`] failures in a row so that an iteration always ends.

use std::time::{Duration, Instant};

use loadtape_scenario::template::Vars;

use super::diagnose::Failed;
use super::request::Built;
use super::state::{OwnToken, Vu};
use crate::control::EndReason;
use crate::debug;
use crate::diagnosis::{check_failure, extract_failure, Failure};
use crate::http::Answer;
use crate::metrics::ErrorKind;
use crate::output::Sink;
use crate::plan::{ExtractPlan, TokenPlan};
use crate::redact;
use crate::response::{extract, parse_json, received_size, whole};
use crate::row::Row;
use crate::tokens::{
    default_refresh_before, jwt_lifetime, learned_refresh_after, refresh_after, Next, TokenValue,
    TOKEN_ATTEMPTS,
};
use crate::vars::Layered;

/// What came of making a token usable.
pub(super) enum Got {
    Ready,
    /// [`TOKEN_ATTEMPTS`] failures in a row; the last one's reason (token step, URL, answer).
    GaveUp(String),
    /// The run stopped meanwhile.
    Stopped,
}

impl Vu {
    /// Whether token `t` can be used as it is: one atomic load for a shared token.
    pub(super) fn token_fresh(&self, t: usize) -> bool {
        let now = Instant::now();
        if self.ctx.plan.tokens[t].shared {
            self.shared[t]
                .as_ref()
                .is_some_and(|v| v.generation == self.ctx.shared[t].generation() && !v.due(now))
        } else {
            self.own_fresh(t, now, None)
        }
    }

    /// A per-VU token is usable: fetched, not the `stale` generation, not due. A token of
    /// unknown lifetime fetched before the run learned one follows the learned schedule.
    fn own_fresh(&self, t: usize, now: Instant, stale: Option<u64>) -> bool {
        let own = self.own[t];
        if own.generation == 0 || stale == Some(own.generation) {
            return false;
        }
        let refresh_at = own.refresh_at.or_else(|| {
            let learned = self.ctx.shared[t].learned()?;
            Some(own.fetched_at? + learned_refresh_after(learned, own.spread))
        });
        refresh_at.is_none_or(|r| now < r)
    }

    /// Makes sure token `t` is usable; `stale` is a generation a `refresh_on` response
    /// rejected.
    pub(super) async fn ensure_token(&mut self, t: usize, stale: Option<u64>) -> Got {
        if self.ctx.plan.tokens[t].shared {
            self.ensure_shared(t, stale).await
        } else {
            self.ensure_own(t, stale).await
        }
    }

    async fn ensure_own(&mut self, t: usize, stale: Option<u64>) -> Got {
        let ctx = self.ctx.clone();
        let plan = &ctx.plan;
        let mut attempt = 0;
        loop {
            if self.own_fresh(t, Instant::now(), stale) {
                return Got::Ready;
            }
            if ctx.stopped() {
                return Got::Stopped;
            }
            attempt += 1;
            match Box::pin(self.fetch_token(t)).await {
                Ok(v) => {
                    for ((e, value), j) in plan.tokens[t].extract.iter().zip(v.values).zip(v.typed)
                    {
                        self.locals[e.slot] = Some(value);
                        self.typed[e.slot] = j;
                    }
                    self.own[t] = OwnToken {
                        generation: self.own[t].generation + 1,
                        refresh_at: v.refresh_at,
                        expires_at: v.expires_at,
                        fetched_at: Some(v.fetched_at),
                        spread: self.own[t].spread,
                    };
                    if self.own[t].generation > 1 {
                        ctx.metrics.borrow_mut().refreshed(Row::Token(t));
                    }
                    ctx.retries.succeeded(t);
                    ctx.shared[t].succeeded();
                    return Got::Ready;
                }
                Err(why) if attempt >= TOKEN_ATTEMPTS => return Got::GaveUp(why),
                Err(_) => {
                    if !ctx.sleep(ctx.retries.failed(t)).await {
                        return Got::Stopped;
                    }
                }
            }
        }
    }

    async fn ensure_shared(&mut self, t: usize, stale: Option<u64>) -> Got {
        let ctx = self.ctx.clone();
        let cell = &ctx.shared[t];
        let seen = cell.failures();
        loop {
            if stale.is_none() {
                if let Some(v) = &self.shared[t] {
                    if v.generation == cell.generation() && !v.due(Instant::now()) {
                        return Got::Ready;
                    }
                }
            }
            if ctx.stopped() {
                return Got::Stopped;
            }
            if cell.failures() >= seen + u64::from(TOKEN_ATTEMPTS) {
                return Got::GaveUp(cell.last_failure().unwrap_or_default());
            }
            match cell.next(Instant::now(), stale) {
                Next::Use(v) => {
                    self.shared[t] = Some(v);
                    return Got::Ready;
                }
                Next::Fetch => match Box::pin(self.fetch_token(t)).await {
                    Ok(v) => {
                        let v = cell.publish(v);
                        if v.generation > 1 {
                            ctx.metrics.borrow_mut().refreshed(Row::Token(t));
                        }
                        self.shared[t] = Some(v);
                        return Got::Ready;
                    }
                    Err(why) => cell.failed(Instant::now(), why),
                },
                Next::Wait(mut rx, retry_at) => {
                    let wait = async {
                        match retry_at {
                            Some(at) => tokio::time::sleep_until(at.into()).await,
                            None => {
                                let _ = tokio::time::timeout(Duration::from_secs(1), rx.changed())
                                    .await;
                            }
                        }
                    };
                    tokio::select! {
                        _ = wait => {}
                        _ = ctx.stop_wait() => return Got::Stopped,
                    }
                }
            }
        }
    }

    /// `refresh_on` rejected token `t`'s value in a request sent at `sent_at`. When the token
    /// has no known lifetime, its age then is what the run learns.
    pub(super) fn rejected_at(&self, t: usize, sent_at: Instant) {
        let ctx = &self.ctx;
        let (fetched_at, known) = if ctx.plan.tokens[t].shared {
            match &self.shared[t] {
                Some(v) => (Some(v.fetched_at), v.expires_at.is_some()),
                None => (None, true),
            }
        } else {
            (self.own[t].fetched_at, self.own[t].expires_at.is_some())
        };
        let Some(fetched_at) = fetched_at.filter(|_| !known) else {
            return;
        };
        let age = sent_at.saturating_duration_since(fetched_at);
        if ctx.shared[t].learn(age) {
            ctx.note(&format!(
                "token `{}` states no lifetime; refresh_on rejected it at age {:.1} s: refreshing it ahead of that age from now on",
                ctx.plan.tokens[t].name,
                age.as_secs_f64()
            ));
        }
    }

    /// Runs token step `t`'s request: the fetched value (its generation left 0), or why not
    /// (counted as a `token` error): the token step, the URL it went to and what came back.
    async fn fetch_token(&mut self, t: usize) -> Result<TokenValue, String> {
        let ctx = self.ctx.clone();
        let tp = &ctx.plan.tokens[t];
        let built = match self
            .render_vars(&tp.vars)
            .and_then(|()| self.build(&tp.request))
        {
            Ok(b) => b,
            Err(m) => {
                ctx.warn_once(&format!("token step `{}`: {m}", tp.name));
                ctx.metrics
                    .borrow_mut()
                    .error_only(Row::Token(t), ErrorKind::Token);
                let why = format!("token step `{}`: {m}", tp.name);
                self.diagnose(Failed::unsent(Row::Token(t), "build", m));
                return Err(why);
            }
        };
        let url = self.shown_url(&built);
        let sent_at = Instant::now();
        let (result, sent) = self.send(&built, &tp.name, Row::Token(t)).await;
        let end = Instant::now();
        let answer = match result.and_then(|a| whole(a, tp.judges_body)) {
            Ok(a) => a,
            Err(f) => {
                self.warn_token(&tp.name, f.kind.name(), &f.message);
                self.record(
                    Row::Token(t),
                    sent_at,
                    sent_at,
                    end,
                    None,
                    Some(ErrorKind::Token),
                    sent,
                    0,
                );
                self.ctx
                    .metrics
                    .borrow_mut()
                    .exchange_failed(Row::Token(t), f.kind, &f.message);
                let why = format!("{url}: {}", f.message);
                self.diagnose(Failed {
                    request: Some(&built),
                    ..Failed::unsent(Row::Token(t), f.kind.name(), f.message)
                });
                return Err(why);
            }
        };
        let status = answer.response.status.as_u16();
        let Taken {
            values,
            typed,
            missing,
        } = take_values(tp, &answer, ctx.plan.options.debug.then(|| ctx.sink()));
        let ok = status < 400 && missing.is_none();
        let why = (!ok).then(|| refusal(status, missing, &answer.body));
        if let Some(why) = &why {
            // Before it is counted: the first failure is one of those shown.
            let cause = match missing {
                Some(_) if status < 400 => "extract".to_string(),
                _ => format!("status {status}"),
            };
            self.warn_token(&tp.name, &cause, why);
            let failure = describe_failure(status, missing, &answer);
            if let Some(f) = &failure {
                ctx.metrics.borrow_mut().check_failed(Row::Token(t), f);
            }
            let kind = if status < 400 { "extract" } else { "status" };
            self.diagnose(Failed {
                request: Some(&built),
                answer: Some(&answer),
                ..Failed::judged(Row::Token(t), kind, failure.as_ref())
            });
        }
        let error = (!ok).then_some(ErrorKind::Token);
        let received = received_size(&answer);
        self.record(
            Row::Token(t),
            sent_at,
            sent_at,
            end,
            Some(status),
            error,
            sent,
            received,
        );
        let host = &ctx.plan.origins[built.origin].at.host;
        self.jar.store(host, &answer.response.headers);
        if let Some(why) = why {
            return Err(format!("{url}: {why}"));
        }
        let (refresh_at, expires_at) = self.schedule(t, &values, sent_at);
        Ok(TokenValue {
            values,
            typed,
            generation: 0,
            refresh_at,
            expires_at,
            fetched_at: sent_at,
        })
    }

    /// A failing token endpoint is reported, never silent: the first failure of each cause
    /// (`status 500`, `reset`, `extract`: a later, different cause is not hidden behind the
    /// first) and every tenth failure after it.
    fn warn_token(&self, token: &str, cause: &str, message: &str) {
        let ctx = &self.ctx;
        let idx = ctx
            .plan
            .tokens
            .iter()
            .position(|t| t.name == token)
            .unwrap_or(0);
        let n = ctx
            .metrics
            .borrow()
            .row(Row::Token(idx))
            .map_or(0, |m| m.errors.token);
        let new_cause = ctx.first_time(&format!("token `{token}` failed: {cause}"));
        if new_cause || n.is_multiple_of(10) || ctx.plan.options.debug {
            ctx.say(format_args!(
                "warning: token step `{token}` failed ({} so far on this worker): {message}",
                n + 1
            ));
        }
    }

    /// This VU gave up on token `t` after [`TOKEN_ATTEMPTS`] failures in a row (`why`: the
    /// last). When the token step never succeeded in this run, nothing can be tested: the run
    /// ends. Otherwise (a token that worked before, or for other VUs) the iteration is
    /// abandoned, said once per worker.
    pub(super) fn gave_up(&self, t: usize, why: &str) {
        let ctx = &self.ctx;
        let name = &ctx.plan.tokens[t].name;
        if !ctx.shared[t].ever() {
            ctx.control.fail(
                EndReason::Token,
                format!(
                    "token step `{name}` failed {TOKEN_ATTEMPTS} times in a row and never succeeded, so no step can run; the run stops. Last attempt: {why}"
                ),
                |detail| ctx.say(format_args!("error: {detail}")),
            );
        } else if ctx.first_time(&format!("gave up on {t}")) {
            ctx.say(format_args!(
                "warning: token step `{name}` failed {TOKEN_ATTEMPTS} times in a row; the iteration is abandoned (shown once). Last attempt: {why}"
            ));
        }
    }

    /// `METHOD URL` of a built request as it went out (to the target origin), for messages:
    /// the values of query parameters that look like credentials are masked.
    fn shown_url(&self, b: &Built) -> String {
        let origin = &self.ctx.plan.origins[b.origin];
        let mut url = format!(
            "{} {}://{}{}",
            b.method,
            origin.scheme,
            origin.authority,
            b.pq.path()
        );
        if let Some(query) = b.pq.query() {
            url.push('?');
            url.push_str(&redact::query(query));
        }
        url
    }

    /// When a token fetched at `sent_at` is refreshed and when it expires: from its stated
    /// lifetime (`expires_in`, or a JWT's `exp`), else from the learned one (refresh only).
    fn schedule(
        &self,
        t: usize,
        values: &[String],
        sent_at: Instant,
    ) -> (Option<Instant>, Option<Instant>) {
        let ctx = &self.ctx;
        let tp = &ctx.plan.tokens[t];
        let spread = if tp.shared { 0.0 } else { self.own[t].spread };
        let life = match &tp.expires_in {
            Some(exp) => {
                let pairs: Vec<(String, String)> = tp
                    .extract
                    .iter()
                    .zip(values)
                    .map(|(e, v)| (e.name.clone(), v.clone()))
                    .collect();
                let view = self.view();
                let layered = Layered {
                    top: &pairs,
                    base: &view as &dyn Vars,
                };
                exp.resolve(&layered)
                    .map_err(|e| ctx.warn_once(&format!("token step `{}`: {e}", tp.name)))
                    .ok()
            }
            None => values.iter().find_map(|v| jwt_lifetime(v)),
        };
        let Some(life) = life else {
            let learned = ctx.shared[t].learned();
            let spread = if tp.shared { 0.5 } else { spread };
            return (
                learned.map(|l| sent_at + learned_refresh_after(l, spread)),
                None,
            );
        };
        let before = tp
            .refresh_before
            .unwrap_or_else(|| default_refresh_before(life))
            // A margin made for a long recorded lifetime (1m of 2h) must not turn a 2 s test
            // token into a refresh every 200 ms: at most half the lifetime.
            .min(life / 2);
        (
            Some(sent_at + refresh_after(life, before, spread)),
            Some(sent_at + life),
        )
    }
}

/// Why a token answer failed: its status, else the extractor (`missing`) that found nothing.
/// The body is parsed again here, on a failure only, to tell "not JSON" from "nothing found".
fn describe_failure(
    status: u16,
    missing: Option<&ExtractPlan>,
    answer: &Answer,
) -> Option<Failure> {
    if status >= 400 {
        return check_failure(None, status, None, &answer.body);
    }
    let e = missing?;
    let json = parse_json(&answer.body);
    Some(extract_failure(&e.name, &e.extractor, json.as_ref()))
}

/// Why a token answer is no token, for messages: its status, the value it lacks, its body.
fn refusal(status: u16, missing: Option<&ExtractPlan>, body: &[u8]) -> String {
    let body = debug::snippet(body, 200);
    match missing {
        Some(e) => format!("HTTP {status}, no `{}` in the answer: {body}", e.name),
        None => format!("HTTP {status}: {body}"),
    }
}

/// What a token answer gave, in the token step's `extract` order.
struct Taken<'p> {
    values: Vec<String>,
    /// Which values are typed JSON.
    typed: Vec<bool>,
    /// The first extractor that found nothing.
    missing: Option<&'p ExtractPlan>,
}

/// A token answer's extracted values.
fn take_values<'p>(tp: &'p TokenPlan, answer: &Answer, debug: Option<&Sink>) -> Taken<'p> {
    let json = tp.needs_body.then(|| parse_json(&answer.body)).flatten();
    let mut values = Vec::with_capacity(tp.extract.len());
    let mut typed = Vec::with_capacity(tp.extract.len());
    let mut missing = None;
    for e in &tp.extract {
        let (v, j) = extract(e, answer, json.as_ref()).unwrap_or_else(|| {
            missing.get_or_insert(e);
            (String::new(), false)
        });
        if let Some(sink) = debug {
            debug::extracted(sink, &e.name, (!v.is_empty()).then_some(v.as_str()));
        }
        values.push(v);
        typed.push(j);
    }
    Taken {
        values,
        typed,
        missing,
    }
}
