//! `loadtape har` on HAR files written by a real tool: mitmproxy's `hardump` (installed by
//! `.ci/run` with pip), recording curl through mitmdump against the built-in testbed. The
//! import is checked field by field against what curl sent and got; the tokens found in the
//! imported HAR are the tokens found in loadtape's own recording of the same flow.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use loadtape_recording::{read_recording, BodyContent, Recording};
use loadtape_testbed::{Config, Testbed};

use crate::record::Setup;
use crate::util::{curl, loadtape};

/// A `mitmdump` process writing a HAR when it stops; killed if the test fails first.
struct Mitmdump {
    child: Child,
    proxy: String,
    ca: String,
    har: PathBuf,
}

impl Mitmdump {
    /// Starts mitmdump on a port the system picks (it prints the address), with its own
    /// configuration directory (its CA) under `dir`, trusting `upstream_ca` upstream.
    fn start(dir: &Path, upstream_ca: &str) -> Mitmdump {
        let confdir = dir.join("mitmproxy");
        let har = dir.join("mitm.har");
        let mut child = Command::new("mitmdump")
            .args(["--listen-host", "127.0.0.1", "--listen-port", "0"])
            .arg("--set")
            .arg(format!("confdir={}", confdir.display()))
            .arg("--set")
            .arg(format!("hardump={}", har.display()))
            .arg("--set")
            .arg(format!("ssl_verify_upstream_trusted_ca={upstream_ca}"))
            .env("PYTHONUNBUFFERED", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mitmdump is installed (.ci/run: pip install mitmproxy)");
        // Lines arrive through a channel so that waiting for the address is bounded.
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Shown when a test fails (the harness captures it otherwise). Reading goes on
                // after the address is found: a closed pipe would kill mitmdump.
                eprintln!("mitmdump: {line}");
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let proxy = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("mitmdump printed its address within 60 s");
            if let Some(addr) = line.split("proxy listening at ").nth(1) {
                break format!("http://{}", addr.trim().trim_end_matches('.'));
            }
        };
        let ca = confdir.join("mitmproxy-ca-cert.pem");
        Mitmdump {
            child,
            proxy,
            ca: ca.to_str().unwrap().to_string(),
            har,
        }
    }

    fn curl(&self, args: &[&str]) -> (i32, String) {
        let mut all = vec!["--proxy", &self.proxy, "--cacert", &self.ca];
        all.extend_from_slice(args);
        curl(&all)
    }

    /// Stops mitmdump as Ctrl-C does (it writes the HAR on the way out); returns the HAR.
    fn stop(mut self) -> PathBuf {
        crate::util::signal(self.child.id(), "INT");
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "mitmdump did not stop within 30 s of SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(self.har.exists(), "mitmdump wrote no HAR");
        self.har.clone()
    }
}

