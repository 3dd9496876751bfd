//! How many upstream connections the recording proxy opens: many streams on one client HTTP/2
//! connection share one upstream HTTP/2 connection, and an HTTP/1.1 upstream gets a bounded
//! number of them. The testbed counts the TCP connections it accepted
//! (`Testbed::connections`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loadtape_testbed::{Config, Testbed};

use crate::record::Setup;

/// Streams curl runs at once on its one connection to the proxy.
const PARALLEL: usize = 100;
/// Requests in all: three waves of `PARALLEL`.
const REQUESTS: usize = 300;

/// curl, through the proxy, `REQUESTS` GETs of `url` with `PARALLEL` at a time multiplexed on
/// one HTTP/2 connection; returns how many answered 200 and how many connections curl opened.
fn parallel_h2(s: &Setup, url: &str, extra: &[&str]) -> (usize, u64) {
    let max = PARALLEL.to_string();
    let mut args = vec![
        "--parallel",
        "--parallel-max",
        max.as_str(),
        "--max-time",
        "60",
        "-w",
        "%{http_code} %{num_connects}\n",
    ];
    args.extend_from_slice(extra);
    for _ in 0..REQUESTS {
        args.extend_from_slice(&["-o", "/dev/null", url]);
    }
    let (code, out) = s.curl(&args);
    assert_eq!(code, 0, "{out}");
    let ok = out.lines().filter(|l| l.starts_with("200 ")).count();
    let connects = out
        .lines()
        .filter_map(|l| l.split(' ').nth(1)?.parse::<u64>().ok())
        .sum();
    (ok, connects)
}

/// A TCP relay to `target` that holds each new connection for `latency` before passing it on,
/// as a distant server's first round trips would: the proxy's first dial then takes that
/// long, and every stream that comes meanwhile finds it still in progress. Counts the
/// connections it accepted. Its threads end with the test process.
fn distant(target: SocketAddr, latency: Duration) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                // The simulated distance, not a wait for something to happen.
                std::thread::sleep(latency);
                let Ok(server) = TcpStream::connect(target) else {
                    return;
                };
                let (mut c, mut s) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut c, &mut s));
                let (mut s, mut c) = (server, client);
                let _ = std::io::copy(&mut s, &mut c);
                let _ = c.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (port, accepted)
}

#[test]
fn streams_of_one_client_connection_share_one_upstream_h2_connection() {
    let mut s = Setup::new(&[]);
    let (port, relayed) = distant(s.tls.local_addr(), Duration::from_millis(300));
    let url = format!("https://localhost:{port}/slow?ms=200");
    let (ok, client_connections) = parallel_h2(&s, &url, &["--http2"]);
    assert_eq!(ok, REQUESTS);
    assert_eq!(client_connections, 1, "curl multiplexed on one connection");
    assert_eq!(relayed.load(Ordering::SeqCst) as u64, s.tls.connections());
    let upstream = s.tls.connections();
    eprintln!("{REQUESTS} HTTP/2 streams, {PARALLEL} at a time: {upstream} upstream connection(s)");
    assert_eq!(
        upstream, 1,
        "{REQUESTS} streams on one client connection opened {upstream} upstream connections"
    );
    let (_, rec) = s.stop();
    assert_eq!(rec.exchanges.len(), REQUESTS);
    assert_eq!(s.tls.stats().requests.slow, REQUESTS as u64);
}

#[test]
fn an_http1_upstream_gets_a_bounded_number_of_connections() {
    // An HTTPS upstream that offers only HTTP/1.1: the proxy serves h2 to curl and must open
    // one upstream connection per exchange in flight. (Its CA is not the one `Setup` trusts.)
    let mut s = Setup::new(&["--insecure-upstream"]);
    let h1 = s
        ._rt
        .block_on(Testbed::start(Config {
            tls: true,
            http1_only: true,
            cert_dir: s.dir.path().join("h1-testbed"),
            ..Config::default()
        }))
        .unwrap();
    let url = format!("{}/slow?ms=200", h1.base_url());
    let (ok, client_connections) = parallel_h2(&s, &url, &["--http2"]);
    assert_eq!(ok, REQUESTS);
    assert_eq!(client_connections, 1, "curl multiplexed on one connection");
    let upstream = h1.connections();
    eprintln!(
        "{REQUESTS} exchanges, {PARALLEL} at a time: {upstream} HTTP/1.1 upstream connections"
    );
    assert!(
        (2..=16).contains(&upstream),
        "{REQUESTS} requests, {PARALLEL} at a time, opened {upstream} HTTP/1.1 upstream connections"
    );
    let (_, rec) = s.stop();
    assert_eq!(rec.exchanges.len(), REQUESTS);
    assert_eq!(
        rec.exchanges[0].response.as_ref().unwrap().version,
        "HTTP/1.1"
    );
}
