//! A step's or token step's request compiled once: literal URLs parsed and their origins
//! registered, literal headers and bodies built, templates kept for the hot path to render.

use std::collections::HashMap;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, COOKIE};
use http::uri::PathAndQuery;
use http::{Method, Uri};
use indexmap::IndexMap;
use loadtape_scenario::template::Template;
use loadtape_scenario::{BodyTemplate, RequestTemplate};

use super::origins::{register, Origins};

/// A request's URL: parsed once when it is literal, else rendered and matched to an origin
/// per request.
#[derive(Debug)]
pub enum UrlPlan {
    /// A literal URL: its origin's index in [`super::Plan::origins`], and the path and query.
    Literal {
        /// Index into [`super::Plan::origins`].
        origin: usize,
        /// What goes on the request line.
        pq: PathAndQuery,
    },
    /// A URL with expressions: rendered per request, refused unless its origin is one the
    /// plan knows.
    Template(Template),
}

/// A header's value: built once when literal, rendered per request otherwise.
#[derive(Debug)]
pub enum HeaderPart {
    /// Sent as it is.
    Literal(HeaderValue),
    /// Rendered per request; a value that renders invalid fails the request.
    Template(Template),
}

/// A request's body: encoded once when literal, rendered per request otherwise.
#[derive(Debug)]
pub enum BodyPlan {
    /// No body.
    None,
    /// Sent as it is (a clone of `Bytes` copies nothing).
    Literal(Bytes),
    /// Rendered per request.
    Template(BodyTemplate),
}

/// A step's or token step's request, compiled.
#[derive(Debug)]
pub struct RequestPlan {
    /// The request's method.
    pub method: Method,
    /// Where it goes.
    pub url: UrlPlan,
    /// For messages: the URL as written.
    pub url_source: String,
    /// Headers in the scenario's order, less `host`, `content-length` and hop-by-hop ones
    /// (hyper sets those), plus a default `content-type` when the body implies one and the
    /// scenario gives none.
    pub headers: Vec<(HeaderName, HeaderPart)>,
    /// What the request carries.
    pub body: BodyPlan,
    /// The request sets its own `cookie` header, so the VU's jar stays out of it.
    pub own_cookie: bool,
    /// Token steps whose values this request uses (for `refresh_on`).
    pub tokens: Vec<usize>,
}

pub(super) fn compile_request(
    r: &RequestTemplate,
    origins: &mut Origins,
    targets: &IndexMap<String, String>,
    token_of: &HashMap<String, usize>,
) -> Result<RequestPlan, String> {
    let url = compile_url(r, origins, targets)?;
    let mut headers = Vec::new();
    let mut has_content_type = false;
    let mut own_cookie = false;
    for (name, value) in &r.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a header name"))?;
        // hyper sets these from the body and the connection; hop-by-hop headers are never
        // copied from a scenario.
        if name == http::header::CONTENT_LENGTH
            || name == http::header::HOST
            || loadtape_net::hop::is_hop_by_hop(name.as_str())
        {
            continue;
        }
        has_content_type |= name == CONTENT_TYPE;
        own_cookie |= name == COOKIE;
        let part = match value.as_literal() {
            Some(text) => HeaderPart::Literal(
                HeaderValue::from_str(text)
                    .map_err(|_| format!("header `{name}`: `{text}` is not a valid value"))?,
            ),
            None => HeaderPart::Template(value.clone()),
        };
        headers.push((name, part));
    }
    let body = match &r.body {
        None => BodyPlan::None,
        Some(b) => {
            if !has_content_type {
                if let Some(ct) = b.default_content_type() {
                    headers.push((
                        CONTENT_TYPE,
                        HeaderPart::Literal(HeaderValue::from_static(ct)),
                    ));
                }
            }
            if b.is_literal() {
                let mut out = Vec::new();
                b.render(&(), &mut out).map_err(|e| format!("body: {e}"))?;
                BodyPlan::Literal(Bytes::from(out))
            } else {
                BodyPlan::Template(b.clone())
            }
        }
    };
    let tokens = tokens_used(r, token_of);
    Ok(RequestPlan {
        method: r.method.clone(),
        url,
        url_source: r.url.to_string(),
        headers,
        body,
        own_cookie,
        tokens,
    })
}

/// A request's URL: built once when literal; a template is rendered per request, and a literal
/// origin at its start is registered now, as a literal URL's origin is.
fn compile_url(
    r: &RequestTemplate,
    origins: &mut Origins,
    targets: &IndexMap<String, String>,
) -> Result<UrlPlan, String> {
    Ok(match r.url.as_literal() {
        Some(text) => {
            let uri: Uri = text.parse().map_err(|_| format!("`{text}` is not a URL"))?;
            let origin = register(&uri, origins, targets)?;
            let pq = uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            UrlPlan::Literal { origin, pq }
        }
        None => {
            // A templated path on a literal origin still names its origin up front.
            if let Some(loadtape_scenario::template::Part::Literal(start)) = r.url.parts().first() {
                if let Some(after) = start.find("://").map(|i| i + 3) {
                    if let Some(end) = start[after..].find(['/', '?', '#']) {
                        if let Ok(uri) = start[..after + end].parse::<Uri>() {
                            register(&uri, origins, targets)?;
                        }
                    }
                }
            }
            UrlPlan::Template(r.url.clone())
        }
    })
}

/// The token steps whose values a request's templates use, in order of first use.
fn tokens_used(r: &RequestTemplate, token_of: &HashMap<String, usize>) -> Vec<usize> {
    let mut tokens: Vec<usize> = Vec::new();
    for (_, t) in r.templates() {
        for name in t.variables() {
            if let Some(&ti) = token_of.get(name) {
                if !tokens.contains(&ti) {
                    tokens.push(ti);
                }
            }
        }
    }
    tokens
}
