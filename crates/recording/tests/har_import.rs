//! `har import` on the shapes real exporters write: one hand-made file per tool in
//! `tests/fixtures/har/`, each holding that tool's quirks, checked field by field.

use std::path::PathBuf;

use loadtape_recording::har::import_har;
use loadtape_recording::{BodyContent, Exchange, Imported};
use serde_json::json;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/har")
        .join(name)
}

fn import(name: &str) -> Imported {
    import_har(fixture(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn headers(e: &[(String, String)]) -> Vec<(&str, &str)> {
    e.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

fn started(e: &Exchange) -> String {
    e.started
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[test]
fn chrome_devtools() {
    let i = import("chrome.har");
    assert_eq!(i.creator.as_deref(), Some("WebInspector"));
    assert!(i.skipped.is_empty());
    let r = &i.recording;
    assert_eq!(r.header.name, "chrome");
    assert_eq!(r.exchanges.len(), 3);

    let login = &r.exchanges[0];
    assert_eq!(login.id, 1);
    assert_eq!(started(login), "2026-11-21T10:00:01.123Z");
    assert_eq!(login.duration_ms, 45.217);
    assert_eq!(login.client, None);
    assert_eq!(login.request.method, "POST");
    // The fragment is never sent, so it is not recorded.
    assert_eq!(
        login.request.url,
        "https://api.example.com/v1/login?from=home"
    );
    assert_eq!(login.request.version, "HTTP/2.0");
    // Pseudo-headers are dropped from the list.
    assert_eq!(
        headers(&login.request.headers.0),
        [
            ("content-type", "application/json"),
            (
                "referer",
                "https://servicewechat.com/wx1234567890abcdef/0/page-frame.html"
            )
        ]
    );
    let body = login.request.body.as_ref().unwrap();
    assert_eq!(
        body.content,
        BodyContent::Json(json!({"code": "0a3Xk2ll2yqXRc4M"}))
    );
    assert_eq!(body.decoded_from, None);
    let resp = login.response.as_ref().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.version, "HTTP/2.0");
    // Repeated Set-Cookie kept in order; cookies[] not added again.
    assert_eq!(
        resp.headers.get_all("set-cookie").collect::<Vec<_>>(),
        ["sid=abc123def456; Path=/; HttpOnly", "lang=zh_CN; Path=/"]
    );
    assert_eq!(resp.headers.len(), 4);
    let body = resp.body.as_ref().unwrap();
    // Chrome writes the decoded text under content-encoding: gzip.
    assert_eq!(
        body.content,
        BodyContent::Json(json!({"token": "8fE2abcdefgh", "expires_in": 7200}))
    );
    assert_eq!(body.decoded_from.as_deref(), Some("gzip"));
    assert!(!body.truncated);
    assert_eq!(login.error, None);

    let image = &r.exchanges[1];
    assert_eq!(image.request.version, "HTTP/3.0");
    // `time: -1`: the duration comes from the timings that are known.
    assert_eq!(image.duration_ms, 13.0);
    assert_eq!(image.request.body, None);
    let body = image.response.as_ref().unwrap().body.as_ref().unwrap();
    assert_eq!(
        body.content,
        BodyContent::Binary(vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a])
    );

    let failed = &r.exchanges[2];
    assert_eq!(failed.response, None);
    assert_eq!(failed.error.as_deref(), Some("net::ERR_CONNECTION_REFUSED"));
    assert_eq!(
        failed.request.url,
        "https://api.example.com/v1/goods?page=1"
    );
    // An empty httpVersion on both sides: HTTP/1.1.
    assert_eq!(failed.request.version, "HTTP/1.1");
    assert_eq!(failed.duration_ms, 3.25);
}

#[test]
fn safari_web_inspector() {
    let i = import("safari.har");
    let r = &i.recording;
    assert_eq!(r.exchanges.len(), 2);
    let search = &r.exchanges[0];
    assert_eq!(search.request.version, "HTTP/2.0");
    // Safari lists the cookie only in cookies[]: it becomes a Cookie header.
    assert_eq!(
        headers(&search.request.headers.0),
        [
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=UTF-8"
            ),
            ("Accept", "*/*"),
            ("cookie", "sid=abc123def456"),
        ]
    );
    // `text` wins over `params` when both are there.
    let body = search.request.body.as_ref().unwrap();
    assert_eq!(body.content, BodyContent::Text("q=green+tea&page=2".into()));
    let resp = search.response.as_ref().unwrap();
    assert_eq!(resp.version, "HTTP/2.0");
    assert_eq!(
        resp.body.as_ref().unwrap().content,
        BodyContent::Text("héllo wörld".into())
    );
    assert_eq!(search.duration_ms, 20.5);

    // A memory-cache hit: no text, so no body; empty versions fall back to HTTP/1.1.
    let cached = &r.exchanges[1];
    let resp = cached.response.as_ref().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, None);
    assert_eq!(resp.version, "HTTP/1.1");
    assert_eq!(cached.duration_ms, 0.0);
}

#[test]
fn charles_proxy() {
    let i = import("charles.har");
    assert_eq!(i.creator.as_deref(), Some("Charles Proxy"));
    let r = &i.recording;
    assert_eq!(r.exchanges.len(), 2);
    let profile = &r.exchanges[0];
    // +08:00 converted to UTC.
    assert_eq!(started(profile), "2026-11-21T10:00:01.123Z");
    assert_eq!(profile.duration_ms, 142.0);
    assert_eq!(
        headers(&profile.request.headers.0),
        [("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc")]
    );
    let resp = profile.response.as_ref().unwrap();
    // `:status` is a pseudo-header too.
    assert_eq!(
        headers(&resp.headers.0),
        [
            ("content-type", "application/json"),
            ("content-encoding", "br")
        ]
    );
    // Charles base64-encodes even JSON; its bytes are already decoded (they are not brotli).
    let body = resp.body.as_ref().unwrap();
    assert_eq!(
        body.content,
        BodyContent::Json(json!({"nick": "小明", "vip": true}))
    );
    assert_eq!(body.decoded_from.as_deref(), Some("br"));

    let failed = &r.exchanges[1];
    assert_eq!(failed.response, None);
    assert_eq!(
        failed.error.as_deref(),
        Some("Connection refused: down.example.com/203.0.113.9:443")
    );
}

#[test]
fn fiddler() {
    let i = import("fiddler.har");
    // The CONNECT tunnel is not an exchange.
    assert_eq!(i.skipped.len(), 1);
    assert!(i.skipped[0].contains("log.entries[0]"), "{:?}", i.skipped);
    let r = &i.recording;
    assert_eq!(r.exchanges.len(), 1);
    let goods = &r.exchanges[0];
    // Ids follow the entries, including the skipped one.
    assert_eq!(goods.id, 2);
    // Seven fractional digits.
    assert_eq!(
        goods
            .started
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "2026-11-21T10:00:00.234567Z"
    );
    assert_eq!(
        goods.request.url,
        "https://api.example.com/v1/goods?page=1&size=20"
    );
    assert_eq!(
        goods.request.headers.get("cookie"),
        Some("sid=abc123def456")
    );
    assert_eq!(goods.request.headers.get_all("cookie").count(), 1);
    // Fiddler kept the gzip bytes (base64): they are decoded.
    let body = goods.response.as_ref().unwrap().body.as_ref().unwrap();
    assert_eq!(
        body.content,
        BodyContent::Json(json!({"errcode": 0, "data": [{"id": "g1x0467ae92b72"}]}))
    );
    assert_eq!(body.decoded_from.as_deref(), Some("gzip"));
}

#[test]
fn proxyman() {
    let r = import("proxyman.har").recording;
    assert_eq!(r.exchanges.len(), 2);
    let put = &r.exchanges[0];
    assert_eq!(started(put), "2026-11-21T10:00:05.000Z");
    assert_eq!(put.request.version, "HTTP/2.0");
    // No `time`: the sum of the timings.
    assert_eq!(put.duration_ms, 12.0);
    // A binary request body as base64 with the (non-standard) postData.encoding.
    assert_eq!(
        put.request.body.as_ref().unwrap().content,
        BodyContent::Binary(vec![0, 1, 2, 255])
    );
    let resp = put.response.as_ref().unwrap();
    assert_eq!(resp.status, 204);
    assert_eq!(resp.body, None);
    // No time and no timings at all.
    let ping = &r.exchanges[1];
    assert_eq!(ping.duration_ms, 0.0);
    assert_eq!(
        ping.response
            .as_ref()
            .unwrap()
            .body
            .as_ref()
            .unwrap()
            .content,
        BodyContent::Text("pong".into())
    );
}

#[test]
fn k6_studio() {
    let r = import("k6-studio.har").recording;
    assert_eq!(r.exchanges.len(), 2);
    let order = &r.exchanges[0];
    // Params without text are re-encoded as a form.
    assert_eq!(
        order.request.body.as_ref().unwrap().content,
        BodyContent::Text("goods_id=g1x0467ae92b72&note=a+b%26c".into())
    );
    let resp = order.response.as_ref().unwrap();
    assert_eq!(
        resp.body.as_ref().unwrap().content,
        BodyContent::Json(json!({"order": 42}))
    );
    // Cookies listed only in cookies[] become Set-Cookie headers.
    assert_eq!(resp.headers.get("set-cookie"), Some("cart=empty"));
    assert_eq!(order.duration_ms, 0.0);
    // No response, and an empty startedDateTime (k6 Studio without a timestamp): the
    // previous entry's time, and an error.
    let never = &r.exchanges[1];
    assert_eq!(never.response, None);
    assert_eq!(never.error.as_deref(), Some("no response in the HAR entry"));
    assert_eq!(never.started, order.started);
}
