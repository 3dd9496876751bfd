//! The routes: a WeChat-shaped platform API, a small shop API on top, and the admin endpoints.
//!
//! | route                          | auth                  | counted as     |
//! |--------------------------------|-----------------------|----------------|
//! | `GET /cgi-bin/token`           | appid + secret        | `token`        |
//! | `POST /cgi-bin/stable_token`   | appid + secret (JSON) | `stable_token` |
//! | `POST /api/login`              | `{code}`              | `login`        |
//! | `GET /api/goods?page=N`        | bearer (session)      | `goods_list`   |
//! | `GET /api/goods/{id}`          | bearer (session)      | `goods_detail` |
//! | `POST /api/order`              | `?access_token=`      | `order`        |
//! | `POST /admin/revoke`           | none (test hook)      | `revoke`       |
//! | `GET /`                        | none                  | `page`         |
//! | `GET /stats`                   | none                  | not counted    |
//!
//! The two auth styles answer failures differently on purpose, as the real platforms do: the
//! shop API says 401, the `cgi-bin` style says HTTP 200 with an `errcode` in the body. A replay
//! tool has to recognise both. Every handler is lock-free: tokens and goods ids verify by MAC,
//! counters are atomics, and the only allocations are the request body (capped) and the
//! response body.

use std::convert::Infallible;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE, SERVER, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, Goods};
use crate::query;
use crate::stats::{Counters, Endpoint, Failure};
use crate::tokens::{constant_time_eq, Kind, TokenError, Tokens};

/// Request bodies above this size are refused with 413 before they are buffered.
pub const MAX_BODY: usize = 1 << 20;

/// The response type of every route.
pub type Resp = Response<Full<Bytes>>;

const PAGE: &str = include_str!("page.html");

// Fixed answers, so the refusal paths allocate nothing.
const NOT_FOUND: &[u8] = br#"{"errcode":404,"errmsg":"not found"}"#;
const NO_SUCH_GOODS: &[u8] = br#"{"errcode":404,"errmsg":"no such goods"}"#;
const METHOD_NOT_ALLOWED: &[u8] = br#"{"errcode":405,"errmsg":"method not allowed"}"#;
const TOO_LARGE: &[u8] = br#"{"errcode":413,"errmsg":"request body too large"}"#;
const BAD_BODY: &[u8] = br#"{"errcode":400,"errmsg":"could not read request body"}"#;
const INVALID_PAGE: &[u8] = br#"{"errcode":400,"errmsg":"invalid page"}"#;
const INVALID_CODE: &[u8] = br#"{"errcode":40029,"errmsg":"invalid code"}"#;
const DATA_FORMAT: &[u8] = br#"{"errcode":47001,"errmsg":"data format error"}"#;
const BAD_GRANT_TYPE: &[u8] = br#"{"errcode":40002,"errmsg":"invalid grant_type"}"#;
const BAD_APPID: &[u8] = br#"{"errcode":40013,"errmsg":"invalid appid"}"#;
const BEARER_MISSING: &[u8] = br#"{"errcode":401,"errmsg":"missing token"}"#;
const BEARER_EXPIRED: &[u8] = br#"{"errcode":401,"errmsg":"token expired"}"#;
const BEARER_INVALID: &[u8] = br#"{"errcode":401,"errmsg":"invalid token"}"#;
const BEARER_REVOKED: &[u8] = br#"{"errcode":401,"errmsg":"token revoked"}"#;
const AT_MISSING: &[u8] = br#"{"errcode":41001,"errmsg":"access_token missing"}"#;
const AT_EXPIRED: &[u8] = br#"{"errcode":42001,"errmsg":"access_token expired"}"#;
const AT_INVALID: &[u8] =
    br#"{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}"#;

/// Everything the routes share. One per testbed, behind an `Arc`, read concurrently by every
/// connection task.
pub struct App {
    pub tokens: Tokens,
    pub catalog: Catalog,
    pub counters: Counters,
    appid: String,
    secret: String,
    /// `expires_in` as announced: the TTL in whole seconds, rounded up, at least 1.
    expires_in: u64,
}

