//! The real-world corpus (tests/fixtures/realworld, provenance in its README): captures
//! nobody on this project wrote, each held to what a correct conversion does with it, value by
//! value (class, origin step and place, every use, the template written).

#[path = "support/corpus.rs"]
mod support;

use std::collections::HashMap;

use loadtape_detect::{Analysis, Class, ConvertOptions, Finding};
use loadtape_recording::Recording;
use loadtape_scenario::{BodyTemplate, Scope};
use support::*;

const WXGAME: &str = "forestlioooooo-har-file-fetcher-wxgame-session1-2019-01-07.har";
const WEBVIEW: &str = "zhaohexiang-zhx-zhgd_mp_ggh-login.har";
const WORDPRESS: &str = "Blazemeter-CorrelationRecorder-wordpress-recording-1698345455862.har";
const WORDPRESS_REPLAY: &str = "Blazemeter-CorrelationRecorder-wordpress-replay-1698345458421.har";
const ENCODE_DECODE: &str = "Blazemeter-CorrelationRecorder-recording-encode-decode.har";

/// The rows of the findings `convert` applies, cookie-jar cookies apart.
fn applied_rows(a: &Analysis) -> Vec<String> {
    let keep: Vec<&Finding> = a.applied().filter(|f| !jar(f)).collect();
    rows(a)
        .into_iter()
        .zip(&a.findings)
        .filter(|(_, f)| keep.contains(f))
        .map(|(r, _)| r)
        .collect()
}

fn jar(f: &Finding) -> bool {
    loadtape_detect::rides_cookie_jar(f)
}

fn body_text(r: &loadtape_scenario::RequestTemplate) -> String {
    match &r.body {
        Some(BodyTemplate::Text(t)) => t.to_string(),
        _ => body(r),
    }
}

