//! `loadtape record`: the recording proxy a phone points at.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use loadtape_proxy::{Proxy, ProxyConfig, Timeouts};

use crate::exit::Failure;
use crate::runtime::{runtime, stop_signal};

/// Record a device's HTTP and HTTPS traffic through a man-in-the-middle proxy.
///
/// Point the device's Wi-Fi proxy at the printed address, install the CA from the page it
/// serves, then use the mini program: each exchange is appended to the recording as it
/// completes. Ctrl-C (or SIGTERM) finishes the exchanges in flight and closes the file.
/// While it runs, http://ADDR/ui (on the device: http://loadtape.ca/ui) shows the captured
/// exchanges live: bodies, token fields, group marks, drops and downloads.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8888", value_name = "ADDR")]
    listen: SocketAddr,
    /// The recording to write [default: recordings/<date-time>.yaml]. Never overwritten.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The recording's name [default: the file's stem].
    #[arg(long)]
    name: Option<String>,
    /// Where the CA lives; created there on first use.
    #[arg(long, default_value = "certs", value_name = "DIR")]
    ca_dir: PathBuf,
    /// Only intercept and record these hosts (globs like *.example.com); others are tunnelled
    /// blind. Repeatable. Default: every host.
    #[arg(long, value_name = "HOST")]
    include: Vec<String>,
    /// Never intercept these hosts: tunnelled blind, so never recorded (apps that pin their
    /// certificates, which would refuse the proxy's). Repeatable.
    #[arg(long, value_name = "HOST")]
    passthrough: Vec<String>,
    /// Client addresses allowed to use the proxy (CIDR or address). Repeatable.
    /// Default: loopback and private ranges.
    #[arg(long, value_name = "CIDR")]
    allow_client: Vec<String>,
    /// Require Proxy-Authorization (Basic) with these credentials.
    #[arg(long, value_name = "USER:PASS", conflicts_with_all = ["tester", "testers"])]
    auth: Option<String>,
    /// A tester who may record: the device sets its proxy user name to this ID (any
    /// password), the proxy refuses IDs not on the list, and each exchange carries
    /// `tester: ID`. Repeatable, up to 150 (more: --testers).
    #[arg(long, value_name = "ID")]
    tester: Vec<String>,
    /// The tester list from a file (CSV or TXT, one ID per line): up to 1,000 IDs, 100 KB.
    #[arg(long, value_name = "FILE")]
    testers: Option<PathBuf>,
    /// When the recording ends, also write one recording per tester beside it
    /// (NAME.TESTER.yaml).
    #[arg(long)]
    split: bool,
    /// How much of each body to record (e.g. 16M, 512k, 1048576); the rest is streamed through
    /// and the body marked truncated.
    #[arg(long, default_value = "16M", value_name = "SIZE", value_parser = parse_size)]
    max_body: usize,
    /// Trust this CA (PEM) for upstream servers, besides the system's roots.
    #[arg(long, value_name = "FILE")]
    upstream_ca: Option<PathBuf>,
    /// Do not verify upstream certificates (self-signed staging servers).
    #[arg(long)]
    insecure_upstream: bool,
    /// How long Ctrl-C waits for exchanges in flight before closing the recording.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = loadtape_scenario::parse_duration)]
    grace: Duration,
    /// How many client connections to serve at once; more wait until one closes.
    /// [default: from the descriptor limit (ulimit -n), one for each client and one for its
    /// upstream]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_clients: Option<u32>,
    /// Caps every connection timeout (idle, request head, TLS handshake, upstream idle) at
    /// DURATION. For tests that watch those timeouts fire in seconds instead of minutes.
    #[arg(long, value_name = "DURATION", hide = true, value_parser = loadtape_scenario::parse_duration)]
    timeout_cap: Option<Duration>,
    /// Not a flag: here only so that `--port 8080`, which other proxies take, is answered with
    /// the `--listen` it means (clap alone would suggest `--out`). Always refused, exit 2.
    #[arg(long = "port", value_name = "PORT", hide = true, num_args = 0..=1,
          default_missing_value = "", value_parser = no_port_flag)]
    _port: Option<String>,
}

pub fn run(args: Args) -> Result<(), Failure> {
    runtime()?.block_on(record(args))
}

