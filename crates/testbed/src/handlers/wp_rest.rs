//! The web app's API: the REST routes under `/wp/json/` (cookie + `X-WP-Nonce`) and the
//! multipart ajax endpoint (cookie + `_wpnonce` + `post_ID`).
//!
//! Every REST answer echoes the request's `X-WP-Nonce` back in its own headers, as WordPress
//! sends one on each response: a value seen in a response after it was sent is an echo, not
//! where it comes from, and a converter has to tell the two apart.

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::reply::{json, read_bytes, to_json, with_headers, BodyError, Resp, TOO_LARGE};
use super::webapp::{EDIT_ACTION, REST_ACTION};
use super::App;
use crate::body::Body;
use crate::form::Form;
use crate::stats::WebEvent;

const NONCE_HEADER: &str = "x-wp-nonce";

const NOT_LOGGED_IN: &[u8] = br#"{"code":"rest_not_logged_in","message":"You are not currently logged in.","data":{"status":401}}"#;
const INVALID_NONCE: &[u8] = br#"{"code":"rest_cookie_invalid_nonce","message":"Cookie check failed","data":{"status":403}}"#;
const INVALID_ID: &[u8] =
    br#"{"code":"rest_post_invalid_id","message":"Invalid post ID.","data":{"status":404}}"#;
const NO_ROUTE: &[u8] = br#"{"code":"rest_no_route","message":"No route was found matching the URL and request method.","data":{"status":404}}"#;
const INVALID_JSON: &[u8] =
    br#"{"code":"rest_invalid_json","message":"Invalid JSON body passed.","data":{"status":400}}"#;

#[derive(Serialize)]
struct PostResp<'a> {
    id: u64,
    status: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    link: String,
    title: Title<'a>,
    author: u32,
}

#[derive(Serialize)]
struct Title<'a> {
    raw: &'a str,
    rendered: &'a str,
}

#[derive(Serialize)]
struct AjaxResp<'a> {
    success: bool,
    data: AjaxData<'a>,
}

#[derive(Serialize)]
struct AjaxData<'a> {
    action: &'a str,
    post_id: u64,
}

impl App {
    /// `/wp/json/{rest}`; the answer carries the request's `X-WP-Nonce`.
    pub(super) async fn wp_rest<B>(
        &self,
        method: &Method,
        rest: &str,
        headers: &HeaderMap,
        body: B,
    ) -> Resp
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut resp = self.wp_rest_answer(method, rest, headers, body).await;
        if let Some(v) = headers.get(NONCE_HEADER) {
            resp.headers_mut().insert(NONCE_HEADER, v.clone());
        }
        resp
    }

    async fn wp_rest_answer<B>(
        &self,
        method: &Method,
        rest: &str,
        headers: &HeaderMap,
        body: B,
    ) -> Resp
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let Ok(serial) = self.wp_session(headers) else {
            return json(StatusCode::UNAUTHORIZED, NOT_LOGGED_IN);
        };
        let sent = headers.get(NONCE_HEADER).and_then(|v| v.to_str().ok());
        if !self.nonce_ok(serial, REST_ACTION, sent) {
            return json(StatusCode::FORBIDDEN, INVALID_NONCE);
        }
        let id = match rest.strip_prefix("posts") {
            Some("") => None,
            Some(tail) => match tail.strip_prefix('/') {
                Some(id) if !id.is_empty() && !id.contains('/') => Some(id),
                _ => return json(StatusCode::NOT_FOUND, NO_ROUTE),
            },
            None => return json(StatusCode::NOT_FOUND, NO_ROUTE),
        };
        if id.is_none() && method == Method::GET {
            return json(StatusCode::NOT_FOUND, NO_ROUTE);
        }
        let title = if method == Method::POST {
            match read_title(body).await {
                Ok(t) => Some(t),
                Err(BodyError::TooLarge) => return json(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE),
                Err(_) => return json(StatusCode::BAD_REQUEST, INVALID_JSON),
            }
        } else {
            None
        };
        match (id, title) {
            (None, title) => {
                let title = title.unwrap_or_default();
                let id = self.posts.create(serial, &title);
                self.counters.web(WebEvent::PostCreated);
                let mut resp = post_json(id, &title);
                *resp.status_mut() = StatusCode::CREATED;
                resp
            }
            (Some(id), title) => self.wp_post(serial, id, title.as_deref()),
        }
    }

    /// `GET` (no title) or `POST` (a new title) of `/wp/json/posts/{id}`: only a post of this
    /// session; any other id is counted as unknown.
    fn wp_post(&self, serial: u64, id: &str, title: Option<&str>) -> Resp {
        let found = id.parse::<u64>().ok().and_then(|id| {
            let title = match title {
                Some(t) => self.posts.retitle(serial, id, t).then(|| t.to_string()),
                None => self.posts.title(serial, id),
            };
            title.map(|t| (id, t))
        });
        match found {
            Some((id, title)) => post_json(id, &title),
            None => {
                self.counters.web(WebEvent::UnknownPostId);
                json(StatusCode::NOT_FOUND, INVALID_ID)
            }
        }
    }

    /// `POST /wp/ajax`, multipart `action`, `_wpnonce` (the admin page's hidden input) and
    /// `post_ID` (a post of this session). Refusals answer as `admin-ajax.php` does: `-1` with
    /// 403 for the cookie or the nonce, `0` with 400 for a missing action.
    pub(super) fn wp_ajax(&self, headers: &HeaderMap, form: &Form) -> Resp {
        let Ok(serial) = self.wp_session(headers) else {
            return text(StatusCode::FORBIDDEN, "-1");
        };
        let Some(action) = form.get("action").filter(|a| !a.is_empty()) else {
            return text(StatusCode::BAD_REQUEST, "0");
        };
        if !self.nonce_ok(serial, EDIT_ACTION, form.get("_wpnonce")) {
            return text(StatusCode::FORBIDDEN, "-1");
        }
        let post = form
            .get("post_ID")
            .and_then(|p| p.trim().parse::<u64>().ok());
        match post.filter(|&id| self.posts.title(serial, id).is_some()) {
            Some(post_id) => to_json(&AjaxResp {
                success: true,
                data: AjaxData { action, post_id },
            }),
            None => {
                self.counters.web(WebEvent::UnknownPostId);
                text(StatusCode::NOT_FOUND, "0")
            }
        }
    }
}

/// The draft's title from a JSON body: `{"title":"..."}` or `{"title":{"raw":"..."}}`; an
/// empty body is an empty title.
async fn read_title<B>(body: B) -> Result<String, BodyError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let bytes = read_bytes(body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(String::new());
    }
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| BodyError::Json)?;
    let title = match &v["title"] {
        Value::String(s) => s.as_str(),
        t => t["raw"].as_str().unwrap_or(""),
    };
    Ok(title.to_string())
}

fn post_json(id: u64, title: &str) -> Resp {
    to_json(&PostResp {
        id,
        status: "draft",
        kind: "post",
        link: format!("/wp/?p={id}"),
        title: Title {
            raw: title,
            rendered: title,
        },
        author: 1,
    })
}

fn text(status: StatusCode, body: &'static str) -> Resp {
    with_headers(
        status,
        "text/html; charset=UTF-8",
        Body::full(Bytes::from_static(body.as_bytes())),
    )
}
