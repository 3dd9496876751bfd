//! `loadtape record` as a user runs it: a real proxy process, real clients (curl, headless
//! Chromium, raw sockets), the built-in testbed as the upstream, all on loopback.

use std::path::{Path, PathBuf};

use loadtape_recording::{read_recording, Recording};
use loadtape_testbed::{Config, Testbed};

use crate::util::{curl, curl_status, loadtape, Running};

/// A TLS testbed, a plain one, and a recording proxy in front of both.
pub struct Setup {
    pub proxy: Option<Running>,
    pub proxy_addr: String,
    pub tls_base: String,
    pub plain_base: String,
    pub loadtape_ca: String,
    pub testbed_ca: String,
    pub recording: PathBuf,
    pub tls: Testbed,
    pub plain: Testbed,
    pub _rt: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new(extra: &[&str]) -> Setup {
        Setup::listening("127.0.0.1:0", extra)
    }

    /// With the proxy on `listen` (`proxy_addr` is then what it printed, e.g. `[::]:PORT`).
    pub fn listening(listen: &str, extra: &[&str]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let tls = rt
            .block_on(Testbed::start(Config {
                tls: true,
                cert_dir: dir.path().join("testbed"),
                ..Config::default()
            }))
            .unwrap();
        let plain = rt.block_on(Testbed::start(Config::default())).unwrap();
        let recording = dir.path().join("rec.yaml");
        let ca_dir = dir.path().join("certs");
        let testbed_ca = tls.ca_path().unwrap().to_str().unwrap().to_string();
        let mut args = vec![
            "record",
            "--listen",
            listen,
            "--out",
            recording.to_str().unwrap(),
            "--ca-dir",
            ca_dir.to_str().unwrap(),
            "--upstream-ca",
            &testbed_ca,
        ];
        args.extend_from_slice(extra);
        let mut proxy = Running::spawn(&args);
        let proxy_addr = proxy.proxy_ready();
        Setup {
            proxy: Some(proxy),
            proxy_addr,
            tls_base: tls.base_url(),
            plain_base: plain.base_url(),
            loadtape_ca: ca_dir.join("loadtape-ca.pem").to_str().unwrap().to_string(),
            testbed_ca,
            recording,
            tls,
            plain,
            _rt: rt,
            dir,
        }
    }

    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.proxy_addr)
    }

    /// curl through the proxy, trusting the loadtape CA.
    pub fn curl(&self, args: &[&str]) -> (i32, String) {
        let proxy = self.proxy_url();
        let mut all = vec![
            "--proxy",
            proxy.as_str(),
            "--cacert",
            self.loadtape_ca.as_str(),
        ];
        all.extend_from_slice(args);
        curl(&all)
    }

    /// The next exchange line the proxy prints.
    pub fn next_line(&mut self) -> String {
        self.proxy.as_mut().unwrap().lines(1).remove(0)
    }

    /// Stops the proxy with SIGTERM; returns what it printed on the way out and the recording.
    pub fn stop(&mut self) -> (String, Recording) {
        let (code, rest) = self.proxy.take().unwrap().terminate();
        assert_eq!(code, 0, "{rest}");
        (rest, read_recording(&self.recording).unwrap())
    }
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn records_https_over_h1_and_h2_and_plain_http() {
    let mut s = Setup::new(&[]);
    let token_url = format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid=wxtestbed&secret=testbed-secret",
        s.tls_base
    );
    let (code, out) = s.curl(&["--http2", "-w", "\n%{http_version}", &token_url]);
    assert_eq!(code, 0, "{out}");
    let (body, version) = out.rsplit_once('\n').unwrap();
    assert_eq!(version, "2", "the client spoke HTTP/2 to the proxy");
    let token = json(body)["access_token"].as_str().unwrap().to_string();
    assert!(s.next_line().contains(&format!("200 GET {token_url}")));

    let login_url = format!("{}/api/login", s.tls_base);
    let (code, out) = s.curl(&[
        "--http1.1",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"code":"0a3Xk2ll2yqXRc4M"}"#,
        &login_url,
    ]);
    assert_eq!(code, 0, "{out}");
    let session = json(&out)["token"].as_str().unwrap().to_string();
    assert!(s.next_line().contains("200 POST"));

    // Plain HTTP, absolute-form, and plain HTTP inside a CONNECT tunnel.
    let goods_url = format!("{}/api/goods?page=2", s.plain_base);
    let bearer = format!("authorization: Bearer {session}");
    let plain_session = json(
        &curl(&[
            "-d",
            r#"{"code":"plainplain123"}"#,
            &format!("{}/api/login", s.plain_base),
        ])
        .1,
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    let plain_bearer = format!("authorization: Bearer {plain_session}");
    let (code, out) = s.curl(&["-H", &plain_bearer, &goods_url]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["data"].as_array().unwrap().len(), 10);
    assert!(s.next_line().contains(&format!("200 GET {goods_url}")));
    let (code, out) = s.curl(&["--proxytunnel", "-H", &plain_bearer, &goods_url]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(json(&out)["data"].as_array().unwrap().len(), 10);
    s.next_line();

    let (rest, rec) = s.stop();
    assert!(
        rest.contains("recorded 4 exchange(s) (0 failed) from 2 host(s)"),
        "{rest}"
    );
    assert!(rest.contains("next: loadtape tokens"), "{rest}");
    assert_eq!(rec.exchanges.len(), 4);
    assert_eq!(rec.truncated_tail, None);

    let e = &rec.exchanges[0];
    assert_eq!(e.request.method, "GET");
    assert_eq!(e.request.url, token_url);
    assert_eq!(e.request.version, "HTTP/2.0");
    let response = e.response.as_ref().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.version, "HTTP/2.0",
        "the testbed offers h2 upstream"
    );
    assert_eq!(
        response.body.as_ref().unwrap().as_json().unwrap()["access_token"],
        token.as_str()
    );
    assert_eq!(
        response.headers.get("content-type"),
        Some("application/json")
    );

    let e = &rec.exchanges[1];
    assert_eq!(
        (e.request.method.as_str(), e.request.version.as_str()),
        ("POST", "HTTP/1.1")
    );
    assert_eq!(e.request.url, login_url);
    assert_eq!(
        e.request.body.as_ref().unwrap().as_json().unwrap(),
        &serde_json::json!({"code": "0a3Xk2ll2yqXRc4M"})
    );
    assert_eq!(
        e.request.headers.get("Content-Type"),
        Some("application/json")
    );
    let response = e.response.as_ref().unwrap();
    assert_eq!(
        response.version, "HTTP/2.0",
        "HTTP/1.1 in, HTTP/2 out: each side as it was"
    );
    assert_eq!(
        response.body.as_ref().unwrap().as_json().unwrap()["token"],
        session.as_str()
    );
    let cookies: Vec<_> = response.headers.get_all("set-cookie").collect();
    assert_eq!(
        cookies.len(),
        2,
        "repeated Set-Cookie headers are kept: {cookies:?}"
    );
    assert!(
        cookies[0].starts_with("tb_session=") && cookies[1].starts_with("tb_lang="),
        "{cookies:?}"
    );

    for e in &rec.exchanges[2..] {
        assert_eq!(e.request.url, goods_url);
        assert_eq!(e.request.version, "HTTP/1.1");
        assert_eq!(e.response.as_ref().unwrap().version, "HTTP/1.1");
        assert_eq!(
            e.request.headers.get("authorization"),
            Some(plain_bearer["authorization: ".len()..].as_ref())
        );
    }
    let _ = bearer;
    // The testbed saw exactly what the clients sent, nothing more.
    let stats = s.tls.stats();
    assert_eq!((stats.requests.token, stats.requests.login), (1, 1));
    assert_eq!(s.plain.stats().requests.goods_list, 2);
}

