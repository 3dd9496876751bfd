//! The proxy-facing listener: who may connect, proxy authentication, and dispatch of each
//! request (CONNECT, absolute-form HTTP, or a request for the CA page).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use loadtape_recording::{RecordingHeader, RecordingWriter};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::task::JoinHandle;

use crate::accept::{self, ClientCap};
use crate::body::{simple, ProxyBody};
use crate::ca::CertificateAuthority;
use crate::ca_page::CaPage;
use crate::feed::Feed;
use crate::forward::{Forwarder, Target};
use crate::idle::{serve_until_idle, Activity, Watched};
use crate::leaf::LeafIssuer;
use crate::notices::Notices;
use crate::recorder::{LinePrinter, Recorder, Summary};
use crate::rules::{ClientRules, HostRules, ProxyAuth};
use crate::testers::{basic_user, group_name, Client, Marks, Testers};
use crate::timeouts::Timeouts;
use crate::tunnel::{self, Tunnels};
use crate::ui_hook::{is_ui_path, UiContext, UiHook, UiPages};
use crate::upstream::{self, Connector, Session};

/// The default recording path: `recordings/<date-time>.yaml`.
pub fn default_recording_path() -> PathBuf {
    PathBuf::from("recordings").join(format!(
        "{}.yaml",
        chrono::Local::now().format("%Y-%m-%d-%H%M%S")
    ))
}

/// Everything `loadtape record` configures.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where to listen; port 0 takes a free one (see [`Proxy::local_addr`]).
    pub listen: SocketAddr,
    /// The recording to write. It must not exist yet (a recording is never overwritten);
    /// missing parent directories are created.
    pub out: PathBuf,
    /// The recording's name, written in its header.
    pub name: String,
    /// Where the CA lives; one is created there when the directory has none.
    pub ca_dir: PathBuf,
    /// `--include` host globs: when any are given, only matching hosts are intercepted.
    pub include: Vec<String>,
    /// `--passthrough` host globs: never intercepted, tunnelled blind.
    pub passthrough: Vec<String>,
    /// `--allow-client` addresses or CIDR ranges; empty allows [`rules::DEFAULT_ALLOWED`].
    ///
    /// [`rules::DEFAULT_ALLOWED`]: crate::rules::DEFAULT_ALLOWED
    pub allow_client: Vec<String>,
    /// `--auth USER:PASS`: when set, clients must send it as Basic `Proxy-Authorization`.
    pub auth: Option<String>,
    /// `--tester`/`--testers`: when not empty, a client's proxy user name is its tester ID,
    /// which must be on the list; each exchange carries it.
    pub testers: Testers,
    /// How many bytes of each body are recorded; the rest is streamed through and the body
    /// marked truncated.
    pub max_body: usize,
    /// A CA (PEM) trusted for upstream servers besides the system's roots.
    pub upstream_ca: Option<PathBuf>,
    /// Do not verify upstream certificates (self-signed staging servers).
    pub insecure_upstream: bool,
    /// How many client connections are served at once (`--max-clients`); beyond it new ones
    /// wait in the listen backlog. `None` derives it from the descriptor limit
    /// (`RLIMIT_NOFILE`), leaving a descriptor per client for its upstream connection.
    pub max_clients: Option<usize>,
    /// How long unused connections are kept; see [`Timeouts`].
    pub timeouts: Timeouts,
    /// The web UI served at `/ui` (the `loadtape-ui` crate's), when there is one.
    pub ui: Option<UiHook>,
}

impl Default for ProxyConfig {
    fn default() -> ProxyConfig {
        ProxyConfig {
            listen: "0.0.0.0:8888".parse().unwrap(),
            out: default_recording_path(),
            name: "recording".into(),
            ca_dir: PathBuf::from("certs"),
            include: Vec::new(),
            passthrough: Vec::new(),
            allow_client: Vec::new(),
            auth: None,
            testers: Testers::default(),
            max_body: 16 << 20,
            upstream_ca: None,
            insecure_upstream: false,
            max_clients: None,
            timeouts: Timeouts::default(),
            ui: None,
        }
    }
}

