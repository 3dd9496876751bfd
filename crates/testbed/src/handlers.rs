//! The routes: a WeChat-shaped platform API, a small shop API on top, the admin endpoints, and
//! two synthetic ones for proxy and load-generator tests.
//!
//! | route                          | auth                  | counted as     | module      |
//! |--------------------------------|-----------------------|----------------|-------------|
//! | `GET /cgi-bin/token`           | appid + secret        | `token`        | `business`  |
//! | `POST /cgi-bin/stable_token`   | appid + secret (JSON) | `stable_token` | `business`  |
//! | `POST /api/login`              | `{code}`              | `login`        | `business`  |
//! | `GET /api/goods?page=N`        | bearer (session)      | `goods_list`   | `business`  |
//! | `GET /api/goods/{id}`          | bearer (session)      | `goods_detail` | `business`  |
//! | `GET /api/profile`             | bearer or cookie      | `profile`      | `business`  |
//! | `POST /api/order`              | `?access_token=`      | `order`        | `business`  |
//! | `POST /api/login2`             | `{code}`              | `v2.calls`     | `session2`  |
//! | `GET /api/v2/{profile,feed,search}` | bearer + cookie  | `v2.calls`     | `session2`  |
//! | `/wx/...` (litemall's shape)  | `X-Litemall-Token`    | `shop.calls`   | `shop`      |
//! | `GET /sns/jscode2session`      | appid + secret        | `shop.sessions` | `wx_login` |
//! | `POST /admin/revoke`           | none (test hook)      | `revoke`       | `admin`     |
//! | `POST /admin/stall?for=D`      | none (test hook)      | `stall`        | `admin`     |
//! | `GET /blob?bytes=N`            | none                  | `blob`         | `synthetic` |
//! | `GET /slow?ms=N`               | none                  | `slow`         | `synthetic` |
//! | `GET /api/coupons?nonce_str=N` | a nonce never used    | `other`        | `nonce`     |
//! | `GET /api/pay?out_trade_no=N` | an order number never used | `other`   | `nonce`     |
//! | `POST /pay/unifiedorder`, `GET /pay/orderquery`, `POST /api/signed/order` | bearer + a signature | `signed.calls` | `signed` |
//! | `GET /api/queue/join`          | bearer (session)      | `other`        | `queue`     |
//! | `GET /api/queue/status?no=N`   | bearer + its ticket   | `other`        | `queue`     |
//! | `GET /`                        | none                  | `page`         |             |
//! | `GET /stats`                   | none                  | not counted    | `admin`     |
//!
//! The two auth styles answer failures differently on purpose, as the real platforms do: the
//! shop API says 401, the `cgi-bin` style says HTTP 200 with an `errcode` in the body. A replay
//! tool has to recognise both. Every handler is lock-free: tokens and goods ids verify by MAC,
//! counters and the stall deadline are atomics, and the only allocations are the request body
//! (capped) and the response body.
//!
//! While `/admin/stall` holds, the *business* routes (the `business` module) wait before they are
//! handled; the rest answer as usual, so a test can watch the pause and read `/stats` meanwhile.

mod admin;
mod business;
mod nonce;
mod queue;
mod reply;
mod session2;
mod shop;
mod signed;
mod synthetic;
mod webapp;
mod wp_rest;
mod wx_login;

use std::convert::Infallible;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW};
use http::{Request, StatusCode};

use crate::catalog::Catalog;
use crate::posts::Posts;
use crate::shop_store::ShopStore;
use crate::stall::Stall;
use crate::stats::{Counters, Endpoint};
use crate::tokens::Tokens;
use crate::user_info::Platform;

use reply::Resp;

/// The answer to a request whose body broke off before its end.
const BODY_UNREAD: &[u8] = br#"{"errcode":40000,"errmsg":"the request body could not be read"}"#;
pub use reply::MAX_BODY;
pub use signed::{APP_SECRET, PAY_KEY};

const PAGE: &str = include_str!("page.html");

// Fixed answers, so the refusal paths allocate nothing.
const NOT_FOUND: &[u8] = br#"{"errcode":404,"errmsg":"not found"}"#;
const METHOD_NOT_ALLOWED: &[u8] = br#"{"errcode":405,"errmsg":"method not allowed"}"#;