async fn record(args: Args) -> Result<(), Failure> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(loadtape_proxy::default_recording_path);
    if out.exists() {
        return Err(Failure::BadInput(anyhow::anyhow!(
            "{} already exists; choose another --out (a recording is never overwritten)",
            out.display()
        )));
    }
    let name = args.name.clone().unwrap_or_else(|| {
        out.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "recording".into())
    });
    let testers = crate::record_testers::testers(&args.tester, args.testers.as_deref())?;
    if args.split && testers.is_empty() {
        return Err(Failure::BadInput(anyhow::anyhow!(
            "--split writes one recording per tester: give the testers with --tester ID or --testers FILE"
        )));
    }
    let config = ProxyConfig {
        testers,
        listen: args.listen,
        out: out.clone(),
        name,
        ca_dir: args.ca_dir.clone(),
        include: args.include.clone(),
        passthrough: args.passthrough.clone(),
        allow_client: args.allow_client.clone(),
        auth: args.auth.clone(),
        max_body: args.max_body,
        upstream_ca: args.upstream_ca.clone(),
        insecure_upstream: args.insecure_upstream,
        max_clients: args.max_clients.map(|n| n as usize),
        timeouts: match args.timeout_cap {
            Some(cap) => Timeouts::default().capped(cap),
            None => Timeouts::default(),
        },
        ui: Some(loadtape_ui::hook()),
    };
    let print: loadtape_proxy::LinePrinter = Arc::new(|line: &str| outln!("{line}"));
    let proxy = Proxy::start(config, print)
        .await
        .with_context(|| format!("cannot start the proxy on {}", args.listen))?;
    let stop = stop_signal();
    banner(&proxy, &args);
    crate::record_testers::read_terminal_marks(proxy.marks());

    stop.await;
    outln!("stopping: finishing the exchanges in flight...");
    let path = proxy.recording_path().to_path_buf();
    let summary = proxy.stop(args.grace).await;
    outln!(
        "recorded {} exchange(s) ({} failed) from {} host(s) to {}",
        summary.exchanges,
        summary.errors,
        summary.hosts.len(),
        path.display()
    );
    if summary.dropped > 0 {
        outln!(
            "dropped {} of them from the UI (tombstones in the file: every reader leaves them out)",
            summary.dropped
        );
    }
    if !summary.hosts.is_empty() {
        outln!(
            "hosts: {}",
            summary.hosts.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    if !summary.token_names.is_empty() {
        outln!(
            "token-like fields seen: {}",
            summary
                .token_names
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if summary.write_failures > 0 {
        outln!(
            "!! {} exchange(s) could not be written (see the error above)",
            summary.write_failures
        );
    }
    if args.split && summary.exchanges > 0 {
        for f in crate::record_testers::split(&path)? {
            outln!("wrote {}", f.display());
        }
    }
    if summary.exchanges == 0 {
        outln!(
            "nothing to convert: {}",
            crate::hints::nothing_reached_the_proxy()
        );
    } else {
        outln!("next: loadtape tokens {}", path.display());
    }
    Ok(())
}

fn banner(proxy: &Proxy, args: &Args) {
    let addr = proxy.local_addr();
    outln!(
        "loadtape record: listening on {addr}, recording to {}",
        proxy.recording_path().display()
    );
    let ca = proxy.ca();
    let fingerprint = ca
        .describe()
        .map(|i| i.fingerprint_sha256)
        .unwrap_or_default();
    outln!(
        "CA: {}{}",
        ca.cert_path().display(),
        if proxy.ca_created() {
            " (created now: install it on the device)"
        } else {
            ""
        }
    );
    outln!("    SHA-256 {fingerprint}");
    let reachable = loadtape_proxy::reachable_addresses(addr);
    outln!("Set the device's Wi-Fi proxy (manual) to one of:");
    for a in &reachable {
        outln!("    {}  port {}", a.ip(), a.port());
    }
    let page = format!("http://{}/", reachable[0]);
    let magic = loadtape_proxy::MAGIC_HOST;
    outln!("Then open {page} on the device (or http://{magic}/ once the proxy is set) to install the CA:");
    if let Some(qr) = loadtape_proxy::qr_code(&page) {
        outln!("{qr}");
    }
    if !args.include.is_empty() {
        outln!("Recording only: {}", args.include.join(", "));
    }
    if !args.passthrough.is_empty() {
        outln!("Passed through untouched: {}", args.passthrough.join(", "));
    }
    if !args.tester.is_empty() || args.testers.is_some() {
        outln!("Testers: set the device's proxy user name to the tester ID (any password).");
    }
    outln!(
        "Mark where a flow starts: open http://{magic}/mark/NAME on the device, or type NAME here."
    );
    outln!(
        "See, search and shape what is captured: http://{}/ui (on the device: http://{magic}/ui).",
        reachable[0]
    );
    outln!("Each exchange is printed as it is recorded. Ctrl-C stops and closes the recording.");
}

/// `--port N`: always an error, naming the `--listen` that sets the port.
fn no_port_flag(value: &str) -> Result<String, String> {
    let port = match value.trim().parse::<u16>() {
        Ok(port) => port.to_string(),
        Err(_) => "PORT".into(),
    };
    Err(format!(
        "record has no --port; use --listen 0.0.0.0:{port} (the address and port to listen on; \
         0.0.0.0 lets a phone on the same Wi-Fi in)"
    ))
}

/// `16M`, `512k`, `1.5MiB`, `1048576`: binary units (k = 1024).
pub(crate) fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 16M, 512k, 1048576)"))?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown size unit `{other}` (use k, M or G)")),
    };
    Ok((number * factor) as usize)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16M"), Ok(16 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1.5MiB"), Ok(3 << 19));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