/// The tester a request comes from, with a tester list; a refusal when its proxy user name
/// is missing or not on the list (a 407, so that the device asks again).
#[allow(clippy::result_large_err)]
fn tester_of(
    req: &Request<Incoming>,
    shared: &Listener,
    credentials: &http::HeaderName,
) -> Result<Option<Arc<str>>, Response<ProxyBody>> {
    if shared.testers.is_empty() {
        return Ok(None);
    }
    let user = basic_user(req.headers().get(credentials));
    let why = match user {
        Some((id, _)) if shared.testers.contains(&id) => return Ok(Some(id.into())),
        Some((id, _)) => format!(
            "loadtape: `{id}` is not on this proxy's tester list; set the proxy user name to your tester ID\n"
        ),
        None => "loadtape: this proxy records testers: set the proxy's user name to your tester ID (any password)\n".to_string(),
    };
    let mut refusal = simple(StatusCode::PROXY_AUTHENTICATION_REQUIRED, &why);
    refusal.headers_mut().insert(
        http::header::PROXY_AUTHENTICATE,
        http::HeaderValue::from_static("Basic realm=\"loadtape testers\""),
    );
    Err(refusal)
}

/// With `--auth`, the refusal of a request without the credentials (in `credentials`: the
/// proxy's header, or `Authorization` for the UI on the proxy's own address).
fn unauthenticated(
    req: &Request<Incoming>,
    shared: &Listener,
    credentials: &http::HeaderName,
    direct_ui: bool,
) -> Option<Response<ProxyBody>> {
    let auth = shared.auth.as_ref().filter(|_| shared.testers.is_empty())?;
    if auth.accepts(req.headers().get(credentials)) {
        return None;
    }
    if direct_ui {
        let why = "loadtape: this recorder's UI needs the proxy's credentials (--auth)\n";
        return Some(direct_refusal(simple(StatusCode::UNAUTHORIZED, why), true));
    }
    let mut refusal = simple(
        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        "loadtape: this proxy needs credentials (set the proxy's user name and password on the device)\n",
    );
    refusal.headers_mut().insert(
        http::header::PROXY_AUTHENTICATE,
        http::HeaderValue::from_static("Basic realm=\"loadtape\""),
    );
    Some(refusal)
}

/// A refusal as a page on the proxy's own address gives it: a 401 asking for `Authorization`
/// (a browser does not send proxy credentials to a server), else the proxy's 407 as it is.
fn direct_refusal(mut refusal: Response<ProxyBody>, direct: bool) -> Response<ProxyBody> {
    if direct {
        *refusal.status_mut() = StatusCode::UNAUTHORIZED;
        refusal
            .headers_mut()
            .remove(http::header::PROXY_AUTHENTICATE);
        refusal.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Basic realm=\"loadtape recorder\""),
        );
    }
    refusal
}

