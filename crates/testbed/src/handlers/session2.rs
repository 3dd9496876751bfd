//! A second session shape, as many mini-program backends do it: `POST /api/login2` answers a
//! camelCase `{"errcode":0,"data":{"sessionToken","expiresIn"}}` *and* sets a `tb_sid` cookie,
//! and the business calls want both; a feed hands out a cursor that the next call sends back
//! inside URL-encoded JSON (`?q={"cursor":...,"size":10}`).
//!
//! | route                  | needs                                   | refused with            |
//! |------------------------|-----------------------------------------|-------------------------|
//! | `POST /api/login2`     | `{"code"}`                              | 400 `40029`             |
//! | `GET /api/v2/profile`  | bearer + `tb_sid` of one login          | 401, or 200 `42001`     |
//! | `GET /api/v2/feed`     | the same                                | the same                |
//! | `GET /api/v2/search`   | the same + `q` JSON with the feed's cursor | 200 `40099`          |
//!
//! The bearer ([`Kind::Session2`]) and the cookie ([`Kind::Sid`]) are two tokens of one serial
//! ([`crate::tokens::Tokens::issue_pair`]), both living the token TTL: a cookie of another
//! login is refused as invalid. Missing, forged or revoked credentials get 401; an expired one
//! gets WeChat's HTTP 200 `{"errcode":42001}`, so a replay must refresh on a body code. The
//! cursor is an HMAC of the session ([`crate::tokens::Tokens::nonce`]), so a recorded cursor is
//! refused in every other session.

