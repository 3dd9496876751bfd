//! `GET /api/coupons?nonce_str=N`: an API that refuses a nonce it has seen, as WeChat Pay's
//! and most signed APIs do against replays. A scenario that sends the recorded `nonce_str`
//! again gets `errcode 40163` in an HTTP 200 — what `loadtape verify` must trace back to the
//! value left as recorded.

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

/// The nonces seen so far.
#[derive(Default)]
pub(crate) struct Nonces(Mutex<HashSet<String>>);

impl Nonces {
    /// Answers one `/api/coupons` request.
    pub(super) fn coupons(&self, query: Option<&str>) -> Resp {
        let Some(nonce) = query::param(query, "nonce_str").filter(|n| !n.is_empty()) else {
            return json(StatusCode::BAD_REQUEST, MISSING);
        };
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= REMEMBERED {
            seen.clear();
        }
        if seen.insert(nonce.to_string()) {
            json(StatusCode::OK, ACCEPTED)
        } else {
            json(StatusCode::OK, REPLAYED)
        }
    }
}