#[test]
fn compressed_bodies_are_stored_decoded() {
    let mut s = Setup::new(&[]);
    let (_, out) = s.curl(&[
        "-d",
        r#"{"code":"gzipgzipgzip"}"#,
        &format!("{}/api/login", s.tls_base),
    ]);
    let session = json(&out)["token"].as_str().unwrap().to_string();
    s.next_line();
    let (code, out) = s.curl(&[
        "--compressed",
        "-H",
        &format!("authorization: Bearer {session}"),
        &format!("{}/api/goods?page=1", s.tls_base),
    ]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["data"].as_array().unwrap().len(), 10);
    s.next_line();
    let (_, rec) = s.stop();
    let response = rec.exchanges[1].response.as_ref().unwrap();
    assert_eq!(response.headers.get("content-encoding"), Some("gzip"));
    let body = response.body.as_ref().unwrap();
    assert_eq!(body.decoded_from.as_deref(), Some("gzip"));
    assert_eq!(
        body.as_json().unwrap()["data"].as_array().unwrap().len(),
        10
    );
}

#[test]
fn ca_page_and_files() {
    let s = Setup::new(&[]);
    // Directly from the proxy, and through it to the magic host.
    let (code, html) = curl(&[&format!("{}/", s.proxy_url())]);
    assert_eq!(code, 0);
    assert!(
        html.contains("Install the loadtape CA") && html.contains("/ca.cer"),
        "{html}"
    );
    assert!(
        html.contains("full trust") && html.contains("Android") && html.contains("WeChat DevTools")
    );
    // DevTools' setting as its Local Settings name it, to be checked; and pinned hosts are
    // passed through, never recorded: the page must not promise otherwise.
    assert!(
        html.contains("<b>check</b> “Does not verify valid domain names")
            && html.contains("不校验合法域名"),
        "{html}"
    );
    assert!(html.contains("unrecorded") && !html.contains("record them with"));
    let (code, html) = curl(&["--proxy", &s.proxy_url(), "http://loadtape.ca/"]);
    assert_eq!(code, 0);
    assert!(html.contains("Install the loadtape CA"));

    let ca_dir = Path::new(&s.loadtape_ca).parent().unwrap();
    let der = std::fs::read(ca_dir.join("loadtape-ca.cer")).unwrap();
    let out = std::process::Command::new("curl")
        .args(["-s", "-D", "-", &format!("{}/ca.cer", s.proxy_url())])
        .output()
        .unwrap();
    let text = out.stdout;
    let split = text.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&text[..split]).to_lowercase();
    assert!(
        head.contains("content-type: application/x-x509-ca-cert"),
        "{head}"
    );
    assert_eq!(&text[split + 4..], der.as_slice());
    let (_, pem) = curl(&[&format!("{}/ca.pem", s.proxy_url())]);
    assert_eq!(pem, std::fs::read_to_string(&s.loadtape_ca).unwrap());
    // The CA page is not an exchange of the device's traffic.
    let mut s = s;
    let (_, rec) = s.stop();
    assert!(rec.exchanges.is_empty());
}

