//! `loadtape testbed`: serve the built-in mini-program backend until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use loadtape_testbed::{Config, Testbed};

use crate::exit::Failure;
use crate::runtime::{runtime, stop_signal};

/// Serve a small mini-program backend in the shape of WeChat's (tokens that really expire).
///
/// Endpoints: GET /cgi-bin/token, POST /cgi-bin/stable_token (platform access_token),
/// POST /api/login (session token, also set as the tb_session cookie), GET /api/goods and
/// /api/goods/{id} (Bearer session), GET /api/profile (Bearer or cookie),
/// POST /api/order?access_token=..., POST /admin/revoke, POST /admin/stall?for=1s,
/// GET /blob?bytes=N, GET /slow?ms=N, GET /stats (the server's own counts), and GET / (a page
/// that runs the flow from a browser). JSON over 256 bytes is gzipped when the client accepts it.
///
/// Under /wp/, a small web app in WordPress's shape: POST /wp/login (form log=admin,
/// pwd=testbed-password; a session cookie living --token-ttl), GET /wp/admin (per-session nonces
/// in its HTML), POST /wp/json/posts and GET/POST /wp/json/posts/{id} (X-WP-Nonce), POST /wp/ajax
/// (multipart action, _wpnonce, post_ID), GET /wp/logout?action=logout&_wpnonce=...
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090", value_name = "ADDR")]
    listen: SocketAddr,
    /// Serve HTTPS (h2 and http/1.1) with a leaf from a throwaway CA written to --cert-dir.
    #[arg(long)]
    tls: bool,
    /// Where --tls writes testbed-ca.pem, for curl --cacert, record --upstream-ca or run --ca.
    #[arg(long, default_value = "certs", value_name = "DIR")]
    cert_dir: PathBuf,
    /// Lifetime of every token issued (platform and session), e.g. 2s, 90s, 2h.
    #[arg(long, default_value = "7200s", value_name = "DURATION", value_parser = loadtape_scenario::parse_duration)]
    token_ttl: Duration,
    /// The appid /cgi-bin/token accepts.
    #[arg(long, default_value = "wxtestbed")]
    appid: String,
    /// The secret /cgi-bin/token accepts.
    #[arg(long, default_value = "testbed-secret")]
    secret: String,
}

pub fn run(args: Args) -> Result<(), Failure> {
    if args.token_ttl.is_zero() {
        return Err(Failure::BadInput(anyhow::anyhow!(
            "--token-ttl must be longer than zero (e.g. 2s or 2h)"
        )));
    }
    runtime()?.block_on(serve(args))
}

async fn serve(args: Args) -> Result<(), Failure> {
    let config = Config {
        listen: args.listen,
        tls: args.tls,
        cert_dir: args.cert_dir,
        token_ttl: args.token_ttl,
        appid: args.appid.clone(),
        secret: args.secret.clone(),
        http1_only: false,
    };
    let testbed = Testbed::start(config)
        .await
        .with_context(|| format!("cannot start the testbed on {}", args.listen))?;
    let base = testbed.base_url();
    let stop = stop_signal();
    outln!("loadtape testbed listening on {base}");
    outln!(
        "  appid {}  secret {}  token lifetime {}",
        args.appid,
        args.secret,
        loadtape_scenario::format_duration(args.token_ttl)
    );
    let cacert = match testbed.ca_path() {
        Some(path) => {
            outln!("  CA for clients: {}", path.display());
            format!(" --cacert {}", path.display())
        }
        None => String::new(),
    };
    outln!("try:");
    outln!(
        "  curl{cacert} '{base}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}'",
        args.appid,
        args.secret
    );
    outln!("  curl{cacert} -d '{{\"code\":\"0a3Xk2ll2yqXRc4M\"}}' {base}/api/login");
    outln!("  curl{cacert} {base}/stats");
    outln!("Ctrl-C stops it.");

    stop.await;
    let stats = testbed.stats();
    testbed.shutdown().await;
    outln!(
        "stopped. {}",
        serde_json::to_string(&stats).unwrap_or_default()
    );
    Ok(())
}
