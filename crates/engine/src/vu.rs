//! A virtual user: its variables, tokens, cookie jar and connections, and the flow it runs.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, COOKIE, HOST};
use http::uri::PathAndQuery;
use http::{Request, Uri};
use http_body_util::Full;
use loadtape_format::scenario::Pick;
use loadtape_format::template::Vars;

use crate::debug;
use crate::http::{exchange, Answer, Conn};
use crate::jar::Jar;
use crate::metrics::{ErrorKind, Sample};
use crate::plan::{BodyPlan, HeaderPart, RequestPlan, UrlPlan};
use crate::response::{extract, memchr_find, parse_json, received_size};
use crate::tokens::{
    backoff, default_refresh_before, jwt_lifetime, refresh_after, Next, TokenValue,
};
use crate::vars::{Layered, View};
use crate::worker::{Ctx, EndReason};

/// What the VU's loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

enum StepEnd {
    Next,
    /// The flow cannot go on (a value was not extracted).
    Abort,
    Stop,
}

#[derive(Default, Clone, Copy)]
struct OwnToken {
    generation: u64,
    refresh_at: Option<Instant>,
}

/// A request rendered for sending.
struct Built {
    origin: usize,
    method: http::Method,
    pq: PathAndQuery,
    headers: HeaderMap,
    body: Bytes,
}

pub struct Vu {
    pub id: u64,
    ctx: Rc<Ctx>,
    locals: Vec<Option<String>>,
    typed: Vec<bool>,
    rows: Vec<Option<usize>>,
    shared: Vec<Option<Arc<TokenValue>>>,
    own: Vec<OwnToken>,
    conns: Vec<Option<Conn>>,
    jar: Jar,
    vars_ready: bool,
    pub iterations: u64,
}

impl Vu {
    pub fn new(id: u64, ctx: Rc<Ctx>) -> Vu {
        let plan = &ctx.plan;
        let rows = plan
            .data
            .iter()
            .map(|d| (d.pick == Pick::PerVu).then(|| d.for_vu(id)))
            .collect();
        Vu {
            id,
            locals: vec![None; plan.slots.locals()],
            typed: vec![false; plan.slots.locals()],
            rows,
            shared: vec![None; plan.tokens.len()],
            own: vec![OwnToken::default(); plan.tokens.len()],
            conns: (0..plan.origins.len()).map(|_| None).collect(),
            jar: Jar::default(),
            vars_ready: false,
            iterations: 0,
            ctx,
        }
    }