enum Route<'p> {
    Page,
    Token,
    StableToken,
    Login,
    GoodsList,
    GoodsDetail(&'p str),
    Order,
    Revoke,
    Stats,
    NotFound,
}

impl Route<'_> {
    fn parse(path: &str) -> Route<'_> {
        match path {
            "/" => Route::Page,
            "/cgi-bin/token" => Route::Token,
            "/cgi-bin/stable_token" => Route::StableToken,
            "/api/login" => Route::Login,
            "/api/goods" => Route::GoodsList,
            "/api/order" => Route::Order,
            "/admin/revoke" => Route::Revoke,
            "/stats" => Route::Stats,
            p => match p.strip_prefix("/api/goods/") {
                Some(id) if !id.is_empty() && !id.contains('/') => Route::GoodsDetail(id),
                _ => Route::NotFound,
            },
        }
    }

    /// The one method the route answers (`None`: any, for the 404), and the counter it bumps
    /// (`None`: not counted).
    fn spec(&self) -> (Option<&'static str>, Option<Endpoint>) {
        match self {
            Route::Page => (Some("GET"), Some(Endpoint::Page)),
            Route::Token => (Some("GET"), Some(Endpoint::Token)),
            Route::StableToken => (Some("POST"), Some(Endpoint::StableToken)),
            Route::Login => (Some("POST"), Some(Endpoint::Login)),
            Route::GoodsList => (Some("GET"), Some(Endpoint::GoodsList)),
            Route::GoodsDetail(_) => (Some("GET"), Some(Endpoint::GoodsDetail)),
            Route::Order => (Some("POST"), Some(Endpoint::Order)),
            Route::Revoke => (Some("POST"), Some(Endpoint::Revoke)),
            Route::Stats => (Some("GET"), None),
            Route::NotFound => (None, Some(Endpoint::Other)),
        }
    }
}

#[derive(Deserialize)]
struct CredentialsBody {
    grant_type: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
    // `force_refresh` is accepted and ignored: every call issues a fresh token anyway, since
    // tokens are stateless (unknown fields are ignored by serde).
}

#[derive(Deserialize)]
struct LoginBody {
    code: String,
}

#[derive(Deserialize)]
struct OrderBody {
    goods_id: String,
    quantity: Option<u32>,
}

#[derive(Serialize)]
struct AccessTokenResp<'a> {
    access_token: &'a str,
    expires_in: u64,
}

#[derive(Serialize)]
struct LoginResp<'a> {
    token: &'a str,
    expires_in: u64,
}

#[derive(Serialize)]
struct DataResp<T> {
    errcode: u32,
    data: T,
}

#[derive(Serialize)]
struct OrderResp<'a> {
    errcode: u32,
    errmsg: &'a str,
    order_id: &'a str,
}

#[derive(Serialize)]
struct RevokeResp {
    revoked_before: u32,
}

impl App {
    /// Routes state for one testbed.
    pub fn new(
        tokens: Tokens,
        catalog: Catalog,
        appid: String,
        secret: String,
        ttl: std::time::Duration,
    ) -> App {
        let expires_in = u64::try_from(ttl.as_nanos().div_ceil(1_000_000_000))
            .unwrap_or(u64::MAX)
            .max(1);
        App {
            tokens,
            catalog,
            counters: Counters::default(),
            appid,
            secret,
            expires_in,
        }
    }