impl Drop for Mitmdump {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The mini-program flow: platform token (HTTP/2), login (HTTP/1.1), goods list (gzip), a
/// goods detail with an id from the list, an order with the platform token.
fn flow(curl: &dyn Fn(&[&str]) -> (i32, String), base: &str) -> (String, String) {
    let (code, out) = curl(&[
        "--http2",
        &format!("{base}/cgi-bin/token?grant_type=client_credential&appid=wxtestbed&secret=testbed-secret"),
    ]);
    assert_eq!(code, 0, "{out}");
    let access = json(&out)["access_token"].as_str().unwrap().to_string();
    let (code, out) = curl(&[
        "--http1.1",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"code":"0a3Xk2ll2yqXRc4M"}"#,
        &format!("{base}/api/login"),
    ]);
    assert_eq!(code, 0, "{out}");
    let session = json(&out)["token"].as_str().unwrap().to_string();
    let bearer = format!("Authorization: Bearer {session}");
    let (code, out) = curl(&[
        "--compressed",
        "-H",
        &bearer,
        &format!("{base}/api/goods?page=1"),
    ]);
    assert_eq!(code, 0, "{out}");
    let id = json(&out)["data"][0]["id"].as_str().unwrap().to_string();
    let (code, out) = curl(&["-H", &bearer, &format!("{base}/api/goods/{id}")]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = curl(&[
        "-H",
        "content-type: application/json",
        "-d",
        &format!(r#"{{"goods_id":"{id}","quantity":1}}"#),
        &format!("{base}/api/order?access_token={access}"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(json(&out)["errcode"], 0, "{out}");
    (access, session)
}

fn tls_testbed(dir: &Path, rt: &tokio::runtime::Runtime) -> Testbed {
    rt.block_on(Testbed::start(Config {
        tls: true,
        cert_dir: dir.join("testbed"),
        ..Config::default()
    }))
    .unwrap()
}

/// `loadtape har import` as a user runs it; returns the recording it wrote.
fn import(har: &Path, out: &Path) -> Recording {
    let o = loadtape()
        .args(["har", "import"])
        .arg(har)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("(written by mitmproxy)"), "{stdout}");
    read_recording(out).unwrap()
}

#[test]
fn mitmproxy_hardump_imports_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tb = tls_testbed(dir.path(), &rt);
    let base = tb.base_url();
    let mitm = Mitmdump::start(dir.path(), tb.ca_path().unwrap().to_str().unwrap());
    let (access, session) = flow(&|a| mitm.curl(a), &base);
    // A form, a binary body (mitmproxy writes it as Latin-1 text), and a refused upstream.
    let (code, out) = mitm.curl(&["-d", "a=1&b=x+y", &format!("{base}/api/login")]);
    assert_eq!(code, 0, "{out}");
    // Not UTF-8 under a JSON type: mitmproxy writes lone surrogate escapes (`\udcff`).
    let odd = dir.path().join("odd.json");
    std::fs::write(&odd, b"{\"a\":\"\xff\xfe\"}").unwrap();
    let odd_arg = format!("@{}", odd.display());
    let (code, out) = mitm.curl(&[
        "-H",
        "content-type: application/json",
        "--data-binary",
        &odd_arg,
        &format!("{base}/api/login"),
    ]);
    assert_eq!(code, 0, "{out}");
    let blob = dir.path().join("blob.bin");
    let (code, out) = mitm.curl(&[
        "-o",
        blob.to_str().unwrap(),
        &format!("{base}/blob?bytes=4096"),
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, _) = mitm.curl(&["http://127.0.0.1:1/nothing"]);
    assert_eq!(code, 0, "mitmproxy answers 502 itself");
    let har = mitm.stop();
    let raw = std::fs::read_to_string(&har).unwrap();
    assert!(
        raw.contains("\\udcff"),
        "mitmproxy wrote the surrogate escape"
    );

    let rec = import(&har, &dir.path().join("mitm.yaml"));
    assert_eq!(rec.header.name, "mitm");
    let e = &rec.exchanges;
    assert_eq!(e.len(), 9, "{e:#?}");
    assert_eq!(
        e.iter().map(|x| x.id).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 7, 8, 9]
    );
    for w in e.windows(2) {
        assert!(w[0].started <= w[1].started, "order and times kept");
    }
    assert!(e.iter().all(|x| x.duration_ms > 0.0));

    let token = &e[0];
    assert_eq!(token.request.method, "GET");
    assert!(token.request.url.starts_with(&format!(
        "{base}/cgi-bin/token?grant_type=client_credential"
    )));
    assert_eq!(token.request.version, "HTTP/2.0");
    assert_eq!(
        token
            .request
            .headers
            .get("user-agent")
            .map(|u| u.starts_with("curl/")),
        Some(true)
    );
    assert!(token
        .request
        .headers
        .iter()
        .all(|(n, _)| !n.starts_with(':')));
    let resp = token.response.as_ref().unwrap();
    assert_eq!((resp.status, resp.version.as_str()), (200, "HTTP/2.0"));
    assert_eq!(
        resp.body.as_ref().unwrap().as_json().unwrap()["access_token"],
        access.as_str()
    );

    let login = &e[1];
    assert_eq!(login.request.version, "HTTP/1.1");
    assert_eq!(
        login.request.headers.get("content-type"),
        Some("application/json")
    );
    assert_eq!(
        login.request.body.as_ref().unwrap().content,
        BodyContent::Json(serde_json::json!({"code": "0a3Xk2ll2yqXRc4M"}))
    );
    let resp = login.response.as_ref().unwrap();
    assert_eq!(resp.version, "HTTP/1.1");
    assert_eq!(
        resp.body.as_ref().unwrap().as_json().unwrap()["token"],
        session.as_str()
    );
    // Both Set-Cookie lines, in order.
    let cookies: Vec<&str> = resp.headers.get_all("set-cookie").collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(cookies[0].starts_with(&format!("tb_session={session}")));
    assert!(cookies[1].starts_with("tb_lang=zh_CN"));

    let goods = &e[2];
    assert_eq!(
        goods.request.headers.get("authorization"),
        Some(format!("Bearer {session}").as_str())
    );
    let resp = goods.response.as_ref().unwrap();
    assert_eq!(resp.headers.get("content-encoding"), Some("gzip"));
    let body = resp.body.as_ref().unwrap();
    // mitmproxy wrote the decoded JSON: stored as JSON, the compression noted.
    assert_eq!(body.decoded_from.as_deref(), Some("gzip"));
    assert!(body.as_json().unwrap()["data"]
        .as_array()
        .is_some_and(|d| !d.is_empty()));

    let order = &e[4];
    assert!(order
        .request
        .url
        .ends_with(&format!("access_token={access}")));
    assert_eq!(
        order
            .response
            .as_ref()
            .unwrap()
            .body
            .as_ref()
            .unwrap()
            .as_json()
            .unwrap()["errcode"],
        0
    );

    let form = &e[5];
    assert_eq!(
        form.request.body.as_ref().unwrap().content,
        BodyContent::Text("a=1&b=x+y".into())
    );
    assert_eq!(form.response.as_ref().unwrap().status, 400);

    let odd = &e[6];
    assert_eq!(
        odd.request.body.as_ref().unwrap().content,
        BodyContent::Binary(b"{\"a\":\"\xff\xfe\"}".to_vec())
    );

    // The exact bytes curl received, though mitmproxy wrote them as Latin-1 text.
    let blob_bytes = std::fs::read(&blob).unwrap();
    assert_eq!(blob_bytes.len(), 4096);
    let body = e[7].response.as_ref().unwrap().body.as_ref().unwrap();
    assert_eq!(body.content, BodyContent::Binary(blob_bytes));

    let refused = &e[8];
    assert_eq!(refused.request.url, "http://127.0.0.1:1/nothing");
    assert_eq!(refused.response, None);
    let error = refused.error.as_deref().unwrap();
    assert!(
        error.contains("Connect call failed") || error.contains("refused"),
        "{error}"
    );

    // And back out: the exported HAR imports to the same recording.
    let exported = dir.path().join("again.har");
    let o = loadtape()
        .args(["har", "export"])
        .arg(dir.path().join("mitm.yaml"))
        .arg("-o")
        .arg(&exported)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = loadtape_recording::read_har(&exported).unwrap();
    assert_eq!(again.exchanges, rec.exchanges);
}

#[test]
fn har_import_refuses_to_overwrite_and_names_bad_fields() {
    let dir = tempfile::tempdir().unwrap();
    let har = dir.path().join("bad.har");
    std::fs::write(
        &har,
        "{\"log\": {\"entries\": [\n {\"startedDateTime\": \"2026-11-21T10:00:00Z\",\n  \"request\": {\"method\": \"GET\", \"url\": \"nope\"},\n  \"response\": {\"status\": 200}}]}}\n",
    )
    .unwrap();
    let o = loadtape()
        .args(["har", "import"])
        .arg(&har)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.har:3:"), "{err}");
    assert!(err.contains("field `log.entries[0].request.url`"), "{err}");
    assert!(!dir.path().join("bad.yaml").exists());

    let good = dir.path().join("good.har");
    std::fs::write(
        &good,
        std::fs::read_to_string(&har)
            .unwrap()
            .replace("nope", "https://a.example.com/"),
    )
    .unwrap();
    let first = loadtape()
        .args(["har", "import"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // Default output beside the input.
    assert!(dir.path().join("good.yaml").exists());
    let again = loadtape()
        .args(["har", "import"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = loadtape()
        .args(["har", "import", "--force"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(forced.status.success());
}

/// The same flow recorded by loadtape's proxy and by mitmproxy gives the same findings:
/// same variables, classes, uses and origins (the values differ: each run gets new tokens).
#[test]
fn token_findings_match_between_loadtape_and_mitmproxy() {
    let mut s = Setup::new(&[]);
    let mitm = Mitmdump::start(s.dir.path(), &s.testbed_ca);
    let base = s.tls_base.clone();
    flow(&|a| s.curl(a), &base);
    flow(&|a| mitm.curl(a), &base);
    let har = mitm.stop();
    let (_, ours) = s.stop();
    let theirs = import(&har, &s.dir.path().join("mitm.yaml"));
    assert_eq!(ours.exchanges.len(), 5);
    assert_eq!(theirs.exchanges.len(), 5);

    let opts = loadtape_detect::Options::default();
    let a = loadtape_detect::analyze(&ours, &opts).unwrap();
    let b = loadtape_detect::analyze(&theirs, &opts).unwrap();
    let shape = |x: &loadtape_detect::Analysis| {
        x.findings
            .iter()
            .map(|f| {
                (
                    f.variable.clone(),
                    f.class,
                    f.uses.clone(),
                    f.origins.clone(),
                    f.applied(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert!(!a.findings.is_empty());
    assert_eq!(
        shape(&a),
        shape(&b),
        "loadtape: {:#?}\nmitmproxy: {:#?}",
        a.findings,
        b.findings
    );
}
