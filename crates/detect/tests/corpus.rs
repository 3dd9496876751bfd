//! The detection corpus (tests/fixtures/detect/*.yaml): for each recording, the exact findings
//! (class, uses, origin exchange and JSONPath, confidence) and the exact scenario pieces
//! conversion makes of them. Every converted scenario goes through the validating loader.

#[path = "support/corpus.rs"]
mod support;

use std::time::Duration;

use loadtape_detect::{Class, ConvertOptions, Dropped, Options, Platform, TokenCsv};
use loadtape_scenario::{Expiry, Scope};
use support::*;

fn secs(s: u64) -> Option<Duration> {
    Some(Duration::from_secs(s))
}

fn expiry(e: &Option<Expiry>) -> Option<String> {
    e.as_ref().map(|e| e.to_string())
}

const WECHAT_REFRESH: &str = "$.errcode in [40001,40014,42001]";

/// Recorded once through the real proxy in front of the TLS testbed
/// (tests/fixtures/detect/record-testbed.sh): the scenario must cover every value the testbed
/// checks (session bearer and cookie, goods ids, access_token).
#[test]
fn testbed_flow_recorded_through_the_proxy() {
    let (rec, a) = load("testbed");
    assert_eq!(
        a.mini_program
            .as_ref()
            .map(|m| (m.platform, m.appid.as_str())),
        Some((Platform::WeChat, "wx5f3c9a1b2d4e6f70"))
    );
    assert_eq!(
        rows(&a),
        [
            "appid | appid | token: query appid |  | 95",
            "code | generated (login code) | login: json $.code |  | 85",
            "token | session token | goods: header authorization (Bearer); goods_detail: header authorization (Bearer); profile: cookie tb_session | login: json $.token | 90",
            "goods_id | correlated | goods_detail: path segment 3; order: json $.goods_id | goods: json $.data[0].id | 90",
            "access_token | platform token | order: query access_token | token: json $.access_token | 95",
        ]
    );
    assert_eq!(a.warnings.len(), 1);
    assert!(a.warnings[0].contains("--token-csv"), "{}", a.warnings[0]);

    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    assert_eq!(s.variables["appid"].to_string(), "wx5f3c9a1b2d4e6f70");
    assert_eq!(s.variables["secret"].to_string(), "testbed-secret");
    let names: Vec<(&str, Scope)> = s
        .tokens
        .iter()
        .map(|t| (t.name.as_str(), t.scope))
        .collect();
    assert_eq!(names, [("token", Scope::Shared), ("login", Scope::PerVu)]);
    let at = &s.tokens[0];
    assert_eq!(
        url(&at.request),
        "https://localhost:19443/cgi-bin/token?grant_type=client_credential&appid={{ appid }}&secret={{ secret }}"
    );
    assert_eq!(
        extracts(&at.extract),
        [
            "access_token = json $.access_token",
            "expires_in = json $.expires_in"
        ]
    );
    assert_eq!(expiry(&at.expires_in).as_deref(), Some("{{ expires_in }}s"));
    assert_eq!(at.refresh_before, secs(60));
    let refresh = at.refresh_on.as_ref().unwrap();
    assert_eq!(refresh.status, [401]);
    assert_eq!(rules(&refresh.json), [WECHAT_REFRESH]);
    let login = &s.tokens[1];
    assert_eq!(body(&login.request), r#"{"code":"{{ uuid() }}"}"#);
    assert_eq!(
        extracts(&login.extract),
        ["token = json $.token", "expires_in = json $.expires_in"]
    );

    let steps: Vec<&str> = s.steps.iter().map(|st| st.name.as_str()).collect();
    assert_eq!(steps, ["goods", "goods_detail", "profile", "order"]);
    let goods = &s.steps[0];
    assert!(headers(&goods.request).contains(&"authorization: Bearer {{ token }}".to_string()));
    assert_eq!(extracts(&goods.extract), ["goods_id = json $.data[0].id"]);
    let check = goods.check.as_ref().unwrap();
    assert_eq!(
        (check.status.as_slice(), rules(&check.json)),
        (&[200][..], vec!["$.errcode == 0".to_string()])
    );
    assert_eq!(goods.think, Some(Duration::from_millis(414)));
    let detail = &s.steps[1];
    assert_eq!(
        url(&detail.request),
        "https://localhost:19443/api/goods/{{ goods_id }}"
    );
    // The detail answers the id its request sent: an echo, not a new origin.
    assert!(extracts(&detail.extract).is_empty());
    // The session cookie comes from a token step, so it is rendered, not left to the jar.
    assert!(headers(&s.steps[2].request)
        .contains(&"cookie: tb_session={{ token }}; tb_lang=zh_CN".to_string()));
    let order = &s.steps[3];
    assert_eq!(
        url(&order.request),
        "https://localhost:19443/api/order?access_token={{ access_token }}"
    );
    assert_eq!(
        body(&order.request),
        r#"{"goods_id":"{{ goods_id }}","quantity":1}"#
    );
    assert_eq!(order.think, None);
    // Headers the client computes are not copied.
    assert!(s.steps.iter().all(|st| st
        .request
        .headers
        .iter()
        .all(|(n, _)| n != "content-length")));
}

#[test]
fn wechat_login_code_to_a_session_token_in_a_custom_header() {
    let (rec, a) = load("wechat-login");
    assert_eq!(
        rows(&a),
        [
            "js_code | generated (login code) | login: json $.js_code |  | 85",
            "appid | appid | login: json $.appid |  | 95",
            "sessionKey | session token | cart: header x-session; orders: header x-session | login: json $.data.sessionKey | 90",
            "openid | correlated | orders: query openid | login: json $.data.openid | 90",
        ]
    );
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    assert_eq!(s.tokens.len(), 1);
    let t = &s.tokens[0];
    assert_eq!((t.name.as_str(), t.scope), ("login", Scope::PerVu));
    assert_eq!(
        body(&t.request),
        r#"{"js_code":"{{ uuid() }}","appid":"{{ appid }}"}"#
    );
    // The openid the login also returns is extracted by the token step, which left the flow.
    assert_eq!(
        extracts(&t.extract),
        [
            "sessionKey = json $.data.sessionKey",
            "openid = json $.data.openid",
            "expires_in = json $.data.expiresIn"
        ]
    );
    // 1800 s: the margin is capped at 60 s.
    assert_eq!(t.refresh_before, secs(60));
    // The answers' own `code` field, with the codes that mean "log in again".
    assert_eq!(
        rules(&t.refresh_on.as_ref().unwrap().json),
        [WECHAT_REFRESH, "$.code in [401,501,40001,40014,42001,-14]"]
    );
    assert!(headers(&s.steps[0].request).contains(&"x-session: {{ sessionKey }}".to_string()));
    assert_eq!(
        url(&s.steps[1].request),
        "https://api.shop.example.com/v1/orders?openid={{ openid }}&status=all"
    );
    assert_eq!(s.steps[0].think, Some(Duration::from_secs(5)), "capped");
    assert!(
        c.yaml().contains("# `js_code` is a single-use login code"),
        "{}",
        c.yaml()
    );
}

#[test]
fn wechat_platform_token_never_fetched_gets_a_stable_token_step() {
    let (rec, a) = load("wechat-platform");
    assert_eq!(
        rows(&a),
        [
            "access_token | platform token | msg_sec_check: query access_token; getuserphonenumber: query access_token |  | 85",
            "code | generated (login code) | getuserphonenumber: json $.code |  | 85",
        ]
    );
    assert!(a.warnings[0].contains("never fetched"), "{}", a.warnings[0]);
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    assert_eq!(
        s.variables["secret"].to_string(),
        "{{ env(\"WX_SECRET\") }}"
    );
    let t = &s.tokens[0];
    assert_eq!((t.name.as_str(), t.scope), ("stable_token", Scope::Shared));
    assert_eq!(
        url(&t.request),
        "https://api.weixin.qq.com/cgi-bin/stable_token"
    );
    assert_eq!(
        body(&t.request),
        r#"{"grant_type":"client_credential","appid":"{{ appid }}","secret":"{{ secret }}"}"#
    );
    assert_eq!(
        rules(&t.refresh_on.as_ref().unwrap().json),
        [WECHAT_REFRESH]
    );
    assert_eq!(
        url(&s.steps[0].request),
        "https://api.mall.example.com/wxa/msg_sec_check?access_token={{ access_token }}"
    );
    // errcode 0 recorded: checked; errcode 42001 recorded: only the status is.
    assert_eq!(
        rules(&s.steps[0].check.as_ref().unwrap().json),
        ["$.errcode == 0"]
    );
    assert!(s.steps[1].check.as_ref().unwrap().json.is_empty());
}

/// PTS "method 2": the platform token becomes a CSV column instead of a token step.
#[test]
fn token_csv_turns_the_platform_token_into_a_data_column() {
    let (rec, a) = load("wechat-platform");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("tokens.csv");
    let opts = ConvertOptions {
        recording: Some("wechat-platform.yaml".into()),
        token_csv: Some(TokenCsv {
            path: "tokens.csv".into(),
        }),
        ..Default::default()
    };
    let c = loadtape_detect::convert(&rec, &a, &opts);
    assert_eq!(c.csv_columns, ["access_token"]);
    assert_eq!(
        c.csv_row,
        ["78_kV0aHkJqT3mYbXw9Lr2sNcD4fGh6JpQ8uZ1eA5iO7tS3vW0x"]
    );
    std::fs::write(&csv, format!("access_token\n{}\n", c.csv_row[0])).unwrap();
    let file = dir.path().join("s.scenario.yaml");
    std::fs::write(&file, c.yaml()).unwrap();
    let s = loadtape_scenario::load_scenario(&file).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.tokens.is_empty());
    assert_eq!(s.data["tokens"].csv, "tokens.csv");
    assert_eq!(
        url(&s.steps[0].request),
        "https://api.mall.example.com/wxa/msg_sec_check?access_token={{ tokens.access_token }}"
    );
    assert!(c.yaml().contains("# Pre-fetched tokens (PTS method 2)"));
}

