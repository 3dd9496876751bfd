//! The proxy-facing listener: who may connect, proxy authentication, and dispatch of each
//! request (CONNECT, absolute-form HTTP, or a request for the CA page).

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use loadtape_recording::{RecordingHeader, RecordingWriter};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::ca::CertificateAuthority;
use crate::forward::{self, Target};
use crate::leaf::LeafIssuer;
use crate::recorder::{LinePrinter, Recorder, RecorderHandle, Summary};
use crate::rules::{ClientRules, HostRules, ProxyAuth};
use crate::upstream::{self, Connector, Session};
use crate::{ca_page, tunnel, ProxyBody, MAGIC_HOST};

/// Everything `loadtape record` configures.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub listen: SocketAddr,
    pub out: PathBuf,
    pub name: String,
    pub ca_dir: PathBuf,
    pub include: Vec<String>,
    pub passthrough: Vec<String>,
    pub allow_client: Vec<String>,
    pub auth: Option<String>,
    pub max_body: usize,
    pub upstream_ca: Option<PathBuf>,
    pub insecure_upstream: bool,
}

impl Default for ProxyConfig {
    fn default() -> ProxyConfig {
        ProxyConfig {
            listen: "0.0.0.0:8888".parse().unwrap(),
            out: crate::default_recording_path(),
            name: "recording".into(),
            ca_dir: PathBuf::from("certs"),
            include: Vec::new(),
            passthrough: Vec::new(),
            allow_client: Vec::new(),
            auth: None,
            max_body: 16 << 20,
            upstream_ca: None,
            insecure_upstream: false,
        }
    }
}

/// State every connection of one proxy shares. Nothing here is locked on the request path but
/// the two hint sets, which are touched only on failures.
pub(crate) struct Shared {
    pub hosts: HostRules,
    pub clients: ClientRules,
    pub auth: Option<ProxyAuth>,
    pub ca: Arc<CertificateAuthority>,
    pub leaves: LeafIssuer,
    pub connector: Arc<Connector>,
    pub recorder: RecorderHandle,
    pub max_body: usize,
    pub next_id: AtomicU64,
    pub in_flight: AtomicUsize,
    pub drained: Notify,
    pub stopping: AtomicBool,
    pub print: LinePrinter,
    pub listen: SocketAddr,
    hinted_hosts: Mutex<HashSet<String>>,
    refused_clients: Mutex<HashSet<IpAddr>>,
}

impl Shared {
    /// Prints `message` the first time it is said about `host`.
    pub fn hint_once(&self, host: &str, message: &str) {
        let first = self
            .hinted_hosts
            .lock()
            .map(|mut set| set.insert(host.to_string()))
            .unwrap_or(false);
        if first {
            (self.print)(message);
        }
    }

    /// Counts an exchange that has started; the guard ends it.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }
}

/// An exchange in flight; shutdown waits for every one to be recorded.
pub(crate) struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}

/// A running proxy.
pub struct Proxy {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
    recorder: Recorder,
    ca_created: bool,
    out: PathBuf,
}

