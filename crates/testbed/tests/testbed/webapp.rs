//! The `/wp/` web app over real sockets: form login and its cookie, nonces scraped from the
//! admin page's HTML as a browser script would, the REST API, multipart ajax and logout; every
//! check refuses what an uncorrelated replay would send, and `/stats` counts it.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use loadtape_testbed::{AuthFailures, Stats, Webapp};

use crate::support::{start, Answer, Http};

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const BOUNDARY: &str = "------------------------tb0123";

/// `name=value` of the session cookie from a login answer's `Set-Cookie` lines.
fn session_cookie(a: &Answer) -> String {
    let line = a
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("wordpress_logged_in_testbed="))
        .unwrap_or_else(|| panic!("no session cookie: {a:?}"));
    line.split(';').next().unwrap().to_string()
}

/// The text between `before` and the next `end` in `html`.
fn between<'a>(html: &'a str, before: &str, end: char) -> &'a str {
    let start = html
        .find(before)
        .unwrap_or_else(|| panic!("{before} in {html}"))
        + before.len();
    let rest = &html[start..];
    &rest[..rest.find(end).unwrap()]
}

struct Nonces {
    rest: String,
    edit: String,
    logout: String,
}

async fn login(http: &Http) -> String {
    let a = http
        .send_with(
            Method::POST,
            "/wp/login",
            &[FORM],
            "log=admin&pwd=testbed-password&redirect_to=%2Fwp%2Fadmin",
        )
        .await;
    assert_eq!(a.status, StatusCode::FOUND, "{a:?}");
    assert_eq!(a.headers["location"], "/wp/admin");
    let set: Vec<_> = a.headers.get_all("set-cookie").iter().collect();
    assert_eq!(set.len(), 2, "test cookie and session cookie");
    assert!(set[1]
        .to_str()
        .unwrap()
        .contains("; Max-Age=2; Path=/wp; HttpOnly"));
    session_cookie(&a)
}