/// `--token-csv` takes the login's exchange out of the flow, so what else only it issued
/// (WeChat's `openid` beside the session key) is a column of the CSV too: before, `orders`
/// sent `{{ openid }}`, which nothing defined, and the scenario did not load.
#[test]
fn token_csv_carries_every_value_the_replaced_login_issued() {
    let (rec, a) = load("wechat-login");
    let opts = ConvertOptions {
        recording: Some("wechat-login.yaml".into()),
        token_csv: Some(TokenCsv {
            path: "tokens.csv".into(),
        }),
        ..Default::default()
    };
    let c = loadtape_detect::convert(&rec, &a, &opts);
    assert_eq!(c.csv_columns, ["sessionKey", "openid"]);
    assert_eq!(c.csv_row[1], "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    let dir = tempfile::tempdir().unwrap();
    let row = c.csv_row.join(",");
    std::fs::write(
        dir.path().join("tokens.csv"),
        format!("sessionKey,openid\n{row}\n"),
    )
    .unwrap();
    let file = dir.path().join("s.scenario.yaml");
    std::fs::write(&file, c.yaml()).unwrap();
    let s = loadtape_scenario::load_scenario(&file).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.tokens.is_empty(), "the CSV replaces the login");
    let orders = s.steps.iter().find(|s| s.name == "orders").unwrap();
    assert!(
        url(&orders.request).contains("openid={{ tokens.openid }}"),
        "{}",
        url(&orders.request)
    );
}

