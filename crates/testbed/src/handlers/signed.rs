//! Signed endpoints, the way mini-program backends guard payment and order APIs: each checks
//! the caller's session (bearer), then a signature over the request's own parameters, then that
//! the nonce is new and (where there is one) that the timestamp is fresh. A replay that sends a
//! recorded signature, or re-signs changed values by the wrong rule, is refused in the WeChat
//! way: HTTP 200 with an `errcode`.
//!
//! | route | signature | refused with |
//! |---|---|---|
//! | `POST /pay/unifiedorder` (form, or WeChat Pay's own `<xml>…</xml>`) | WeChat Pay v2 MD5: `upper(md5(k=v&…&key=PAY_KEY))`, sorted non-empty parameters | `40090`, `40163` |
//! | `GET /pay/orderquery?…&sign_type=HMAC-SHA256` | WeChat Pay v2 HMAC-SHA256: `upper(hmac_sha256(PAY_KEY, k=v&…&key=PAY_KEY))` | `40090`, `40163` |
//! | `POST /api/signed/order` (JSON) | home-made `md5(appid + ts + nonce + APP_SECRET)`, lower-case hex, `ts` in seconds | `40090`, `40091`, `40163` |
//!
//! The secrets ([`PAY_KEY`], [`APP_SECRET`]) are what a tester would be given; the recording
//! never holds them, so `convert` finds each rule only when told the secret (`--secret-env`).

use http::{HeaderMap, Method, StatusCode};
use md5::Digest as _;

use super::business::SessionFrom;
use super::reply::{json, Resp};
use super::App;
use crate::form::Form;
use crate::stats::{Endpoint, SignedEvent};

/// The merchant's API key of the WeChat-Pay-style endpoints (WeChat Pay's own documented
/// example key).
pub const PAY_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
/// The app secret of the home-made signature.
pub const APP_SECRET: &str = "tb-app-secret-7f3a";
/// How far a signed timestamp may be from the server's clock.
const FRESH_SECS: u64 = 300;

const ACCEPTED_PAY: &[u8] =
    br#"{"errcode":0,"return_code":"SUCCESS","result_code":"SUCCESS","prepay_id":"wx201410272009395522657a690389285100"}"#;
const ACCEPTED_QUERY: &[u8] = br#"{"errcode":0,"return_code":"SUCCESS","trade_state":"NOTPAY"}"#;
const ACCEPTED_ORDER: &[u8] = br#"{"errcode":0,"data":{"order_id":"so_1001","state":"created"}}"#;
const BAD_SIGN: &[u8] = br#"{"errcode":40090,"return_code":"FAIL","errmsg":"invalid signature"}"#;
const STALE: &[u8] = br#"{"errcode":40091,"errmsg":"timestamp expired"}"#;
const REPLAYED: &[u8] = br#"{"errcode":40163,"errmsg":"nonce has been used"}"#;
const NOT_FOUND: &[u8] = br#"{"errcode":404,"errmsg":"not found"}"#;
const METHOD_NOT_ALLOWED: &[u8] = br#"{"errcode":405,"errmsg":"method not allowed"}"#;

/// What a signed request was judged.
enum Verdict {
    Accepted,
    BadSign,
    Stale,
    Replayed,
}

