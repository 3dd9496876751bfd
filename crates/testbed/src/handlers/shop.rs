//! A litemall-shaped WeChat shop under `/wx/`, as the open-source backend answers: always HTTP
//! 200, with `{"errno": N, "errmsg": "...", "data": ...}` — a replay must judge the body.
//!
//! | route                            | needs                                   | refused with |
//! |----------------------------------|-----------------------------------------|--------------|
//! | `POST /wx/auth/login_by_weixin`  | `{"code"}` (any non-empty code)         | errno 401    |
//! | `POST /wx/address/save`          | `X-Litemall-Token`, a JSON address      | 501, 401     |
//! | `GET /wx/cart/checkout`          | the token + `addressId` of this session | 501, 402     |
//! | `POST /wx/order/submit`          | the token + `{"addressId"}` of this session | 501, 402 |
//! | `POST /wx/order/prepay`          | the token + `{"orderId"}` of this session | 501, 402   |
//!
//! The token is a self-checking [`Kind::Litemall`] token living the testbed's token TTL; the
//! login answer states no lifetime (litemall's does not either), so a replay learns it from
//! the first 501. Missing, expired, forged or revoked: errno 501 `请登录`, also counted as an
//! auth failure. A session is one login: its address and order ids (short integers from
//! [`crate::shop_store::ShopStore`]) are refused with 402 `参数值不对` in any other. Ids are
//! JSON numbers; a string id is 401 `参数不对` (stricter than litemall, so a replay that
//! turns a recorded number into a string shows). Every nonzero errno is counted by code.

use http::{HeaderMap, Method};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::reply::{json, read_json, to_json, Resp};
use super::App;
use crate::query;
use crate::stats::{Errno, Failure, ShopEvent};
use crate::tokens::{Kind, TokenError};

/// The header litemall's mini program sends its token in.
pub const TOKEN_HEADER: &str = "x-litemall-token";

const UNLOGIN: &str = r#"{"errno":501,"errmsg":"请登录"}"#;
const BAD_ARGUMENT: &str = r#"{"errno":401,"errmsg":"参数不对"}"#;
const BAD_VALUE: &str = r#"{"errno":402,"errmsg":"参数值不对"}"#;
const NOT_FOUND: &str = r#"{"errno":404,"errmsg":"not found"}"#;

#[derive(Deserialize)]
struct LoginBody {
    code: String,
    #[serde(rename = "userInfo", default)]
    user_info: Value,
}

#[derive(Serialize)]
struct Answer<T> {
    errno: u32,
    errmsg: &'static str,
    data: T,
}

fn ok<T: Serialize>(data: T) -> Resp {
    to_json(&Answer {
        errno: 0,
        errmsg: "成功",
        data,
    })
}

