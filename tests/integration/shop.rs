//! The testbed's litemall-shaped shop (`/wx/`, every answer HTTP 200 with an `errno`) through
//! the whole pipeline, with real processes: the TLS testbed with 2-second tokens, the
//! recording proxy, a curl client that logs in, saves an address, checks out, submits an order
//! and prepays it, reading each id out of the answer with sed as the mini program would. Then
//! `loadtape convert` and `loadtape run --vus 4 --duration 8s`, judged by the testbed's own
//! `/stats`: no errno but the token expiries the engine absorbed, one order per iteration, each
//! to the address its own iteration saved. A control with the recorded addressId put back is
//! refused with errno 402, and loadtape's check errors equal the server's count exactly.

use std::path::Path;

use serde_json::Value;

use crate::pipeline::{count, delta, entry, in_dir, record_script, replay, stats, tls_testbed};

/// The mini program's HTTP functions, as shell: every call through the proxy.
pub const VIA: &str = r#"
via() { curl -sf --max-time 10 --proxy "http://$PROXY" --cacert certs/loadtape-ca.pem \
  -H 'referer: https://servicewechat.com/wx3a7b5c9d1e2f4a6b/3/page-frame.html' "$@"; }
post() { via -H 'content-type: application/json' "$@"; }
"#;

/// litemall's own login: a code and the user's profile, no signed material.
const LOGIN: &str = r#"
login=$(post -d '{"code":"081Kq2Ga1Rk8gB0Ztk1a1nQ3Ga1Kq2Gq","userInfo":{"nickName":"tester","avatarUrl":""}}' \
  "$BASE/wx/auth/login_by_weixin")
"#;

/// The shop flow after a login answered `$login`, as shell: puts goods in the cart, saves an
/// address, checks out, orders, prepays. Prints the token, the address id and the order id it
/// used.
pub const FLOW: &str = r#"
token=$(printf '%s' "$login" | sed -E 's/.*"token":"([^"]+)".*/\1/')
auth=(-H "X-Litemall-Token: $token")
post "${auth[@]}" -d '{"goodsId":1181000,"productId":1,"number":1}' "$BASE/wx/cart/add" \
  | grep -q '"errno":0'
address=$(post "${auth[@]}" -d '{"id":0,"name":"tester","tel":"13800000000","province":"北京市","city":"北京市","county":"东城区","addressDetail":"1 Main St","isDefault":true}' \
  "$BASE/wx/address/save" | sed -E 's/.*"data":([0-9]+).*/\1/')
via "${auth[@]}" "$BASE/wx/cart/checkout?cartId=0&addressId=$address&couponId=0&grouponRulesId=0" \
  | grep -q '"errno":0'
order=$(post "${auth[@]}" -d "{\"cartId\":0,\"addressId\":$address,\"couponId\":0,\"message\":\"\",\"grouponRulesId\":0,\"grouponLinkId\":0}" \
  "$BASE/wx/order/submit" | sed -E 's/.*"orderId":([0-9]+).*/\1/')
post "${auth[@]}" -d "{\"orderId\":$order}" "$BASE/wx/order/prepay" | grep -q '"errno":0'
echo "$token $address $order"
"#;

/// The flow's steps after the login, as `convert` names them.
pub const STEPS: [&str; 5] = ["add", "save", "checkout", "submit", "prepay"];

/// Records the flow; returns the three values the client used (token, address id, order id).
fn record(dir: &Path, base: &str) -> Vec<String> {
    let client = format!("{VIA}{LOGIN}{FLOW}");
    let (lines, printed) = record_script(dir, base, "shop.yaml", &client, 6);
    assert!(lines[5].contains("/wx/order/prepay"), "{lines:?}");
    let values: Vec<String> = printed.split_whitespace().map(String::from).collect();
    assert_eq!(values.len(), 3, "{printed}");
    values
}

