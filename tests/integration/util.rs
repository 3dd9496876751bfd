//! Helpers to run the `loadtape` binary as a user would.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

pub fn loadtape() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loadtape"))
}

/// A long-running `loadtape` process (a server), stopped with SIGTERM when dropped.
pub struct Running {
    pub child: Child,
    pub stdout: BufReader<ChildStdout>,
}

impl Running {
    pub fn spawn(args: &[&str]) -> Running {
        let mut command = loadtape();
        command.args(args);
        Running::start(command)
    }

    /// Starts any command with stdout piped (stderr goes to the test's output).
    pub fn start(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the command starts");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Running { child, stdout }
    }

    /// Reads stdout lines until one contains `needle`; returns that line. Bounded to 200
    /// lines, so a process that prints something else fails the test instead of hanging.
    pub fn line_containing(&mut self, needle: &str) -> String {
        for _ in 0..200 {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).expect("read stdout");
            assert!(n > 0, "loadtape exited before printing {needle:?}");
            if line.contains(needle) {
                return line;
            }
        }
        panic!("no line containing {needle:?} in the first 200 lines");
    }

    /// For a `loadtape record` just started: waits until it is ready (its banner printed)
    /// and returns the address it listens on.
    pub fn proxy_ready(&mut self) -> String {
        let line = self.line_containing("listening on");
        let addr = line
            .split("listening on ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string();
        self.line_containing("Each exchange is printed");
        addr
    }

    /// Reads the next `n` stdout lines.
    pub fn lines(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let mut line = String::new();
                let read = self.stdout.read_line(&mut line).expect("read stdout");
                assert!(read > 0, "loadtape exited early");
                line
            })
            .collect()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (bounded) for the exit; returns the exit code and the rest of
    /// stdout.
    pub fn terminate(self) -> (i32, String) {
        self.stop("TERM")
    }

    /// Sends `signal` (`TERM`, `INT` as Ctrl-C does) and waits (bounded) for the exit;
    /// returns the exit code and the rest of stdout.
    pub fn stop(mut self, signal: &str) -> (i32, String) {
        self::signal(self.child.id(), signal);
        let deadline = Instant::now() + Duration::from_secs(10);
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "the process did not stop within 10 s of SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        (code, rest)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `loadtape testbed` on a free loopback port with `extra` flags; returns it and its
/// base URL (`http://127.0.0.1:PORT`, or `https://localhost:PORT` with `--tls`).
pub fn testbed(extra: &[&str]) -> (Running, String) {
    let mut args = vec!["testbed", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut tb = Running::spawn(&args);
    let line = tb.line_containing("listening on");
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    (tb, base)
}

/// Headless Chromium (bounded by `timeout 60`) with a fresh profile under `home`, and the
/// flags that keep it off this closed network (no background fetches, no QUIC, no sync);
/// the caller adds what to load and `--dump-dom`.
pub fn chromium(home: &std::path::Path) -> Command {
    let mut c = Command::new("timeout");
    c.arg("60")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-features=OptimizationHints,MediaRouter,Translate,NetworkTimeServiceQuerying,AutofillServerCommunication",
        ])
        .arg(format!("--user-data-dir={}", home.join("profile").display()))
        .env("HOME", home);
    c
}

/// The environment curl would otherwise take a proxy or a CA bundle from: a test says both
/// on the command line, so a developer's shell settings cannot change what it sees. (The
/// testbed's tests clear the same list.)
const CURL_AMBIENT: [&str; 10] = [
    "http_proxy",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Runs curl with the given arguments, no config file and no ambient proxy or CA settings;
/// returns (exit code, stdout).
pub fn curl(args: &[&str]) -> (i32, String) {
    let mut c = Command::new("curl");
    for var in CURL_AMBIENT {
        c.env_remove(var);
    }
    let out = c
        .args(["-q", "--silent", "--show-error", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl is installed (.ci/run installs it)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Runs curl and returns the response body and HTTP status (0 when there was no response).
pub fn curl_status(args: &[&str]) -> (String, u16) {
    let mut all = vec!["-w", "\n%{http_code}"];
    all.extend_from_slice(args);
    let (_, out) = curl(&all);
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", out.as_str()));
    (body.to_string(), code.trim().parse().unwrap_or(0))
}

/// Sends `sig` (`KILL`, `INT` as Ctrl-C does, `TERM`) to process `pid` with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig} {pid}: {status}");
}

/// Waits (bounded) for a child started with piped output; kills it and fails the test past
/// `limit`, so a hung run cannot hang the suite.
pub fn finish(child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if start.elapsed() > limit {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("loadtape did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    waiter.join().unwrap()
}

/// Writes `dir/s.yaml`: one GET to 127.0.0.1 port 9, where nothing listens, one VU for 1 s and
/// no thresholds. Every request fails at once as `connect`, so a run needs no server and
/// still writes a real result.
pub fn refused_scenario(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        "loadtape: scenario/v1
name: refused
steps:
  - name: get
    request: {method: GET, url: 'http://127.0.0.1:9/x'}
load: {executor: constant-vus, vus: 1, duration: 1s}
thresholds: []
",
    )
    .unwrap();
    path
}