    fn view(&self) -> View<'_> {
        View {
            table: &self.ctx.plan.slots,
            locals: &self.locals,
            typed: &self.typed,
            rows: &self.rows,
            data: &self.ctx.plan.data,
            shared: &self.shared,
        }
    }

    /// One run of the flow. `intended` is when a rate executor scheduled it: the first
    /// request's latency counts from then, so time spent waiting for a free VU or a token is
    /// not hidden (no coordinated omission).
    pub async fn iteration(&mut self, intended: Option<Instant>) -> Flow {
        let ctx = self.ctx.clone();
        let plan = &ctx.plan;
        if ctx.stopped() {
            return Flow::Stop;
        }
        for (i, d) in plan.data.iter().enumerate() {
            if d.pick != Pick::PerVu {
                match d.next() {
                    Some(row) => self.rows[i] = Some(row),
                    None => {
                        ctx.control.end(EndReason::Data);
                        return Flow::Stop;
                    }
                }
            }
        }
        if !self.vars_ready || plan.variables_each_iteration {
            for (slot, t) in &plan.variables {
                let value = t.render_to_string(&self.view()).map(|c| c.into_owned());
                match value {
                    Ok(v) => self.locals[*slot] = Some(v),
                    Err(e) => {
                        ctx.warn_once(&format!("variables: {e}"));
                        ctx.metrics
                            .borrow_mut()
                            .error_only(plan.tokens.len(), ErrorKind::Check);
                        return if ctx.sleep(std::time::Duration::from_millis(100)).await {
                            Flow::Continue
                        } else {
                            Flow::Stop
                        };
                    }
                }
            }
            self.vars_ready = true;
        }
        for t in 0..plan.tokens.len() {
            // Boxed only when there is work: the common case is a cheap check.
            if !self.token_fresh(t) && !Box::pin(self.ensure_token(t, None)).await {
                return Flow::Stop;
            }
        }
        let mut intended = intended;
        for s in 0..plan.steps.len() {
            if ctx.stopped() {
                return Flow::Stop;
            }
            match self.step(s, intended.take()).await {
                StepEnd::Next => {}
                StepEnd::Abort => break,
                StepEnd::Stop => return Flow::Stop,
            }
            if let Some(think) = plan.steps[s].think {
                if !ctx.sleep(think).await {
                    return Flow::Stop;
                }
            }
        }
        self.iterations += 1;
        ctx.metrics.borrow_mut().iterations += 1;
        Flow::Continue
    }

    /// Whether token `t` can be used as it is: one atomic load for a shared token.
    fn token_fresh(&self, t: usize) -> bool {
        let now = Instant::now();
        if self.ctx.plan.tokens[t].shared {
            self.shared[t]
                .as_ref()
                .is_some_and(|v| v.generation == self.ctx.shared[t].generation() && !v.due(now))
        } else {
            let own = self.own[t];
            own.generation > 0 && own.refresh_at.is_none_or(|r| now < r)
        }
    }

    /// Makes sure token `t` is usable; `stale` is a generation a `refresh_on` response
    /// rejected. False when the run stops while waiting.
    async fn ensure_token(&mut self, t: usize, stale: Option<u64>) -> bool {
        let ctx = self.ctx.clone();
        let plan = &ctx.plan;
        if !plan.tokens[t].shared {
            loop {
                let own = self.own[t];
                let fresh = own.generation > 0
                    && stale != Some(own.generation)
                    && own.refresh_at.is_none_or(|r| Instant::now() < r);
                if fresh {
                    return true;
                }
                if ctx.stopped() {
                    return false;
                }
                match Box::pin(self.fetch_token(t)).await {
                    Some((values, typed, refresh_at, _)) => {
                        for ((e, v), j) in plan.tokens[t].extract.iter().zip(values).zip(typed) {
                            self.locals[e.slot] = Some(v);
                            self.typed[e.slot] = j;
                        }
                        self.own[t] = OwnToken {
                            generation: own.generation + 1,
                            refresh_at,
                        };
                        ctx.token_success(t);
                        return true;
                    }
                    None => {
                        let failures = ctx.token_failure(t);
                        if !ctx.sleep(backoff(failures)).await {
                            return false;
                        }
                    }
                }
            }
        }
        let cell = &ctx.shared[t];
        loop {
            if stale.is_none() {
                if let Some(v) = &self.shared[t] {
                    if v.generation == cell.generation() && !v.due(Instant::now()) {
                        return true;
                    }
                }
            }
            if ctx.stopped() {
                return false;
            }
            match cell.next(Instant::now(), stale) {
                Next::Use(v) => {
                    self.shared[t] = Some(v);
                    return true;
                }
                Next::Fetch => match Box::pin(self.fetch_token(t)).await {
                    Some((values, typed, refresh_at, expires_at)) => {
                        self.shared[t] = Some(cell.publish(values, typed, refresh_at, expires_at));
                        return true;
                    }
                    None => cell.failed(Instant::now()),
                },
                Next::Wait(mut rx, retry_at) => {
                    let wait = async {
                        match retry_at {
                            Some(at) => tokio::time::sleep_until(at.into()).await,
                            None => {
                                let _ = tokio::time::timeout(
                                    std::time::Duration::from_secs(1),
                                    rx.changed(),
                                )
                                .await;
                            }
                        }
                    };
                    tokio::select! {
                        _ = wait => {}
                        _ = ctx.stop_wait() => return false,
                    }
                }
            }
        }
    }

    /// Runs token step `t`'s request: its values, refresh and expiry times, or `None` (counted
    /// as a `token` error).
    async fn fetch_token(
        &mut self,
        t: usize,
    ) -> Option<(Vec<String>, Vec<bool>, Option<Instant>, Option<Instant>)> {
        let ctx = self.ctx.clone();
        let tp = &ctx.plan.tokens[t];
        let built = match self.build(&tp.request) {
            Ok(b) => b,
            Err(m) => {
                ctx.warn_once(&format!("token step `{}`: {m}", tp.name));
                ctx.metrics.borrow_mut().error_only(t, ErrorKind::Token);
                return None;
            }
        };
        let sent_at = Instant::now();
        let result = self.send(&built, &tp.name).await;
        let end = Instant::now();
        let (answer, sent) = match result {
            (Ok(a), sent) => (a, sent),
            (Err(f), sent) => {
                ctx.warn_token(&tp.name, &f.message);
                self.record(
                    t,
                    sent_at,
                    sent_at,
                    end,
                    None,
                    Some(ErrorKind::Token),
                    sent,
                    0,
                );
                return None;
            }
        };
        let status = answer.response.status.as_u16();
        let json = tp.needs_body.then(|| parse_json(&answer.body)).flatten();
        let mut values = Vec::with_capacity(tp.extract.len());
        let mut typed = Vec::with_capacity(tp.extract.len());
        let mut missing = None;
        for e in &tp.extract {
            let (v, j) = extract(e, &answer, json.as_ref()).unwrap_or_else(|| {
                missing.get_or_insert(e.name.as_str());
                (String::new(), false)
            });
            values.push(v);
            typed.push(j);
        }
        if ctx.plan.options.debug {
            for (e, v) in tp.extract.iter().zip(&values) {
                debug::extracted(&e.name, (!v.is_empty()).then_some(v.as_str()));
            }
        }
        let ok = status < 400 && missing.is_none();
        let received = received_size(&answer);
        self.record(
            t,
            sent_at,
            sent_at,
            end,
            Some(status),
            (!ok).then_some(ErrorKind::Token),
            sent,
            received,
        );
        self.jar.store(
            &ctx.plan.origins[built.origin].host,
            &answer.response.headers,
        );
        if !ok {
            let why = match missing {
                Some(name) => format!(
                    "HTTP {status}, no `{name}` in the answer: {}",
                    debug::snippet(&answer.body, 200)
                ),
                None => format!("HTTP {status}: {}", debug::snippet(&answer.body, 200)),
            };
            ctx.warn_token(&tp.name, &why);
            return None;
        }
        let pairs: Vec<(String, String)> = tp
            .extract
            .iter()
            .zip(&values)
            .map(|(e, v)| (e.name.clone(), v.clone()))
            .collect();
        let life = match &tp.expires_in {
            Some(exp) => {
                let view = self.view();
                let layered = Layered {
                    top: &pairs,
                    base: &view as &dyn Vars,
                };
                match exp.resolve(&layered) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        ctx.warn_once(&format!("token step `{}`: {e}", tp.name));
                        None
                    }
                }
            }
            None => values.iter().find_map(|v| jwt_lifetime(v)),
        };
        let (refresh_at, expires_at) = match life {
            Some(life) => {
                let before = tp
                    .refresh_before
                    .unwrap_or_else(|| default_refresh_before(life))
                    // A margin made for a long recorded lifetime (1m of 2h) must not turn a
                    // 2 s test token into a refresh every 200 ms: at most half the lifetime.
                    .min(life / 2);
                let spread = if tp.shared { 0.0 } else { fastrand::f64() };
                (
                    Some(sent_at + refresh_after(life, before, spread)),
                    Some(sent_at + life),
                )
            }
            None => (None, None),
        };
        Some((values, typed, refresh_at, expires_at))
    }

    async fn step(&mut self, s: usize, intended: Option<Instant>) -> StepEnd {
        let ctx = self.ctx.clone();
        let plan = &ctx.plan;
        let sp = &plan.steps[s];
        let row = plan.tokens.len() + s;
        let mut start_ref = intended;
        for attempt in 0..2 {
            let used: Vec<(usize, u64)> = sp
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
                .collect();
            let built = match self.build(&sp.request) {
                Ok(b) => b,
                Err(m) => {
                    ctx.warn_once(&format!("step `{}`: {m}", sp.name));
                    ctx.metrics.borrow_mut().error_only(row, ErrorKind::Check);
                    return StepEnd::Abort;
                }
            };
            let sent_at = Instant::now();
            let start = start_ref.take().unwrap_or(sent_at).min(sent_at);
            let (result, sent) = self.send(&built, &sp.name).await;
            let end = Instant::now();
            let answer = match result {
                Ok(a) => a,
                Err(f) => {
                    if plan.options.debug {
                        debug::failure(&f.message);
                    }
                    self.record(row, start, sent_at, end, None, Some(f.kind), sent, 0);
                    return StepEnd::Next;
                }
            };
            let status = answer.response.status.as_u16();
            let received = received_size(&answer);
            let json = sp.needs_body.then(|| parse_json(&answer.body)).flatten();
            self.jar.store(
                &ctx.plan.origins[built.origin].host,
                &answer.response.headers,
            );
            if attempt == 0 {
                let stale: Vec<(usize, u64)> = used
                    .iter()
                    .copied()
                    .filter(|(t, _)| {
                        plan.tokens[*t]
                            .refresh_on
                            .as_ref()
                            .is_some_and(|r| r.matches(status, json.as_ref()))
                    })
                    .collect();
                if !stale.is_empty() {
                    self.record(row, start, sent_at, end, Some(status), None, sent, received);
                    ctx.metrics.borrow_mut().steps[row].retries += 1;
                    if plan.options.debug {
                        debug::note("refresh_on matched: refreshing the token and retrying once");
                    }
                    for (t, generation) in stale {
                        if !Box::pin(self.ensure_token(t, Some(generation))).await {
                            return StepEnd::Stop;
                        }
                    }
                    continue;
                }
            }
            let mut error = None;
            if let Some(check) = &sp.check {
                if !check.status_ok(status) {
                    error = Some(ErrorKind::Status);
                } else if !check
                    .json
                    .iter()
                    .all(|r| json.as_ref().is_some_and(|j| r.matches(j)))
                    || !check
                        .body_contains
                        .iter()
                        .all(|needle| memchr_find(&answer.body, needle.as_bytes()))
                {
                    error = Some(ErrorKind::Check);
                }
            } else if status >= 400 {
                error = Some(ErrorKind::Status);
            }
            if plan.options.debug {
                debug::check(error.map(ErrorKind::name));
            }
            let mut abort = false;
            for e in &sp.extract {
                let value = extract(e, &answer, json.as_ref());
                if plan.options.debug {
                    debug::extracted(&e.name, value.as_ref().map(|(v, _)| v.as_str()));
                }
                match value {
                    Some((v, j)) => {
                        self.locals[e.slot] = Some(v);
                        self.typed[e.slot] = j;
                    }
                    None => {
                        abort = true;
                        error.get_or_insert(ErrorKind::Check);
                    }
                }
            }
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
            return if abort { StepEnd::Abort } else { StepEnd::Next };
        }
        StepEnd::Next
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        row: usize,
        start: Instant,
        sent_at: Instant,
        end: Instant,
        status: Option<u16>,
        error: Option<ErrorKind>,
        sent: u64,
        received: u64,
    ) {
        self.ctx.metrics.borrow_mut().record(
            row,
            &Sample {
                latency: end - start,
                service: end - sent_at,
                status,
                error,
                sent,
                received,
            },
        );
    }

    /// Sends a built request on this VU's connection to its origin; also returns the bytes
    /// it put on the wire (an HTTP/1.1 estimate).
    async fn send(&mut self, b: &Built, name: &str) -> (Result<Answer, crate::http::Failure>, u64) {
        let ctx = self.ctx.clone();
        let origin = &ctx.plan.origins[b.origin];
        if ctx.plan.options.debug {
            debug::request(name, &b.method, origin, &b.pq, &b.headers, &b.body);
        }
        let mut sent = (b.method.as_str().len() + b.pq.as_str().len() + 12) as u64
            + b.body.len() as u64
            + (origin.host_header.len() + 8) as u64;
        for (k, v) in &b.headers {
            sent += (k.as_str().len() + v.len() + 4) as u64;
        }
        let mut build = |h2: bool| {
            let mut req = Request::new(Full::new(b.body.clone()));
            *req.method_mut() = b.method.clone();
            *req.headers_mut() = b.headers.clone();
            if h2 {
                let mut parts = http::uri::Parts::default();
                parts.scheme = Some(origin.scheme.clone());
                parts.authority = Some(origin.authority.clone());
                parts.path_and_query = Some(b.pq.clone());
                *req.uri_mut() = Uri::from_parts(parts).unwrap_or_default();
                *req.version_mut() = http::Version::HTTP_2;
            } else {
                *req.uri_mut() = Uri::from(b.pq.clone());
                req.headers_mut().insert(HOST, origin.host_header.clone());
            }
            req
        };
        let timeout = ctx.plan.options.request_timeout;
        let result = exchange(
            &mut self.conns[b.origin],
            &ctx.tls,
            origin,
            timeout,
            &mut build,
        )
        .await;
        if ctx.plan.options.debug {
            if let Ok(a) = &result {
                debug::response(a);
            }
        }
        (result, sent)
    }

    /// Renders a request. Errors name what could not be rendered, or the origin refused.
    fn build(&self, r: &RequestPlan) -> Result<Built, String> {
        let plan = &self.ctx.plan;
        let view = self.view();
        let (origin, pq) = match &r.url {
            UrlPlan::Literal { origin, pq } => (*origin, pq.clone()),
            UrlPlan::Template(t) => {
                let url = t.render_to_string(&view).map_err(|e| format!("url: {e}"))?;
                let uri: Uri = url
                    .parse()
                    .map_err(|_| format!("url `{url}` is not a valid URL"))?;
                let origin = plan.origin_of(&uri).ok_or_else(|| {
                    format!("refused `{url}`: its origin is not one the scenario names (add it to `target` or --target)")
                })?;
                let pq = uri
                    .path_and_query()
                    .cloned()
                    .unwrap_or_else(|| PathAndQuery::from_static("/"));
                (origin, pq)
            }
        };
        // No allocation for a request without headers of its own (the common GET).
        let mut headers = if r.headers.is_empty() {
            HeaderMap::new()
        } else {
            HeaderMap::with_capacity(r.headers.len() + 2)
        };
        for (name, part) in &r.headers {
            let value = match part {
                HeaderPart::Literal(v) => v.clone(),
                HeaderPart::Template(t) => {
                    let text = t
                        .render_to_string(&view)
                        .map_err(|e| format!("header `{name}`: {e}"))?;
                    HeaderValue::from_str(&text)
                        .map_err(|_| format!("header `{name}` rendered to an invalid value"))?
                }
            };
            headers.append(name.clone(), value);
        }
        if !r.own_cookie {
            if let Some(v) = self.jar.header(&plan.origins[origin].host, pq.path()) {
                headers.insert(COOKIE, v);
            }
        }
        let body = match &r.body {
            BodyPlan::None => Bytes::new(),
            BodyPlan::Literal(b) => b.clone(),
            BodyPlan::Template(t) => {
                let mut out = Vec::new();
                t.render(&view, &mut out)
                    .map_err(|e| format!("body: {e}"))?;
                Bytes::from(out)
            }
        };
        Ok(Built {
            origin,
            method: r.method.clone(),
            pq,
            headers,
            body,
        })
    }
}