#[derive(Serialize)]
struct Login {
    token: String,
    #[serde(rename = "userInfo")]
    user_info: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Checkout {
    address_id: u64,
    actual_price: f64,
    checked_goods_list: [Goods; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Goods {
    goods_id: u64,
    number: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Submitted {
    order_id: u64,
    groupon_link_id: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Prepay {
    prepay_id: String,
}

impl App {
    /// Every `/wx/...` request (`path` is the whole path): counts it and answers it.
    pub(super) async fn shop<B>(
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
        self.counters.shop(ShopEvent::Call);
        let allowed = match path {
            "/wx/cart/checkout" => Method::GET,
            "/wx/auth/login_by_weixin"
            | "/wx/address/save"
            | "/wx/order/submit"
            | "/wx/order/prepay" => Method::POST,
            _ => return self.errno(Errno::NotFound),
        };
        if method != allowed {
            return self.errno(Errno::NotFound);
        }
        let body = read_json::<Value, B>(body).await.ok();
        if path == "/wx/auth/login_by_weixin" {
            return self.wx_login(body);
        }
        let serial = match self.litemall_session(headers) {
            Some(s) => s,
            None => return self.errno(Errno::Unlogin),
        };
        match path {
            "/wx/address/save" => match body {
                Some(Value::Object(_)) => {
                    self.counters.shop(ShopEvent::Address);
                    ok(self.shop.save_address(serial))
                }
                _ => self.errno(Errno::BadArgument),
            },
            "/wx/cart/checkout" => self.checkout(serial, query),
            "/wx/order/submit" => self.submit(serial, body.as_ref()),
            _ => self.prepay(serial, body.as_ref()),
        }
    }

    /// A fixed refusal, counted by its errno.
    fn errno(&self, e: Errno) -> Resp {
        self.counters.shop_errno(e);
        let body = match e {
            Errno::BadArgument => BAD_ARGUMENT,
            Errno::BadValue => BAD_VALUE,
            Errno::NotFound => NOT_FOUND,
            Errno::Unlogin => UNLOGIN,
        };
        json(http::StatusCode::OK, body.as_bytes())
    }

    /// `POST /wx/auth/login_by_weixin`: any non-empty code logs a new session in.
    fn wx_login(&self, body: Option<Value>) -> Resp {
        match body.and_then(|b| serde_json::from_value::<LoginBody>(b).ok()) {
            Some(l) if !l.code.is_empty() => {
                self.counters.shop(ShopEvent::Login);
                ok(Login {
                    token: self.tokens.issue(Kind::Litemall),
                    user_info: l.user_info,
                })
            }
            _ => self.errno(Errno::BadArgument),
        }
    }

    /// The `X-Litemall-Token` session's serial; a refused token is counted as an auth failure.
    fn litemall_session(&self, headers: &HeaderMap) -> Option<u64> {
        let token = headers
            .get(TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty());
        let failure = match token.map(|t| self.tokens.verify(t, Kind::Litemall)) {
            Some(Ok(serial)) => return Some(serial),
            None => Failure::Missing,
            Some(Err(TokenError::Expired)) => Failure::Expired,
            Some(Err(TokenError::Invalid)) => Failure::Invalid,
            Some(Err(TokenError::Revoked)) => Failure::Revoked,
        };
        self.counters.failure(failure);
        None
    }

    /// `GET /wx/cart/checkout?cartId=0&addressId=N&...`: `N` must be this session's address.
    fn checkout(&self, serial: u64, query: Option<&str>) -> Resp {
        let Some(address) = query::param(query, "addressId").and_then(|a| a.parse::<u64>().ok())
        else {
            return self.errno(Errno::BadArgument);
        };
        if !self.shop.owns_address(serial, address) {
            return self.errno(Errno::BadValue);
        }
        self.counters.shop(ShopEvent::Checkout);
        ok(Checkout {
            address_id: address,
            actual_price: 39.0,
            checked_goods_list: [Goods {
                goods_id: 1_181_000,
                number: 1,
            }],
        })
    }

    /// `POST /wx/order/submit {"addressId": N, ...}`: an order to this session's address.
    fn submit(&self, serial: u64, body: Option<&Value>) -> Resp {
        let Some(address) = body.and_then(|b| b["addressId"].as_u64()) else {
            return self.errno(Errno::BadArgument);
        };
        let Some(placed) = self.shop.place_order(serial, address) else {
            return self.errno(Errno::BadValue);
        };
        self.counters.shop(ShopEvent::Order);
        if placed.stale_address {
            self.counters.shop(ShopEvent::StaleAddress);
        }
        ok(Submitted {
            order_id: placed.id,
            groupon_link_id: 0,
        })
    }

    /// `POST /wx/order/prepay {"orderId": N}`: `N` must be this session's order.
    fn prepay(&self, serial: u64, body: Option<&Value>) -> Resp {
        let Some(order) = body.and_then(|b| b["orderId"].as_u64()) else {
            return self.errno(Errno::BadArgument);
        };
        if !self.shop.owns_order(serial, order) {
            return self.errno(Errno::BadValue);
        }
        self.counters.shop(ShopEvent::Prepaid);
        ok(Prepay {
            prepay_id: format!("wx{serial:x}{order}"),
        })
    }
}
