//! `loadtape-testbed`: a built-in mini-program backend in the shape of WeChat's.
//!
//! loadtape records a mini program's traffic, finds its tokens and replays it as load. Proving
//! that works needs a backend whose tokens really expire, whose ids really must be correlated,
//! and which counts what it saw — so a test (or `loadtape demo`) can compare the replay's
//! numbers with the server's own. This crate is that backend. [`Testbed::start`] serves it on
//! a port as a [`Config`] says; [`Testbed::stats`] (or `GET /stats`) reads its counters as a
//! [`Stats`]. The routes:
//!
//! * `GET /cgi-bin/token`, `POST /cgi-bin/stable_token` — platform `access_token`s (client
//!   credentials), answered WeChat-style: errors are HTTP 200 with an `errcode`.
//! * `POST /api/login` — a session token for a `{code}`, in the JSON and as two `Set-Cookie`
//!   lines: `tb_session=<token>; Path=/; HttpOnly; SameSite=Lax`, then
//!   `tb_lang=zh_CN; Path=/; Max-Age=86400`.
//! * `GET /api/goods?page=N`, `GET /api/goods/{id}` — need `Authorization: Bearer <session>`
//!   (401 when missing, expired, revoked or forged). Ids are MAC-tagged, so only ids from a
//!   list response of this very process are known.
//! * `GET /api/profile` — the session's user (`openid` derived from the token), by bearer or,
//!   without one, by the `tb_session` cookie: the cookie-session style. Same 401s.
//! * `POST /api/order?access_token=...` — needs a platform token (`errcode` 41001 missing,
//!   42001 expired, 40001 invalid or revoked, all HTTP 200).
//! * `POST /admin/revoke` — invalidates every token issued so far.
//! * `POST /admin/stall?for=D` — for `D` (`1500ms`, `2s`; at most 60 s) from now, every business
//!   route (`/cgi-bin/...`, `/api/...`, `/wp/...`, `/wx/...`) holds its answer until the
//!   stall ends, like a GC pause: for coordinated-omission tests. Answers
//!   `{"stalled_until_ms": ms since start}` at once.
//! * `GET /blob?bytes=N` — N bytes (≤ 1 GiB, default 1 MiB) of a fixed pattern, byte `i` being
//!   `i % 251`, streamed in 64 KiB frames with a `content-length`: for proxy tests of big
//!   downloads.
//! * `GET /slow?ms=N` — `{"errcode":0,"slept_ms":N}` after N ms (≤ 60000).
//! * `GET /api/coupons?nonce_str=N` — coupons for a nonce it has not seen, `errcode 40163` in
//!   an HTTP 200 for one it has: a replay guard, as signed APIs have.
//! * `/wp/...` — a small server-rendered web app in WordPress's shape: `POST /wp/login` (form
//!   `log=admin`, `pwd=testbed-password`) sets the `wordpress_logged_in_testbed` session cookie
//!   (lifetime: the token TTL); `GET /wp/admin` issues per-session nonces in its HTML (hidden
//!   `_wpnonce`, `wpApiSettings.nonce`, the logout link's `_wpnonce`); `POST /wp/json/posts`
//!   (`X-WP-Nonce`) creates a draft with a short integer id, `GET/POST /wp/json/posts/{id}`
//!   reads and edits one of this session's drafts; `POST /wp/ajax` (multipart `action`,
//!   `_wpnonce`, `post_ID`); `GET /wp/logout?action=logout&_wpnonce=`. Counted in
//!   [`Stats::webapp`] (nonce failures, unknown post ids, drafts created).
//! * `POST /api/login2` (`{"code"}`) — `{"errcode":0,"data":{"sessionToken","expiresIn"}}` and a
//!   `tb_sid` cookie bound to it; `GET /api/v2/profile`, `GET /api/v2/feed` (a session-bound
//!   `data.cursor`) and `GET /api/v2/search?q=<URL-encoded {"cursor","size"}>` want both the
//!   bearer and the cookie: 401 when one is missing or forged, HTTP 200 `{"errcode":42001}` when
//!   one expired, HTTP 200 `{"errcode":40099}` for a cursor this session was not given. Counted
//!   in [`Stats::v2`].
//! * `/wx/...` — a litemall-shaped shop, every answer HTTP 200 `{"errno","errmsg","data"}`:
//!   `POST /wx/auth/login_by_weixin` (`{"code","userInfo"}`) answers `data.token`, sent back as
//!   `X-Litemall-Token` (errno 501 when missing, expired or forged); `POST /wx/address/save`
//!   answers a short integer address id as `data`; `POST /wx/cart/add` fills the user's cart;
//!   `GET /wx/cart/checkout?addressId=N`, `POST /wx/order/submit {"addressId"}` (answers
//!   `data.orderId`) and `POST /wx/order/prepay {"orderId"}` want ids of this login's user
//!   (errno 402 otherwise). The login may carry `wx.getUserInfo` material (`rawData`, `signature`,
//!   `encryptedData`, `iv`), checked as a real backend does under the session key that
//!   `GET /sns/jscode2session` (WeChat's code exchange) answers. Sessions of one user share its
//!   cart, addresses and orders. Counted in [`Stats::shop`], nonzero errnos by code.
//! * `GET /stats` — the counters as [`Stats`].
//! * `GET /` — an HTML page whose script plays the login → list → detail flow (for a headless
//!   browser driving the recorder).
//!
//! JSON answers over 256 bytes (the goods list, `/stats`) carry `vary: accept-encoding` and are
//! gzip-encoded when the request's `accept-encoding` admits gzip.
//!
//! Tokens are self-validating (MAC + expiry inside), so checking one takes no lock; see
//! `tokens.rs`. The stall deadline is one atomic, so it takes none either; only the web app's
//! drafts and the shop's short ids live in mutex-guarded tables. With [`Config::tls`] the
//! testbed makes a throwaway CA per start and writes it to
//! [`Config::cert_dir`]`/testbed-ca.pem` for clients to trust.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let testbed = loadtape_testbed::Testbed::start(loadtape_testbed::Config::default()).await?;
//! println!("serving on {}", testbed.base_url());
//! // ... drive traffic ...
//! let stats = testbed.stats();
//! assert_eq!(stats.auth_failures_total(), 0);
//! testbed.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod body;
mod catalog;
mod form;
mod gzip;
mod handlers;
mod posts;
mod query;
mod server;
mod shop_store;
mod stall;
mod stats;
mod tls;
mod tokens;
mod user_info;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use catalog::PAGE_SIZE;
pub use handlers::MAX_BODY;
pub use handlers::{APP_SECRET, PAY_KEY};
pub use server::GRACE as SHUTDOWN_GRACE;
pub use stats::{AuthFailures, Requests, Shop, ShopErrno, Signed, Stats, TokensIssued, Webapp, V2};
pub use tls::CA_FILE_NAME;