#[test]
fn alipay_oauth_token() {
    let (rec, a) = load("alipay-oauth");
    assert_eq!(
        a.mini_program
            .as_ref()
            .map(|m| (m.platform, m.appid.as_str())),
        Some((Platform::Alipay, "2021001234567890"))
    );
    assert_eq!(
        rows(&a),
        [
            "appid | appid | alipay_system_oauth_token: form app_id; alipay_user_info_share: form app_id |  | 95",
            "code | generated (login code) | alipay_system_oauth_token: form code |  | 85",
            "sign | generated (signature) | alipay_system_oauth_token: form sign |  | 90",
            "access_token | platform token | alipay_user_info_share: form auth_token | alipay_system_oauth_token: json $.alipay_system_oauth_token_response.access_token | 95",
            "sign_2 | generated (signature) | alipay_user_info_share: form sign |  | 90",
            "user_id | correlated | points: query user_id | alipay_user_info_share: json $.alipay_user_info_share_response.user_id | 90",
        ]
    );
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    let t = &s.tokens[0];
    // An Alipay user token belongs to one user: per VU.
    assert_eq!(
        (t.name.as_str(), t.scope),
        ("alipay_system_oauth_token", Scope::PerVu)
    );
    assert_eq!(
        extracts(&t.extract),
        [
            "access_token = json $.alipay_system_oauth_token_response.access_token",
            "expires_in = json $.alipay_system_oauth_token_response.expires_in"
        ]
    );
    assert!(body(&t.request).contains("&code={{ uuid() }}&"));
    assert!(body(&t.request).starts_with("app_id={{ appid }}&method=alipay.system.oauth.token"));
    let refresh = t.refresh_on.as_ref().unwrap();
    assert_eq!(
        rules(&refresh.json),
        [r#"$..sub_code in ["aop.invalid-auth-token","aop.auth-token-time-out"]"#]
    );
    let share = &s.steps[0];
    assert!(body(&share.request).contains("&auth_token={{ access_token }}&sign=QWxpcGF5"));
    assert_eq!(
        extracts(&share.extract),
        ["user_id = json $.alipay_user_info_share_response.user_id"]
    );
    assert_eq!(
        url(&s.steps[1].request),
        "https://api.shop.example.com/v1/points?user_id={{ user_id }}"
    );
    let yaml = c.yaml();
    assert!(
        yaml.contains("# `sign` is a signature, sent as recorded"),
        "{yaml}"
    );
    assert!(
        yaml.contains("# `sign_2` is a signature, sent as recorded"),
        "{yaml}"
    );
}

#[test]
fn jwt_bearer_with_exp() {
    let (rec, a) = load("jwt-bearer");
    assert_eq!(
        rows(&a),
        [
            "jwt | session token | feed: header authorization (Bearer); feed_2: header authorization (Bearer) | sessions: json $.data.jwt | 90",
            "cursor | correlated | feed_2: query cursor | feed: json $.data.next_cursor | 90",
        ]
    );
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let t = &c.scenario.tokens[0];
    assert_eq!((t.name.as_str(), t.scope), ("sessions", Scope::PerVu));
    assert_eq!(extracts(&t.extract), ["jwt = json $.data.jwt"]);
    // No expires_in: the engine reads the JWT's exp. A 120 s lifetime gets a 24 s margin.
    assert_eq!(t.expires_in, None);
    assert_eq!(t.refresh_before, secs(24));
    let r = t.refresh_on.as_ref().unwrap();
    assert_eq!((r.status.as_slice(), r.json.len()), (&[401][..], 0));
    let s = &c.scenario;
    assert!(headers(&s.steps[0].request).contains(&"authorization: Bearer {{ jwt }}".to_string()));
    assert_eq!(
        url(&s.steps[1].request),
        "https://api.example.com/v2/feed?cursor={{ cursor }}"
    );
}

#[test]
fn cookie_session() {
    let (rec, a) = load("cookie-session");
    assert_eq!(
        rows(&a),
        [
            "JSESSIONID | session token | catalog: cookie JSESSIONID; address: cookie JSESSIONID | login: set-cookie JSESSIONID | 90",
            "csrf_token | session token | catalog: cookie csrf_token; address: header x-csrf-token; address: cookie csrf_token | login: set-cookie csrf_token | 90",
            "SERVERID | correlated | address: cookie SERVERID | catalog: set-cookie SERVERID | 90",
        ]
    );
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    let t = &s.tokens[0];
    assert_eq!((t.name.as_str(), t.scope), ("login", Scope::PerVu));
    assert_eq!(
        extracts(&t.extract),
        [
            "JSESSIONID = cookie JSESSIONID",
            "csrf_token = cookie csrf_token"
        ]
    );
    // No lifetime recorded: refreshed on 401 only.
    assert_eq!((t.expires_in.as_ref(), t.refresh_before), (None, None));
    // The sticky cookie a flow step set is left to the jar: no extractor, no Cookie pair.
    assert!(s.steps[0].extract.is_empty());
    assert_eq!(
        headers(&s.steps[1].request),
        [
            "content-type: application/json",
            "x-csrf-token: {{ csrf_token }}",
            "cookie: JSESSIONID={{ JSESSIONID }}; csrf_token={{ csrf_token }}"
        ]
    );
    assert!(c
        .yaml()
        .contains("# Cookie SERVERID left to the VU's cookie jar"));
}

#[test]
fn correlated_ids_list_detail_cart_order() {
    let (rec, a) = load("correlated-ids");
    assert_eq!(
        rows(&a),
        [
            "sku | correlated | products_detail: path segment 3; cart: json $.sku | products: json $.items[1].sku | 90",
            "variantId | correlated | cart: json $.variantId | products_detail: json $.variants[0].variantId | 90",
            "cartId | correlated | orders: json $.cartId | cart: json $.cartId | 90",
            "orderNo | correlated | orders_detail: path segment 3 | orders: json $.orderNo | 90",
        ]
    );
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    assert!(s.tokens.is_empty());
    let pieces: Vec<(String, Vec<String>)> = s
        .steps
        .iter()
        .map(|st| (url(&st.request), extracts(&st.extract)))
        .collect();
    let base = "https://api.store.example.com/v1";
    assert_eq!(
        pieces,
        [
            (
                format!("{base}/products?page=1"),
                vec!["sku = json $.items[1].sku".to_string()]
            ),
            (
                format!("{base}/products/{{{{ sku }}}}"),
                vec!["variantId = json $.variants[0].variantId".to_string()]
            ),
            (
                format!("{base}/cart"),
                vec!["cartId = json $.cartId".to_string()]
            ),
            (
                format!("{base}/orders"),
                vec!["orderNo = json $.orderNo".to_string()]
            ),
            (format!("{base}/orders/{{{{ orderNo }}}}"), vec![]),
        ]
    );
    assert_eq!(
        body(&s.steps[2].request),
        r#"{"sku":"{{ sku }}","variantId":"{{ variantId }}","qty":1}"#
    );
    assert_eq!(s.steps[3].check.as_ref().unwrap().status, [201]);
}

#[test]
fn timestamp_nonce_and_signature() {
    let (rec, a) = load("signed");
    assert_eq!(
        rows(&a),
        [
            "appid | appid | coupons: query appid |  | 95",
            "timestamp | generated (timestamp s) | coupons: query timestamp |  | 95",
            "nonce_str | generated (nonce) | coupons: query nonce_str |  | 90",
            "sign | generated (signature) | coupons: query sign |  | 90",
            "couponId | correlated | claim: json $.couponId | coupons: json $.coupons[0].couponId | 90",
            "ts | generated (timestamp ms) | claim: json $.ts |  | 95",
            "requestId | generated (nonce) | claim: json $.requestId |  | 90",
            "signature | generated (signature) | claim: json $.signature |  | 90",
        ]
    );
    assert_eq!(a.warnings.len(), 2);
    assert!(a.warnings.iter().all(|w| w.contains("signing rule")));
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    assert_eq!(
        url(&s.steps[0].request),
        "https://api.pay.example.com/v1/coupons?appid={{ appid }}&timestamp={{ now_s() }}&nonce_str={{ uuid() }}&sign=C380BEC2BFD727A4B6845133519F3AD6"
    );
    assert_eq!(
        body(&s.steps[1].request),
        r#"{"couponId":"{{ couponId }}","ts":"{{ now_ms() }}","requestId":"{{ uuid() }}","signature":"b1946ac92492d2347c6235b4d2611184"}"#
    );
    // The appid is a variable everywhere, the Referer included.
    assert!(headers(&s.steps[1].request)
        .contains(&"referer: https://servicewechat.com/{{ appid }}/3/page-frame.html".to_string()));
    let yaml = c.yaml();
    assert!(
        yaml.contains("# `signature` is a signature, sent as recorded"),
        "{yaml}"
    );
}

#[test]
fn noise_is_dropped_and_common_values_are_not_tokens() {
    let (rec, a) = load("noise");
    let dropped: Vec<(&str, Option<Dropped>)> = a
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.dropped))
        .collect();
    assert_eq!(
        dropped,
        [
            ("logo", Some(Dropped::StaticAsset)),
            ("fonts_detail", Some(Dropped::StaticAsset)),
            ("app", Some(Dropped::StaticAsset)),
            ("home", None),
            ("collect", Some(Dropped::Beacon)),
            ("banner_detail", None),
            ("track", Some(Dropped::Beacon)),
            ("feed", None),
        ]
    );
    // The app version and device id (sent before any response echoed them) and the result
    // word (in every response) are not findings; only the banner id is.
    assert_eq!(
        rows(&a),
        ["banner | correlated | banner_detail: path segment 3 | home: json $.banner | 90"]
    );
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let steps: Vec<&str> = c.scenario.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(steps, ["home", "banner_detail", "feed"]);
    assert_eq!(
        url(&c.scenario.steps[2].request),
        "https://api.example.com/v1/feed?last=operation_success&v=3.14.159-release"
    );
    // --keep-static keeps everything.
    let (_, all) = load_with(
        "noise",
        &Options {
            keep_static: true,
            token_step: None,
            ..Default::default()
        },
    );
    assert!(all.steps.iter().all(|s| s.dropped.is_none()));
}

