//! What loadtape knows about the super apps: how their mini programs show up in traffic, which
//! endpoints issue platform tokens, and how their APIs say a token went stale.

use std::sync::LazyLock;

use loadtape_recording::Exchange;
use regex::Regex;
use serde_json::Value;

use crate::finding::{MiniProgram, Platform};
use crate::walk::{pairs, path_and_query};

/// WeChat errcodes meaning "get a new access_token": 40001 invalid credential, 40014 invalid
/// access_token, 42001 access_token expired. WeChat sends them in HTTP 200.
pub const WECHAT_REFRESH_ERRCODES: [i64; 3] = [40001, 40014, 42001];

/// Alipay `sub_code`s meaning the same: the auth token is invalid or timed out.
pub const ALIPAY_REFRESH_SUB_CODES: [&str; 2] =
    ["aop.invalid-auth-token", "aop.auth-token-time-out"];

/// WeChat's token endpoint for a token the recording used but never fetched. `stable_token`
/// rather than `token`: a load test calling `cgi-bin/token` would invalidate the token the
/// production backend holds, `stable_token` hands out the current one.
pub const WECHAT_STABLE_TOKEN_URL: &str = "https://api.weixin.qq.com/cgi-bin/stable_token";

/// The mini program a request came from, by its Referer: WeChat
/// `https://servicewechat.com/{appid}/{version}/page-frame.html`, Alipay
/// `https://{appid}.hybrid.alipay-eco.com/...`.
pub fn mini_program(e: &Exchange) -> Option<MiniProgram> {
    static WECHAT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"^https://servicewechat\.com/(wx[0-9a-zA-Z]{16})/[^/]+/page-frame\.html").ok()
    });
    static ALIPAY: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"^https://([0-9a-zA-Z]+)\.hybrid\.alipay-eco\.com/").ok());
    let referer = e.request.headers.get("referer")?;
    if let Some(c) = WECHAT.as_ref()?.captures(referer) {
        return Some(MiniProgram {
            platform: Platform::WeChat,
            appid: c[1].to_string(),
        });
    }
    ALIPAY.as_ref()?.captures(referer).map(|c| MiniProgram {
        platform: Platform::Alipay,
        appid: c[1].to_string(),
    })
}

/// The appid a WeChat token request names (`cgi-bin/token?appid=`, `stable_token {appid}`):
/// the mini program's, when no Referer said so.
pub fn token_request_appid(e: &Exchange) -> Option<MiniProgram> {
    if token_endpoint(e) != Some(Platform::WeChat) {
        return None;
    }
    let (_, query) = path_and_query(&e.request.url);
    let from_body = e
        .request
        .body
        .as_ref()
        .and_then(|b| b.as_json())
        .and_then(|j| j.get("appid"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let appid = pairs(query.unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "appid")
        .map(|(_, v)| v)
        .or(from_body)?;
    let ok = appid.len() == 18
        && appid.starts_with("wx")
        && appid.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(MiniProgram {
        platform: Platform::WeChat,
        appid,
    })
}

/// The platform whose token endpoint this exchange is: WeChat `cgi-bin/token` or
/// `cgi-bin/stable_token`, Alipay `alipay.system.oauth.token` (in the query or a form body).
pub fn token_endpoint(e: &Exchange) -> Option<Platform> {
    let (path, query) = path_and_query(&e.request.url);
    if path.ends_with("/cgi-bin/token") || path.ends_with("/cgi-bin/stable_token") {
        return Some(Platform::WeChat);
    }
    let form = e
        .request
        .body
        .as_ref()
        .and_then(|b| b.as_text())
        .unwrap_or("");
    let method_is = |s: &str| {
        pairs(s)
            .iter()
            .any(|(k, v)| k == "method" && v == "alipay.system.oauth.token")
    };
    if method_is(query.unwrap_or("")) || method_is(form) {
        return Some(Platform::Alipay);
    }
    None
}

/// Whether responses of this recording speak WeChat's `errcode` dialect.
pub fn has_errcode(body: Option<&Value>) -> bool {
    body.and_then(|b| b.get("errcode")).is_some()
}