    /// Answers one request. Never fails: every problem becomes an HTTP answer.
    pub async fn handle<B>(&self, req: Request<B>) -> Result<Resp, Infallible>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let route = Route::parse(parts.uri.path());
        let (method, endpoint) = route.spec();
        if let Some(allowed) = method.filter(|&m| m != parts.method.as_str()) {
            // HEAD of a GET route is left to this branch too: nobody needs it here.
            self.counters.request(Endpoint::Other);
            let mut resp = json(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED);
            resp.headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allowed));
            return Ok(resp);
        }
        if let Some(e) = endpoint {
            self.counters.request(e);
        }
        let query = parts.uri.query();
        let resp = match route {
            Route::Page => html(PAGE),
            Route::Token => self.credentials(
                query::param(query, "grant_type").as_deref(),
                query::param(query, "appid").as_deref(),
                query::param(query, "secret").as_deref(),
            ),
            Route::StableToken => match read_json::<CredentialsBody, B>(body).await {
                Ok(c) => self.credentials(
                    c.grant_type.as_deref(),
                    c.appid.as_deref(),
                    c.secret.as_deref(),
                ),
                Err(BodyError::TooLarge) => json(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE),
                Err(_) => {
                    self.counters.failure(Failure::BadCredentials);
                    json(StatusCode::OK, DATA_FORMAT)
                }
            },
            Route::Login => match read_json::<LoginBody, B>(body).await {
                Ok(l) if !l.code.is_empty() => {
                    let token = self.tokens.issue(Kind::Session);
                    self.counters.session_token();
                    to_json(&LoginResp {
                        token: &token,
                        expires_in: self.expires_in,
                    })
                }
                Err(BodyError::TooLarge) => json(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE),
                Err(BodyError::Read) => json(StatusCode::BAD_REQUEST, BAD_BODY),
                _ => json(StatusCode::BAD_REQUEST, INVALID_CODE),
            },
            Route::GoodsList => match self.bearer(&parts.headers) {
                Err(refusal) => refusal.into_response(),
                Ok(()) => match page_number(query) {
                    Some(page) => to_json(&DataResp {
                        errcode: 0,
                        data: self.catalog.page(page),
                    }),
                    None => json(StatusCode::BAD_REQUEST, INVALID_PAGE),
                },
            },
            Route::GoodsDetail(id) => match self.bearer(&parts.headers) {
                Err(refusal) => refusal.into_response(),
                Ok(()) => match self.catalog.lookup(id) {
                    Some(goods) => to_json(&DataResp::<Goods> {
                        errcode: 0,
                        data: goods,
                    }),
                    None => {
                        self.counters.unknown_id();
                        json(StatusCode::NOT_FOUND, NO_SUCH_GOODS)
                    }
                },
            },
            Route::Order => match self.access_token(query) {
                Err(refusal) => refusal.into_response(),
                Ok(()) => self.order(body).await,
            },
            Route::Revoke => to_json(&RevokeResp {
                revoked_before: self.tokens.revoke(),
            }),
            Route::Stats => to_json(&self.counters.snapshot()),
            Route::NotFound => json(StatusCode::NOT_FOUND, NOT_FOUND),
        };
        Ok(resp)
    }

    /// `/cgi-bin/token` and `/cgi-bin/stable_token`: the platform's client-credentials grant.
    fn credentials(
        &self,
        grant_type: Option<&str>,
        appid: Option<&str>,
        secret: Option<&str>,
    ) -> Resp {
        if grant_type != Some("client_credential") {
            self.counters.failure(Failure::BadCredentials);
            return json(StatusCode::OK, BAD_GRANT_TYPE);
        }
        let secret_ok =
            secret.is_some_and(|s| constant_time_eq(s.as_bytes(), self.secret.as_bytes()));
        if appid != Some(self.appid.as_str()) || !secret_ok {
            // WeChat answers 40013 for a bad appid; a bad secret gets the same here, so the
            // answer does not tell which half was wrong.
            self.counters.failure(Failure::BadCredentials);
            return json(StatusCode::OK, BAD_APPID);
        }
        let token = self.tokens.issue(Kind::Platform);
        self.counters.platform_token();
        to_json(&AccessTokenResp {
            access_token: &token,
            expires_in: self.expires_in,
        })
    }

    /// Checks `Authorization: Bearer <session token>`; the error is the 401 to send.
    fn bearer(&self, headers: &http::HeaderMap) -> Result<(), Refusal> {
        let token = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty());
        let (failure, body) = match token.map(|t| self.tokens.check(t, Kind::Session)) {
            Some(Ok(())) => return Ok(()),
            None => (Failure::Missing, BEARER_MISSING),
            Some(Err(TokenError::Expired)) => (Failure::Expired, BEARER_EXPIRED),
            Some(Err(TokenError::Invalid)) => (Failure::Invalid, BEARER_INVALID),
            Some(Err(TokenError::Revoked)) => (Failure::Revoked, BEARER_REVOKED),
        };
        self.counters.failure(failure);
        Err(Refusal {
            status: StatusCode::UNAUTHORIZED,
            body,
        })
    }

    /// Checks `?access_token=<platform token>`; the error is the HTTP 200 + errcode to send.
    fn access_token(&self, query: Option<&str>) -> Result<(), Refusal> {
        let token = query::param(query, "access_token").filter(|t| !t.is_empty());
        let (failure, body) = match token.map(|t| self.tokens.check(&t, Kind::Platform)) {
            Some(Ok(())) => return Ok(()),
            None => (Failure::Missing, AT_MISSING),
            Some(Err(TokenError::Expired)) => (Failure::Expired, AT_EXPIRED),
            // A revoked token is "not latest" in WeChat's words: same answer as a bad one.
            Some(Err(TokenError::Invalid)) => (Failure::Invalid, AT_INVALID),
            Some(Err(TokenError::Revoked)) => (Failure::Revoked, AT_INVALID),
        };
        self.counters.failure(failure);
        Err(Refusal {
            status: StatusCode::OK,
            body,
        })
    }

    /// `POST /api/order` once the access token passed.
    async fn order<B>(&self, body: B) -> Resp
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let order = match read_json::<OrderBody, B>(body).await {
            Ok(o) if o.quantity != Some(0) => o,
            Err(BodyError::TooLarge) => return json(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE),
            _ => return json(StatusCode::BAD_REQUEST, DATA_FORMAT),
        };
        if self.catalog.verify(&order.goods_id).is_none() {
            self.counters.unknown_id();
            return json(StatusCode::NOT_FOUND, NO_SUCH_GOODS);
        }
        let seq = self.counters.order();
        let order_id = format!("wxo{seq:010}");
        to_json(&OrderResp {
            errcode: 0,
            errmsg: "ok",
            order_id: &order_id,
        })
    }
}

