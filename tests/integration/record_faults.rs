//! The recording proxy under faults and load: a dead upstream, garbage, clients that vanish,
//! hundreds of connections, a body larger than the recording cap, `kill -9`, WebSocket
//! upgrades, and SIGTERM with an exchange in flight.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use loadtape_recording::{read_recording, BodyContent};

use crate::record::{json, Setup};
use crate::util::{curl, curl_status};

#[test]
fn faults_are_reported_and_survived() {
    let mut s = Setup::new(&[]);
    // Upstream down: 502 with a readable reason, recorded with `error`.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/gone", dead.local_addr().unwrap());
    drop(dead);
    let (text, status) = curl_status(&["--proxy", &s.proxy_url(), &dead_url]);
    assert_eq!(status, 502, "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    assert!(s.next_line().contains("ERR GET"));

    // Garbage: the client gets a 400, the proxy keeps serving.
    let mut raw = TcpStream::connect(&s.proxy_addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(b"\x16\x00garbage\r\n\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = raw.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");

    // A client that goes away mid-body.
    let mut raw = TcpStream::connect(&s.proxy_addr).unwrap();
    write!(
        raw,
        "POST {}/api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{{\"code\":",
        s.plain_base
    )
    .unwrap();
    drop(raw);

    // Still serving.
    let (code, out) = s.curl(&[&format!("{}/stats", s.plain_base)]);
    assert_eq!(code, 0, "{out}");
    let line = s.next_line();
    let line = if line.contains("/api/login") {
        s.next_line()
    } else {
        line
    };
    assert!(line.contains("200 GET"), "{line}");
    let (_, rec) = s.stop();
    let down = rec
        .exchanges
        .iter()
        .find(|e| e.request.url == dead_url)
        .unwrap();
    assert!(down.response.is_none());
    assert!(
        down.error
            .as_deref()
            .unwrap()
            .contains("Connection refused"),
        "{:?}",
        down.error
    );
}

#[test]
fn concurrent_https_connections_all_complete() {
    let mut s = Setup::new(&[]);
    let n = 200;
    let url = format!("{}/slow?ms=300", s.tls_base);
    let mut args = vec![
        "--http1.1",
        "--parallel",
        "--parallel-immediate",
        "--parallel-max",
        "200",
        "-w",
        "%{http_code}\n",
    ];
    let urls = vec![url.as_str(); n];
    for u in &urls {
        args.push("-o");
        args.push("/dev/null");
        args.push(u);
    }
    let (code, out) = s.curl(&args);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().filter(|l| *l == "200").count(), n, "{out}");
    let lines = s.proxy.as_mut().unwrap().lines(n);
    assert!(lines.iter().all(|l| l.contains("200 GET")));
    let (_, rec) = s.stop();
    assert_eq!(rec.exchanges.len(), n);
    assert_eq!(s.tls.stats().requests.slow, n as u64);
}

/// VmRSS of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_big_download_streams_through_and_is_recorded_truncated() {
    let mut s = Setup::new(&["--max-body", "1M"]);
    let pid = s.proxy.as_ref().unwrap().pid();
    let before = rss_kib(pid);
    let size = 50u64 << 20;
    let (code, out) = s.curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        &format!("{}/blob?bytes={size}", s.tls_base),
    ]);
    assert_eq!(code, 0);
    assert_eq!(out, size.to_string());
    s.next_line();
    let grown = rss_kib(pid).saturating_sub(before);
    assert!(
        grown < 40 * 1024,
        "the proxy's peak memory grew by {grown} KiB for a 50 MiB body"
    );
    let (_, rec) = s.stop();
    let body = rec.exchanges[0]
        .response
        .as_ref()
        .unwrap()
        .body
        .as_ref()
        .unwrap();
    assert!(body.truncated);
    assert_eq!(body.size, Some(size));
    match &body.content {
        BodyContent::Binary(bytes) => {
            assert_eq!(bytes.len(), 1 << 20);
            assert!(bytes.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        }
        other => panic!("expected binary, got {other:?}"),
    }
}