async fn admin(http: &Http, cookie: &str) -> Nonces {
    let a = http
        .send_with(
            Method::GET,
            "/wp/admin",
            &[("cookie", cookie)],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let html = String::from_utf8(a.body.to_vec()).unwrap();
    let n = Nonces {
        rest: between(
            &html,
            r#"wpApiSettings = {"root":"\/wp\/json\/","nonce":""#,
            '"',
        )
        .into(),
        edit: between(&html, r#"name="_wpnonce" value=""#, '"').into(),
        logout: between(&html, "href='/wp/logout?action=logout&#038;_wpnonce=", '\'').into(),
    };
    for v in [&n.rest, &n.edit, &n.logout] {
        assert_eq!(v.len(), 10, "{html}");
    }
    assert!(
        n.rest != n.edit && n.edit != n.logout,
        "one nonce per action"
    );
    n
}

async fn rest(
    http: &Http,
    method: Method,
    path: &str,
    cookie: &str,
    nonce: &str,
    body: &'static str,
) -> Answer {
    let mut h = vec![("cookie", cookie)];
    if !nonce.is_empty() {
        h.push(("x-wp-nonce", nonce));
    }
    let a = http.send_with(method, path, &h, body).await;
    let echo = a.headers.get("x-wp-nonce").map(|v| v.to_str().unwrap());
    assert_eq!(
        echo,
        (!nonce.is_empty()).then_some(nonce),
        "the nonce is echoed: {a:?}"
    );
    a
}

async fn ajax(http: &Http, cookie: &str, nonce: &str, post: &str) -> Answer {
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let mut body = String::new();
    for (k, v) in [
        ("action", "wp-remove-post-lock"),
        ("_wpnonce", nonce),
        ("post_ID", post),
    ] {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    http.send_with(
        Method::POST,
        "/wp/ajax",
        &[("content-type", &ct), ("cookie", cookie)],
        body,
    )
    .await
}

#[tokio::test]
async fn wordpress_flow_checks_cookie_nonces_and_post_ids() {
    let tb = start(Duration::from_secs(2)).await;
    let http = Http::new(&tb);
    let wrong = http
        .send_with(Method::POST, "/wp/login", &[FORM], "log=admin&pwd=nope")
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&wrong.body).contains("login_error"));
    let page = http.get("/wp/admin", None).await;
    assert_eq!(
        page.status,
        StatusCode::FOUND,
        "no cookie: to the login form"
    );
    assert!(page.headers["location"]
        .to_str()
        .unwrap()
        .starts_with("/wp/login?"));

    let cookie = login(&http).await;
    let n = admin(&http, &cookie).await;
    let missing = rest(&http, Method::POST, "/wp/json/posts", &cookie, "", "{}").await;
    assert_eq!(
        (missing.status, missing.json()["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("rest_cookie_invalid_nonce"))
    );
    let other_action = rest(
        &http,
        Method::POST,
        "/wp/json/posts",
        &cookie,
        &n.edit,
        "{}",
    )
    .await;
    assert_eq!(other_action.status, StatusCode::FORBIDDEN);
    let created = rest(
        &http,
        Method::POST,
        "/wp/json/posts",
        &cookie,
        &n.rest,
        r#"{"title":"Hello","status":"draft"}"#,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let id = created.json()["id"].as_u64().unwrap();
    assert!((1000..100_000).contains(&id), "a short id: {id}");
    let path = format!("/wp/json/posts/{id}");
    let got = rest(&http, Method::GET, &path, &cookie, &n.rest, "").await;
    assert_eq!(got.json()["title"]["raw"], "Hello");
    let edited = rest(
        &http,
        Method::POST,
        &path,
        &cookie,
        &n.rest,
        r#"{"title":{"raw":"World"}}"#,
    )
    .await;
    assert_eq!(
        (edited.status, edited.json()["id"].as_u64()),
        (StatusCode::OK, Some(id))
    );
    let unknown = rest(
        &http,
        Method::GET,
        &format!("/wp/json/posts/{}", id + 500),
        &cookie,
        &n.rest,
        "",
    )
    .await;
    assert_eq!(unknown.json()["code"], "rest_post_invalid_id");

    // A second session: the first one's nonces and posts are not its own.
    let cookie2 = login(&http).await;
    let n2 = admin(&http, &cookie2).await;
    assert_ne!(n2.rest, n.rest, "nonces are per session");
    let stolen = rest(&http, Method::GET, &path, &cookie2, &n.rest, "").await;
    assert_eq!(
        stolen.status,
        StatusCode::FORBIDDEN,
        "a recorded nonce in a new session"
    );
    let foreign = rest(&http, Method::GET, &path, &cookie2, &n2.rest, "").await;
    assert_eq!(
        foreign.status,
        StatusCode::NOT_FOUND,
        "another session's post"
    );

    let ok = ajax(&http, &cookie, &n.edit, &id.to_string()).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    assert_eq!(ok.json()["data"]["post_id"].as_u64(), Some(id));
    assert_eq!(
        ajax(&http, &cookie, &n.rest, &id.to_string()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ajax(&http, &cookie2, &n2.edit, &id.to_string())
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let bad = http
        .send_with(
            Method::GET,
            &format!("/wp/logout?action=logout&_wpnonce={}", n2.logout),
            &[("cookie", &cookie)],
            Bytes::new(),
        )
        .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    let out = http
        .send_with(
            Method::GET,
            &format!("/wp/logout?action=logout&_wpnonce={}", n.logout),
            &[("cookie", &cookie)],
            Bytes::new(),
        )
        .await;
    assert_eq!(out.status, StatusCode::FOUND);
    assert_eq!(out.headers["location"], "/wp/login?loggedout=true");

    let s = http.stats().await;
    assert_eq!(
        s.webapp,
        Webapp {
            logins: 2,
            posts_created: 1,
            nonce_failures: 5,
            unknown_post_ids: 3,
            logouts: 1
        },
        "{s:?}"
    );
    assert_eq!(
        s.auth_failures,
        AuthFailures {
            missing: 1,
            bad_credentials: 1,
            ..AuthFailures::default()
        }
    );
    assert_eq!(
        (
            s.requests.wp_login,
            s.requests.wp_admin,
            s.requests.wp_rest,
            s.requests.wp_ajax,
            s.requests.wp_logout
        ),
        (3, 3, 8, 3, 2)
    );
    tb.shutdown().await;
}

#[tokio::test]
async fn an_expired_cookie_is_logged_out() {
    let tb = start(Duration::from_millis(300)).await;
    let http = Http::new(&tb);
    let a = http
        .send_with(
            Method::POST,
            "/wp/login",
            &[FORM],
            "log=admin&pwd=testbed-password",
        )
        .await;
    let cookie = session_cookie(&a);
    let n = admin(&http, &cookie).await;
    // Waiting out the lifetime is the point of this test, not a synchronisation.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let page = http
        .send_with(
            Method::GET,
            "/wp/admin",
            &[("cookie", &cookie)],
            Bytes::new(),
        )
        .await;
    assert_eq!(page.status, StatusCode::FOUND);
    let api = rest(
        &http,
        Method::POST,
        "/wp/json/posts",
        &cookie,
        &n.rest,
        "{}",
    )
    .await;
    assert_eq!(
        (api.status, api.json()["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("rest_not_logged_in"))
    );
    let s: Stats = http.stats().await;
    assert_eq!(s.auth_failures.expired, 2, "{s:?}");
    assert_eq!(s.webapp.nonce_failures, 0);
    tb.shutdown().await;
}
