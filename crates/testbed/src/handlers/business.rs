//! What a mini program calls: platform tokens, login, the shop, the profile and orders.
//!
//! These are the routes a stall holds up and a replay is measured on. Sessions come back from
//! login both in the JSON (for `Authorization: Bearer`) and as a `tb_session` cookie: many
//! mini-program backends keep cookie sessions, the client echoing `Set-Cookie` back in a
//! `Cookie` header by hand since `wx.request` keeps no cookie jar. `/api/profile` takes either,
//! so a replay must carry over whichever the recorded client used.

use http::header::{HeaderValue, AUTHORIZATION, COOKIE, SET_COOKIE, WWW_AUTHENTICATE};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::reply::{json, read_json, to_json, BodyError, Resp, BAD_BODY, TOO_LARGE};
use super::App;
use crate::catalog::Goods;
use crate::query;
use crate::stats::Failure;
use crate::tokens::{constant_time_eq, Kind, TokenError};

/// The cookie that carries the session token.
const SESSION_COOKIE: &str = "tb_session";
/// Set beside the session cookie: a second `Set-Cookie` line, so a recorder that keeps only
/// one of a repeated header shows.
const LANG_COOKIE: &str = "tb_lang=zh_CN; Path=/; Max-Age=86400";

const NO_SUCH_GOODS: &[u8] = br#"{"errcode":404,"errmsg":"no such goods"}"#;
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
struct Profile {
    openid: String,
    nickname: &'static str,
    level: u32,
}

#[derive(Serialize)]
struct OrderResp<'a> {
    errcode: u32,
    errmsg: &'a str,
    order_id: &'a str,
}

/// Where a session token may come from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionFrom {
    BearerOnly,
    BearerOrCookie,
}

impl App {
    /// `GET /cgi-bin/token`.
    pub(super) fn token(&self, query: Option<&str>) -> Resp {
        self.credentials(
            query::param(query, "grant_type").as_deref(),
            query::param(query, "appid").as_deref(),
            query::param(query, "secret").as_deref(),
        )
    }

    /// `POST /cgi-bin/stable_token`: the same grant with a JSON body.
    pub(super) async fn stable_token<B>(&self, body: B) -> Resp
    where
        B: hyper::body::Body<Data = bytes::Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match read_json::<CredentialsBody, B>(body).await {
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
        }
    }

    /// The platform's client-credentials grant.
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

    /// `POST /api/login`: a session token in the body and in `Set-Cookie`, for either style.
    pub(super) async fn login<B>(&self, body: B) -> Resp
    where
        B: hyper::body::Body<Data = bytes::Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match read_json::<LoginBody, B>(body).await {
            Ok(l) if !l.code.is_empty() => {
                let token = self.tokens.issue(Kind::Session);
                self.counters.session_token();
                let mut resp = to_json(&LoginResp {
                    token: &token,
                    expires_in: self.expires_in,
                });
                let session = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax");
                let h = resp.headers_mut();
                // Tokens are base64url, always a valid header value.
                if let Ok(v) = HeaderValue::try_from(session) {
                    h.append(SET_COOKIE, v);
                }
                h.append(SET_COOKIE, HeaderValue::from_static(LANG_COOKIE));
                resp
            }
            Err(BodyError::TooLarge) => json(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE),
            Err(BodyError::Read) => json(StatusCode::BAD_REQUEST, BAD_BODY),
            _ => json(StatusCode::BAD_REQUEST, INVALID_CODE),
        }
    }

    /// `GET /api/goods?page=N`.
    pub(super) fn goods_list(&self, headers: &HeaderMap, query: Option<&str>) -> Resp {
        if let Err(refusal) = self.session(headers, SessionFrom::BearerOnly) {
            return refusal.into_response();
        }
        match page_number(query) {
            Some(page) => to_json(&DataResp {
                errcode: 0,
                data: self.catalog.page(page),
            }),
            None => json(StatusCode::BAD_REQUEST, INVALID_PAGE),
        }
    }

    /// `GET /api/goods/{id}`.
    pub(super) fn goods_detail(&self, headers: &HeaderMap, id: &str) -> Resp {
        if let Err(refusal) = self.session(headers, SessionFrom::BearerOnly) {
            return refusal.into_response();
        }
        match self.catalog.lookup(id) {
            Some(goods) => to_json(&DataResp::<Goods> {
                errcode: 0,
                data: goods,
            }),
            None => {
                self.counters.unknown_id();
                json(StatusCode::NOT_FOUND, NO_SUCH_GOODS)
            }
        }
    }

    /// `GET /api/profile`: the session's user, by bearer or by cookie.
    pub(super) fn profile(&self, headers: &HeaderMap) -> Resp {
        match self.session(headers, SessionFrom::BearerOrCookie) {
            Err(refusal) => refusal.into_response(),
            Ok(serial) => to_json(&DataResp {
                errcode: 0,
                data: Profile {
                    openid: self.tokens.openid(serial),
                    nickname: "tester",
                    level: 3,
                },
            }),
        }
    }

    /// `POST /api/order?access_token=...`: the token is checked before the body is read.
    pub(super) async fn order<B>(&self, query: Option<&str>, body: B) -> Resp
    where
        B: hyper::body::Body<Data = bytes::Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if let Err(refusal) = self.access_token(query) {
            return refusal.into_response();
        }
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

    /// Checks the session token — `Authorization: Bearer`, or when allowed and there is no
    /// bearer, the `tb_session` cookie — and returns its serial; the error is the 401 to send.
    /// A bearer wins over a cookie: an explicit header is what the client meant.
    pub(super) fn session(&self, headers: &HeaderMap, from: SessionFrom) -> Result<u64, Refusal> {
        let token = bearer(headers).or_else(|| {
            (from == SessionFrom::BearerOrCookie)
                .then(|| cookie(headers, SESSION_COOKIE))
                .flatten()
        });
        let (failure, body) = match token.map(|t| self.tokens.verify(t, Kind::Session)) {
            Some(Ok(serial)) => return Ok(serial),
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
}

/// The token of `Authorization: Bearer <token>`, if that is the header's scheme.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
}

/// The first non-empty value of cookie `name` (names are case-sensitive), across every
/// `Cookie` line: HTTP/2 clients may send one line per cookie.
pub(super) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .find(|v| !v.is_empty())
}

/// A refused credential: kept small (the `Result` is on every authenticated request) and turned
/// into a response only when it happens.
pub(super) struct Refusal {
    status: StatusCode,
    body: &'static [u8],
}

impl Refusal {
    pub(super) fn into_response(self) -> Resp {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_bearers_are_found() {
        let mut h = HeaderMap::new();
        assert_eq!(cookie(&h, "tb_session"), None);
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; tb_session=; TB_SESSION=x"),
        );
        assert_eq!(cookie(&h, "tb_session"), None);
        h.append(
            COOKIE,
            HeaderValue::from_static("tb_lang=zh_CN;tb_session=\"tok\""),
        );
        assert_eq!(cookie(&h, "tb_session"), Some("tok"));
        assert_eq!(cookie(&h, "tb_lang"), Some("zh_CN"));

        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer  tok2 "));
        assert_eq!(bearer(&h), Some("tok2"));
    }
}