#[test]
fn after_kill_9_every_printed_exchange_is_in_the_recording() {
    let mut s = Setup::new(&[]);
    let url = format!("{}/api/login", s.plain_base);
    let mut printed = Vec::new();
    for i in 0..20 {
        let (code, _) = s.curl(&["-d", &format!(r#"{{"code":"code-{i:04}-xyz"}}"#), &url]);
        assert_eq!(code, 0);
        printed.push(s.next_line());
    }
    let mut proxy = s.proxy.take().unwrap();
    proxy.child.kill().unwrap();
    proxy.child.wait().unwrap();
    let rec = read_recording(&s.recording).unwrap();
    assert_eq!(rec.exchanges.len(), printed.len());
    for (i, e) in rec.exchanges.iter().enumerate() {
        assert_eq!(
            e.request.body.as_ref().unwrap().as_json().unwrap()["code"],
            format!("code-{i:04}-xyz")
        );
    }
}

#[test]
fn websocket_upgrades_are_passed_through() {
    let mut s = Setup::new(&[]);
    // A minimal upgrade-speaking upstream: answers 101, then echoes bytes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            conn.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap().to_lowercase();
        assert!(head.contains("upgrade: websocket"), "{head}");
        conn.write_all(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n").unwrap();
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf).unwrap();
        conn.write_all(&buf).unwrap();
    });
    let mut client = TcpStream::connect(&s.proxy_addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(client, "GET http://{addr}/chat HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&head).starts_with("HTTP/1.1 101"));
    client.write_all(b"hello").unwrap();
    let mut echo = [0u8; 5];
    client.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"hello");
    server.join().unwrap();
    assert!(s.next_line().contains("101 GET"));
    let (_, rec) = s.stop();
    assert_eq!(rec.exchanges[0].response.as_ref().unwrap().status, 101);
}

#[test]
fn sigterm_finishes_the_exchanges_in_flight() {
    let mut s = Setup::new(&[]);
    let url = format!("{}/slow?ms=1500", s.tls_base);
    let proxy = s.proxy_url();
    let ca = s.loadtape_ca.clone();
    let client = std::thread::spawn(move || curl(&["--proxy", &proxy, "--cacert", &ca, &url]));
    // Wait (bounded) until the testbed has the request: it is now in flight in the proxy.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.tls.stats().requests.slow == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never reached the testbed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let (rest, rec) = s.stop();
    let (code, out) = client.join().unwrap();
    assert_eq!(
        code, 0,
        "the client got its answer although the proxy was stopping: {out}"
    );
    assert_eq!(json(&out)["slept_ms"], 1500);
    assert!(rest.contains("recorded 1 exchange(s)"), "{rest}");
    assert_eq!(rec.exchanges.len(), 1);
    assert_eq!(rec.exchanges[0].response.as_ref().unwrap().status, 200);
    assert!(rec.exchanges[0].duration_ms >= 1500.0);
}

/// A proxy whose stdout nobody reads any more (its terminal closed, `| head` exited) keeps
/// recording: printing a line must not panic the recorder and lose the exchanges after it.
#[test]
fn a_closed_stdout_does_not_stop_the_recording() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let (_upstream, base) = crate::util::testbed(&[]);
    let recording = dir.path().join("rec.yaml");
    let mut child = crate::util::loadtape()
        .args(["record", "--listen", "127.0.0.1:0", "--out"])
        .arg(&recording)
        .arg("--ca-dir")
        .arg(dir.path().join("certs"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut proxy = String::new();
    for _ in 0..200 {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "record exited");
        if let Some(rest) = line.split("listening on ").nth(1) {
            proxy = format!("http://{}", rest.split(',').next().unwrap());
        }
        if line.contains("Each exchange is printed") {
            break;
        }
    }
    drop(stdout);
    for i in 0..5 {
        let (code, out) = curl(&["--proxy", &proxy, &format!("{base}/slow?ms={i}")]);
        assert_eq!(code, 0, "request {i} through the proxy: {out}");
    }
    crate::util::signal(child.id(), "TERM");
    let done = crate::util::finish(child, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let rec = read_recording(&recording).unwrap();
    assert_eq!(rec.exchanges.len(), 5, "{stderr}");
}

/// `hey` (Go, `ServerName` set from `Host`) sends `localhost:PORT` as its TLS server name,
/// which RFC 6066 does not allow and rustls 0.23 refuses outright. The proxy cannot intercept
/// it (the name is in the handshake transcript), so it passes the connection through to the
/// CONNECT host, unrecorded, and says why, instead of failing the client. openssl's
/// `s_client` sends such a name as it is told: a real client, through the proxy.
#[test]
fn a_server_name_with_a_port_is_passed_through_and_said() {
    // The upstream is openssl's own server, which takes such a name (rustls servers, the
    // testbed among them, refuse it too).
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-www",
            "-quiet",
            "-accept",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "openssl s_server listens"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut s = Setup::new(&[]);
    let authority = format!("localhost:{port}");
    let mut client = std::process::Command::new("timeout")
        .args([
            "20",
            "openssl",
            "s_client",
            "-quiet",
            "-verify_return_error",
        ])
        .args(["-proxy", &s.proxy_addr, "-connect", &authority])
        .args(["-servername", &authority, "-verify_hostname", "localhost"])
        // Passed through: the certificate is the server's own, not a loadtape leaf.
        .arg("-CAfile")
        .arg(&cert)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    write!(client.stdin.take().unwrap(), "GET / HTTP/1.0\r\n\r\n").unwrap();
    let out = crate::util::finish(client, Duration::from_secs(25));
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("HTTP/1.0 200"),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = s.next_line();
    assert!(
        line.contains(&format!("names the server `{authority}` (with a port)"))
            && line.contains("passed through unrecorded"),
        "{line}"
    );
    let (_, rec) = s.stop();
    assert_eq!(rec.exchanges.len(), 0);
}

/// Two different ClientHello failures for one host are both said: the advice for the first
/// must not hide the cause of the second.
#[test]
fn each_distinct_client_hello_failure_is_said_once() {
    let mut s = Setup::new(&[]);
    let authority = s.tls_base.trim_start_matches("https://").to_string();
    // A TLS record with a ClientHello that does not parse, and one with a ServerHello where
    // the ClientHello belongs; each twice.
    let garbage: &[u8] = b"\x16\x03\x01\x00\x08\x01\x00\x00\x04junk";
    let server_hello: &[u8] = b"\x16\x03\x01\x00\x04\x02\x00\x00\x00";
    for hello in [garbage, garbage, server_hello, server_hello] {
        let mut raw = TcpStream::connect(&s.proxy_addr).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            raw,
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            raw.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 200"), "{head:?}");
        raw.write_all(hello).unwrap();
        // The proxy answers with an alert, or just closes: either way the tunnel ends.
        let mut rest = Vec::new();
        let _ = raw.read_to_end(&mut rest);
    }
    // A request that works, so that its line marks the end of what the failures printed.
    let (code, out) = s.curl(&[&format!("{}/stats", s.tls_base)]);
    assert_eq!(code, 0, "{out}");
    let mut said = Vec::new();
    loop {
        let line = s.next_line();
        if line.contains("200 GET") {
            break;
        }
        said.push(line);
    }
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(
        said.iter()
            .all(|l| l.contains("localhost: unreadable TLS ClientHello")),
        "{said:?}"
    );
    assert_ne!(said[0], said[1]);
}