use http::header::{HeaderValue, SET_COOKIE, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::business::{bearer, cookie};
use super::reply::{json, read_json, to_json, BodyError, Resp, BAD_BODY, TOO_LARGE};
use super::App;
use crate::query;
use crate::stats::{Endpoint, Failure, V2Event};
use crate::tokens::{constant_time_eq, Kind, TokenError};

/// The cookie issued beside the bearer.
pub(super) const SID_COOKIE: &str = "tb_sid";
/// The nonce action the feed's cursor is made for.
const CURSOR_ACTION: &str = "v2-feed-cursor";

const NOT_FOUND: &[u8] = br#"{"errcode":404,"errmsg":"not found"}"#;
const METHOD_NOT_ALLOWED: &[u8] = br#"{"errcode":405,"errmsg":"method not allowed"}"#;
const INVALID_CODE: &[u8] = br#"{"errcode":40029,"errmsg":"invalid code"}"#;
const MISSING: &[u8] = br#"{"errcode":401,"errmsg":"missing session"}"#;
const INVALID: &[u8] = br#"{"errcode":401,"errmsg":"invalid session"}"#;
const EXPIRED: &[u8] = br#"{"errcode":42001,"errmsg":"session expired"}"#;
const INVALID_CURSOR: &[u8] = br#"{"errcode":40099,"errmsg":"invalid cursor"}"#;

#[derive(Deserialize)]
struct LoginBody {
    code: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Session<'a> {
    session_token: &'a str,
    expires_in: u64,
}

#[derive(Serialize)]
struct Data<T> {
    errcode: u32,
    data: T,
}

#[derive(Serialize)]
struct Profile {
    openid: String,
    nickname: &'static str,
}

#[derive(Serialize)]
struct Feed<'a> {
    cursor: &'a str,
    items: [&'static str; 2],
}

#[derive(Deserialize)]
struct SearchQuery {
    cursor: String,
    size: Option<u32>,
}

#[derive(Serialize)]
struct Found {
    size: u32,
    items: [&'static str; 0],
}

impl App {
    /// `POST /api/login2` and every `/api/v2/...` request (`path` is the whole path).
    pub(super) async fn v2<B>(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        query: Option<&str>,
        body: B,
    ) -> Resp
    where
        B: hyper::body::Body<Data = bytes::Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let allowed = match path {
            "/api/login2" => Method::POST,
            "/api/v2/profile" | "/api/v2/feed" | "/api/v2/search" => Method::GET,
            _ => {
                self.counters.request(Endpoint::Other);
                return json(StatusCode::NOT_FOUND, NOT_FOUND);
            }
        };
        if method != allowed {
            self.counters.request(Endpoint::Other);
            return json(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED);
        }
        self.counters.v2(V2Event::Call);
        if path == "/api/login2" {
            return self.login2(body).await;
        }
        let serial = match self.v2_session(headers) {
            Ok(serial) => serial,
            Err(failure) => return self.refuse(failure),
        };
        match path {
            "/api/v2/profile" => to_json(&Data {
                errcode: 0,
                data: Profile {
                    openid: self.tokens.openid(serial),
                    nickname: "tester",
                },
            }),
            "/api/v2/feed" => to_json(&Data {
                errcode: 0,
                data: Feed {
                    cursor: &self.tokens.nonce(serial, CURSOR_ACTION),
                    items: ["first post", "second post"],
                },
            }),
            _ => self.search(serial, query),
        }
    }

    /// A bearer and a bound `tb_sid` cookie, valid for the token TTL.
    async fn login2<B>(&self, body: B) -> Resp
    where
        B: hyper::body::Body<Data = bytes::Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match read_json::<LoginBody, B>(body).await {
            Ok(l) if !l.code.is_empty() => {
                let (token, sid) = self.tokens.issue_pair(Kind::Session2, Kind::Sid);
                self.counters.v2(V2Event::Login);
                let mut resp = to_json(&Data {
                    errcode: 0,
                    data: Session {
                        session_token: &token,
                        expires_in: self.expires_in,
                    },
                });
                let cookie = format!("{SID_COOKIE}={sid}; Max-Age={}; Path=/", self.expires_in);
                // Tokens are base64url, always a valid header value.
                if let Ok(v) = HeaderValue::try_from(cookie) {
                    resp.headers_mut().append(SET_COOKIE, v);
                }
                resp
            }
            Err(BodyError::TooLarge) => json(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE),
            Err(BodyError::Read) => json(StatusCode::BAD_REQUEST, BAD_BODY),
            _ => json(StatusCode::BAD_REQUEST, INVALID_CODE),
        }
    }

    /// The session's serial when the bearer and the cookie are both valid and of one login;
    /// otherwise why not (for [`App::refuse`]).
    fn v2_session(&self, headers: &HeaderMap) -> Result<u64, Failure> {
        let (Some(token), Some(sid)) = (bearer(headers), cookie(headers, SID_COOKIE)) else {
            return Err(Failure::Missing);
        };
        let bearer = self.tokens.verify(token, Kind::Session2);
        let cookie = self.tokens.verify(sid, Kind::Sid);
        let failure = match (bearer, cookie) {
            (Ok(a), Ok(b)) if a == b => return Ok(a),
            (Ok(_), Ok(_)) => Failure::Invalid,
            (Err(TokenError::Invalid), _) | (_, Err(TokenError::Invalid)) => Failure::Invalid,
            (Err(TokenError::Revoked), _) | (_, Err(TokenError::Revoked)) => Failure::Revoked,
            _ => Failure::Expired,
        };
        Err(failure)
    }

    /// Counts `failure` and builds its answer: 200 + 42001 for an expiry, else 401.
    fn refuse(&self, failure: Failure) -> Resp {
        self.counters.failure(failure);
        if failure == Failure::Expired {
            self.counters.v2(V2Event::ExpiredAnswer);
            return json(StatusCode::OK, EXPIRED);
        }
        let body = if failure == Failure::Missing {
            MISSING
        } else {
            INVALID
        };
        let mut resp = json(StatusCode::UNAUTHORIZED, body);
        resp.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        resp
    }

    /// `GET /api/v2/search?q=<URL-encoded JSON>`: the JSON's `cursor` must be this session's.
    /// A missing `q`, JSON that does not parse, or another cursor: 40099, counted.
    fn search(&self, serial: u64, query: Option<&str>) -> Resp {
        let sent =
            query::param(query, "q").and_then(|q| serde_json::from_str::<SearchQuery>(&q).ok());
        let expected = self.tokens.nonce(serial, CURSOR_ACTION);
        match sent {
            Some(s) if constant_time_eq(s.cursor.as_bytes(), expected.as_bytes()) => {
                to_json(&Data {
                    errcode: 0,
                    data: Found {
                        size: s.size.unwrap_or(10),
                        items: [],
                    },
                })
            }
            _ => {
                self.counters.v2(V2Event::InvalidCursor);
                json(StatusCode::OK, INVALID_CURSOR)
            }
        }
    }
}
