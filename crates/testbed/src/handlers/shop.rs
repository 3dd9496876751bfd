//! A litemall-shaped WeChat shop under `/wx/`, as the open-source backend answers: always HTTP
//! 200, with `{"errno": N, "errmsg": "...", "data": ...}` — a replay must judge the body.
//!
//! | route                            | needs                                   | refused with |
//! |----------------------------------|-----------------------------------------|--------------|
//! | `POST /wx/auth/login_by_weixin`  | `{"code"}`, maybe user-info material (`wx_login.rs`) | 401, -1 |
//! | `POST /wx/cart/add`              | `X-Litemall-Token`, `{"goodsId","number"}` | 501, 401  |
//! | `POST /wx/address/save`          | the token, a JSON address               | 501, 401     |
//! | `GET /wx/cart/checkout`          | the token + `addressId` of this user    | 501, 402     |
//! | `POST /wx/order/submit`          | the token + `{"addressId"}` of this user, goods in the cart | 501, 402 |
//! | `POST /wx/order/prepay`          | the token + `{"orderId"}` of this user  | 501, 402     |
//!
//! The token is a self-checking [`Kind::Litemall`] token living the testbed's token TTL; the
//! login answer states no lifetime (litemall's does not either), so a replay learns it from
//! the first 501. Missing, expired, forged or revoked: errno 501 `请登录`, also counted as an
//! auth failure. A login is a session of one user; the cart, the address and order ids (short
//! integers from [`crate::shop_store::ShopStore`]) are the user's, refused with 402
//! `参数值不对` for another user, and an order of an empty cart is refused with 402 too (two
//! sessions of one user share the cart: one's order takes what the other put in). Ids are
//! JSON numbers; a string id is 401 `参数不对` (stricter than litemall, so a replay that
//! turns a recorded number into a string shows). Every nonzero errno is counted by code.

use http::{HeaderMap, Method};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::reply::{json, read_json, to_json, Resp};
use super::App;
use crate::query;
use crate::shop_store::Refused;
use crate::stats::{Errno, Failure, ShopEvent};
use crate::tokens::{Kind, TokenError};

/// The header litemall's mini program sends its token in.
pub(super) const TOKEN_HEADER: &str = "x-litemall-token";

const UNLOGIN: &str = r#"{"errno":501,"errmsg":"请登录"}"#;
const BAD_ARGUMENT: &str = r#"{"errno":401,"errmsg":"参数不对"}"#;
const BAD_VALUE: &str = r#"{"errno":402,"errmsg":"参数值不对"}"#;
const NOT_FOUND: &str = r#"{"errno":404,"errmsg":"not found"}"#;
const FAIL: &str = r#"{"errno":-1,"errmsg":"错误"}"#;

#[derive(Serialize)]
struct Answer<T> {
    errno: i32,
    errmsg: &'static str,
    data: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CartAdd {
    goods_id: u64,
    number: u32,
}

/// An errno-0 answer with `data`.
pub(super) fn ok<T: Serialize>(data: T) -> Resp {
    to_json(&Answer {
        errno: 0,
        errmsg: "成功",
        data,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Checkout {
    address_id: u64,
    actual_price: f64,
    checked_goods_list: Vec<Goods>,
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
            | "/wx/cart/add"
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
        let Some(user) = self.litemall_user(headers) else {
            return self.errno(Errno::Unlogin);
        };
        match path {
            "/wx/cart/add" => self.cart_add(user, body),
            "/wx/address/save" => match body {
                Some(Value::Object(_)) => {
                    self.counters.shop(ShopEvent::Address);
                    ok(self.shop.save_address(user))
                }
                _ => self.errno(Errno::BadArgument),
            },
            "/wx/cart/checkout" => self.checkout(user, query),
            "/wx/order/submit" => self.submit(user, body.as_ref()),
            _ => self.prepay(user, body.as_ref()),
        }
    }

    /// A fixed refusal, counted by its errno.
    pub(super) fn errno(&self, e: Errno) -> Resp {
        self.counters.shop_errno(e);
        let body = match e {
            Errno::Fail => FAIL,
            Errno::BadArgument => BAD_ARGUMENT,
            Errno::BadValue => BAD_VALUE,
            Errno::NotFound => NOT_FOUND,
            Errno::Unlogin => UNLOGIN,
        };
        json(http::StatusCode::OK, body.as_bytes())
    }

    /// The user of the `X-Litemall-Token` session; a refused token is counted as an auth
    /// failure.
    fn litemall_user(&self, headers: &HeaderMap) -> Option<u64> {
        let token = headers
            .get(TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty());
        let failure = match token.map(|t| self.tokens.verify(t, Kind::Litemall)) {
            // A live token's session is in the store: sessions are pruned only once expired.
            Some(Ok(serial)) => return self.shop.user(serial),
            None => Failure::Missing,
            Some(Err(TokenError::Expired)) => Failure::Expired,
            Some(Err(TokenError::Invalid)) => Failure::Invalid,
            Some(Err(TokenError::Revoked)) => Failure::Revoked,
        };
        self.counters.failure(failure);
        None
    }

    /// `POST /wx/cart/add {"goodsId", "number"}`: answers the goods now in the cart.
    fn cart_add(&self, user: u64, body: Option<Value>) -> Resp {
        match body.and_then(|b| serde_json::from_value::<CartAdd>(b).ok()) {
            Some(add) if add.goods_id > 0 && add.number > 0 => {
                self.counters.shop(ShopEvent::CartAdd);
                ok(self.shop.add_to_cart(user, add.number))
            }
            _ => self.errno(Errno::BadArgument),
        }
    }

    /// `GET /wx/cart/checkout?cartId=0&addressId=N&...`: `N` must be this user's address;
    /// lists what the cart holds now (maybe nothing).
    fn checkout(&self, user: u64, query: Option<&str>) -> Resp {
        let Some(address) = query::param(query, "addressId").and_then(|a| a.parse::<u64>().ok())
        else {
            return self.errno(Errno::BadArgument);
        };
        if !self.shop.owns_address(user, address) {
            return self.errno(Errno::BadValue);
        }
        self.counters.shop(ShopEvent::Checkout);
        let number = self.shop.cart(user);
        ok(Checkout {
            address_id: address,
            actual_price: 39.0 * f64::from(number),
            checked_goods_list: (number > 0)
                .then_some(Goods {
                    goods_id: 1_181_000,
                    number,
                })
                .into_iter()
                .collect(),
        })
    }

    /// `POST /wx/order/submit {"addressId": N, ...}`: an order of the cart to this user's
    /// address.
    fn submit(&self, user: u64, body: Option<&Value>) -> Resp {
        let Some(address) = body.and_then(|b| b["addressId"].as_u64()) else {
            return self.errno(Errno::BadArgument);
        };
        let placed = match self.shop.place_order(user, address) {
            Ok(p) => p,
            Err(Refused::Address) => return self.errno(Errno::BadValue),
            Err(Refused::EmptyCart) => {
                self.counters.shop(ShopEvent::EmptyCart);
                return self.errno(Errno::BadValue);
            }
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

    /// `POST /wx/order/prepay {"orderId": N}`: `N` must be this user's order.
    fn prepay(&self, user: u64, body: Option<&Value>) -> Resp {
        let Some(order) = body.and_then(|b| b["orderId"].as_u64()) else {
            return self.errno(Errno::BadArgument);
        };
        if !self.shop.owns_order(user, order) {
            return self.errno(Errno::BadValue);
        }
        self.counters.shop(ShopEvent::Prepaid);
        ok(Prepay {
            prepay_id: format!("wx{user:x}{order}"),
        })
    }
}