/// How to run a testbed.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind; port 0 picks a free port (see [`Testbed::local_addr`]).
    pub listen: SocketAddr,
    /// Serve HTTPS with a throwaway CA instead of plain HTTP.
    pub tls: bool,
    /// Where `testbed-ca.pem` is written when `tls` is on; created if missing. Two TLS testbeds
    /// sharing a directory overwrite each other's CA file, so give each its own.
    pub cert_dir: PathBuf,
    /// Lifetime of every token issued (platform and session). Enforced to the millisecond;
    /// `expires_in` announces it in whole seconds rounded up (at least 1).
    pub token_ttl: Duration,
    /// The only appid `/cgi-bin/token` accepts.
    pub appid: String,
    /// The only secret `/cgi-bin/token` accepts.
    pub secret: String,
    /// With `tls`, offer only `http/1.1` by ALPN, as a server that does not speak HTTP/2 (one
    /// behind an older load balancer): a proxy test sees how many HTTP/1.1 connections it is
    /// given.
    pub http1_only: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            tls: false,
            cert_dir: PathBuf::from("certs"),
            token_ttl: Duration::from_secs(7200),
            appid: "wxtestbed".to_string(),
            secret: "testbed-secret".to_string(),
            http1_only: false,
        }
    }
}

/// A running testbed. Dropping it stops accepting and closes connections in the background;
/// [`Testbed::shutdown`] does the same and waits for it.
pub struct Testbed {
    local_addr: SocketAddr,
    tls: bool,
    ca_pem: Option<String>,
    ca_path: Option<PathBuf>,
    app: Arc<handlers::App>,
    shutdown: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
}