impl Proxy {
    /// Loads (or creates) the CA, opens the recording, binds, and starts accepting.
    pub async fn start(config: ProxyConfig, print: LinePrinter) -> Result<Proxy> {
        let hosts = HostRules::new(&config.include, &config.passthrough)?;
        let clients = ClientRules::new(&config.allow_client)?;
        let auth = config.auth.as_deref().map(ProxyAuth::new).transpose()?;
        let tls = upstream::client_tls(config.upstream_ca.as_deref(), config.insecure_upstream)?;
        let (ca, ca_created) = CertificateAuthority::load_or_init(&config.ca_dir)?;
        let ca = Arc::new(ca);
        let leaves = LeafIssuer::new(ca.clone())?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let local_addr = listener.local_addr()?;
        let writer = RecordingWriter::create(&config.out, &RecordingHeader::new(&config.name))
            .with_context(|| format!("cannot create the recording {}", config.out.display()))?;
        let (recorder, handle) = Recorder::spawn(writer, config.max_body, print.clone());
        let shared = Arc::new(Shared {
            hosts,
            clients,
            auth,
            ca,
            leaves,
            connector: Arc::new(Connector::new(tls)),
            recorder: handle,
            max_body: config.max_body,
            next_id: AtomicU64::new(1),
            in_flight: AtomicUsize::new(0),
            drained: Notify::new(),
            stopping: AtomicBool::new(false),
            print,
            listen: local_addr,
            hinted_hosts: Mutex::new(HashSet::new()),
            refused_clients: Mutex::new(HashSet::new()),
        });
        let (stop, stop_rx) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(listener, shared.clone(), stop_rx));
        Ok(Proxy {
            shared,
            local_addr,
            stop,
            accept,
            recorder,
            ca_created,
            out: config.out,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn ca(&self) -> &CertificateAuthority {
        &self.shared.ca
    }

    /// Whether `start` created the CA (a first run): the tester must install it.
    pub fn ca_created(&self) -> bool {
        self.ca_created
    }

    pub fn recording_path(&self) -> &std::path::Path {
        &self.out
    }

    /// The leaf key's SPKI hash (base64 SHA-256), for Chromium's
    /// `--ignore-certificate-errors-spki-list`.
    pub fn leaf_spki_sha256(&self) -> String {
        self.shared.leaves.spki_sha256_base64()
    }

    /// Stops accepting, lets the exchanges in flight finish (at most `grace`), writes them, and
    /// closes the recording.
    pub async fn stop(self, grace: Duration) -> Summary {
        let _ = self.stop.send(true);
        self.shared.stopping.store(true, Ordering::SeqCst);
        let _ = self.accept.await;
        let drained = async {
            loop {
                let notified = self.shared.drained.notified();
                if self.shared.in_flight.load(Ordering::SeqCst) == 0 {
                    break;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(grace, drained).await;
        self.shared.recorder.close();
        let recorder = self.recorder;
        tokio::task::spawn_blocking(move || recorder.finish())
            .await
            .unwrap_or_default()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: say so, back off, keep serving.
                    (shared.print)(&format!("!! accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            if shared.clients.allows(peer.ip()) {
                serve_client(stream, peer, shared).await;
            } else {
                refuse(stream, peer, &shared).await;
            }
        });
    }
}

/// A client outside `--allow-client` gets a 403 that says why, and the operator a line.
async fn refuse(mut stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let first = shared
        .refused_clients
        .lock()
        .map(|mut s| s.insert(peer.ip()))
        .unwrap_or(false);
    if first {
        (shared.print)(&format!(
            "!! refused {}: not in the allowed client ranges (add --allow-client {}/32 to let it in)",
            peer.ip(),
            peer.ip()
        ));
    }
    let body = format!(
        "loadtape: this proxy does not serve {} (start it with --allow-client to allow this address)\n",
        peer.ip()
    );
    let response = format!(
        "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn serve_client(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    // Upstream connections for this client's plain-HTTP requests (a CONNECT tunnel makes its
    // own).
    let session = Session::new(shared.connector.clone());
    let service = service_fn(move |req| {
        let shared = shared.clone();
        let session = session.clone();
        async move { Ok::<_, Infallible>(dispatch(req, peer.ip(), shared, session).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .title_case_headers(false)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    // A client that sends garbage gets hyper's 400 and the connection closes; nothing to add.
    let _ = conn.await;
}

async fn dispatch(
    req: Request<Incoming>,
    client: IpAddr,
    shared: Arc<Shared>,
    session: Arc<Session>,
) -> Response<ProxyBody> {
    let absolute_host = req.uri().host().map(|h| h.to_ascii_lowercase());
    // The CA page: a request to the proxy itself, or through it to the magic host. It only
    // serves the public certificate, so it needs no proxy credentials.
    if req.method() != Method::CONNECT
        && (absolute_host.is_none() || absolute_host.as_deref() == Some(MAGIC_HOST))
    {
        return ca_page::serve(&req, &shared);
    }
    if let Some(auth) = &shared.auth {
        if !auth.accepts(req.headers().get(http::header::PROXY_AUTHORIZATION)) {
            let mut refusal = forward::simple(
                StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                "loadtape: this proxy needs credentials (set the proxy's user name and password on the device)\n",
            );
            refusal.headers_mut().insert(
                http::header::PROXY_AUTHENTICATE,
                http::HeaderValue::from_static("Basic realm=\"loadtape\""),
            );
            return refusal;
        }
    }
    if req.method() == Method::CONNECT {
        return tunnel::connect(req, client, shared).await;
    }
    let scheme = if req.uri().scheme_str() == Some("https") {
        "https"
    } else {
        "http"
    };
    forward::forward(req, Target::absolute(scheme), client, shared, session).await
}