/// A refused credential: kept small (the `Result` is on every authenticated request) and turned
/// into a response only when it happens.
struct Refusal {
    status: StatusCode,
    body: &'static [u8],
}

impl Refusal {
    fn into_response(self) -> Resp {
        let mut resp = json(self.status, self.body);
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// `?page=N`, N ≥ 1, default 1.
fn page_number(query: Option<&str>) -> Option<u32> {
    match query::param(query, "page") {
        None => Some(1),
        Some(p) => p.parse::<u32>().ok().filter(|&n| n >= 1),
    }
}

enum BodyError {
    TooLarge,
    Read,
    Json,
}

/// Buffers at most [`MAX_BODY`] bytes of `body` and parses them as `T`.
async fn read_json<T, B>(body: B) -> Result<T, BodyError>
where
    T: serde::de::DeserializeOwned,
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // A declared Content-Length over the cap is refused before reading a byte of it.
    if body.size_hint().lower() > MAX_BODY as u64 {
        return Err(BodyError::TooLarge);
    }
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return Err(BodyError::TooLarge),
        Err(_) => return Err(BodyError::Read),
    };
    serde_json::from_slice(&bytes).map_err(|_| BodyError::Json)
}

fn with_headers(status: StatusCode, content_type: &'static str, body: Bytes) -> Resp {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(SERVER, HeaderValue::from_static("loadtape-testbed"));
    resp
}

fn json(status: StatusCode, body: &'static [u8]) -> Resp {
    with_headers(status, "application/json", Bytes::from_static(body))
}

fn to_json<T: Serialize>(value: &T) -> Resp {
    match serde_json::to_vec(value) {
        Ok(v) => with_headers(StatusCode::OK, "application/json", Bytes::from(v)),
        // Only reachable through a bug in a Serialize impl above; still no panic.
        Err(_) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"errcode":500,"errmsg":"internal error"}"#,
        ),
    }
}

fn html(page: &'static str) -> Resp {
    with_headers(
        StatusCode::OK,
        "text/html; charset=utf-8",
        Bytes::from_static(page.as_bytes()),
    )
}
