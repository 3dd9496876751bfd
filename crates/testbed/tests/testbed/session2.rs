//! The v2 session shape: `POST /api/login2` (camelCase token in the body and a bound `tb_sid`
//! cookie), business calls that want both, and the feed's cursor sent back inside URL-encoded
//! JSON.

use std::time::Duration;

use http::{Method, StatusCode};
use loadtape_testbed::V2;

use crate::support::{start, Answer, Http};

const LOGIN_BODY: &str = r#"{"code":"0a1b2c"}"#;

/// A login's bearer and `tb_sid` cookie value, the answer's shape checked.
async fn login2(http: &Http, expires_in: u64) -> (String, String) {
    let a = http.post("/api/login2", LOGIN_BODY).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    let v = a.json();
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["data"]["expiresIn"], expires_in, "{v}");
    let token = v["data"]["sessionToken"].as_str().unwrap().to_string();
    let cookie = a.headers.get("set-cookie").unwrap().to_str().unwrap();
    let sid = cookie
        .strip_prefix("tb_sid=")
        .and_then(|c| c.strip_suffix(&format!("; Max-Age={expires_in}; Path=/")))
        .unwrap_or_else(|| panic!("{cookie}"))
        .to_string();
    assert_ne!(sid, token);
    (token, sid)
}

/// `GET path` with the bearer and the cookie given (either may be left off).
async fn call(http: &Http, path: &str, token: Option<&str>, sid: Option<&str>) -> Answer {
    let auth = token.map(|t| format!("Bearer {t}"));
    let cookie = sid.map(|s| format!("theme=dark; tb_sid={s}"));
    let mut headers = Vec::new();
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    if let Some(c) = &cookie {
        headers.push(("cookie", c.as_str()));
    }
    http.send_with(Method::GET, path, &headers, "").await
}

/// `/api/v2/search` with `cursor` in `q`, percent-encoded as a client's `encodeURIComponent`.
fn search_path(cursor: &str) -> String {
    let q = format!(r#"{{"cursor":"{cursor}","size":10}}"#);
    let encoded: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect();
    format!("/api/v2/search?q={encoded}")
}

#[tokio::test]
async fn business_calls_want_the_bearer_and_its_own_cookie() {
    let tb = start(Duration::from_secs(7200)).await;
    let http = Http::new(&tb);
    let (token, sid) = login2(&http, 7200).await;
    let (other_token, other_sid) = login2(&http, 7200).await;

    let ok = call(&http, "/api/v2/profile", Some(&token), Some(&sid)).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    assert_eq!(ok.json()["data"]["nickname"], "tester");
    let other = call(
        &http,
        "/api/v2/profile",
        Some(&other_token),
        Some(&other_sid),
    )
    .await;
    assert_ne!(other.json()["data"]["openid"], ok.json()["data"]["openid"]);

    for (t, s) in [
        (Some(token.as_str()), None),
        (None, Some(sid.as_str())),
        (Some(token.as_str()), Some(other_sid.as_str())),
        (Some(sid.as_str()), Some(token.as_str())),
    ] {
        let a = call(&http, "/api/v2/profile", t, s).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{t:?} {s:?}: {a:?}");
        assert_eq!(a.headers["www-authenticate"], "Bearer");
    }
    let s = http.stats().await;
    assert_eq!(
        (s.auth_failures.missing, s.auth_failures.invalid),
        (2, 2),
        "{s:?}"
    );
    assert_eq!(
        s.v2,
        V2 {
            logins: 2,
            calls: 8,
            expired_answers: 0,
            invalid_cursors: 0
        }
    );
}

#[tokio::test]
async fn the_search_wants_this_sessions_cursor_in_its_json() {
    let tb = start(Duration::from_secs(7200)).await;
    let http = Http::new(&tb);
    let (token, sid) = login2(&http, 7200).await;
    let (other_token, other_sid) = login2(&http, 7200).await;
    let feed = call(&http, "/api/v2/feed", Some(&token), Some(&sid)).await;
    let cursor = feed.json()["data"]["cursor"].as_str().unwrap().to_string();
    let again = call(&http, "/api/v2/feed", Some(&token), Some(&sid)).await;
    assert_eq!(again.json()["data"]["cursor"], cursor.as_str());

    let found = call(&http, &search_path(&cursor), Some(&token), Some(&sid)).await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.json()["errcode"], 0, "{found:?}");
    assert_eq!(found.json()["data"]["size"], 10);

    let refused = [
        search_path(&cursor).replace("/api/v2/search?", "/api/v2/search?x=1&"),
        search_path("0123456789"),
        format!("/api/v2/search?q={cursor}"),
        "/api/v2/search".to_string(),
    ];
    for path in &refused[1..] {
        let a = call(&http, path, Some(&token), Some(&sid)).await;
        assert_eq!((a.status, a.errcode()), (StatusCode::OK, 40099), "{path}");
        assert_eq!(a.errmsg(), "invalid cursor");
    }
    let a = call(&http, &refused[0], Some(&token), Some(&sid)).await;
    assert_eq!(a.errcode(), 0, "another parameter beside q is fine");
    // The cursor of one session is refused in another.
    let a = call(
        &http,
        &search_path(&cursor),
        Some(&other_token),
        Some(&other_sid),
    )
    .await;
    assert_eq!(a.errcode(), 40099);
    assert_eq!(http.stats().await.v2.invalid_cursors, 4);
}

#[tokio::test]
async fn an_expired_session_is_answered_42001_in_http_200() {
    let ttl = Duration::from_millis(300);
    let tb = start(ttl).await;
    let http = Http::new(&tb);
    let (token, sid) = login2(&http, 1).await;
    let ok = call(&http, "/api/v2/feed", Some(&token), Some(&sid)).await;
    assert_eq!(ok.errcode(), 0);
    // The token's lifetime is what is under test: wait it out.
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    for path in ["/api/v2/profile", "/api/v2/feed", &search_path("x")] {
        let a = call(&http, path, Some(&token), Some(&sid)).await;
        assert_eq!((a.status, a.errcode()), (StatusCode::OK, 42001), "{path}");
        assert_eq!(a.errmsg(), "session expired");
    }
    let s = http.stats().await;
    assert_eq!(s.auth_failures.expired, 3);
    assert_eq!(s.v2.expired_answers, 3);
    assert_eq!(s.v2.invalid_cursors, 0, "refused before the cursor is read");
}
