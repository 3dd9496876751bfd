//! `loadtape testbed` as a process: it serves HTTPS to curl, tokens expire, and it stops
//! cleanly on SIGTERM with its counts.

use crate::util::{curl, Running};

#[test]
fn serves_https_to_curl_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let cert_dir = dir.path().to_str().unwrap();
    let mut tb = Running::spawn(&[
        "testbed",
        "--listen",
        "127.0.0.1:0",
        "--tls",
        "--cert-dir",
        cert_dir,
        "--token-ttl",
        "1h",
        "--appid",
        "wxcli",
        "--secret",
        "s3cret",
    ]);
    let line = tb.line_containing("listening on");
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(base.starts_with("https://localhost:"), "{line}");
    let ca = dir.path().join("testbed-ca.pem");
    assert!(tb
        .line_containing("CA for clients")
        .contains(ca.to_str().unwrap()));
    let ca = ca.to_str().unwrap();

    let (code, body) = curl(&[
        "--http2",
        "--cacert",
        ca,
        "-w",
        "\n%{http_version}",
        &format!("{base}/cgi-bin/token?grant_type=client_credential&appid=wxcli&secret=s3cret"),
    ]);
    assert_eq!(code, 0, "{body}");
    let (json, version) = body.rsplit_once('\n').unwrap();
    assert_eq!(version, "2");
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["expires_in"], 3600);
    assert!(v["access_token"].as_str().unwrap().len() >= 20);

    // The default appid is not this testbed's.
    let (_, body) = curl(&["--cacert", ca, &format!("{base}/cgi-bin/token?grant_type=client_credential&appid=wxtestbed&secret=testbed-secret")]);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["errcode"], 40013);

    // Refused before its body is needed (a bad token): over HTTP/2 the answer still comes,
    // never a reset stream (curl exit 92), every time.
    for _ in 0..10 {
        let (code, body) = curl(&[
            "--http2",
            "--cacert",
            ca,
            "-d",
            r#"{"goods_id":"x","quantity":1}"#,
            "-w",
            "\n%{http_code}",
            &format!("{base}/api/order?access_token=bad"),
        ]);
        assert_eq!(code, 0, "{body}");
        assert!(body.contains("40001") && body.ends_with("\n200"), "{body}");
    }

    let (code, _) = curl(&[&format!("{base}/stats")]);
    assert_ne!(
        code, 0,
        "without --cacert curl must refuse the throwaway CA"
    );

    let (code, rest) = tb.terminate();
    assert_eq!(code, 0, "{rest}");
    assert!(rest.contains("stopped."), "{rest}");
    assert!(rest.contains(r#""platform":1"#), "{rest}");
}
