//! `GET /api/coupons?nonce_str=N`: an API that refuses a nonce it has seen, as WeChat Pay's
//! and most signed APIs do against replays. A scenario that sends the recorded `nonce_str`
//! again gets `errcode 40163` in an HTTP 200 — what `loadtape verify` must trace back to the
//! value left as recorded.
//!
//! `GET /api/pay?out_trade_no=N` is the same guard over WeChat Pay's merchant order number:
//! a number the client makes up once per order, all digits, under a name no rule calls a
//! nonce; a replay of the recorded one gets `errcode 40164 "out_trade_no has been used"`.

use std::collections::HashSet;
use std::sync::Mutex;

use http::StatusCode;

use super::reply::{json, Resp};
use crate::query;

/// How many nonces are remembered; past it the set starts over (a test sends a handful; a
/// load test must not grow the server's memory without bound).
const REMEMBERED: usize = 100_000;

const ACCEPTED: &[u8] = br#"{"errcode":0,"coupons":[{"couponId":"cpn_10","title":"10 off"}]}"#;
const REPLAYED: &[u8] = br#"{"errcode":40163,"errmsg":"nonce_str has been used"}"#;
const MISSING: &[u8] = br#"{"errcode":41001,"errmsg":"nonce_str missing"}"#;
const PAID: &[u8] = br#"{"errcode":0,"trade_state":"NOTPAY","trade_type":"JSAPI"}"#;
const TRADE_NO_USED: &[u8] = br#"{"errcode":40164,"errmsg":"out_trade_no has been used"}"#;
const TRADE_NO_MISSING: &[u8] = br#"{"errcode":41001,"errmsg":"out_trade_no missing"}"#;

/// The nonces seen so far.
#[derive(Default)]
pub(crate) struct Nonces(Mutex<HashSet<String>>);

impl Nonces {
    /// Answers one `/api/coupons` request.
    pub(super) fn coupons(&self, query: Option<&str>) -> Resp {
        let Some(nonce) = query::param(query, "nonce_str").filter(|n| !n.is_empty()) else {
            return json(StatusCode::BAD_REQUEST, MISSING);
        };
        if self.first_time(&format!("n:{nonce}")) {
            json(StatusCode::OK, ACCEPTED)
        } else {
            json(StatusCode::OK, REPLAYED)
        }
    }

    /// Answers one `/api/pay` request.
    pub(super) fn pay(&self, query: Option<&str>) -> Resp {
        let Some(no) = query::param(query, "out_trade_no").filter(|n| !n.is_empty()) else {
            return json(StatusCode::BAD_REQUEST, TRADE_NO_MISSING);
        };
        if self.first_time(&format!("p:{no}")) {
            json(StatusCode::OK, PAID)
        } else {
            json(StatusCode::OK, TRADE_NO_USED)
        }
    }

    /// Whether a signed endpoint's nonce is new (and remembers it).
    pub(super) fn first_time_signed(&self, nonce: &str) -> bool {
        self.first_time(&format!("s:{nonce}"))
    }

    /// Whether `key` is new (and remembers it).
    fn first_time(&self, key: &str) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= REMEMBERED {
            seen.clear();
        }
        seen.insert(key.to_string())
    }
}
