//! The routes over plain HTTP/1.1 (and h2c), each test on its own testbed, each ending with the
//! server's counters compared, field by field, with exactly what the test sent.

use std::time::{Duration, Instant};

use http::StatusCode;
use loadtape_testbed::{AuthFailures, Requests, Stats, TokensIssued};

use crate::support::{start, Http};

const TOKEN_QUERY: &str =
    "/cgi-bin/token?grant_type=client_credential&appid=wxtestbed&secret=testbed-secret";
const HOUR2: Duration = Duration::from_secs(7200);

#[tokio::test]
async fn platform_token_endpoints() {
    let tb = start(HOUR2).await;
    let http = Http::new(&tb);

    let ok = http.get(TOKEN_QUERY, None).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers["content-type"], "application/json");
    assert_eq!(ok.headers["server"], "loadtape-testbed");
    let body = ok.json();
    assert_eq!(body["expires_in"], 7200);
    let token = body["access_token"].as_str().unwrap();
    assert!((40..=60).contains(&token.len()), "{token}");

    for (query, errcode, errmsg) in [
        (
            "grant_type=client_credential&appid=wxtestbed&secret=nope",
            40013,
            "invalid appid",
        ),
        (
            "grant_type=client_credential&appid=wxother&secret=testbed-secret",
            40013,
            "invalid appid",
        ),
        (
            "grant_type=client_credential&appid=wxtestbed",
            40013,
            "invalid appid",
        ),
        (
            "grant_type=password&appid=wxtestbed&secret=testbed-secret",
            40002,
            "invalid grant_type",
        ),
    ] {
        let a = http.get(&format!("/cgi-bin/token?{query}"), None).await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "WeChat answers errors with HTTP 200"
        );
        assert_eq!(
            (a.errcode(), a.errmsg().as_str()),
            (errcode, errmsg),
            "{query}"
        );
    }
    // Percent-encoded parameters are decoded.
    let encoded = http
        .get(
            "/cgi-bin/token?grant_type=client_credential&appid=wx%74estbed&secret=testbed%2Dsecret",
            None,
        )
        .await;
    assert!(encoded.json()["access_token"].is_string(), "{encoded:?}");

    let stable = http
        .post(
            "/cgi-bin/stable_token",
            r#"{"grant_type":"client_credential","appid":"wxtestbed","secret":"testbed-secret","force_refresh":false}"#,
        )
        .await;
    assert_eq!(stable.status, StatusCode::OK);
    assert_eq!(stable.json()["expires_in"], 7200);
    assert_ne!(stable.json()["access_token"].as_str().unwrap(), token);
    let bad = http
        .post(
            "/cgi-bin/stable_token",
            r#"{"grant_type":"client_credential","appid":"wxtestbed","secret":"x"}"#,
        )
        .await;
    assert_eq!((bad.status, bad.errcode()), (StatusCode::OK, 40013));
    let garbled = http.post("/cgi-bin/stable_token", "{not json").await;
    assert_eq!((garbled.status, garbled.errcode()), (StatusCode::OK, 47001));
    let wrong_method = http.get("/cgi-bin/stable_token", None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers["allow"], "POST");

    let expected = Stats {
        tokens_issued: TokensIssued {
            platform: 3,
            session: 0,
        },
        requests: Requests {
            token: 6,
            stable_token: 3,
            other: 1,
            ..Requests::default()
        },
        auth_failures: AuthFailures {
            bad_credentials: 6,
            ..AuthFailures::default()
        },
        unknown_ids: 0,
        orders: 0,
        ..Stats::default()
    };
    assert_eq!(http.stats().await, expected);
    assert_eq!(tb.stats(), expected, "/stats itself is not counted");
    assert_eq!(expected.auth_failures_total(), 6);
    tb.shutdown().await;
}