#[test]
fn token_step_forces_the_origin_to_be_a_token_step() {
    let opts = Options {
        keep_static: false,
        token_step: Some("1".into()),
        ..Default::default()
    };
    let (rec, a) = load_with("correlated-ids", &opts);
    assert_eq!(a.findings[0].class, Class::SessionToken);
    assert_eq!(a.findings[0].reason, "issued by the --token-step step");
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    assert_eq!(c.scenario.tokens[0].name, "products");
    assert_eq!(
        extracts(&c.scenario.tokens[0].extract),
        ["sku = json $.items[1].sku"]
    );
    assert_eq!(c.scenario.steps[0].name, "products_detail");

    let rec = loadtape_recording::read_recording(fixture("correlated-ids")).unwrap();
    let err = loadtape_detect::analyze(
        &rec,
        &Options {
            keep_static: false,
            token_step: Some("nope".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.contains("`nope` names no step"), "{err}");
}

/// The examples in recordings/ are what `loadtape convert` writes today.
#[test]
fn examples_in_recordings_are_current() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../recordings");
    for name in [
        "testbed-shop",
        "wechat-login",
        "wechat-platform",
        "alipay-oauth",
        "jwt-bearer",
        "cookie-session",
        "correlated-ids",
        "signed",
    ] {
        let rec = loadtape_recording::read_recording(dir.join(format!("{name}.yaml"))).unwrap();
        let a = loadtape_detect::analyze(&rec, &Options::default()).unwrap();
        let c = convert_checked(
            &rec,
            &a,
            &ConvertOptions {
                recording: Some(format!("{name}.yaml")),
                ..Default::default()
            },
        );
        let file = dir.join(format!("{name}.scenario.yaml"));
        let on_disk = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            on_disk,
            c.yaml(),
            "{} is stale: run `loadtape convert recordings/{name}.yaml --force`",
            file.display()
        );
    }
}

