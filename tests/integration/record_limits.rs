//! The recording proxy with few file descriptors and many clients that hold connections
//! without using them: a real `loadtape record` under `prlimit --nofile=256:256`, hundreds of
//! idle TCP connections, connections that stop halfway through a request head or a TLS
//! ClientHello, and a TLS tunnel left idle. A real client must still get its answer, the
//! proxy must close what is idle, and it must say what is going on in a few lines, not
//! thousands.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loadtape_testbed::{Config, Testbed};

use crate::util::curl;

/// The descriptor limit the proxy runs under.
const NOFILE: &str = "256";
/// Idle connections opened at once: more than the proxy has descriptors.
const IDLE: usize = 300;
/// Every connection timeout of the proxy under test (`--timeout-cap`).
const CAP_SECS: u64 = 2;
/// How long after it was opened an idle probe must have been closed: a tunnel takes two
/// timeouts (its first bytes, then the server's), plus slack for a loaded machine.
const CLOSED_WITHIN: Duration = Duration::from_secs(4 * CAP_SECS + 4);

/// A proxy process killed when dropped, with every line it prints collected by a thread.
struct Proxy {
    child: Child,
    addr: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start(dir: &std::path::Path, upstream_ca: &str) -> Proxy {
        let mut child = Command::new("prlimit")
            .arg(format!("--nofile={NOFILE}:{NOFILE}"))
            .arg(env!("CARGO_BIN_EXE_loadtape"))
            .args([
                "record",
                "--listen",
                "127.0.0.1:0",
                "--upstream-ca",
                upstream_ca,
            ])
            .arg("--out")
            .arg(dir.join("rec.yaml"))
            .arg("--ca-dir")
            .arg(dir.join("certs"))
            .args(["--timeout-cap", &format!("{CAP_SECS}s")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("prlimit (util-linux) is installed");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut addr = String::new();
        for _ in 0..200 {
            let mut line = String::new();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "record exited");
            if let Some(rest) = line.split("listening on ").nth(1) {
                addr = rest.split(',').next().unwrap().to_string();
            }
            if line.contains("Each exchange is printed") {
                break;
            }
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            Box::new(stdout) as Box<dyn std::io::BufRead + Send>,
            Box::new(BufReader::new(child.stderr.take().unwrap())),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in pipe.lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Proxy { child, addr, lines }
    }

    fn said(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection that has sent `sent` (and, for a tunnel, read the CONNECT answer) and then
/// says nothing more.
struct Probe {
    what: &'static str,
    stream: TcpStream,
    opened: Instant,
}

impl Probe {
    fn open(proxy: &str, what: &'static str, connect: Option<&str>, sent: &[u8]) -> Probe {
        let opened = Instant::now();
        let mut stream = TcpStream::connect(proxy).unwrap();
        stream.set_read_timeout(Some(CLOSED_WITHIN)).unwrap();
        if let Some(authority) = connect {
            write!(
                stream,
                "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n"
            )
            .unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                stream.read_exact(&mut byte).unwrap();
                head.push(byte[0]);
            }
            assert!(head.starts_with(b"HTTP/1.1 200"), "{what}: {head:?}");
        }
        stream.write_all(sent).unwrap();
        Probe {
            what,
            stream,
            opened,
        }
    }

    /// Waits, in a thread of its own, for the proxy to close the connection (bounded); the
    /// thread returns how long the connection was open.
    fn watch(self) -> std::thread::JoinHandle<(&'static str, Duration)> {
        std::thread::spawn(move || (self.what, self.closed()))
    }

    fn closed(mut self) -> Duration {
        let mut rest = Vec::new();
        loop {
            let left = CLOSED_WITHIN.saturating_sub(self.opened.elapsed());
            assert!(
                !left.is_zero(),
                "{}: still open after {CLOSED_WITHIN:?}",
                self.what
            );
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => rest.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!(
                    "{}: not closed within {CLOSED_WITHIN:?} ({e}); it sent {rest:?}",
                    self.what
                ),
            }
        }
        self.opened.elapsed()
    }
}

/// Connections that stop halfway, outside and inside a CONNECT tunnel to `tunnel`, each
/// watched by a thread until the proxy closes it.
fn halfway_probes(
    proxy: &str,
    plain: &str,
    tunnel: &str,
) -> Vec<std::thread::JoinHandle<(&'static str, Duration)>> {
    let head = format!("GET {plain}/stats HTTP/1.1\r\nHost: x\r\n");
    [
        Probe::open(proxy, "an idle connection", None, b""),
        Probe::open(proxy, "a half-sent request head", None, head.as_bytes()),
        Probe::open(proxy, "a tunnel with no ClientHello", Some(tunnel), b""),
        Probe::open(
            proxy,
            "a tunnel with half a ClientHello",
            Some(tunnel),
            b"\x16\x03\x01\x02\x00\x01",
        ),
    ]
    .into_iter()
    .map(Probe::watch)
    .collect()
}

/// A TLS client (openssl) that completes its handshake through the proxy's tunnel to
/// `tunnel`, then sends nothing; returns once the handshake is done, with the thread that
/// waits (bounded) for it to end (it ends when the proxy closes the connection) and returns
/// how long it was connected, and its stdin, to keep open until then (openssl ends at the end
/// of its input).
fn idle_tls_client(
    proxy: &str,
    tunnel: &str,
    ca: &std::path::Path,
) -> (std::thread::JoinHandle<Duration>, std::process::ChildStdin) {
    let opened = Instant::now();
    let mut client = Command::new("timeout")
        .arg((CLOSED_WITHIN.as_secs() + 5).to_string())
        .args(["openssl", "s_client", "-brief", "-verify_return_error"])
        .args(["-proxy", proxy, "-connect", tunnel, "-CAfile"])
        .arg(ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    let stdin = client.stdin.take().unwrap();
    let mut said = BufReader::new(client.stderr.take().unwrap());
    let mut established = String::new();
    while !established.contains("CONNECTION ESTABLISHED") {
        let mut line = String::new();
        assert!(
            said.read_line(&mut line).unwrap() > 0,
            "openssl ended before its handshake: {established}"
        );
        established.push_str(&line);
    }
    let ended = std::thread::spawn(move || {
        crate::util::finish(client, CLOSED_WITHIN + Duration::from_secs(10));
        opened.elapsed()
    });
    (ended, stdin)
}

/// What the proxy printed: a few lines, the cap once with how to raise it, no accept errors.
fn assert_said_little(said: &[String]) {
    assert!(
        said.len() <= 10,
        "the proxy said {} lines: {said:#?}",
        said.len()
    );
    let cap: Vec<_> = said
        .iter()
        .filter(|l| l.contains("--max-clients"))
        .collect();
    assert_eq!(cap.len(), 1, "the cap is said once: {said:#?}");
    assert!(cap[0].contains("ulimit -n"), "{}", cap[0]);
    assert!(
        !said.iter().any(|l| l.contains("accept failed")),
        "{said:#?}"
    );
}

#[test]
fn idle_connections_cannot_starve_a_proxy_with_few_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let plain = rt.block_on(Testbed::start(Config::default())).unwrap();
    let tls = rt
        .block_on(Testbed::start(Config {
            tls: true,
            cert_dir: dir.path().join("testbed"),
            ..Config::default()
        }))
        .unwrap();
    let proxy = Proxy::start(dir.path(), tls.ca_path().unwrap().to_str().unwrap());
    let loadtape_ca = dir.path().join("certs/loadtape-ca.pem");
    let tunnel = tls.base_url().trim_start_matches("https://").to_string();
    let probes = halfway_probes(&proxy.addr, &plain.base_url(), &tunnel);
    // Being served before the flood below fills the proxy's places.
    let (idle_tls, tls_stdin) = idle_tls_client(&proxy.addr, &tunnel, &loadtape_ca);

    // More idle connections than the proxy has descriptors.
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| TcpStream::connect(&proxy.addr).unwrap())
        .collect();

    // A real client still gets its answers, plain HTTP and HTTPS.
    let started = Instant::now();
    let proxy_url = format!("http://{}", proxy.addr);
    for url in [plain.base_url(), tls.base_url()].map(|base| format!("{base}/stats")) {
        let ca = loadtape_ca.to_str().unwrap();
        let (code, out) = curl(&[
            "--max-time",
            "30",
            "--proxy",
            &proxy_url,
            "--cacert",
            ca,
            &url,
        ]);
        let said = proxy.said();
        assert_eq!(code, 0, "{url} through the proxy: {out}\n{said:#?}");
        assert!(out.contains("\"requests\""), "{out}");
    }
    eprintln!("the real client was served after {:?}", started.elapsed());

    for probe in probes {
        let (what, open) = probe.join().unwrap();
        eprintln!("{what}: closed by the proxy after {open:?}");
    }
    let open = idle_tls.join().unwrap();
    drop(tls_stdin);
    assert!(
        open < CLOSED_WITHIN,
        "an idle TLS tunnel stayed open {open:?}"
    );
    eprintln!("an idle TLS tunnel: closed by the proxy after {open:?}");
    drop(idle);

    let said = proxy.said();
    eprintln!("the proxy said {said:#?}");
    assert_said_little(&said);
    assert!(
        said.iter().any(|l| l.contains("200 GET https://")),
        "{said:#?}"
    );
}

/// An upstream connection no exchange uses is closed after the upstream idle timeout, even
/// while its client connection stays busy with other hosts.
#[test]
fn an_unused_upstream_connection_is_closed() {
    let s = crate::record::Setup::new(&["--timeout-cap", &format!("{CAP_SECS}s")]);
    let other = s._rt.block_on(Testbed::start(Config::default())).unwrap();
    let first = format!("{}/stats", s.plain_base);
    // One client connection, kept busy for more than the timeout by another host.
    let busy = format!("{}/slow?ms=700", other.base_url());
    let mut args = vec!["-w", "%{num_connects}\n", "-o", "/dev/null", first.as_str()];
    for _ in 0..(CAP_SECS * 2) {
        args.extend_from_slice(&["-o", "/dev/null", busy.as_str()]);
    }
    args.extend_from_slice(&["-o", "/dev/null", first.as_str()]);
    let (code, out) = s.curl(&args);
    assert_eq!(code, 0, "{out}");
    let connects: u64 = out.lines().map(|l| l.parse::<u64>().unwrap()).sum();
    assert_eq!(connects, 1, "curl kept one connection to the proxy: {out}");
    assert_eq!(other.connections(), 1);
    assert_eq!(
        s.plain.connections(),
        2,
        "the first upstream connection, unused longer than the {CAP_SECS}s upstream idle timeout, was closed"
    );
}