/// `http://loadtape.ca/mark/NAME`: the client's exchanges from now on belong to group NAME.
fn mark_group(marks: &Marks, client: &Client, raw: &str) -> Response<ProxyBody> {
    let decoded = percent_decode(raw);
    match group_name(&decoded) {
        Ok(name) => {
            marks.mark(client, &name);
            let who = client.tester.as_deref().unwrap_or("this device");
            simple(
                StatusCode::OK,
                &format!("loadtape: group `{name}` started for {who}: the exchanges from now on belong to it\n"),
            )
        }
        Err(why) => simple(StatusCode::BAD_REQUEST, &format!("loadtape: {why}\n")),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the listener itself needs: who may connect, the credentials, the CA page, and where
/// each kind of request goes. Each of those holds only its own part of the proxy.
struct Listener {
    clients: ClientRules,
    auth: Option<ProxyAuth>,
    testers: Testers,
    marks: Arc<Marks>,
    ca_page: CaPage,
    ui: Option<Arc<dyn UiPages>>,
    forwarder: Arc<Forwarder>,
    tunnels: Arc<Tunnels>,
    connector: Arc<Connector>,
    /// Refused clients are told about once per address.
    refused: Notices,
    timeouts: Timeouts,
}

/// Every operator line besides the exchanges' (which the recorder prints) is a notice in the
/// UI too: an untrusted CA, a refused client, an accept error.
fn with_notices(print: LinePrinter, feed: Arc<Feed>) -> LinePrinter {
    Arc::new(move |line: &str| {
        print(line);
        feed.notice(line);
    })
}

/// A running proxy.
pub struct Proxy {
    ca: Arc<CertificateAuthority>,
    marks: Arc<Marks>,
    forwarder: Arc<Forwarder>,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
    recorder: Recorder,
    ca_created: bool,
    out: PathBuf,
    max_clients: usize,
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
        let listener = accept::bind(config.listen)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let local_addr = listener.local_addr()?;
        let writer = RecordingWriter::create(&config.out, &RecordingHeader::new(&config.name))
            .with_context(|| format!("cannot create the recording {}", config.out.display()))?;
        let feed = Arc::new(Feed::default());
        let (recorder, handle) =
            Recorder::spawn(writer, config.max_body, print.clone(), feed.clone());
        let marks = Arc::new(Marks::default());
        let ui = config.ui.as_ref().map(|hook| {
            (hook.0)(UiContext {
                feed: feed.clone(),
                marks: marks.clone(),
                drops: handle.drops(),
                recording: config.out.clone(),
                listen: local_addr,
            })
        });
        let print = with_notices(print, feed);
        let forwarder = Arc::new(Forwarder::new(
            hosts.clone(),
            handle,
            config.max_body,
            marks.clone(),
        ));
        let connector = Arc::new(Connector::new(tls, config.timeouts.upstream_idle));
        let tunnels = Arc::new(Tunnels {
            hosts,
            leaves,
            connector: connector.clone(),
            forwarder: forwarder.clone(),
            notices: Notices::new(print.clone()),
            print: print.clone(),
            listen: local_addr,
            timeouts: config.timeouts,
        });
        let listener_state = Arc::new(Listener {
            clients,
            auth,
            testers: config.testers.clone(),
            marks: marks.clone(),
            ca_page: CaPage {
                ca: ca.clone(),
                listen: local_addr,
            },
            ui,
            forwarder: forwarder.clone(),
            tunnels,
            connector,
            refused: Notices::new(print.clone()),
            timeouts: config.timeouts,
        });
        let cap = ClientCap::new(config.max_clients);
        let max_clients = cap.max();
        let (stop, stop_rx) = watch::channel(false);
        let accept = tokio::spawn(accept::accept_loop(
            listener,
            cap,
            print,
            stop_rx,
            move |stream, peer, place| {
                tokio::spawn(client(stream, peer, place, listener_state.clone()));
            },
        ));
        Ok(Proxy {
            ca,
            marks,
            forwarder,
            local_addr,
            stop,
            accept,
            recorder,
            ca_created,
            out: config.out,
            max_clients,
        })
    }

    /// How many client connections it serves at once ([`ProxyConfig::max_clients`], or the
    /// cap derived from the descriptor limit).
    pub fn max_clients(&self) -> usize {
        self.max_clients
    }

    /// The group marks, for the terminal to mark a group for everyone.
    pub fn marks(&self) -> Arc<Marks> {
        self.marks.clone()
    }

    /// The address actually bound: with port 0 in `listen`, the port that was free.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The CA the proxy signs leaves with, for telling the tester what to install.
    pub fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

    /// Whether `start` created the CA (a first run): the tester must install it.
    pub fn ca_created(&self) -> bool {
        self.ca_created
    }

    /// The recording being written ([`ProxyConfig::out`]).
    pub fn recording_path(&self) -> &std::path::Path {
        &self.out
    }

    /// Stops accepting, lets the exchanges in flight finish (at most `grace`), writes them, and
    /// closes the recording.
    pub async fn stop(self, grace: Duration) -> Summary {
        let _ = self.stop.send(true);
        let _ = self.accept.await;
        let _ = tokio::time::timeout(grace, self.forwarder.drain()).await;
        self.forwarder.close_recording();
        let recorder = self.recorder;
        tokio::task::spawn_blocking(move || recorder.finish())
            .await
            .unwrap_or_default()
    }
}

/// One accepted client connection, holding its `place` under the cap until its socket closes.
async fn client(
    stream: TcpStream,
    peer: SocketAddr,
    place: OwnedSemaphorePermit,
    shared: Arc<Listener>,
) {
    let _ = stream.set_nodelay(true);
    // An IPv4 client of a dual-stack `[::]` listener arrives as `::ffff:a.b.c.d`: it is
    // judged, named in the hint and recorded as the IPv4 address it is.
    let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
    if shared.clients.allows(peer.ip()) {
        serve_client(stream, peer, place, shared).await;
    } else {
        // Refusing takes its descriptor too: the place is given back after.
        refuse(stream, peer, &shared).await;
        drop(place);
    }
}

/// A client outside `--allow-client` gets a 403 that says why, and the operator a line.
async fn refuse(mut stream: TcpStream, peer: SocketAddr, shared: &Listener) {
    let ip = peer.ip();
    let whole = if ip.is_ipv4() { 32 } else { 128 };
    shared.refused.once(
        &ip.to_string(),
        &format!(
            "!! refused {ip}: not in the allowed client ranges (add --allow-client {ip}/{whole} to let it in)"
        ),
    );
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

async fn serve_client(
    stream: TcpStream,
    peer: SocketAddr,
    place: OwnedSemaphorePermit,
    shared: Arc<Listener>,
) {
    let timeouts = shared.timeouts;
    let activity = Activity::new();
    // The place goes with the socket, into the tunnel when this is a CONNECT.
    let io = TokioIo::new(Watched::new(stream, activity.clone(), Some(place)));
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
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .serve_connection(io, service)
        .with_upgrades();
    // A client that sends garbage gets hyper's 400 and the connection closes; one that sends
    // nothing is closed after the header read timeout; nothing to add either way.
    serve_until_idle!(conn, activity, timeouts.idle);
}

async fn dispatch(
    req: Request<Incoming>,
    ip: IpAddr,
    shared: Arc<Listener>,
    session: Arc<Session>,
) -> Response<ProxyBody> {
    let absolute_host = req.uri().host().map(|h| h.to_ascii_lowercase());
    let own_page = req.method() != Method::CONNECT && CaPage::is_for(absolute_host.as_deref());
    let mark = own_page
        .then(|| req.uri().path().strip_prefix("/mark/"))
        .flatten()
        .map(str::to_string);
    let ui = own_page && is_ui_path(req.uri().path());
    // The CA page: a request to the proxy itself, or through it to the magic host. It only
    // serves the public certificate, so it needs no proxy credentials.
    if own_page && mark.is_none() && !ui {
        return shared.ca_page.serve(&req);
    }
    // The UI shows every body recorded: the same credentials as the proxy. A browser sends
    // them as `Authorization` to the proxy's own address, as `Proxy-Authorization` through it.
    let direct = absolute_host.is_none();
    let credentials = if ui && direct {
        http::header::AUTHORIZATION
    } else {
        http::header::PROXY_AUTHORIZATION
    };
    let tester = match tester_of(&req, &shared, &credentials) {
        Ok(t) => t,
        Err(refusal) => return direct_refusal(refusal, ui && direct),
    };
    let client = Client { ip, tester };
    if let Some(name) = mark {
        return mark_group(&shared.marks, &client, &name);
    }
    if let Some(refusal) = unauthenticated(&req, &shared, &credentials, ui && direct) {
        return refusal;
    }
    if ui {
        return match &shared.ui {
            Some(pages) => pages.serve(req, client).await,
            None => simple(StatusCode::NOT_FOUND, "loadtape: this proxy serves no UI\n"),
        };
    }
    if req.method() == Method::CONNECT {
        return tunnel::connect(req, client, shared.tunnels.clone()).await;
    }
    let scheme = if req.uri().scheme_str() == Some("https") {
        "https"
    } else {
        "http"
    };
    shared
        .forwarder
        .forward(req, Target::absolute(scheme), client, session)
        .await
}