#[tokio::test]
async fn orders_need_a_valid_access_token() {
    let tb = start(HOUR2).await;
    let http = Http::new(&tb);
    let at = http.access_token().await;
    let session = http.login().await;
    let ids = http.goods_ids(&session, 1).await;
    let order = |token: &str| format!("/api/order?access_token={token}");

    let first = http
        .post(
            &order(&at),
            format!(r#"{{"goods_id":"{}","quantity":2}}"#, ids[3]),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let first = first.json();
    assert_eq!(
        (first["errcode"].as_i64(), first["errmsg"].as_str()),
        (Some(0), Some("ok"))
    );
    let second = http
        .post(&order(&at), format!(r#"{{"goods_id":"{}"}}"#, ids[0]))
        .await
        .json();
    assert_eq!(second["errcode"], 0);
    assert_ne!(first["order_id"], second["order_id"]);

    let body = format!(r#"{{"goods_id":"{}","quantity":1}}"#, ids[0]);
    let invalid = "invalid credential, access_token is invalid or not latest";
    for (path, errcode, errmsg) in [
        (order("garbage"), 40001, invalid),
        ("/api/order".to_string(), 41001, "access_token missing"),
        (order(""), 41001, "access_token missing"),
        // A session token is not a platform token.
        (order(&session), 40001, invalid),
    ] {
        let a = http.post(&path, body.clone()).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert_eq!(
            (a.errcode(), a.errmsg().as_str()),
            (errcode, errmsg),
            "{path}"
        );
    }

    let unknown = http
        .post(&order(&at), r#"{"goods_id":"g1x0deadbeef00","quantity":1}"#)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.errmsg(), "no such goods");
    for bad_body in ["{oops", r#"{"goods_id":"x","quantity":0}"#] {
        let a = http.post(&order(&at), bad_body).await;
        assert_eq!(
            (a.status, a.errcode()),
            (StatusCode::BAD_REQUEST, 47001),
            "{bad_body}"
        );
    }
    // The token is checked before the body is even read.
    let a = http.post(&order("garbage"), "{oops").await;
    assert_eq!((a.status, a.errcode()), (StatusCode::OK, 40001));

    let expected = Stats {
        tokens_issued: TokensIssued {
            platform: 1,
            session: 1,
        },
        requests: Requests {
            token: 1,
            login: 1,
            goods_list: 1,
            order: 10,
            ..Requests::default()
        },
        auth_failures: AuthFailures {
            missing: 2,
            invalid: 3,
            ..AuthFailures::default()
        },
        unknown_ids: 1,
        orders: 2,
        ..Stats::default()
    };
    assert_eq!(http.stats().await, expected);
    tb.shutdown().await;
}

#[tokio::test]
async fn shop_flow_with_bearer() {
    let tb = start(HOUR2).await;
    let http = Http::new(&tb);

    let page = http.get("/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    let html = String::from_utf8(page.body.to_vec()).unwrap();
    for needle in [
        "loadtape testbed shop",
        r#"id="log""#,
        r#"id="status""#,
        "/api/login",
    ] {
        assert!(html.contains(needle), "{needle}");
    }

    let session = http.login().await;
    for bad in [r#"{"code":""}"#, "{}", "not json", r#"{"code":5}"#] {
        let a = http.post("/api/login", bad).await;
        assert_eq!(
            (a.status, a.errcode()),
            (StatusCode::BAD_REQUEST, 40029),
            "{bad}"
        );
        assert_eq!(a.errmsg(), "invalid code");
    }

    let list = http.get("/api/goods", Some(&session)).await.json();
    assert_eq!(list["errcode"], 0);
    let items = list["data"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    for item in items {
        assert!(item["id"].as_str().unwrap().len() >= 12, "{item}");
        assert!(item["name"].is_string() && item["price"].is_u64(), "{item}");
        assert!(item.get("stock").is_none());
    }
    let page2 = http.goods_ids(&session, 2).await;
    assert!(page2
        .iter()
        .all(|id| items.iter().all(|i| i["id"] != id.as_str())));
    for bad_page in ["0", "abc"] {
        let a = http
            .get(&format!("/api/goods?page={bad_page}"), Some(&session))
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad_page}");
    }

    let first = &items[0];
    let detail = http
        .get(
            &format!("/api/goods/{}", first["id"].as_str().unwrap()),
            Some(&session),
        )
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{detail:?}");
    let detail = detail.json();
    assert_eq!(detail["errcode"], 0);
    assert_eq!(
        (
            &detail["data"]["id"],
            &detail["data"]["name"],
            &detail["data"]["price"]
        ),
        (&first["id"], &first["name"], &first["price"])
    );
    assert!(detail["data"]["stock"].is_u64());
    let made_up = http.get("/api/goods/g1x0abcdefabcd", Some(&session)).await;
    assert_eq!(made_up.status, StatusCode::NOT_FOUND);
    assert_eq!(made_up.errmsg(), "no such goods");

    // Bearer failures: 401 with a readable reason.
    let missing = http.get("/api/goods", None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.errmsg(), "missing token");
    assert_eq!(missing.headers["www-authenticate"], "Bearer");
    let missing_detail = http
        .get(
            &format!("/api/goods/{}", first["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(missing_detail.status, StatusCode::UNAUTHORIZED);
    let garbage = http.get("/api/goods", Some("garbage")).await;
    assert_eq!(
        (garbage.status, garbage.errmsg().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid token")
    );
    let platform = http.access_token().await;
    let wrong_kind = http.get("/api/goods", Some(&platform)).await;
    assert_eq!(
        (wrong_kind.status, wrong_kind.errmsg().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid token")
    );

    // Unknown paths and wrong methods.
    for path in ["/nope", "/api/goods/", "/api/goods/a/b"] {
        let a = http.get(path, None).await;
        assert_eq!(
            (a.status, a.errmsg().as_str()),
            (StatusCode::NOT_FOUND, "not found"),
            "{path}"
        );
    }
    let post_unknown = http.post("/nope", "{}").await;
    assert_eq!(
        post_unknown.status,
        StatusCode::NOT_FOUND,
        "any method on an unknown path"
    );
    let wrong_method = http.post("/api/goods", "").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers["allow"], "GET");

    let expected = Stats {
        tokens_issued: TokensIssued {
            platform: 1,
            session: 1,
        },
        requests: Requests {
            token: 1,
            login: 5,
            // page 1, page 2, page 0, page abc, no bearer, garbage, platform token
            goods_list: 7,
            // listed id, made-up id, no bearer
            goods_detail: 3,
            page: 1,
            other: 5,
            ..Requests::default()
        },
        auth_failures: AuthFailures {
            missing: 2,
            invalid: 2,
            ..AuthFailures::default()
        },
        unknown_ids: 1,
        orders: 0,
        ..Stats::default()
    };
    assert_eq!(http.stats().await, expected);
    assert_eq!(http.stats().await, expected, "/stats is not counted");
    tb.shutdown().await;
}

#[tokio::test]
async fn tokens_really_expire() {
    let ttl = Duration::from_millis(400);
    let tb = start(ttl).await;
    let http = Http::new(&tb);
    let issued = Instant::now();
    let token = http.get(TOKEN_QUERY, None).await.json();
    assert_eq!(token["expires_in"], 1, "sub-second TTLs announce 1 s");
    let at = token["access_token"].as_str().unwrap().to_string();
    let session = http.login().await;
    let ids = http.goods_ids(&session, 1).await;
    let order_body = format!(r#"{{"goods_id":"{}","quantity":1}}"#, ids[0]);
    let order = |t: &str| format!("/api/order?access_token={t}");
    let ok = http.post(&order(&at), order_body.clone()).await;
    assert_eq!(ok.errcode(), 0, "{ok:?}");
    assert!(
        issued.elapsed() < ttl,
        "setup took longer than the TTL; the test is meaningless"
    );

    tokio::time::sleep(ttl + Duration::from_millis(50)).await;

    let list = http.get("/api/goods", Some(&session)).await;
    assert_eq!(
        (list.status, list.errmsg().as_str()),
        (StatusCode::UNAUTHORIZED, "token expired")
    );
    let detail = http
        .get(&format!("/api/goods/{}", ids[0]), Some(&session))
        .await;
    assert_eq!(
        (detail.status, detail.errmsg().as_str()),
        (StatusCode::UNAUTHORIZED, "token expired")
    );
    let late = http.post(&order(&at), order_body.clone()).await;
    assert_eq!(late.status, StatusCode::OK);
    assert_eq!(
        (late.errcode(), late.errmsg().as_str()),
        (42001, "access_token expired")
    );

    // Fresh tokens work again; ids do not expire.
    let session2 = http.login().await;
    assert_eq!(http.goods_ids(&session2, 1).await, ids);
    let detail = http
        .get(&format!("/api/goods/{}", ids[0]), Some(&session2))
        .await;
    assert_eq!(detail.status, StatusCode::OK);
    let at2 = http.access_token().await;
    assert_eq!(http.post(&order(&at2), order_body).await.errcode(), 0);

    let expected = Stats {
        tokens_issued: TokensIssued {
            platform: 2,
            session: 2,
        },
        requests: Requests {
            token: 2,
            login: 2,
            goods_list: 3,
            goods_detail: 2,
            order: 3,
            ..Requests::default()
        },
        auth_failures: AuthFailures {
            expired: 3,
            ..AuthFailures::default()
        },
        unknown_ids: 0,
        orders: 2,
        ..Stats::default()
    };
    assert_eq!(http.stats().await, expected);
    tb.shutdown().await;
}

#[tokio::test]
async fn revoke_invalidates_earlier_tokens() {
    let tb = start(HOUR2).await;
    let http = Http::new(&tb);
    let at = http.access_token().await;
    let session = http.login().await;
    let ids = http.goods_ids(&session, 1).await;
    let order_body = format!(r#"{{"goods_id":"{}","quantity":1}}"#, ids[0]);
    let order = |t: &str| format!("/api/order?access_token={t}");

    let revoked = http.post("/admin/revoke", "").await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(revoked.json(), serde_json::json!({"revoked_before": 1}));

    let old_bearer = http.get("/api/goods", Some(&session)).await;
    assert_eq!(
        (old_bearer.status, old_bearer.errmsg().as_str()),
        (StatusCode::UNAUTHORIZED, "token revoked")
    );
    let old_at = http.post(&order(&at), order_body.clone()).await;
    assert_eq!((old_at.status, old_at.errcode()), (StatusCode::OK, 40001));

    let session2 = http.login().await;
    let ids2 = http.goods_ids(&session2, 1).await;
    assert_eq!(ids2, ids, "revoking tokens does not change the catalogue");
    let at2 = http.access_token().await;
    assert_eq!(http.post(&order(&at2), order_body).await.errcode(), 0);

    assert_eq!(
        http.get("/admin/revoke", None).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        http.post("/admin/revoke", "").await.json()["revoked_before"],
        2
    );
    let a = http.get("/api/goods", Some(&session2)).await;
    assert_eq!(a.errmsg(), "token revoked");

    let expected = Stats {
        tokens_issued: TokensIssued {
            platform: 2,
            session: 2,
        },
        requests: Requests {
            token: 2,
            login: 2,
            goods_list: 4,
            order: 2,
            revoke: 2,
            other: 1,
            ..Requests::default()
        },
        auth_failures: AuthFailures {
            revoked: 3,
            ..AuthFailures::default()
        },
        unknown_ids: 0,
        orders: 1,
        ..Stats::default()
    };
    assert_eq!(http.stats().await, expected);
    tb.shutdown().await;
}

#[tokio::test]
async fn h2c_and_oversized_bodies() {
    let tb = start(HOUR2).await;
    let h2 = Http::h2c(&tb);
    let at = h2.access_token().await;
    let session = h2.login().await;
    assert_eq!(h2.goods_ids(&session, 1).await.len(), 10);

    let huge = vec![b' '; loadtape_testbed::MAX_BODY + 1];
    let h1 = Http::new(&tb);
    for path in [
        "/api/login".to_string(),
        format!("/api/order?access_token={at}"),
    ] {
        for client in [&h1, &h2] {
            let a = client.post(&path, huge.clone()).await;
            assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        }
    }
    // Exactly the limit is accepted (and then rejected as not JSON).
    let a = h1
        .post("/api/login", vec![b' '; loadtape_testbed::MAX_BODY])
        .await;
    assert_eq!((a.status, a.errcode()), (StatusCode::BAD_REQUEST, 40029));

    let expected = Stats {
        tokens_issued: TokensIssued {
            platform: 1,
            session: 1,
        },
        requests: Requests {
            token: 1,
            login: 4,
            goods_list: 1,
            order: 2,
            ..Requests::default()
        },
        ..Stats::default()
    };
    assert_eq!(h1.stats().await, expected);
    tb.shutdown().await;
}

#[tokio::test]
async fn shutdown_is_prompt_and_closes_the_port() {
    let tb = start(HOUR2).await;
    let addr = tb.local_addr();
    assert_eq!(tb.base_url(), format!("http://127.0.0.1:{}", addr.port()));
    // Leave a keep-alive connection open (h1) and an h2 one.
    let h1 = Http::new(&tb);
    let h2 = Http::h2c(&tb);
    h1.access_token().await;
    h2.access_token().await;

    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), tb.shutdown())
        .await
        .expect("shutdown returns");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn ipv6_base_url_has_brackets() {
    let config = loadtape_testbed::Config {
        listen: "[::1]:0".parse().unwrap(),
        ..Default::default()
    };
    // Some sandboxes have no IPv6 loopback; nothing to test there.
    let Ok(tb) = loadtape_testbed::Testbed::start(config).await else {
        return;
    };
    let url = tb.base_url();
    assert_eq!(url, format!("http://[::1]:{}", tb.local_addr().port()));
    assert_eq!(
        Http::new(&tb).get("/stats", None).await.status,
        StatusCode::OK
    );
    tb.shutdown().await;
}
