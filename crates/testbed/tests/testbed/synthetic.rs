//! The traffic-shaping endpoints: `/blob` (streamed download), `/slow` (late answer) and
//! `/admin/stall` (a server-wide pause of the business routes).

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use loadtape_testbed::{Requests, Stats, TokensIssued};
use serde_json::json;

use crate::support::{curl, start, Answer, Http};

const HOUR2: Duration = Duration::from_secs(7200);
const TOKEN_QUERY: &str =
    "/cgi-bin/token?grant_type=client_credential&appid=wxtestbed&secret=testbed-secret";

/// Asserts `data` is the blob pattern from byte `offset` on.
fn assert_pattern(data: &[u8], offset: u64) {
    if let Some(i) = (0..data.len()).find(|&i| u64::from(data[i]) != (offset + i as u64) % 251) {
        panic!("byte {} is {}", offset + i as u64, data[i]);
    }
}

#[tokio::test]
async fn blob_streams_the_pattern() {
    let tb = start(HOUR2).await;
    let http = Http::new(&tb);

    let default = http.get("/blob", None).await;
    assert_eq!(default.status, StatusCode::OK);
    assert_eq!(default.headers["content-type"], "application/octet-stream");
    assert_eq!(default.headers["content-length"], "1048576");
    assert_eq!(default.body.len(), 1 << 20);
    assert_pattern(&default.body, 0);

    for n in [0usize, 1, 251, 65_536, 200_000] {
        let a = http.get(&format!("/blob?bytes={n}"), None).await;
        assert_eq!(a.status, StatusCode::OK, "{n}");
        assert_eq!(a.headers["content-length"], n.to_string().as_str());
        assert_eq!(a.body.len(), n);
        assert_pattern(&a.body, 0);
    }
    // Over h2c, through flow control.
    let h2 = Http::h2c(&tb);
    let a = h2.get("/blob?bytes=3000001", None).await;
    assert_eq!(a.headers["content-length"], "3000001");
    assert_eq!(a.body.len(), 3_000_001);
    assert_pattern(&a.body, 0);

    // The largest download: the head comes at once (nothing is prepared in advance), and
    // the body is there to be read for as long as the client wants it.
    let started = Instant::now();
    let big = http
        .open(Method::GET, "/blob?bytes=1073741824", &[], "")
        .await;
    assert_eq!(big.status(), StatusCode::OK);
    assert_eq!(big.headers()["content-length"], "1073741824");
    let mut body = big.into_body();
    let mut read = 0u64;
    while read < 4 << 20 {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("frame in time")
            .expect("more frames")
            .expect("frame");
        let data = frame.into_data().expect("data");
        assert_pattern(&data, read);
        read += data.len() as u64;
    }
    drop(body);
    assert!(started.elapsed() < Duration::from_secs(5));

    for bad in ["abc", "-1", "1073741825", "", "1.5", "99999999999999999999"] {
        let a = http.get(&format!("/blob?bytes={bad}"), None).await;
        assert_eq!(
            (a.status, a.errmsg().as_str()),
            (StatusCode::BAD_REQUEST, "invalid bytes"),
            "{bad}"
        );
    }
    assert_eq!(
        http.post("/blob", "").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );

    // curl writes it to a file of the announced size.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blob.bin");
    let url = format!("{}/blob?bytes=5000000", tb.base_url());
    let out = curl(&["-o", file.to_str().unwrap(), "-w", "%{http_code}", &url]).await;
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "200");
    let saved = std::fs::read(&file).unwrap();
    assert_eq!(saved.len(), 5_000_000);
    assert_pattern(&saved, 0);

    let expected = Stats {
        requests: Requests {
            // default, 5 sizes, h2c, 1 GiB, 6 bad, curl
            blob: 15,
            other: 1,
            ..Requests::default()
        },
        ..Stats::default()
    };
    assert_eq!(http.stats().await, expected);
    tb.shutdown().await;
}