#[test]
fn ca_init_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("certs");
    let d = d.to_str().unwrap();
    let out = loadtape()
        .args(["ca", "init", "--dir", d])
        .output()
        .unwrap();
    assert!(out.status.success());
    let key = Path::new(d).join("loadtape-ca.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let pem_before = std::fs::read(Path::new(d).join("loadtape-ca.pem")).unwrap();
    let again = loadtape()
        .args(["ca", "init", "--dir", d])
        .output()
        .unwrap();
    // Keeping the CA a device trusts is success, and says how to replace it.
    assert_eq!(again.status.code(), Some(0));
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        said.contains("kept the CA") && said.contains("--force"),
        "{said}"
    );
    assert_eq!(
        std::fs::read(Path::new(d).join("loadtape-ca.pem")).unwrap(),
        pem_before,
        "kept"
    );

    let show = loadtape()
        .args(["ca", "show", "--dir", d])
        .output()
        .unwrap();
    assert!(show.status.success());
    let text = String::from_utf8(show.stdout).unwrap();
    assert!(text.contains("CN=loadtape CA"), "{text}");
    assert!(text.contains("by loadtape ca init"), "{text}");
    // The fingerprint shown is the SHA-256 of the DER file a phone installs.
    let der = std::fs::read(Path::new(d).join("loadtape-ca.cer")).unwrap();
    let out = std::process::Command::new("sha256sum")
        .arg(Path::new(d).join("loadtape-ca.cer"))
        .output()
        .unwrap();
    let hex = String::from_utf8(out.stdout).unwrap()[..64].to_uppercase();
    let shown: String = text.lines().find(|l| l.starts_with("SHA-256")).unwrap()[7..]
        .trim()
        .replace(':', "");
    assert_eq!(shown, hex);
    assert!(!der.is_empty());

    let forced = loadtape()
        .args(["ca", "init", "--dir", d, "--force"])
        .output()
        .unwrap();
    assert!(forced.status.success());
    assert_ne!(
        std::fs::read(Path::new(d).join("loadtape-ca.pem")).unwrap(),
        pem_before
    );
    let missing = loadtape()
        .args([
            "ca",
            "show",
            "--dir",
            dir.path().join("none").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("loadtape ca init"));
}