impl Testbed {
    /// Binds `config.listen` (and, with TLS, makes the CA and writes it out), spawns the accept
    /// loop on the current Tokio runtime and returns at once.
    pub async fn start(config: Config) -> anyhow::Result<Testbed> {
        let tokens = tokens::Tokens::new(config.token_ttl)?;
        let catalog = catalog::Catalog::new()?;
        let app = Arc::new(handlers::App::new(
            tokens,
            catalog,
            config.appid,
            config.secret,
            config.token_ttl,
            first_post_id()?,
        )?);

        // Bind first: a busy port fails before any file is written.
        let listener = listen(config.listen)
            .with_context(|| format!("binding testbed to {}", config.listen))?;
        let local_addr = listener.local_addr()?;

        let (acceptor, ca_pem, ca_path) = if config.tls {
            let material = tls::generate(Some(config.listen.ip()), config.http1_only)?;
            std::fs::create_dir_all(&config.cert_dir).with_context(|| {
                format!(
                    "creating certificate directory {}",
                    config.cert_dir.display()
                )
            })?;
            let path = config.cert_dir.join(CA_FILE_NAME);
            std::fs::write(&path, &material.ca_pem)
                .with_context(|| format!("writing {}", path.display()))?;
            let acceptor = tokio_rustls::TlsAcceptor::from(material.server_config);
            (Some(acceptor), Some(material.ca_pem), Some(path))
        } else {
            (None, None, None)
        };

        let (shutdown, shutdown_rx) = watch::channel(false);
        let accept_task = server::spawn(listener, acceptor, app.clone(), shutdown_rx);
        Ok(Testbed {
            local_addr,
            tls: config.tls,
            ca_pem,
            ca_path,
            app,
            shutdown,
            accept_task,
        })
    }

    /// The bound address (with the real port when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where to send requests: `http://127.0.0.1:PORT`, `http://[::1]:PORT`, or with TLS
    /// `https://localhost:PORT` (the name the certificate is for). An unspecified listen
    /// address (`0.0.0.0`, `::`) is reached through loopback; an IPv6 loopback listener with TLS
    /// is `https://[::1]:PORT`, since `localhost` may resolve to 127.0.0.1 first.
    pub fn base_url(&self) -> String {
        let port = self.local_addr.port();
        let ip = match self.local_addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        match (self.tls, ip) {
            (true, IpAddr::V4(v4)) if v4.is_loopback() => format!("https://localhost:{port}"),
            (true, ip) => format!("https://{}", SocketAddr::new(ip, port)),
            (false, ip) => format!("http://{}", SocketAddr::new(ip, port)),
        }
    }

    /// The throwaway CA certificate (PEM) when TLS is on.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// `cert_dir/testbed-ca.pem` when TLS is on.
    pub fn ca_path(&self) -> Option<&Path> {
        self.ca_path.as_deref()
    }

    /// A snapshot of the counters; the same data as `GET /stats`.
    pub fn stats(&self) -> Stats {
        self.app.counters.snapshot()
    }

    /// TCP connections accepted so far, TLS or not, whether they sent a request or not: a proxy
    /// test checks how many upstream connections the proxy opened for its clients' requests.
    /// Not part of [`Stats`] (nor of `/stats`), which count what was asked whatever the
    /// connections it came on.
    pub fn connections(&self) -> u64 {
        self.app.counters.connections()
    }

    /// Stops accepting, lets open connections finish their requests, and returns once they are
    /// closed — after [`SHUTDOWN_GRACE`] at most (the rest are aborted).
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.accept_task.await;
    }
}

impl std::fmt::Debug for Testbed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Testbed")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls)
            .field("ca_path", &self.ca_path)
            .finish_non_exhaustive()
    }
}

/// Where this run's draft ids start: a random 4-digit number (1000..9000), so ids are short
/// like WordPress's and two runs' ids differ.
fn first_post_id() -> anyhow::Result<u64> {
    use ring::rand::SecureRandom as _;
    let mut seed = [0u8; 2];
    ring::rand::SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| anyhow::anyhow!("no system randomness for the post ids"))?;
    Ok(1000 + u64::from(u16::from_be_bytes(seed)) % 8000)
}

/// A listener with a deep accept queue: 10,000 VUs connecting at once overflow the usual
/// 1,024 and the connections the kernel then drops look like a slow server, which the testbed
/// must never be (the kernel caps the depth at `net.core.somaxconn`).
fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(65_535)
}
