//! HTTPS: the throwaway CA on disk, real `curl` (HTTP/2 and HTTP/1.1), and a rustls + hyper
//! HTTP/2 client negotiating `h2` by ALPN.

use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use loadtape_testbed::{Config, Requests, Stats, Testbed, TokensIssued};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::support::curl;

const TOKEN_QUERY: &str =
    "/cgi-bin/token?grant_type=client_credential&appid=wxtestbed&secret=testbed-secret";

async fn tls_testbed() -> (Testbed, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let tb = Testbed::start(Config {
        tls: true,
        // Not created yet: start must create it.
        cert_dir: dir.path().join("certs"),
        ..Config::default()
    })
    .await
    .expect("TLS testbed starts");
    (tb, dir)
}

/// Splits curl's output into the JSON body and the `%{http_version}` written after it.
fn body_and_version(out: &Output) -> (Value, String) {
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).expect("utf-8");
    let (body, version) = text.rsplit_once('\n').expect("version line");
    (
        serde_json::from_str(body).expect("JSON body"),
        version.to_string(),
    )
}

#[tokio::test]
async fn curl_speaks_h2_and_h1_with_the_written_ca() {
    let (tb, dir) = tls_testbed().await;
    let port = tb.local_addr().port();
    assert_eq!(tb.base_url(), format!("https://localhost:{port}"));
    let ca_path = tb.ca_path().expect("ca path").to_path_buf();
    assert_eq!(ca_path, dir.path().join("certs").join("testbed-ca.pem"));
    let on_disk = std::fs::read_to_string(&ca_path).expect("CA written");
    assert_eq!(Some(on_disk.as_str()), tb.ca_pem());
    assert!(on_disk.starts_with("-----BEGIN CERTIFICATE-----"));

    let ca = ca_path.to_str().unwrap();
    let url = format!("{}{TOKEN_QUERY}", tb.base_url());
    let fmt = "\n%{http_version}";
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let out = curl(&[flag, "--cacert", ca, "-w", fmt, &url]).await;
        let (body, got) = body_and_version(&out);
        assert_eq!(got, version, "{flag}");
        assert_eq!(body["expires_in"], 7200);
        assert!(body["access_token"].is_string());
    }
    // The certificate also names 127.0.0.1.
    let by_ip = format!("https://127.0.0.1:{port}{TOKEN_QUERY}");
    let (body, _) = body_and_version(&curl(&["--cacert", ca, "-w", fmt, &by_ip]).await);
    assert!(body["access_token"].is_string());

    // Without the CA, verification fails (curl exit 60: peer certificate cannot be verified)
    // and the request never reaches the server.
    let untrusted = curl(&["--http2", &url]).await;
    assert!(!untrusted.status.success());
    assert_eq!(
        untrusted.status.code(),
        Some(60),
        "{}",
        String::from_utf8_lossy(&untrusted.stderr)
    );

    assert_eq!(
        tb.stats(),
        Stats {
            tokens_issued: TokensIssued {
                platform: 3,
                session: 0,
            },
            requests: Requests {
                token: 3,
                ..Requests::default()
            },
            ..Stats::default()
        }
    );
    tb.shutdown().await;
}

fn client_config(ca_pem: &str) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA PEM parses"))
        .expect("CA accepted as a root");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

#[tokio::test]
async fn rustls_h2_client_runs_the_shop_flow() {
    let (tb, _dir) = tls_testbed().await;
    let (other, _other_dir) = tls_testbed().await;
    let localhost = ServerName::try_from("localhost").unwrap();

    // Each start makes a new CA: trusting another testbed's CA does not help.
    let wrong = TlsConnector::from(Arc::new(client_config(other.ca_pem().unwrap())));
    let tcp = TcpStream::connect(tb.local_addr()).await.unwrap();
    assert!(wrong.connect(localhost.clone(), tcp).await.is_err());
    other.shutdown().await;

    let connector = TlsConnector::from(Arc::new(client_config(tb.ca_pem().unwrap())));
    let tcp = TcpStream::connect(tb.local_addr()).await.unwrap();
    let stream = tokio::time::timeout(Duration::from_secs(5), connector.connect(localhost, tcp))
        .await
        .expect("handshake in time")
        .expect("handshake succeeds");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));

    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    let conn = tokio::spawn(conn);
    let base = tb.base_url();
    let mut send = |method: &str, path: &str, bearer: Option<&str>, body: &'static str| {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{base}{path}"));
        if let Some(t) = bearer {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        let fut = sender.send_request(req);
        async move {
            let resp = tokio::time::timeout(Duration::from_secs(5), fut)
                .await
                .expect("answer in time")
                .expect("answer");
            assert_eq!(resp.version(), Version::HTTP_2);
            assert_eq!(resp.headers()["server"], "loadtape-testbed");
            let status = resp.status();
            let bytes = resp.into_body().collect().await.expect("body").to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).expect("JSON"),
            )
        }
    };

    let (status, token) = send("GET", TOKEN_QUERY, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(token["access_token"].is_string());
    let (_, login) = send("POST", "/api/login", None, r#"{"code":"abc"}"#).await;
    let session = login["token"].as_str().unwrap().to_string();
    let (status, list) = send("GET", "/api/goods?page=1", Some(&session), "").await;
    assert_eq!(status, StatusCode::OK);
    let id = list["data"][0]["id"].as_str().unwrap().to_string();
    let (status, detail) = send("GET", &format!("/api/goods/{id}"), Some(&session), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["data"]["id"], id.as_str());
    let (status, _) = send("GET", "/api/goods?page=1", None, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, stats) = send("GET", "/stats", None, "").await;
    let stats: Stats = serde_json::from_value(stats).expect("stats parse");

    let mut expected = Stats {
        tokens_issued: TokensIssued {
            platform: 1,
            session: 1,
        },
        requests: Requests {
            token: 1,
            login: 1,
            goods_list: 2,
            goods_detail: 1,
            ..Requests::default()
        },
        ..Stats::default()
    };
    expected.auth_failures.missing = 1;
    assert_eq!(stats, expected);
    assert_eq!(stats.auth_failures_total(), 1);

    // Shutdown with the h2 connection still open: GOAWAY, connection ends, shutdown returns.
    tokio::time::timeout(Duration::from_secs(5), tb.shutdown())
        .await
        .expect("shutdown returns");
    let _ = tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("h2 connection closes");
}