/// Everything the routes share. One per testbed, behind an `Arc`, read concurrently by every
/// connection task.
pub(crate) struct App {
    pub tokens: Tokens,
    pub catalog: Catalog,
    pub counters: Counters,
    posts: Posts,
    shop: ShopStore,
    /// WeChat's side of a mini-program login: `jscode2session` and the user-info crypto.
    platform: Platform,
    stall: Stall,
    /// `/api/coupons`' replay guard.
    nonces: nonce::Nonces,
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
    Profile,
    Order,
    Revoke,
    Stall,
    Blob,
    Slow,
    Stats,
    Coupons,
    Pay,
    QueueJoin,
    QueueStatus,
    Wp(&'p str),
    V2(&'p str),
    Wx(&'p str),
    Signed(&'p str),
    Jscode2Session,
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
            "/api/profile" => Route::Profile,
            "/api/order" => Route::Order,
            "/admin/revoke" => Route::Revoke,
            "/admin/stall" => Route::Stall,
            "/blob" => Route::Blob,
            "/slow" => Route::Slow,
            "/stats" => Route::Stats,
            "/api/coupons" => Route::Coupons,
            "/api/pay" => Route::Pay,
            "/api/queue/join" => Route::QueueJoin,
            "/api/queue/status" => Route::QueueStatus,
            "/sns/jscode2session" => Route::Jscode2Session,
            p if p.starts_with("/wp/") => Route::Wp(p),
            p if p == "/api/login2" || p.starts_with("/api/v2/") => Route::V2(p),
            p if p.starts_with("/wx/") => Route::Wx(p),
            p if p.starts_with("/pay/") || p.starts_with("/api/signed/") => Route::Signed(p),
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
            Route::Profile => (Some("GET"), Some(Endpoint::Profile)),
            Route::Order => (Some("POST"), Some(Endpoint::Order)),
            Route::Revoke => (Some("POST"), Some(Endpoint::Revoke)),
            Route::Stall => (Some("POST"), Some(Endpoint::Stall)),
            Route::Blob => (Some("GET"), Some(Endpoint::Blob)),
            Route::Slow => (Some("GET"), Some(Endpoint::Slow)),
            Route::Stats => (Some("GET"), None),
            Route::Coupons | Route::Pay | Route::QueueJoin | Route::QueueStatus => {
                (Some("GET"), Some(Endpoint::Other))
            }
            // Counted as the shop's `sessions`: the platform half of its login.
            Route::Jscode2Session => (Some("GET"), None),
            // Checks its methods and counts itself: several routes, some with two methods.
            Route::Wp(_) | Route::V2(_) | Route::Wx(_) | Route::Signed(_) => (None, None),
            Route::NotFound => (None, Some(Endpoint::Other)),
        }
    }

    /// The routes a stall holds up: what a mini program calls, not the test hooks.
    fn is_business(&self) -> bool {
        matches!(
            self,
            Route::Token
                | Route::StableToken
                | Route::Login
                | Route::GoodsList
                | Route::GoodsDetail(_)
                | Route::Profile
                | Route::Order
                | Route::Wp(_)
                | Route::V2(_)
                | Route::Wx(_)
        )
    }
}

impl App {
    /// Routes state for one testbed.
    pub(crate) fn new(
        tokens: Tokens,
        catalog: Catalog,
        appid: String,
        secret: String,
        ttl: std::time::Duration,
        first_post_id: u64,
    ) -> anyhow::Result<App> {
        let expires_in = u64::try_from(ttl.as_nanos().div_ceil(1_000_000_000))
            .unwrap_or(u64::MAX)
            .max(1);
        Ok(App {
            platform: Platform::new(&appid)?,
            tokens,
            catalog,
            counters: Counters::default(),
            posts: Posts::new(first_post_id, ttl),
            // Two-digit address ids at first, as the recorded `"data":57`; four-digit orders.
            shop: ShopStore::new(10 + first_post_id % 90, first_post_id + 100, ttl),
            stall: Stall::new(),
            nonces: nonce::Nonces::default(),
            appid,
            secret,
            expires_in,
        })
    }

    /// Answers one request. Never fails: every problem becomes an HTTP answer.
    pub(crate) async fn handle<B>(&self, req: Request<B>) -> Result<Resp, Infallible>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let route = Route::parse(parts.uri.path());
        let (method, endpoint) = route.spec();
        let wrong_method = method.filter(|&m| m != parts.method.as_str());
        // Counted on arrival, so `/stats` during a stall shows the requests being held. HEAD
        // of a GET route counts as a wrong method too: nobody needs it here.
        match (wrong_method, endpoint) {
            (Some(_), _) => self.counters.request(Endpoint::Other),
            (None, Some(e)) => self.counters.request(e),
            (None, None) => {}
        }
        // Every body is read before any answer, as a real backend's framework does: answering
        // an HTTP/2 request whose body is still coming resets its stream (curl exit 92), so a
        // refusal that needs no body (a bad token, a wrong method) must still take it in.
        let body = match reply::read_bytes(body).await {
            Ok(b) => http_body_util::Full::new(b),
            Err(reply::BodyError::TooLarge) => {
                return Ok(reply::json(StatusCode::PAYLOAD_TOO_LARGE, reply::TOO_LARGE));
            }
            Err(_) => return Ok(reply::json(StatusCode::BAD_REQUEST, BODY_UNREAD)),
        };
        if let Some(allowed) = wrong_method {
            let mut resp = reply::json(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED);
            resp.headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allowed));
            return Ok(resp);
        }
        if route.is_business() {
            self.stall.wait().await;
        }
        let query = parts.uri.query();
        let headers = &parts.headers;
        let resp = match route {
            Route::Page => reply::html(PAGE),
            Route::Token => self.token(query),
            Route::StableToken => self.stable_token(body).await,
            Route::Login => self.login(body).await,
            Route::GoodsList => self.goods_list(headers, query),
            Route::GoodsDetail(id) => self.goods_detail(headers, id),
            Route::Profile => self.profile(headers),
            Route::Order => self.order(query, body).await,
            Route::Revoke => self.revoke(),
            Route::Stall => self.start_stall(query),
            Route::Blob => synthetic::blob(query),
            Route::Slow => synthetic::slow(query).await,
            Route::Stats => self.stats(),
            Route::Coupons => self.nonces.coupons(query),
            Route::Pay => self.nonces.pay(query),
            Route::QueueJoin => self.queue_join(headers),
            Route::QueueStatus => self.queue_status(headers, query),
            Route::Wp(path) => self.webapp(&parts.method, path, headers, query, body).await,
            Route::V2(path) => self.v2(&parts.method, path, headers, query, body).await,
            Route::Wx(path) => self.shop(&parts.method, path, headers, query, body).await,
            Route::Jscode2Session => self.jscode2session(query),
            Route::Signed(path) => {
                let bytes = http_body_util::BodyExt::collect(body)
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                self.signed(&parts.method, path, headers, query, &bytes)
            }
            Route::NotFound => reply::json(StatusCode::NOT_FOUND, NOT_FOUND),
        };
        Ok(reply::encode(resp, headers))
    }
}