/// Renders a step's JSON body with `vars`, as the engine sends it.
fn render_json(r: &loadtape_scenario::RequestTemplate, vars: &[(&str, &str)]) -> String {
    let Some(BodyTemplate::Json(j)) = &r.body else {
        panic!("not a JSON body");
    };
    let mut out = Vec::new();
    j.render(vars, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn response_json(rec: &Recording, i: usize) -> &serde_json::Value {
    rec.exchanges[i]
        .response
        .as_ref()
        .and_then(|r| r.body.as_ref())
        .and_then(|b| b.as_json())
        .unwrap()
}

#[test]
fn wechat_mini_game_login_chain_session_id_and_heartbeat_time() {
    let (rec, a) = load_realworld(WXGAME);
    assert_eq!(
        a.mini_program.as_ref().map(|m| m.appid.as_str()),
        Some("wx6ffff35bc5a94176")
    );
    // Charles exported the JSON bodies as `params` names: imported as the JSON that was sent
    // (#1's was cut at `; ` by Charles and is joined back to its Content-Length).
    assert_eq!(
        rec.exchanges[1]
            .request
            .body
            .as_ref()
            .unwrap()
            .as_json()
            .unwrap()["phoneVersion"],
        "iPhone; CPU iPhone OS 9_1 like Mac OS X"
    );
    assert_eq!(
        rows(&a),
        [
            "code | generated (login code) | protocol: json $.code |  | 85",
            "account | correlated | protocol_2: json $.account; protocol_2: json $.password | protocol: json $.rspList[0].openId | 90",
            "tokenId | session token | protocol_3: query sessionId; protocol_4: query sessionId; protocol_5: query sessionId; protocol_6: query sessionId; protocol_7: query sessionId; protocol_8: query sessionId | protocol_2: json $.rspList[0].tokenId | 90",
            "time | generated (timestamp s) | protocol_5: json $.time |  | 95",
            "cuid | static | prcv: query cuid |  | 40",
            "BAIDUID | static | prcv: cookie BAIDUID |  | 40",
        ]
    );
    assert!(a.findings.iter().all(|f| f.value != "undefined"));
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    // The login sends the openId the wx.login exchange answered: both are per-VU token
    // steps, in that order.
    let tokens: Vec<(&str, Scope)> = s
        .tokens
        .iter()
        .map(|t| (t.name.as_str(), t.scope))
        .collect();
    assert_eq!(
        tokens,
        [("protocol", Scope::PerVu), ("protocol_2", Scope::PerVu)]
    );
    assert_eq!(
        body(&s.tokens[0].request),
        r#"{"className":"ReqWxAccount","code":"{{ uuid() }}","login":true}"#
    );
    assert_eq!(
        extracts(&s.tokens[0].extract),
        ["account = json $.rspList[0].openId"]
    );
    let login = &s.tokens[1];
    assert!(url(&login.request).ends_with("?sessionId=undefined"));
    assert!(body(&login.request).starts_with(
        r#"{"className":"ReqLoginAccount","account":"{{ account }}","password":"{{ account }}""#
    ));
    assert_eq!(
        extracts(&login.extract),
        ["tokenId = json $.rspList[0].tokenId"]
    );
    let steps: Vec<&str> = s.steps.iter().map(|st| st.name.as_str()).collect();
    assert_eq!(
        steps,
        [
            "protocol_3",
            "protocol_4",
            "protocol_5",
            "protocol_6",
            "prcv",
            "protocol_7",
            "protocol_8"
        ]
    );
    for st in s.steps.iter().filter(|st| st.name.starts_with("protocol")) {
        assert!(
            url(&st.request).ends_with("?sessionId={{ tokenId }}"),
            "{}",
            st.name
        );
    }
    // The heartbeat's Unix time is sent as a number, as recorded, made at send time.
    let heart = &s.steps[2];
    assert_eq!(
        body(&heart.request),
        r#"{"className":"ReqHeart","time":"{{ now_s() }}"}"#
    );
    let sent = render_json(&heart.request, &[]);
    let v: serde_json::Value = serde_json::from_str(&sent).unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((v["time"].as_i64().unwrap() - now).abs() < 60, "{sent}");
}

#[test]
fn wechat_webview_login_token_in_query_and_page_set_cookie() {
    let (rec, a) = load_realworld(WEBVIEW);
    assert_eq!(
        rows(&a),
        [
            "JSESSIONID | static | login: cookie JSESSIONID; get_all_list: cookie JSESSIONID; get_app_index_info: cookie JSESSIONID |  | 40",
            "timestamp | generated (timestamp ms) | login: form _timestamp; get_all_list: query _timestamp; get_app_index_info: query _timestamp |  | 95",
            "sign | generated (signature) | login: form _sign |  | 90",
            "password | static | login: form password |  | 40",
            "sign_2 | generated (signature) | get_all_list: query _sign |  | 90",
            "token | session token | get_all_list: query token; get_all_list: cookie iigiptv_access_token; get_app_index_info: query token; get_app_index_info: cookie iigiptv_access_token | login: json $.results.data.token | 90",
            "sign_3 | generated (signature) | get_app_index_info: query _sign |  | 90",
            "appInformationKey | correlated | get_app_index_info: query appInformationKey | login: json $.results.data.user.appInformationKey | 90",
        ]
    );
    // Three signatures to write by hand, said so.
    assert_eq!(
        a.warnings
            .iter()
            .filter(|w| w.contains("signature"))
            .count(),
        3
    );
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    assert_eq!(s.tokens.len(), 1);
    let login = &s.tokens[0];
    assert_eq!(login.scope, Scope::PerVu);
    assert!(body_text(&login.request).starts_with(
        "_timestamp={{ now_ms() }}&_sign=9f66ca82115e8ed69b67b09c1ac77c97&loginName="
    ));
    assert_eq!(
        extracts(&login.extract),
        [
            "token = json $.results.data.token",
            "appInformationKey = json $.results.data.user.appInformationKey"
        ]
    );
    let list = &s.steps[0];
    assert!(url(&list.request).contains("_timestamp={{ now_ms() }}"));
    assert!(url(&list.request).contains("&token={{ token }}&"));
    assert!(headers(&list.request).contains(
        &"cookie: JSESSIONID=84ADF5436646C37C78A8F0D2B27972EE; iigiptv_access_token={{ token }}"
            .to_string()
    ));
    assert!(url(&s.steps[1].request).contains("appInformationKey={{ appInformationKey }}"));
}

#[test]
fn wordpress_nonces_in_pages_and_the_short_post_id() {
    let (rec, a) = load_realworld(WORDPRESS);
    let mut rows = applied_rows(&a);
    // The posts listed on edit.php are correlated (the first row) or left as recorded (no
    // short context singles out a middle row); they are asserted apart.
    rows.retain(|r| !r.starts_with("data_wp_check_locked_posts"));
    assert_eq!(
        rows,
        [
            "nonce | correlated | admin_ajax: form _nonce; admin_ajax_3: form _nonce | edit: body text `nonce`; edit_2: body text `nonce` | 90",
            "x_wp_nonce | correlated | me: header x-wp-nonce; users: header x-wp-nonce; posts_detail: header x-wp-nonce; post_tag: header x-wp-nonce; posts_detail_2: header x-wp-nonce | post_new: body text `nonce` | 90",
            "wpnonce | correlated | admin_ajax_2: form _wpnonce | post_new: body text `_wpnonce` | 90",
            "active_post_lock | correlated | admin_ajax_2: form active_post_lock | post_new: body text `activePostLock` | 90",
            "wpnonce_2 | correlated | wp_login_3: query _wpnonce | edit_2: body text `_wpnonce` | 90",
            "post | correlated | posts_detail: path segment 6; posts_detail_2: path segment 6; posts_detail_2: json $.id; admin_ajax_2: form post_ID; admin_ajax_3: form data[wp-check-locked-posts][] | post_new: body text `post` | 85",
        ]
    );
    // Login cookies are the jar's: one list, not a finding each.
    let mut cookies: Vec<&str> = a
        .applied()
        .filter(|f| jar(f))
        .flat_map(|f| f.uses.iter().filter_map(|u| u.place.key()))
        .collect();
    cookies.sort_unstable();
    cookies.dedup();
    assert_eq!(
        cookies,
        [
            "wordpress_e4d778cd935f422a58cd04a30651eb2b",
            "wordpress_logged_in_e4d778cd935f422a58cd04a30651eb2b",
            "wordpress_test_cookie",
            "wp-settings-10",
            "wp-settings-time-10"
        ]
    );
    let table = loadtape_detect::render_table(&a);
    assert!(table.contains("left to the cookie jar"), "{table}");
    assert!(table.lines().all(|l| l.chars().count() <= 120), "{table}");

    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    assert!(s.tokens.is_empty());
    let step = |name: &str| s.steps.iter().find(|st| st.name == name).unwrap();
    // Every page extractor singles its value out on the recorded page.
    let mut page_extracts = extracts(&step("post_new").extract);
    page_extracts.sort();
    assert_eq!(
        page_extracts,
        [
            r#"active_post_lock = regex activePostLock":"([0-9\:]+) group 1"#,
            r#"post = regex post_ID' value='([0-9]+) group 1"#,
            r#"wpnonce = regex ,"unlockNonce":"([A-Za-z0-9]+) group 1"#,
            r#"x_wp_nonce = regex /","nonce":"([A-Za-z0-9]+) group 1"#,
        ]
    );
    assert!(extracts(&step("edit_2").extract)
        .contains(&r"wpnonce_2 = regex \&\#038;_wpnonce=([A-Za-z0-9]+) group 1".to_string()));
    assert_eq!(
        url(&step("posts_detail").request),
        "http://34.82.149.156/index.php/wp-json/wp/v2/posts/{{ post }}?_locale=user"
    );
    assert!(body(&step("posts_detail_2").request)
        .starts_with(r#"{"id":"{{ post }}","title":"Title 2""#));
    let lock = body_text(&step("admin_ajax_2").request);
    for part in [
        "name=\"_wpnonce\"\r\n\r\n{{ wpnonce }}\r\n",
        "name=\"post_ID\"\r\n\r\n{{ post }}\r\n",
        "name=\"active_post_lock\"\r\n\r\n{{ active_post_lock }}\r\n",
    ] {
        assert!(lock.contains(part), "{part:?} in {lock}");
    }
    let heartbeat = body_text(&step("admin_ajax_3").request);
    assert!(heartbeat.starts_with("data%5Bwp-check-locked-posts%5D%5B%5D=post-{{ post }}&"));
    assert!(heartbeat.contains("&_nonce={{ nonce }}&"));
    assert_eq!(
        url(&step("wp_login_3").request),
        "http://34.82.149.156/wp-login.php?action=logout&_wpnonce={{ wpnonce_2 }}"
    );
    // The session cookies are not written into any request: the jar sends them.
    assert!(s.steps.iter().all(|st| headers(&st.request)
        .iter()
        .all(|h| !h.contains("wordpress_logged_in"))));
    wordpress_replay_failures_are_all_templated(&rec, &c.yaml());
}

/// JMeter's replay of the uncorrelated plan is the ground truth of what breaks: every value
/// a request sent there and got 403 for must be a template in the converted scenario.
fn wordpress_replay_failures_are_all_templated(rec: &Recording, scenario_yaml: &str) {
    let (replay, _) = load_realworld(WORDPRESS_REPLAY);
    let failed: Vec<&loadtape_recording::Exchange> = replay
        .exchanges
        .iter()
        .filter(|e| e.response.as_ref().is_some_and(|r| r.status == 403))
        .collect();
    assert!(failed.len() >= 5, "{}", failed.len());
    let mut stale = HashMap::new();
    for e in &failed {
        if let Some(n) = e.request.headers.get("x-wp-nonce") {
            stale.insert(n.to_string(), "x-wp-nonce");
        }
        let text = e
            .request
            .body
            .as_ref()
            .and_then(|b| b.as_text())
            .unwrap_or("");
        for (k, v) in e
            .request
            .url
            .split(['?', '&'])
            .chain(text.split('&'))
            .filter_map(|p| p.split_once('='))
        {
            if k == "_wpnonce" {
                stale.insert(v.to_string(), "_wpnonce");
            }
        }
        if text.contains("name=\"_wpnonce\"") {
            let v = text
                .split("name=\"_wpnonce\"\r\n\r\n")
                .nth(1)
                .and_then(|r| r.split("\r\n").next());
            stale.insert(v.unwrap().to_string(), "multipart _wpnonce");
        }
    }
    assert_eq!(stale.len(), 3, "{stale:?}");
    // The recording's requests sent them; the scenario's requests do not.
    for (value, what) in &stale {
        assert!(
            rec.exchanges
                .iter()
                .any(|e| e.request.url.contains(value.as_str())
                    || e.request.headers.iter().any(|(_, v)| v == value)
                    || e.request
                        .body
                        .as_ref()
                        .and_then(|b| b.as_text())
                        .is_some_and(|t| t.contains(value.as_str()))),
            "{what} {value}"
        );
        let sent_literally = scenario_yaml
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.contains("regex:"))
            .any(|l| l.contains(value.as_str()));
        assert!(!sent_literally, "{what} {value} is still sent as recorded");
    }
}

#[test]
fn encode_decode_values_pass_through_their_layers() {
    let (rec, a) = load_realworld(ENCODE_DECODE);
    assert_eq!(
        rows(&a),
        [
            "token | session token | data: json $.token | token: json $.token | 90",
            "encodedValue | correlated | data: json $.encodedValue | token: json $.encodedValue | 90",
            "decodeValue | correlated | data: json $.decodeValue | token: json $.decodeValue | 90",
        ]
    );
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let data = &c.scenario.steps[0];
    assert_eq!(
        body(&data.request),
        r#"{"token":"{{ token }}","encodedValue":"{{ url_decode(encodedValue) }}","decodeValue":"{{ form_encode(decodeValue) }}"}"#
    );
    // Fed the recorded response, the template sends exactly the recorded request body.
    let issued = response_json(&rec, 0);
    let get = |k: &str| issued[k].as_str().unwrap();
    let sent = render_json(
        &data.request,
        &[
            ("token", get("token")),
            ("encodedValue", get("encodedValue")),
            ("decodeValue", get("decodeValue")),
        ],
    );
    let recorded = rec.exchanges[1]
        .request
        .body
        .as_ref()
        .unwrap()
        .as_json()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&sent).unwrap(),
        *recorded
    );
}

/// Controls: nothing to correlate, no token step, nothing rewritten but cookies the jar
/// carries.
#[test]
fn controls_find_nothing() {
    for file in [
        "SvenskaSpel-har2locust-reqres.in.har",
        "gatling-recorder-charles42-redirect-post.har",
        "mitmproxy-har_files-chrome.har",
        "mitmproxy-har_files-safari.har",
        "mitmproxy-har_files-charles.har",
    ] {
        let (rec, a) = load_realworld(file);
        assert_eq!(applied_rows(&a), Vec::<String>::new(), "{file}");
        assert!(
            a.findings
                .iter()
                .all(|f| f.class != Class::Correlated || !f.applied() || jar(f)),
            "{file}"
        );
        let c = convert_checked(&rec, &a, &ConvertOptions::default());
        assert!(c.scenario.tokens.is_empty(), "{file}");
        for st in &c.scenario.steps {
            assert!(
                !url(&st.request).contains("{{"),
                "{file}: {}",
                url(&st.request)
            );
        }
    }
    // reqres.in's `register` answers a token nothing uses; __stripe_mid is sent from the
    // start: a suggestion, kept as recorded.
    let (_, a) = load_realworld("SvenskaSpel-har2locust-reqres.in.har");
    assert_eq!(
        rows(&a),
        ["stripe_mid | static | register: cookie __stripe_mid; users_detail: cookie __stripe_mid |  | 40"]
    );
    // gatling: the 303's Set-Cookie rides the jar; analytics cookies are never correlated.
    let (_, a) = load_realworld("gatling-recorder-charles42-redirect-post.har");
    let jarred: Vec<&str> = a
        .applied()
        .filter(|f| jar(f))
        .map(|f| f.variable.as_str())
        .collect();
    assert_eq!(jarred, ["PLAY_FLASH"]);
    assert!(a
        .findings
        .iter()
        .filter(|f| f.variable == "ga" || f.variable == "gid")
        .all(|f| f.class == Class::Static && !f.applied()));
}
