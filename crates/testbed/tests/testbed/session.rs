//! Cookie sessions (`Set-Cookie` on login, `/api/profile` by bearer or cookie, curl's own cookie
//! jar) and gzip negotiation for the larger JSON answers.

use std::io::Read as _;
use std::time::Duration;

use http::{Method, StatusCode};
use loadtape_testbed::{AuthFailures, Requests, Stats, TokensIssued};
use serde_json::Value;

use crate::support::{curl, start, Answer, Http};

const HOUR2: Duration = Duration::from_secs(7200);
const LOGIN_BODY: &str = r#"{"code":"0a1b2c"}"#;

/// `GET /api/profile` with these headers.
async fn profile(http: &Http, headers: &[(&str, &str)]) -> Answer {
    http.send_with(Method::GET, "/api/profile", headers, "")
        .await
}

fn openid_of(a: &Answer) -> String {
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    let openid = a.json()["data"]["openid"]
        .as_str()
        .expect("openid")
        .to_string();
    assert_eq!(
        String::from_utf8(a.body.to_vec()).unwrap(),
        format!(r#"{{"errcode":0,"data":{{"openid":"{openid}","nickname":"tester","level":3}}}}"#)
    );
    assert_eq!(openid.len(), 17, "{openid}");
    assert!(openid.starts_with('o'));
    assert!(openid[1..]
        .bytes()
        .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
    openid
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

#[tokio::test]
async fn login_sets_cookies_and_profile_takes_bearer_or_cookie() {
    let tb = start(HOUR2).await;
    let http = Http::new(&tb);

    let login = http.post("/api/login", LOGIN_BODY).await;
    assert_eq!(login.status, StatusCode::OK);
    let token = login.json()["token"].as_str().unwrap().to_string();
    let cookies: Vec<&str> = login
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        cookies,
        [
            format!("tb_session={token}; Path=/; HttpOnly; SameSite=Lax").as_str(),
            "tb_lang=zh_CN; Path=/; Max-Age=86400",
        ]
    );

    let by_bearer = openid_of(&http.get("/api/profile", Some(&token)).await);
    let session_cookie = format!("tb_session={token}");
    let by_cookie = openid_of(&profile(&http, &[("cookie", &session_cookie)]).await);
    assert_eq!(by_cookie, by_bearer, "one session, one openid");
    let among_others = format!("tb_lang=zh_CN; tb_session={token}; theme=dark");
    let a = profile(&http, &[("cookie", &among_others)]).await;
    assert_eq!(openid_of(&a), by_bearer);
    // HTTP/2 style: one `cookie` line per cookie.
    let split = [("cookie", "tb_lang=zh_CN"), ("cookie", &session_cookie)];
    assert_eq!(openid_of(&profile(&http, &split).await), by_bearer);
    let h2 = Http::h2c(&tb);
    assert_eq!(openid_of(&profile(&h2, &split).await), by_bearer);

    let second = http.login().await;
    let other = openid_of(&http.get("/api/profile", Some(&second)).await);
    assert_ne!(other, by_bearer, "every login is its own user");

    // A bearer wins over the cookie, whichever is the good one.
    let bearer = format!("Bearer {second}");
    let a = profile(
        &http,
        &[("authorization", &bearer), ("cookie", "tb_session=junk")],
    )
    .await;
    assert_eq!(openid_of(&a), other);
    let a = profile(
        &http,
        &[
            ("authorization", "Bearer junk"),
            ("cookie", &session_cookie),
        ],
    )
    .await;
    assert_eq!(
        (a.status, a.errmsg().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid token")
    );

    // The same 401s as the goods endpoints.
    let platform = http.access_token().await;
    let platform_cookie = format!("tb_session={platform}");
    for (headers, errmsg) in [
        (&[][..], "missing token"),
        (&[("cookie", "tb_lang=zh_CN")][..], "missing token"),
        (&[("cookie", "tb_session=")][..], "missing token"),
        (&[("cookie", "TB_SESSION=x")][..], "missing token"),
        (&[("cookie", "tb_session=garbage")][..], "invalid token"),
        (&[("cookie", platform_cookie.as_str())][..], "invalid token"),
    ] {
        let a = profile(&http, headers).await;
        assert_eq!(
            (a.status, a.errmsg().as_str()),
            (StatusCode::UNAUTHORIZED, errmsg),
            "{headers:?}"
        );
        assert_eq!(a.headers["www-authenticate"], "Bearer");
    }
    // The goods endpoints stay bearer-only.
    let list = http
        .send_with(
            Method::GET,
            "/api/goods",
            &[("cookie", &session_cookie)],
            "",
        )
        .await;
    assert_eq!(
        (list.status, list.errmsg().as_str()),
        (StatusCode::UNAUTHORIZED, "missing token")
    );
    assert_eq!(
        http.post("/api/profile", "").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );

    http.post("/admin/revoke", "").await;
    let revoked = profile(&http, &[("cookie", &session_cookie)]).await;
    assert_eq!(
        (revoked.status, revoked.errmsg().as_str()),
        (StatusCode::UNAUTHORIZED, "token revoked")
    );

    let expected = Stats {
        tokens_issued: TokensIssued {
            platform: 1,
            session: 2,
        },
        requests: Requests {
            token: 1,
            login: 2,
            goods_list: 1,
            // bearer, cookie, among others, split h1, split h2, second login, bearer wins
            // twice, six refusals, revoked
            profile: 15,
            revoke: 1,
            other: 1,
            ..Requests::default()
        },
        auth_failures: AuthFailures {
            missing: 5,
            invalid: 3,
            revoked: 1,
            ..AuthFailures::default()
        },
        unknown_ids: 0,
        orders: 0,
        ..Stats::default()
    };
    assert_eq!(http.stats().await, expected);
    tb.shutdown().await;
}

#[tokio::test]
async fn profile_cookie_expires_like_a_bearer() {
    let tb = start(Duration::from_millis(300)).await;
    let http = Http::new(&tb);
    let token = http.login().await;
    let cookie = format!("tb_session={token}");
    openid_of(&profile(&http, &[("cookie", &cookie)]).await);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let a = profile(&http, &[("cookie", &cookie)]).await;
    assert_eq!(
        (a.status, a.errmsg().as_str()),
        (StatusCode::UNAUTHORIZED, "token expired")
    );
    let s = http.stats().await;
    assert_eq!(
        (
            s.requests.profile,
            s.auth_failures.expired,
            s.auth_failures_total()
        ),
        (2, 1, 1)
    );
    tb.shutdown().await;
}

#[tokio::test]
async fn curl_keeps_the_session_in_its_cookie_jar() {
    let tb = start(HOUR2).await;
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("jar.txt");
    let jar = jar.to_str().unwrap();
    let base = tb.base_url();

    let login = curl(&[
        "-c",
        jar,
        "-H",
        "content-type: application/json",
        "-d",
        LOGIN_BODY,
        &format!("{base}/api/login"),
    ])
    .await;
    assert!(login.status.success(), "{login:?}");
    let token = serde_json::from_slice::<Value>(&login.stdout).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let saved = std::fs::read_to_string(jar).unwrap();
    // Netscape format: domain (HttpOnly marked), subdomains, path, secure, expiry, name, value.
    let line = |name: &str| -> Vec<&str> {
        saved
            .lines()
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .find(|f| f.len() == 7 && f[5] == name)
            .unwrap_or_else(|| panic!("{name} in {saved}"))
    };
    let session = line("tb_session");
    assert_eq!(
        (session[0], session[2], session[6]),
        ("#HttpOnly_127.0.0.1", "/", token.as_str())
    );
    let lang = line("tb_lang");
    assert_eq!((lang[0], lang[2], lang[6]), ("127.0.0.1", "/", "zh_CN"));
    assert_ne!(lang[4], "0", "Max-Age makes it persistent");

    let url = format!("{base}/api/profile");
    let with_jar = curl(&["-b", jar, "-w", "\n%{http_code}", &url]).await;
    let text = String::from_utf8(with_jar.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    assert_eq!(code, "200", "{text}");
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["data"]["nickname"], "tester");
    let without = curl(&["-w", "\n%{http_code}", &url]).await;
    assert!(String::from_utf8(without.stdout)
        .unwrap()
        .ends_with("\n401"));

    let s = tb.stats();
    assert_eq!(
        (
            s.requests.login,
            s.requests.profile,
            s.tokens_issued.session
        ),
        (1, 2, 1)
    );
    assert_eq!(s.auth_failures.missing, 1);
    assert_eq!(s.auth_failures_total(), 1);
    tb.shutdown().await;
}

#[tokio::test]
async fn large_json_is_gzipped_when_accepted() {
    let tb = start(HOUR2).await;
    let http = Http::new(&tb);
    let token = http.login().await;
    let bearer = format!("Bearer {token}");
    let list = |accept: &'static [&'static str]| {
        let mut headers = vec![("authorization", bearer.as_str())];
        headers.extend(accept.iter().map(|a| ("accept-encoding", *a)));
        let http = &http;
        async move {
            http.send_with(Method::GET, "/api/goods", &headers, "")
                .await
        }
    };

    let plain = list(&[]).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(
        plain.body.len() > 256,
        "the goods list is over the threshold"
    );
    assert!(plain.headers.get("content-encoding").is_none());
    assert_eq!(
        plain.headers["vary"], "accept-encoding",
        "varies even when plain"
    );

    for accept in [
        &["gzip"][..],
        &["gzip, deflate, br"],
        &["br;q=1.0, GZIP;q=0.5"],
        &["deflate", "gzip"],
        &["*"],
    ] {
        let a = list(accept).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.headers["content-encoding"], "gzip", "{accept:?}");
        assert_eq!(a.headers["vary"], "accept-encoding");
        assert_eq!(a.headers["content-type"], "application/json");
        assert_eq!(
            a.headers["content-length"],
            a.body.len().to_string().as_str()
        );
        assert!(a.body.len() < plain.body.len());
        assert_eq!(gunzip(&a.body), plain.body, "{accept:?}");
    }
    for accept in [
        &["gzip;q=0"][..],
        &["gzip;q=0.0, deflate"],
        &["deflate, br"],
        &["identity"],
        &["*, gzip;q=0"],
    ] {
        let a = list(accept).await;
        assert!(a.headers.get("content-encoding").is_none(), "{accept:?}");
        assert_eq!(a.body, plain.body);
    }

    // Small answers stay plain and do not vary.
    let gz = [("accept-encoding", "gzip")];
    let profile = profile(&http, &[gz[0], ("authorization", &bearer)]).await;
    let login = http
        .send_with(Method::POST, "/api/login", &gz, r#"{"code":"x"}"#)
        .await;
    for small in [&profile, &login] {
        assert_eq!(small.status, StatusCode::OK);
        assert!(small.body.len() <= 256);
        assert!(small.headers.get("content-encoding").is_none());
        assert!(small.headers.get("vary").is_none());
    }
    // The blob is not JSON.
    let blob = http
        .send_with(Method::GET, "/blob?bytes=4096", &gz, "")
        .await;
    assert!(blob.headers.get("content-encoding").is_none());
    assert_eq!(blob.body.len(), 4096);
    // `/stats` is large JSON too.
    let stats = http.send_with(Method::GET, "/stats", &gz, "").await;
    assert_eq!(stats.headers["content-encoding"], "gzip");
    let stats: Stats = serde_json::from_slice(&gunzip(&stats.body)).unwrap();
    assert_eq!(stats.requests.goods_list, 11);

    // HTTP/2, and curl decoding it by itself.
    let h2 = Http::h2c(&tb);
    let a = h2
        .send_with(
            Method::GET,
            "/api/goods",
            &[("authorization", &bearer), gz[0]],
            "",
        )
        .await;
    assert_eq!(a.headers["content-encoding"], "gzip");
    assert_eq!(gunzip(&a.body), plain.body);
    let out = curl(&[
        "--compressed",
        "-H",
        &format!("authorization: {bearer}"),
        "-w",
        "\n%{size_download}",
        &format!("{}/api/goods", tb.base_url()),
    ])
    .await;
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, downloaded) = text.rsplit_once('\n').unwrap();
    assert_eq!(body.as_bytes(), plain.body);
    assert!(
        downloaded.parse::<usize>().unwrap() < plain.body.len(),
        "{downloaded}"
    );

    let expected = Stats {
        tokens_issued: TokensIssued {
            platform: 0,
            session: 2,
        },
        requests: Requests {
            login: 2,
            // plain, 5 gzip, 5 not, h2, curl
            goods_list: 13,
            profile: 1,
            blob: 1,
            ..Requests::default()
        },
        ..Stats::default()
    };
    assert_eq!(http.stats().await, expected);
    tb.shutdown().await;
}
