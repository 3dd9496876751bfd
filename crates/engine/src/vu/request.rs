//! A VU's requests: rendering a step's (or token step's) request, sending it on the VU's
//! connection, and recording the exchange on a metrics row.

use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, COOKIE, HOST};
use http::uri::PathAndQuery;
use http::{Request, Uri};
use loadtape_net::DialTiming;

use super::state::Vu;
use crate::ctx::Ctx;
use crate::debug;
use crate::http::{exchange, Answer, Conn, Failure};
use crate::metrics::{ErrorKind, Sample};
use crate::observe::{Observed, ObservedAnswer};
use crate::plan::{BodyPlan, HeaderPart, Origin, RequestPlan, UrlPlan};
use crate::row::Row;
use crate::shared_conns::{Lent, SharedConns};

/// A request rendered for sending.
pub(super) struct Built {
    pub(super) origin: usize,
    pub(super) method: http::Method,
    pub(super) pq: PathAndQuery,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

impl Vu {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record(
        &self,
        row: Row,
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
                rejected: false,
            },
        );
    }

    /// Sends a built request on this VU's connection to its origin; also returns the bytes
    /// it put on the wire (an HTTP/1.1 estimate).
    /// Counted in flight on row `row` until recorded (see [`WorkerMetrics::settle`]).
    ///
    /// [`WorkerMetrics::settle`]: crate::metrics::WorkerMetrics::settle
    pub(super) async fn send(
        &mut self,
        b: &Built,
        name: &str,
        row: Row,
    ) -> (Result<Answer, Failure>, u64) {
        let ctx = self.ctx.clone();
        let origin = &ctx.plan.origins[b.origin];
        if ctx.plan.options.debug {
            debug::request(
                ctx.sink(),
                name,
                &b.method,
                origin,
                &b.pq,
                &b.headers,
                &b.body,
            );
        }
        let mut sent = (b.method.as_str().len() + b.pq.as_str().len() + 12) as u64
            + b.body.len() as u64
            + (origin.host_header.len() + 8) as u64;
        for (k, v) in &b.headers {
            sent += (k.as_str().len() + v.len() + 4) as u64;
        }
        let mut build = |h2: bool| {
            let mut req = Request::new(b.body.clone());
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
        ctx.metrics.borrow_mut().sending(row);
        let slot = &mut self.conns[b.origin];
        // Without `--connections` this is one `None` check per request.
        let lent = match &ctx.conns {
            Some(shared) => borrow_shared(shared, &ctx, slot, b.origin, self.id).await,
            None => Ok(None),
        };
        let result = match lent {
            Err(f) => Err(f),
            Ok(dialed) => exchange(slot, &ctx.tls, origin, timeout, &mut build)
                .await
                .map(|mut a| {
                    if dialed.is_some() && a.timing.dial.is_none() {
                        a.timing.dial = dialed;
                    }
                    a
                }),
        };
        if let Ok(a) = &result {
            ctx.metrics.borrow_mut().timed(row, &a.timing);
            if ctx.plan.options.debug {
                debug::response(ctx.sink(), a);
            }
        }
        if let Some(o) = &ctx.plan.options.observer {
            o.call(&observed(b, origin, name, row, &result));
        }
        (result, sent)
    }

    /// Renders a request. Errors name what could not be rendered, or the origin refused.
    pub(super) fn build(&self, r: &RequestPlan) -> Result<Built, String> {
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
            if let Some(v) = self.jar.header(&plan.origins[origin].at.host, pq.path()) {
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

/// With `--connections`, puts the worker's shared connection to `origin` into the VU's `slot`
/// when it holds none open; how dialing went when this VU opened it, or why it could not be
/// opened (the request then fails as a dial of its own would have).
async fn borrow_shared(
    shared: &SharedConns,
    ctx: &Ctx,
    slot: &mut Option<Conn>,
    origin: usize,
    vu: u64,
) -> Result<Option<DialTiming>, Failure> {
    if slot.as_ref().is_some_and(|c| !c.is_closed()) {
        return Ok(None);
    }
    match shared
        .lend(origin, vu, &ctx.tls, &ctx.plan.origins[origin])
        .await?
    {
        Lent::Conn(conn, timing) => {
            *slot = Some(conn);
            Ok(timing)
        }
        Lent::Own => Ok(None),
    }
}

/// The exchange as the [`Observer`](crate::Observer) sees it.
fn observed(
    b: &Built,
    origin: &Origin,
    name: &str,
    row: Row,
    result: &Result<Answer, Failure>,
) -> Observed {
    Observed {
        step: name.to_string(),
        token: matches!(row, Row::Token(_)),
        method: b.method.clone(),
        url: format!("{}://{}{}", origin.scheme.as_str(), origin.authority, b.pq),
        headers: b.headers.clone(),
        body: b.body.clone(),
        outcome: match result {
            Ok(a) => Ok(ObservedAnswer {
                status: a.response.status,
                headers: a.response.headers.clone(),
                body: a.body.clone(),
            }),
            Err(f) => Err(f.message.clone()),
        },
    }
}
