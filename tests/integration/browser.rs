//! Headless Chromium (Debian's `chromium`, installed by `.ci/run`) records through the proxy
//! with the loadtape CA trusted the way a desktop user trusts it: in an NSS database made with
//! `certutil` (Debian's `libnss3-tools`).

use std::process::Command;

use crate::record::Setup;

#[test]
fn chromium_loads_the_testbed_page_and_its_xhr_calls_over_http2() {
    // Only the testbed is intercepted: the browser's own background calls (time, updates,
    // accounts) go into blind tunnels that fail at name resolution, and are not recorded.
    let mut s = Setup::new(&["--include", "localhost"]);
    let home = s.dir.path().join("home");
    let nssdb = home.join(".pki/nssdb");
    std::fs::create_dir_all(&nssdb).unwrap();
    let db = format!("sql:{}", nssdb.display());
    let status = Command::new("certutil")
        .args(["-N", "--empty-password", "-d", &db])
        .status()
        .expect("certutil (libnss3-tools) is installed");
    assert!(status.success());
    let status = Command::new("certutil")
        .args([
            "-d",
            &db,
            "-A",
            "-t",
            "C,,",
            "-n",
            "loadtape",
            "-i",
            &s.loadtape_ca,
        ])
        .status()
        .unwrap();
    assert!(status.success());

    let out = crate::util::chromium(&home)
        .args([
            // Chromium sends loopback traffic around a proxy unless told not to.
            "--proxy-bypass-list=<-loopback>",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--proxy-server={}", s.proxy_url()))
        .arg(format!("{}/", s.tls_base))
        .output()
        .expect("chromium is installed");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains(r#"<div id="status">ok</div>"#),
        "the page's flow did not finish:\n{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for _ in 0..4 {
        s.next_line();
    }
    let (_, rec) = s.stop();
    let urls: Vec<_> = rec
        .exchanges
        .iter()
        .map(|e| e.request.url.as_str())
        .collect();
    let base = &s.tls_base;
    assert_eq!(urls[0], format!("{base}/"));
    assert_eq!(urls[1], format!("{base}/api/login"));
    assert_eq!(urls[2], format!("{base}/api/goods?page=1"));
    assert!(
        urls[3].starts_with(&format!("{base}/api/goods/g")),
        "{urls:?}"
    );
    assert_eq!(rec.exchanges.len(), 4, "{urls:?}");
    for e in &rec.exchanges {
        assert_eq!(e.request.version, "HTTP/2.0", "{}", e.request.url);
        assert_eq!(e.response.as_ref().unwrap().version, "HTTP/2.0");
        assert_eq!(e.response.as_ref().unwrap().status, 200);
    }
    let login = &rec.exchanges[1];
    assert!(login.request.body.as_ref().unwrap().as_json().unwrap()["code"].is_string());
    let list = &rec.exchanges[2];
    let token = login
        .response
        .as_ref()
        .unwrap()
        .body
        .as_ref()
        .unwrap()
        .as_json()
        .unwrap()["token"]
        .as_str()
        .unwrap();
    assert_eq!(
        list.request.headers.get("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    let stats = s.tls.stats();
    assert_eq!(stats.auth_failures_total(), 0);
    assert_eq!(
        (
            stats.requests.login,
            stats.requests.goods_list,
            stats.requests.goods_detail
        ),
        (1, 1, 1)
    );
}