impl App {
    /// A request under `/pay/` or `/api/signed/`.
    pub(super) fn signed(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Resp {
        let allowed = match path {
            "/pay/unifiedorder" | "/api/signed/order" => Method::POST,
            "/pay/orderquery" => Method::GET,
            _ => {
                self.counters.request(Endpoint::Other);
                return json(StatusCode::NOT_FOUND, NOT_FOUND);
            }
        };
        if *method != allowed {
            self.counters.request(Endpoint::Other);
            return json(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED);
        }
        if let Err(refusal) = self.session(headers, SessionFrom::BearerOnly) {
            return refusal.into_response();
        }
        self.counters.signed(SignedEvent::Call);
        let (verdict, accepted) = match path {
            "/pay/unifiedorder" => {
                let params = if body.trim_ascii_start().starts_with(b"<") {
                    xml_fields(body)
                } else {
                    Form::parse(headers, body).fields().to_vec()
                };
                (self.wechat_pay(&params, Digest::Md5), ACCEPTED_PAY)
            }
            "/pay/orderquery" => {
                let params = crate::form::urlencoded(query.unwrap_or("").as_bytes());
                (self.wechat_pay(&params, Digest::HmacSha256), ACCEPTED_QUERY)
            }
            _ => (self.home_made(body), ACCEPTED_ORDER),
        };
        let (event, answer) = match verdict {
            Verdict::Accepted => (SignedEvent::Accepted, accepted),
            Verdict::BadSign => (SignedEvent::BadSign, BAD_SIGN),
            Verdict::Stale => (SignedEvent::Stale, STALE),
            Verdict::Replayed => (SignedEvent::Replayed, REPLAYED),
        };
        self.counters.signed(event);
        json(StatusCode::OK, answer)
    }

    /// WeChat Pay v2: the sorted non-empty parameters but `sign` as `k=v&…`, `&key=KEY`
    /// appended, MD5 or HMAC-SHA256 (keyed by KEY), upper-case hex; then the nonce.
    fn wechat_pay(&self, params: &[(String, String)], digest: Digest) -> Verdict {
        let mut signed: Vec<&(String, String)> = params
            .iter()
            .filter(|(k, v)| k != "sign" && !v.is_empty())
            .collect();
        signed.sort_by(|a, b| a.0.cmp(&b.0));
        let mut message: String = signed
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        message.push_str("&key=");
        message.push_str(PAY_KEY);
        let want = digest.hex(&message).to_ascii_uppercase();
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if get("sign") != Some(want.as_str()) {
            return Verdict::BadSign;
        }
        self.nonce_verdict(get("nonce_str"))
    }

    /// `md5(appid + ts + nonce + APP_SECRET)` over the JSON body's fields; `ts` fresh.
    fn home_made(&self, body: &[u8]) -> Verdict {
        let Ok(serde_json::Value::Object(o)) = serde_json::from_slice(body) else {
            return Verdict::BadSign;
        };
        let text = |k: &str| match o.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let (appid, ts, nonce) = (text("appid"), text("ts"), text("nonce"));
        let want = Digest::Md5.hex(&format!("{appid}{ts}{nonce}{APP_SECRET}"));
        if text("sign") != want {
            return Verdict::BadSign;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        match ts.parse::<u64>() {
            Ok(t) if t.abs_diff(now) <= FRESH_SECS => self.nonce_verdict(Some(&nonce)),
            _ => Verdict::Stale,
        }
    }

    fn nonce_verdict(&self, nonce: Option<&str>) -> Verdict {
        match nonce.filter(|n| !n.is_empty()) {
            Some(n) if self.nonces.first_time_signed(n) => Verdict::Accepted,
            _ => Verdict::Replayed,
        }
    }
}

/// The digests the endpoints sign with.
#[derive(Clone, Copy)]
enum Digest {
    Md5,
    HmacSha256,
}

impl Digest {
    fn hex(self, message: &str) -> String {
        let bytes: Vec<u8> = match self {
            Digest::Md5 => md5::Md5::digest(message.as_bytes()).to_vec(),
            Digest::HmacSha256 => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, PAY_KEY.as_bytes());
                ring::hmac::sign(&key, message.as_bytes()).as_ref().to_vec()
            }
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// WeChat Pay's XML body, `<xml><appid>…</appid>…</xml>`: each child element and its text.
fn xml_fields(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let Ok(doc) = roxmltree::Document::parse(text.trim()) else {
        return Vec::new();
    };
    doc.root_element()
        .children()
        .filter(|n| n.is_element())
        .map(|n| {
            let value: String = n.children().filter_map(|c| c.text()).collect();
            (n.tag_name().name().to_string(), value)
        })
        .collect()
}
