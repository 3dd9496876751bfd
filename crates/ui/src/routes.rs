//! Which path under `/ui` does what. Nothing here reads a request body (every input is in the
//! path or the query), so a garbage or endless body costs nothing; an unknown path is a 404,
//! a wrong method a 405, a bad id or name a 400 that says what is expected, and a change
//! without the page's own header a 403.

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use loadtape_proxy::testers::{group_name, Client};
use loadtape_proxy::{ProxyBody, UiContext, UiFuture, UiPages};
use serde_json::json;

use crate::downloads::{self, Download};
use crate::events::Watchers;
use crate::reply;
use crate::snapshot::Snapshots;
use crate::tokens::Analyses;

/// Sent by the page with every change (a drop, a mark). A page of another site cannot send
/// it without a CORS preflight, which the UI never grants: so a site the phone's browser
/// visits cannot drop exchanges or mark groups behind the tester's back.
const UI_HEADER: &str = "x-loadtape-ui";

const PAGE: &str = include_str!("page/ui.html");
const SCRIPT: &str = include_str!("page/ui.js");
const STYLE: &str = include_str!("page/ui.css");

/// The UI of one running recorder.
pub(crate) struct Ui {
    inner: Arc<Inner>,
}

struct Inner {
    cx: UiContext,
    watchers: Watchers,
    snapshots: Snapshots,
    analyses: Analyses,
}

impl Ui {
    pub(crate) fn new(cx: UiContext) -> Ui {
        Ui {
            inner: Arc::new(Inner {
                snapshots: Snapshots::new(cx.recording.clone()),
                cx,
                watchers: Watchers::default(),
                analyses: Analyses::default(),
            }),
        }
    }
}

impl UiPages for Ui {
    fn serve(&self, req: Request<Incoming>, client: Client) -> UiFuture {
        let inner = self.inner.clone();
        Box::pin(async move { inner.route(&req, &client).await })
    }
}

impl Inner {
    async fn route<B>(&self, req: &Request<B>, client: &Client) -> Response<ProxyBody> {
        let path = req.uri().path();
        let rest = path.strip_prefix("/ui").unwrap_or(path);
        let post = req.method() == Method::POST;
        let get = req.method() == Method::GET || req.method() == Method::HEAD;
        let query = req.uri().query().unwrap_or("");
        if post && req.headers().get(UI_HEADER).is_none() {
            return reply::error(
                StatusCode::FORBIDDEN,
                format!("a change needs the `{UI_HEADER}: 1` header the UI's page sends"),
            );
        }
        match rest {
            "" | "/" | "/index.html" if get => reply::bytes("text/html; charset=utf-8", PAGE),
            "/ui.js" if get => reply::bytes("text/javascript; charset=utf-8", SCRIPT),
            "/ui.css" if get => reply::bytes("text/css; charset=utf-8", STYLE),
            "/events" if get => self.watchers.stream(&self.cx.feed),
            "/api/mark" if post => self.mark(query, client),
            "/download/recording" if get => {
                let what = if param(query, "as").as_deref() == Some("file") {
                    Download::File
                } else {
                    Download::Recording
                };
                downloads::serve(&self.snapshots, what).await
            }
            "/download/har" if get => downloads::serve(&self.snapshots, Download::Har).await,
            "/download/scenario" if get => {
                downloads::serve(&self.snapshots, Download::Scenario).await
            }
            _ => {
                if let Some(id) = rest.strip_prefix("/api/exchange/").filter(|_| get) {
                    return self.exchange(id).await;
                }
                if let Some(id) = rest.strip_prefix("/api/drop/").filter(|_| post) {
                    return self.drop_exchange(id).await;
                }
                if known(rest) {
                    return reply::error(
                        StatusCode::METHOD_NOT_ALLOWED,
                        format!("{} is not how {path} is used", req.method()),
                    );
                }
                reply::error(
                    StatusCode::NOT_FOUND,
                    format!("no {path} here; the UI is at /ui"),
                )
            }
        }
    }

    /// `GET /ui/api/exchange/ID`: the exchange, and where its token-like values are.
    async fn exchange(&self, id: &str) -> Response<ProxyBody> {
        let Some(id) = parse_id(id) else {
            return reply::error(
                StatusCode::BAD_REQUEST,
                "an exchange id is a number: /ui/api/exchange/12",
            );
        };
        let snapshot = match self.snapshots.current().await {
            Ok(s) => s,
            Err(why) => return reply::error(StatusCode::CONFLICT, why),
        };
        let Some(e) = snapshot.recording.exchanges.iter().find(|e| e.id == id) else {
            return reply::error(
                StatusCode::NOT_FOUND,
                format!("no exchange {id} in the recording (not written yet, or dropped)"),
            );
        };
        let mut v = crate::detail::exchange(e);
        v["tokens"] = match self.analyses.of(snapshot.clone()).await {
            Ok(a) => json!(crate::tokens::highlights(&a, id)),
            Err(why) => json!([{"error": why}]),
        };
        reply::json(&v)
    }

    /// `POST /ui/api/drop/ID`: answered once the tombstone is on disk.
    async fn drop_exchange(&self, id: &str) -> Response<ProxyBody> {
        let Some(id) = parse_id(id) else {
            return reply::error(
                StatusCode::BAD_REQUEST,
                "an exchange id is a number: /ui/api/drop/12",
            );
        };
        match self.cx.drops.drop_exchange(id).await {
            Ok(()) => reply::json(&json!({ "dropped": id })),
            Err(why) => reply::error(StatusCode::CONFLICT, why),
        }
    }

    /// `POST /ui/api/mark?name=NAME[&scope=me]`: a group starts, for everyone (as typed in the
    /// terminal) or for the device asking (as `http://loadtape.ca/mark/NAME`).
    fn mark(&self, query: &str, client: &Client) -> Response<ProxyBody> {
        let raw = param(query, "name").unwrap_or_default();
        let name = match group_name(&raw) {
            Ok(n) => n,
            Err(why) => return reply::error(StatusCode::BAD_REQUEST, why),
        };
        let mine = param(query, "scope").as_deref() == Some("me");
        let who = if mine {
            self.cx.marks.mark(client, &name);
            client
                .tester
                .as_deref()
                .map_or_else(|| client.ip.to_string(), str::to_string)
        } else {
            self.cx.marks.mark_everyone(&name);
            "everyone".to_string()
        };
        let line = format!("group `{name}` started for {who} (from the UI)");
        self.cx.feed.notice(&line);
        reply::json(&json!({ "group": name, "for": who }))
    }
}

fn known(rest: &str) -> bool {
    matches!(
        rest,
        "" | "/" | "/index.html" | "/ui.js" | "/ui.css" | "/events" | "/api/mark"
    ) || rest.starts_with("/download/")
        || rest.starts_with("/api/exchange/")
        || rest.starts_with("/api/drop/")
}

fn parse_id(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// The percent-decoded value of `key` in a query string.
fn param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| {
            let v = v.replace('+', " ");
            percent_encoding::percent_decode_str(&v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(param("name=a%2Db&scope=me", "name").as_deref(), Some("a-b"));
        assert_eq!(param("name=a+b", "name").as_deref(), Some("a b"));
        assert_eq!(param("x", "name"), None);
        assert_eq!(parse_id("12"), Some(12));
        assert_eq!(parse_id("-1"), None);
        assert!(known("/api/drop/x") && !known("/etc/passwd"));
    }
}