/// Converts `shop.yaml` and checks what the replay depends on; returns the scenario's text.
fn convert(dir: &Path, values: &[String]) -> String {
    let out = in_dir(dir, &["convert", "shop.yaml"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let s = std::fs::read_to_string(dir.join("shop.scenario.yaml")).unwrap();
    assert!(
        !s.contains(values[0].as_str()),
        "the token left as recorded:\n{s}"
    );
    for wanted in [
        "[x-litemall-token, '{{ token }}']",
        "token: {json: '$.data.token'}",
        "addressId: {json: '$.data'}",
        "addressId={{ addressId }}&",
        "addressId: '{{ addressId }}'",
        "orderId: {json: '$.data.orderId'}",
        "orderId: '{{ orderId }}'",
    ] {
        assert!(s.contains(wanted), "no {wanted}:\n{s}");
    }
    assert_eq!(
        s.matches("json: {path: '$.errno', equals: 0}").count(),
        STEPS.len(),
        "{s}"
    );
    assert!(
        s.contains("in: [401, 501,"),
        "501 refreshes the token:\n{s}"
    );
    s
}

/// The 8-second run of `scenario` with 4 VUs: see [`run_shop`].
fn run_8s(dir: &Path, base: &str, scenario: &str) -> (i32, Value, Value, Value) {
    run_shop(dir, base, scenario, &["--vus", "4", "--duration", "8s"])
}

/// The run of `scenario` with `args`: the exit code, the result, and `/stats` after and
/// before it. Prints what a reader of a failure wants first.
pub fn run_shop(
    dir: &Path,
    base: &str,
    scenario: &str,
    args: &[&str],
) -> (i32, Value, Value, Value) {
    let before = stats(dir, base);
    let (code, result) = replay(dir, scenario, args);
    let after = stats(dir, base);
    let errors: Vec<u64> = STEPS
        .iter()
        .map(|s| count(&entry(&result, "steps", s)["errors"]))
        .collect();
    eprintln!(
        "{scenario}: exit {code}; iterations {} requests {} retries {} restarted {}; step errors \
         {errors:?} ({STEPS:?}); /stats delta: shop {}; auth_failures {}",
        result["iterations"],
        result["total"]["requests"],
        result["total"]["retries"],
        result["total"]["restarted"],
        diff(&after["shop"], &before["shop"]),
        diff(&after["auth_failures"], &before["auth_failures"]),
    );
    (code, result, after, before)
}

/// The counters of `after` minus those of `before`, nested objects included.
fn diff(after: &Value, before: &Value) -> Value {
    match (after, before) {
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .map(|(k, v)| (k.clone(), diff(v, &b[k])))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        _ => (count(after) - count(before)).into(),
    }
}

/// Every nonzero errno of the run was a token expiry (501, counted as an expired credential,
/// never a missing or forged one), and the engine absorbed each: as many retries + restarts.
pub fn expiries_absorbed(result: &Value, after: &Value, before: &Value) -> u64 {
    let d = |p: &[&str]| delta(after, before, p);
    for kind in ["missing", "invalid", "revoked"] {
        assert_eq!(d(&["auth_failures", kind]), 0, "{kind}: {after}");
    }
    let expired = d(&["shop", "errno", "501"]);
    assert_eq!(d(&["auth_failures", "expired"]), expired, "{after}");
    let total = &result["total"];
    let absorbed = count(&total["retries"]) + count(&total["restarted"]);
    assert_eq!(absorbed, expired, "{result}");
    expired
}

#[test]
fn litemall_errno_shop_recorded_converted_and_replayed_by_its_own_counts() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (tb, base) = tls_testbed(dir, "2s");

    let values = record(dir, &base);
    let recorded = stats(dir, &base);
    assert_eq!(recorded["shop"]["errno_nonzero"], 0, "{recorded}");
    assert_eq!(recorded["shop"]["prepaid"], 1, "{recorded}");
    let scenario = convert(dir, &values);

    as_converted(dir, &base);
    with_the_recorded_address(dir, &base, &scenario, &values[1]);

    let (code, _) = tb.terminate();
    assert!(
        code == 0 || code == 143 || code == -1,
        "testbed exit {code}"
    );
}

/// As converted: no errno but absorbed expiries, an order per iteration, each to the address
/// its own iteration saved; the run passes.
fn as_converted(dir: &Path, base: &str) {
    let (code, result, after, before) = run_8s(dir, base, "shop.scenario.yaml");
    let d = |p: &[&str]| delta(&after, &before, p);
    let expired = expiries_absorbed(&result, &after, &before);
    assert_eq!(d(&["shop", "errno_nonzero"]), expired, "{after}");
    for step in STEPS {
        assert_eq!(count(&entry(&result, "steps", step)["errors"]), 0, "{step}");
    }
    let iterations = count(&result["iterations"]);
    let orders = d(&["shop", "orders"]);
    assert!(iterations >= 20, "{result}");
    // An order per finished iteration, plus at most one per VU cut off by the end of the run
    // and one per iteration restarted after its submit (a new session, a new address).
    let restarted = count(&result["total"]["restarted"]);
    assert!(
        (iterations..=iterations + 4 + restarted).contains(&orders),
        "{orders} orders, {iterations} iterations, {restarted} restarted"
    );
    assert_eq!(d(&["shop", "stale_addresses"]), 0, "{after}");
    assert_eq!(
        d(&["shop", "logins"]),
        count(&entry(&result, "tokens", "login_by_weixin")["requests"])
    );
    assert_eq!(code, 0, "{result}");
}

/// The control: the recorded address id put back is another session's, so every checkout and
/// submit answers errno 402; each is exactly one check error (the submit's missing orderId
/// ends the iteration before prepay), and the threshold fails the run.
fn with_the_recorded_address(dir: &Path, base: &str, scenario: &str, address: &str) {
    let stale = scenario
        .replace(
            "addressId={{ addressId }}&",
            &format!("addressId={address}&"),
        )
        .replace(
            "addressId: '{{ addressId }}'",
            &format!("addressId: {address}"),
        );
    assert!(!stale.contains("={{ addressId }}") && !stale.contains("'{{ addressId }}'"));
    std::fs::write(dir.join("stale.scenario.yaml"), stale).unwrap();
    let (code, result, after, before) = run_8s(dir, base, "stale.scenario.yaml");
    let d = |p: &[&str]| delta(&after, &before, p);
    let expired = expiries_absorbed(&result, &after, &before);
    let refused = d(&["shop", "errno", "402"]);
    assert!(refused >= 20, "{after}");
    assert_eq!(d(&["shop", "errno_nonzero"]), refused + expired, "{after}");
    let check_errors: u64 = STEPS
        .iter()
        .map(|s| count(&entry(&result, "steps", s)["errors"]))
        .sum();
    assert_eq!(
        check_errors, refused,
        "loadtape's check errors vs the server's errno 402"
    );
    assert_eq!(d(&["shop", "orders"]), 0, "{after}");
    assert_eq!(code, 99, "the error-rate threshold fails");
}

/// One shop call by curl straight to a plain-HTTP testbed: asserts HTTP 200 (every litemall
/// answer is) and returns the body as JSON.
fn wx(base: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Value {
    let url = format!("{base}{path}");
    let header = token.map(|t| format!("X-Litemall-Token: {t}"));
    let mut args = vec![url.as_str()];
    if let Some(h) = &header {
        args.extend(["-H", h]);
    }
    if let Some(b) = body {
        args.extend(["-H", "content-type: application/json", "-d", b]);
    }
    let (text, status) = crate::util::curl_status(&args);
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

/// The refusals, each HTTP 200 with litemall's errno and counted by code: no token, a forged
/// one and one of another kind get 501; another user's address or order, or an order of an
/// empty cart, 402; a string id, a body that is not JSON or half the login material 401;
/// login material that does not check -1 (litemall's `fail()`); an unknown path 404.
#[test]
fn shop_refusals_are_http_200_errnos_counted_by_code() {
    let (tb, base) = crate::util::testbed(&["--token-ttl", "60s"]);
    let login = |code: &str| {
        let body = format!(r#"{{"code":"{code}","userInfo":{{"nickName":"t"}}}}"#);
        let v = wx(&base, "/wx/auth/login_by_weixin", None, Some(&body));
        assert_eq!(v["errno"], 0, "{v}");
        assert_eq!(v["data"]["userInfo"]["nickName"], "t", "{v}");
        v["data"]["token"].as_str().unwrap().to_string()
    };
    let (a, b) = (login("c1"), login("c2"));
    let add = r#"{"goodsId":1181000,"productId":1,"number":1}"#;
    assert_eq!(wx(&base, "/wx/cart/add", Some(&a), Some(add))["data"], 1);
    let save = wx(&base, "/wx/address/save", Some(&a), Some(r#"{"name":"x"}"#));
    let address = save["data"].as_u64().unwrap_or_else(|| panic!("{save}"));
    let checkout = format!("/wx/cart/checkout?cartId=0&addressId={address}&couponId=0");
    let listed = wx(&base, &checkout, Some(&a), None);
    assert_eq!(listed["data"]["addressId"], address, "{listed}");
    assert_eq!(
        listed["data"]["checkedGoodsList"][0]["number"], 1,
        "{listed}"
    );
    let submit = format!(r#"{{"addressId":{address}}}"#);
    let order = wx(&base, "/wx/order/submit", Some(&a), Some(&submit))["data"]["orderId"]
        .as_u64()
        .unwrap();
    let prepay = format!(r#"{{"orderId":{order}}}"#);
    // A changed first character alters the MAC (the last one may only alter unused bits).
    let first = if a.starts_with('A') { "B" } else { "A" };
    let forged = format!("{first}{}", &a[1..]);
    let errno = |path: &str, token: Option<&str>, body: Option<&str>| {
        let v = wx(&base, path, token, body);
        (
            v["errno"].as_i64().unwrap(),
            v["errmsg"].as_str().unwrap().to_string(),
        )
    };
    let login_path = "/wx/auth/login_by_weixin";
    let refused = [
        (errno(&checkout, None, None), 501),
        (errno(&checkout, Some(&forged), None), 501),
        (errno(&checkout, Some("not-a-token"), None), 501),
        (errno(&checkout, Some(&b), None), 402),
        (errno("/wx/order/submit", Some(&b), Some(&submit)), 402),
        (errno("/wx/order/prepay", Some(&b), Some(&prepay)), 402),
        (
            errno("/wx/order/prepay", Some(&a), Some(r#"{"orderId":1}"#)),
            402,
        ),
        (errno("/wx/order/submit", Some(&a), Some(&submit)), 402),
        (
            errno("/wx/order/submit", Some(&a), Some(r#"{"addressId":"1"}"#)),
            401,
        ),
        (errno("/wx/address/save", Some(&a), Some("not json")), 401),
        (
            errno(login_path, None, Some(r#"{"code":"c3","rawData":"{}"}"#)),
            401,
        ),
        (
            errno(
                login_path,
                None,
                Some(
                    r#"{"code":"c3","rawData":"{}","signature":"00","encryptedData":"AA==","iv":"AA=="}"#,
                ),
            ),
            -1,
        ),
        (errno("/wx/nope", Some(&a), None), 404),
    ];
    for ((got, msg), want) in &refused {
        assert_eq!(got, want, "{msg}");
    }
    assert_eq!(refused[0].0 .1, "请登录");
    assert_eq!(refused[3].0 .1, "参数值不对");
    assert_eq!(refused[11].0 .1, "错误");
    assert_eq!(
        wx(&base, "/wx/order/prepay", Some(&a), Some(&prepay))["errno"],
        0
    );

    refusals_counted(&base);
    platform_refusals(&base);
    let (code, _) = tb.terminate();
    assert!(
        code == 0 || code == 143 || code == -1,
        "testbed exit {code}"
    );
}

/// What [`shop_refusals_are_http_200_errnos_counted_by_code`] did, in `/stats`.
fn refusals_counted(base: &str) {
    let (_, out) = crate::util::curl(&[&format!("{base}/stats")]);
    let s: Value = serde_json::from_str(&out).unwrap();
    let shop = &s["shop"];
    assert_eq!(shop["errno_nonzero"], 13, "{shop}");
    assert_eq!(
        shop["errno"],
        serde_json::json!({"-1": 1, "401": 3, "402": 5, "404": 1, "501": 3})
    );
    let counts = [
        "logins",
        "users",
        "bad_logins",
        "cart_adds",
        "addresses",
        "checkouts",
        "orders",
        "empty_carts",
        "prepaid",
    ]
    .map(|k| &shop[k]);
    assert_eq!(
        counts,
        [2, 2, 1, 1, 1, 1, 1, 1, 1].map(Value::from).each_ref(),
        "{shop}"
    );
    assert_eq!(s["auth_failures"]["missing"], 1, "{s}");
    assert_eq!(s["auth_failures"]["invalid"], 2, "{s}");
}

/// `GET /sns/jscode2session` as WeChat answers it: a session key and the code's openid for
/// this app's credentials, errcode 40013 for others, 40029 for an empty code.
fn platform_refusals(base: &str) {
    let session = |query: &str| -> Value {
        let (_, out) = crate::util::curl(&[&format!("{base}/sns/jscode2session?{query}")]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let good = "appid=wxtestbed&secret=testbed-secret&grant_type=authorization_code";
    let a = session(&format!("{good}&js_code=c1"));
    assert_eq!(a["session_key"].as_str().map(str::len), Some(24), "{a}");
    assert_eq!(a, session(&format!("{good}&js_code=c1")));
    assert_ne!(
        a["openid"],
        session(&format!("{good}&js_code=c2"))["openid"]
    );
    let wrong = "appid=wxtestbed&secret=nope&grant_type=authorization_code&js_code=c1";
    assert_eq!(session(wrong)["errcode"], 40013);
    assert_eq!(session(&format!("{good}&js_code="))["errcode"], 40029);
}