#[test]
fn hosts_outside_include_are_tunnelled_blind() {
    let mut s = Setup::new(&["--include", "*.example.com"]);
    let url = format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid=wxtestbed&secret=testbed-secret",
        s.tls_base
    );
    // Trusting only the testbed's own CA works: the client sees the upstream's certificate.
    let (code, out) = curl(&["--proxy", &s.proxy_url(), "--cacert", &s.testbed_ca, &url]);
    assert_eq!(code, 0, "{out}");
    assert!(json(&out)["access_token"].is_string());
    // And loadtape's CA does not help: nothing was intercepted.
    let (code, _) = s.curl(&[&url]);
    assert_eq!(code, 60, "curl: peer certificate cannot be authenticated");
    // Plain HTTP to a host outside the list is proxied but not recorded either.
    let (code, out) = s.curl(&[&format!("{}/stats", s.plain_base)]);
    assert_eq!(code, 0, "{out}");
    assert!(json(&out)["requests"].is_object());
    let (_, rec) = s.stop();
    assert!(rec.exchanges.is_empty(), "{:?}", rec.exchanges);
}

#[test]
fn passthrough_hosts_are_never_intercepted() {
    let mut s = Setup::new(&["--passthrough", "localhost"]);
    let url = format!("{}/stats", s.tls_base);
    let (code, _) = curl(&["--proxy", &s.proxy_url(), "--cacert", &s.testbed_ca, &url]);
    assert_eq!(code, 0);
    let (_, rec) = s.stop();
    assert!(rec.exchanges.is_empty());
}

#[test]
fn clients_outside_the_allowlist_are_refused() {
    let mut s = Setup::new(&["--allow-client", "10.0.0.0/8"]);
    let (text, status) = curl_status(&[
        "--proxy",
        &s.proxy_url(),
        &format!("{}/stats", s.plain_base),
    ]);
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("--allow-client"), "{text}");
    assert!(s.next_line().contains("refused 127.0.0.1"));
    let (_, rec) = s.stop();
    assert!(rec.exchanges.is_empty());
    assert_eq!(
        s.plain.stats().requests_total(),
        0,
        "nothing reached the upstream"
    );
}