#[test]
fn a_token_fetched_again_is_one_token() {
    let (rec, a) = load("refetch");
    // No Referer: the appid comes from the token request.
    assert_eq!(
        a.mini_program
            .as_ref()
            .map(|m| (m.platform, m.appid.as_str())),
        Some((Platform::WeChat, "wx8f3a61c2b0d9e475"))
    );
    assert_eq!(
        rows(&a),
        [
            "appid | appid | token: query appid; token_2: query appid |  | 95",
            "access_token | platform token | msg_sec_check: query access_token; msg_sec_check_2: query access_token | token: json $.access_token; token_2: json $.access_token | 95",
        ]
    );
    assert_eq!(
        a.findings[1].aliases,
        ["78_SecondTokenEEEEffffGGGGhhhh2222"]
    );
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    assert_eq!(s.tokens.len(), 1);
    assert_eq!(
        url(&s.tokens[0].request),
        "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid={{ appid }}&secret={{ secret }}"
    );
    let steps: Vec<(&str, String)> = s
        .steps
        .iter()
        .map(|st| (st.name.as_str(), url(&st.request)))
        .collect();
    let check = "https://api.weixin.qq.com/wxa/msg_sec_check?access_token={{ access_token }}";
    assert_eq!(
        steps,
        [
            ("msg_sec_check", check.to_string()),
            ("msg_sec_check_2", check.to_string())
        ]
    );
}

