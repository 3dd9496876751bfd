//! Shared helpers: start a testbed, send requests with a bounded wait, parse JSON answers, run
//! curl.

use std::process::Output;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use loadtape_testbed::{Config, Stats, Testbed};
use serde_json::Value;

/// Upper bound for any single request in these tests.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A plain-HTTP testbed on an ephemeral loopback port.
pub(crate) async fn start(token_ttl: Duration) -> Testbed {
    Testbed::start(Config {
        token_ttl,
        ..Config::default()
    })
    .await
    .expect("testbed starts")
}

/// One answer, body parsed as JSON when it is JSON.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn errcode(&self) -> i64 {
        self.json()["errcode"].as_i64().expect("errcode")
    }

    pub(crate) fn errmsg(&self) -> String {
        self.json()["errmsg"].as_str().expect("errmsg").to_string()
    }
}

/// A hyper client bound to one testbed's base URL.
pub(crate) struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Http {
    pub(crate) fn new(testbed: &Testbed) -> Http {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: testbed.base_url(),
        }
    }

    /// HTTP/2 with prior knowledge (h2c), no upgrade dance.
    pub(crate) fn h2c(testbed: &Testbed) -> Http {
        Http {
            client: Client::builder(TokioExecutor::new())
                .http2_only(true)
                .build_http(),
            base: testbed.base_url(),
        }
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        bearer: Option<&str>,
        body: impl Into<Bytes>,
    ) -> Answer {
        let auth = bearer.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| ("authorization", a))
            .into_iter()
            .collect();
        self.send_with(method, path_and_query, &headers, body).await
    }

    /// A request with these extra headers (repeats allowed), body read to the end.
    pub(crate) async fn send_with(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let fut = async {
            let resp = self.open(method, path_and_query, headers, body).await;
            let (parts, body) = resp.into_parts();
            let body = body.collect().await.expect("body").to_bytes();
            Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .expect("request within the time limit")
    }

    /// A request with these extra headers; returns once the head is in, body unread.
    pub(crate) async fn open(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Response<Incoming> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path_and_query));
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            req = req.header("content-type", "application/json");
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Full::new(body.into())).expect("request");
        tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(req))
            .await
            .expect("response head within the time limit")
            .expect("response")
    }

    pub(crate) async fn get(&self, path: &str, bearer: Option<&str>) -> Answer {
        self.send(Method::GET, path, bearer, Bytes::new()).await
    }

    pub(crate) async fn post(&self, path: &str, body: impl Into<Bytes>) -> Answer {
        self.send(Method::POST, path, None, body).await
    }

    /// `GET /cgi-bin/token` with the default credentials; returns the access token.
    pub(crate) async fn access_token(&self) -> String {
        let a = self
            .get(
                "/cgi-bin/token?grant_type=client_credential&appid=wxtestbed&secret=testbed-secret",
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK);
        a.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// `POST /api/login`; returns the session token.
    pub(crate) async fn login(&self) -> String {
        let a = self.post("/api/login", r#"{"code":"0a1b2c"}"#).await;
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        a.json()["token"].as_str().expect("token").to_string()
    }

    /// `GET /api/goods?page=N` with a bearer; returns the listed ids.
    pub(crate) async fn goods_ids(&self, token: &str, page: u32) -> Vec<String> {
        let a = self
            .get(&format!("/api/goods?page={page}"), Some(token))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        a.json()["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|g| g["id"].as_str().expect("id").to_string())
            .collect()
    }

    /// `GET /stats`, parsed.
    pub(crate) async fn stats(&self) -> Stats {
        let a = self.get("/stats", None).await;
        assert_eq!(a.status, StatusCode::OK);
        serde_json::from_slice(&a.body).expect("stats parse")
    }
}

/// Runs curl with no config file, no proxy and no ambient CA settings, bounded in time.
pub(crate) async fn curl(args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new("curl");
    cmd.args([
        "-q",
        "--silent",
        "--show-error",
        "--noproxy",
        "*",
        "--max-time",
        "10",
    ])
    .args(args)
    .kill_on_drop(true);
    for var in [
        "http_proxy",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "CURL_CA_BUNDLE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ] {
        cmd.env_remove(var);
    }
    tokio::time::timeout(Duration::from_secs(15), cmd.output())
        .await
        .expect("curl finishes")
        .expect("curl runs")
}