/// On a dual-stack `[::]` listener an IPv4 client arrives as `::ffff:127.0.0.1`: it is judged,
/// named and hinted as the IPv4 address it is.
#[test]
fn a_dual_stack_listener_sees_ipv4_clients_as_ipv4() {
    let mut s = Setup::listening("[::]:0", &["--allow-client", "10.0.0.0/8"]);
    let port = s.proxy_addr.rsplit(':').next().unwrap().to_string();
    let proxy = format!("http://127.0.0.1:{port}");
    let url = format!("{}/stats", s.plain_base);
    let (text, status) = curl_status(&["--proxy", &proxy, &url]);
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("does not serve 127.0.0.1 "), "{text}");
    let line = s.next_line();
    assert!(
        line.contains("refused 127.0.0.1:") && line.contains("--allow-client 127.0.0.1/32 "),
        "{line}"
    );
    s.stop();
    // The address the hint names, and its IPv4-mapped spelling, both let the client in.
    for allow in ["127.0.0.1/32", "::ffff:127.0.0.1"] {
        let mut s = Setup::listening("[::]:0", &["--allow-client", allow]);
        let port = s.proxy_addr.rsplit(':').next().unwrap().to_string();
        let proxy = format!("http://127.0.0.1:{port}");
        let url = format!("{}/stats", s.plain_base);
        let (text, status) = curl_status(&["--proxy", &proxy, &url]);
        assert_eq!(status, 200, "--allow-client {allow}: {text}");
        assert!(s.next_line().contains("200 GET"));
        let (_, rec) = s.stop();
        assert_eq!(
            rec.exchanges[0].client.as_deref(),
            Some("127.0.0.1"),
            "--allow-client {allow}"
        );
    }
}

#[test]
fn proxy_auth_is_required_when_set() {
    let mut s = Setup::new(&["--auth", "tester:s3cret"]);
    let url = format!("{}/stats", s.plain_base);
    let code_of = |extra: &[&str]| {
        let mut args = vec![
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--proxy",
            s.proxy_addr.as_str(),
        ];
        args.extend_from_slice(extra);
        args.push(&url);
        let out = std::process::Command::new("curl")
            .args(&args)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(code_of(&[]), "407");
    assert_eq!(code_of(&["--proxy-user", "tester:wrong"]), "407");
    assert_eq!(code_of(&["--proxy-user", "tester:s3cret"]), "200");
    // HTTPS: the CONNECT itself needs the credentials.
    let tls_url = format!("{}/stats", s.tls_base);
    let (code, _) = curl(&[
        "--proxy",
        &s.proxy_url(),
        "--cacert",
        &s.loadtape_ca,
        &tls_url,
    ]);
    assert_ne!(code, 0);
    let (code, _) = curl(&[
        "--proxy",
        &s.proxy_url(),
        "--proxy-user",
        "tester:s3cret",
        "--cacert",
        &s.loadtape_ca,
        &tls_url,
    ]);
    assert_eq!(code, 0);
    s.next_line();
    s.next_line();
    let (_, rec) = s.stop();
    assert_eq!(rec.exchanges.len(), 2);
    // The proxy's credentials are never written to the recording.
    assert!(rec
        .exchanges
        .iter()
        .all(|e| e.request.headers.get("proxy-authorization").is_none()));
}

#[test]
fn an_untrusted_ca_gets_a_hint_once_per_host() {
    let mut s = Setup::new(&[]);
    let url = format!("{}/stats", s.tls_base);
    for _ in 0..2 {
        // curl without the loadtape CA rejects the leaf with an unknown_ca alert.
        let (code, _) = curl(&["--proxy", &s.proxy_url(), &url]);
        assert_eq!(code, 60);
    }
    let hint = s.next_line();
    assert!(
        hint.contains("localhost: the client rejected loadtape's certificate"),
        "{hint}"
    );
    assert!(hint.contains("--passthrough localhost"), "{hint}");
    // A trusted request comes next: the second rejection printed nothing.
    let (code, _) = s.curl(&[&url]);
    assert_eq!(code, 0);
    assert!(s.next_line().contains("200 GET"));
}