/// The pre-fetched-token example (PTS "method 2") in recordings/ is what
/// `loadtape convert recordings/wechat-platform.yaml -o recordings/wechat-platform-csv.scenario.yaml
/// --token-csv recordings/wechat-platform-tokens.csv` writes today, and it loads with its CSV.
#[test]
fn the_token_csv_example_in_recordings_is_current() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../recordings");
    let rec = loadtape_recording::read_recording(dir.join("wechat-platform.yaml")).unwrap();
    let a = loadtape_detect::analyze(&rec, &Options::default()).unwrap();
    let c = loadtape_detect::convert(
        &rec,
        &a,
        &ConvertOptions {
            recording: Some("wechat-platform.yaml".into()),
            token_csv: Some(TokenCsv {
                path: "wechat-platform-tokens.csv".into(),
            }),
            ..Default::default()
        },
    );
    let file = dir.join("wechat-platform-csv.scenario.yaml");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        c.yaml(),
        "{} is stale",
        file.display()
    );
    assert_eq!(c.csv_columns, ["access_token"]);
    let csv = std::fs::read_to_string(dir.join("wechat-platform-tokens.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("access_token"));
    let loaded = loadtape_scenario::load_scenario(&file).unwrap();
    assert!(loaded.tokens.is_empty(), "the CSV replaces the token step");
    assert_eq!(loaded.data.len(), 1);
}

#[test]
fn an_id_in_a_refreshed_list_and_its_echoing_detail_is_still_correlated() {
    let (rec, a) = load("list-refresh");
    assert_eq!(
        rows(&a),
        ["goods_id | correlated | goods_detail: path segment 3; cart: json $.goods_id | goods_2: json $.data[1].id | 90"]
    );
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let pieces: Vec<(String, Vec<String>)> = c
        .scenario
        .steps
        .iter()
        .map(|st| (url(&st.request), extracts(&st.extract)))
        .collect();
    let base = "https://api.shop.example.com/v1";
    assert_eq!(
        pieces,
        [
            (format!("{base}/goods?page=1"), vec![]),
            (
                format!("{base}/goods?page=1"),
                vec!["goods_id = json $.data[1].id".to_string()]
            ),
            // The detail page echoes the id its request sent: not an origin.
            (format!("{base}/goods/{{{{ goods_id }}}}"), vec![]),
            (format!("{base}/cart"), vec![]),
        ]
    );
    assert_eq!(
        body(&c.scenario.steps[3].request),
        r#"{"goods_id":"{{ goods_id }}","qty":1}"#
    );
}

/// A litemall-shaped shop (every answer HTTP 200 with an `errno`): each step checks
/// `errno == 0`, the token's `refresh_on` knows the shop's "log in again" codes, and the ids the
/// flow creates (the address `address/save` answers as its whole `data`, the order
/// `order/submit` answers) are carried, however short.
#[test]
fn business_errors_in_http_200_and_ids_the_flow_creates() {
    let (rec, a) = load("shop-errno");
    assert_eq!(
        rows(&a),
        [
            "code | generated (login code) | login_by_weixin: json $.code |  | 85",
            "token | session token | save: header x-litemall-token; checkout: header x-litemall-token; submit: header x-litemall-token; prepay: header x-litemall-token | login_by_weixin: json $.data.token | 90",
            "addressId | correlated | checkout: query addressId; submit: json $.addressId | save: json $.data | 85",
            "orderId | correlated | prepay: json $.orderId | submit: json $.data.orderId | 85",
        ]
    );
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    for st in &s.steps {
        let check = st.check.as_ref().unwrap();
        assert_eq!(rules(&check.json), ["$.errno == 0"], "{}", st.name);
    }
    let refresh = s.tokens[0].refresh_on.as_ref().unwrap();
    assert!(
        rules(&refresh.json).contains(&"$.errno in [401,501,40001,40014,42001,-14]".to_string())
    );
    assert_eq!(extracts(&s.steps[0].extract), ["addressId = json $.data"]);
    assert_eq!(
        url(&s.steps[1].request),
        "https://shop.example.com/wx/cart/checkout?cartId=0&addressId={{ addressId }}&couponId=0&grouponRulesId=0"
    );
    assert_eq!(
        body(&s.steps[2].request),
        r#"{"cartId":0,"addressId":"{{ addressId }}","couponId":0,"message":"","grouponRulesId":0,"grouponLinkId":0}"#
    );
    assert_eq!(
        extracts(&s.steps[2].extract),
        ["orderId = json $.data.orderId"]
    );
    assert_eq!(body(&s.steps[3].request), r#"{"orderId":"{{ orderId }}"}"#);
    assert_eq!(s.thresholds.as_deref().unwrap_or_default().len(), 1);
    assert_eq!(
        s.thresholds.as_deref().unwrap_or_default()[0].to_string(),
        "error_rate < 1%"
    );
}

/// wx.getUserInfo-style login material ties every VU to the recorded user: said so, its
/// `signature` is not taken for a signing rule, and `--login-csv` makes it a per-VU data
/// source with the recorded user as the starter row.
#[test]
fn user_bound_login_material_and_the_login_csv() {
    let (rec, a) = load("wechat-userinfo");
    let warned: Vec<&String> = a
        .warnings
        .iter()
        .filter(|w| w.contains("--login-csv"))
        .collect();
    assert_eq!(warned.len(), 1, "{:?}", a.warnings);
    assert!(
        warned[0].contains("(rawData, signature, encryptedData, iv)"),
        "{}",
        warned[0]
    );
    assert!(
        warned[0].contains("every VU will be that one user"),
        "{}",
        warned[0]
    );
    assert!(
        !a.warnings.iter().any(|w| w.contains("signing rule")),
        "{:?}",
        a.warnings
    );
    // (The loader wants the CSV to exist: `loadtape convert` writes it; here it is not.)
    let c = loadtape_detect::convert(
        &rec,
        &a,
        &ConvertOptions {
            login_csv: Some(TokenCsv {
                path: "logins.csv".into(),
            }),
            ..Default::default()
        },
    );
    assert_eq!(
        c.login_columns,
        ["rawData", "signature", "encryptedData", "iv"]
    );
    assert_eq!(c.login_row[1], "75e81ceda165f4ffa64f4068af58c64b8f54b88c");
    let s = &c.scenario;
    assert_eq!(s.data["logins"].csv, "logins.csv");
    assert_eq!(s.tokens.len(), 1);
    assert_eq!(
        body(&s.tokens[0].request),
        r#"{"code":"{{ uuid() }}","rawData":"{{ logins.rawData }}","signature":"{{ logins.signature }}","encryptedData":"{{ logins.encryptedData }}","iv":"{{ logins.iv }}"}"#
    );
    // Without the CSV the material is sent as recorded (and the warning says what that means).
    let plain = convert_checked(&rec, &a, &ConvertOptions::default());
    assert!(plain.scenario.data.is_empty());
    assert!(body(&plain.scenario.tokens[0].request)
        .contains("75e81ceda165f4ffa64f4068af58c64b8f54b88c"));
}