#[tokio::test]
async fn slow_waits_in_its_own_task() {
    let tb = start(HOUR2).await;
    let http = Http::new(&tb);

    let started = Instant::now();
    let slow_h1 = tokio::spawn({
        let http = Http::new(&tb);
        async move { http.get("/slow?ms=400", None).await }
    });
    // Another stream of the very connection that carries a slow one.
    let h2 = Arc::new(Http::h2c(&tb));
    let slow_h2 = tokio::spawn({
        let h2 = h2.clone();
        async move { h2.get("/slow?ms=400", None).await }
    });
    let fast_h2 = h2.get(TOKEN_QUERY, None).await;
    assert!(fast_h2.json()["access_token"].is_string());
    let fast_h1 = http.access_token().await;
    assert!(!fast_h1.is_empty());
    let fast_took = started.elapsed();
    assert!(fast_took < Duration::from_millis(400), "{fast_took:?}");
    assert!(!slow_h1.is_finished() && !slow_h2.is_finished());

    let slow_h1 = slow_h1.await.unwrap();
    let slow_h2 = slow_h2.await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400));
    for a in [&slow_h1, &slow_h2] {
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(&a.body[..], br#"{"errcode":0,"slept_ms":400}"#);
    }
    let zero = http.get("/slow?ms=0", None).await;
    assert_eq!(&zero.body[..], br#"{"errcode":0,"slept_ms":0}"#);

    for bad in [
        "/slow",
        "/slow?ms=",
        "/slow?ms=abc",
        "/slow?ms=-5",
        "/slow?ms=60001",
    ] {
        let a = http.get(bad, None).await;
        assert_eq!(
            (a.status, a.errmsg().as_str()),
            (StatusCode::BAD_REQUEST, "invalid ms"),
            "{bad}"
        );
    }

    let expected = Stats {
        tokens_issued: TokensIssued {
            platform: 2,
            session: 0,
        },
        requests: Requests {
            token: 2,
            slow: 8,
            ..Requests::default()
        },
        ..Stats::default()
    };
    assert_eq!(http.stats().await, expected);
    tb.shutdown().await;
}

/// `POST /admin/stall?for=...`, parsed.
async fn stall(http: &Http, length: &str) -> Answer {
    http.post(&format!("/admin/stall?for={length}"), "").await
}

#[tokio::test]
async fn stall_holds_business_routes_only() {
    const STALL: Duration = Duration::from_millis(1500);
    let before_start = Instant::now();
    let tb = start(HOUR2).await;
    let http = Http::new(&tb);
    let at = http.access_token().await;
    let session = http.login().await;
    let ids = http.goods_ids(&session, 1).await;

    let t0 = Instant::now();
    let stalled = stall(&http, "1500ms").await;
    assert_eq!(stalled.status, StatusCode::OK);
    let until = stalled.json()["stalled_until_ms"].as_u64().unwrap();
    let ceiling = u64::try_from((before_start.elapsed() + STALL).as_millis()).unwrap() + 1;
    assert!((1500..=ceiling).contains(&until), "{until} ≤ {ceiling}");
    assert_eq!(
        stalled.json(),
        json!({ "stalled_until_ms": until }),
        "exactly that field"
    );
    // A shorter stall does not cut the running one short.
    assert_eq!(stall(&http, "10ms").await.json()["stalled_until_ms"], until);

    // Every business route, each on its own connection, plus a profile by cookie on h2c.
    let bearer = format!("Bearer {session}");
    let cookie = format!("tb_session={session}");
    let order_path = format!("/api/order?access_token={at}");
    let order_body = format!(r#"{{"goods_id":"{}","quantity":1}}"#, ids[0]);
    let stable =
        r#"{"grant_type":"client_credential","appid":"wxtestbed","secret":"testbed-secret"}"#;
    // Every call carries the bearer; the routes that do not need it ignore it.
    let calls: [(Method, String, &str); 7] = [
        (Method::GET, TOKEN_QUERY.into(), ""),
        (Method::POST, "/cgi-bin/stable_token".into(), stable),
        (Method::POST, "/api/login".into(), r#"{"code":"c"}"#),
        (Method::GET, "/api/goods".into(), ""),
        (Method::GET, format!("/api/goods/{}", ids[1]), ""),
        (Method::GET, "/api/profile".into(), ""),
        (Method::POST, order_path, &order_body),
    ];
    let mut held = Vec::new();
    for (method, path, body) in calls {
        let client = Http::new(&tb);
        let bearer = bearer.clone();
        let body = body.to_string();
        held.push(tokio::spawn(async move {
            let headers = [("authorization", bearer.as_str())];
            let a = client.send_with(method, &path, &headers, body).await;
            (path, a, t0.elapsed())
        }));
    }
    // The cookie profile and the /stats polls below share one HTTP/2 connection.
    let h2 = Arc::new(Http::h2c(&tb));
    let h2_profile = {
        let h2 = h2.clone();
        tokio::spawn(async move {
            let a = h2
                .send_with(Method::GET, "/api/profile", &[("cookie", &cookie)], "")
                .await;
            (a, t0.elapsed())
        })
    };

    // Meanwhile the rest answers, and /stats shows the held requests arrived but not handled:
    // no token issued, no order taken.
    let arrived = loop {
        let s = h2.stats().await;
        if s.requests.profile == 2 && s.requests_total() == 3 + 2 + 7 + 1 {
            break s;
        }
        assert!(t0.elapsed() < STALL, "all held requests arrive: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        arrived.tokens_issued,
        TokensIssued {
            platform: 1,
            session: 1
        }
    );
    assert_eq!(arrived.orders, 0);
    assert_eq!(h2.get("/slow?ms=0", None).await.status, StatusCode::OK);
    assert_eq!(http.get("/blob?bytes=10", None).await.body.len(), 10);
    assert_eq!(http.get("/", None).await.status, StatusCode::OK);
    assert_eq!(http.get("/nope", None).await.status, StatusCode::NOT_FOUND);
    assert!(
        t0.elapsed() < STALL,
        "none of that waited: {:?}",
        t0.elapsed()
    );
    assert!(held.iter().all(|h| !h.is_finished()) && !h2_profile.is_finished());

    // Each held request is answered, normally, once the stall is over.
    for h in held {
        let (path, a, took) = h.await.unwrap();
        assert!(took >= STALL, "{path} after {took:?}");
        assert_eq!(a.status, StatusCode::OK, "{path}: {a:?}");
        assert_eq!(a.json()["errcode"].as_i64().unwrap_or(0), 0, "{path}");
    }
    let (a, took) = h2_profile.await.unwrap();
    assert!(took >= STALL, "{took:?}");
    assert_eq!(a.json()["data"]["nickname"], "tester");
    // Over: no more waiting.
    let after = Instant::now();
    http.access_token().await;
    assert!(after.elapsed() < Duration::from_millis(500));

    for bad in ["61s", "abc", "-1s", "", "1h"] {
        let a = stall(&http, bad).await;
        assert_eq!(
            (a.status, a.errmsg().as_str()),
            (StatusCode::BAD_REQUEST, "invalid duration"),
            "{bad}"
        );
    }
    let a = http.post("/admin/stall", "").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        http.get("/admin/stall?for=1s", None).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    // The longest stall is accepted (no business request is sent after it), and so is any
    // spelling of the duration grammar, though shorter ones do not change its end.
    let longest = stall(&http, "60s").await.json()["stalled_until_ms"]
        .as_u64()
        .unwrap();
    assert!(longest >= until + 60_000 - 1500, "{longest}");
    for spelling in ["2s", "1s%20500ms", "30s"] {
        let a = stall(&http, spelling).await;
        assert_eq!(a.status, StatusCode::OK, "{spelling}");
        assert_eq!(a.json()["stalled_until_ms"], longest, "{spelling}");
    }

    let expected = Stats {
        tokens_issued: TokensIssued {
            platform: 4,
            session: 2,
        },
        requests: Requests {
            token: 3,
            stable_token: 1,
            login: 2,
            goods_list: 2,
            goods_detail: 1,
            profile: 2,
            order: 1,
            // 1500ms, 10ms, 5 bad, missing, 60s, 3 spellings
            stall: 12,
            blob: 1,
            slow: 1,
            page: 1,
            other: 2,
            revoke: 0,
            ..Requests::default()
        },
        unknown_ids: 0,
        orders: 1,
        ..Stats::default()
    };
    assert_eq!(http.stats().await, expected);
    let closing = Instant::now();
    tb.shutdown().await;
    assert!(
        closing.elapsed() < Duration::from_secs(1),
        "nothing is held"
    );
}
