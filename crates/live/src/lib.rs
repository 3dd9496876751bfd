//! `loadtape-live`: watching a run while it goes on, the ways operators do — Prometheus
//! scraping `/metrics` (`loadtape run --metrics ADDR`) and a live web dashboard
//! (`--dashboard ADDR`, after k6's).
//!
//! Both read the engine's live [`Feed`] (a snapshot a second, merged by the engine: serving
//! a request merges nothing) and run on a thread and runtime of their own, so that the run's
//! workers are never shared with a scraper. A [`Server`] also knows what it has delivered of
//! the final numbers, so that `run` can keep serving just until the last scrape (or every
//! open dashboard) has them.
//!
//! Modules depend one way: `serve` (accept loop, routes) → `scrape` (`/metrics`) →
//! `exposition` (the text formats); `serve` → `dashboard` (page, events) → `json`; and
//! `body`, `state` below them all.

mod body;
mod dashboard;
mod exposition;
mod json;
mod scrape;
mod serve;
mod state;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loadtape_engine::Feed;
use tokio::sync::watch;

pub use state::Role;

/// A running live server: `/metrics` or the dashboard, on its own thread.
pub struct Server {
    addr: SocketAddr,
    state: Arc<state::State>,
    shutdown: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

/// How often the waits below look again.
const LOOK: Duration = Duration::from_millis(20);

/// An address bound for a [`Server`] that is not serving yet: `run` binds before the run
/// starts, so that an address in use fails as bad input before any load is sent.
pub struct Bound {
    listener: std::net::TcpListener,
}

impl Bound {
    /// Binds `addr` (port 0 picks a free one).
    pub fn bind(addr: SocketAddr) -> std::io::Result<Bound> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(Bound { listener })
    }

    /// The address bound (the port chosen, when asked for port 0).
    pub fn addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

impl Server {
    /// Serves `role` from `feed` on `bound`, on a thread of its own, until [`Server::stop`].
    /// Fails only when the thread or its runtime cannot start.
    pub fn start(bound: Bound, role: Role, feed: Feed) -> std::io::Result<Server> {
        let listener = bound.listener;
        let addr = listener.local_addr()?;
        let state = Arc::new(state::State::new(feed));
        let (shutdown, stop) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("loadtape-live-{addr}"))
            .spawn(move || {
                runtime.block_on(async move {
                    if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                        serve::serve(listener, role, shared, stop).await;
                    }
                });
            })?;
        Ok(Server {
            addr,
            state,
            shutdown,
            thread: Some(thread),
        })
    }

    /// The address it listens on (the port chosen, when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `/metrics` responses of the final numbers sent so far.
    pub fn final_scrapes(&self) -> u64 {
        self.state.final_scrapes()
    }

    /// Waits until a scrape has had the final numbers, for at most `limit`, or until
    /// `cancel` is set (Ctrl-C); whether one has.
    pub fn wait_for_final_scrape(&self, limit: Duration, cancel: &AtomicBool) -> bool {
        self.wait(limit, cancel, || self.state.final_scrapes() > 0)
    }

    /// Waits until every open dashboard has been sent the final snapshot, for at most
    /// `limit`; whether every one has.
    pub fn wait_for_dashboards(&self, limit: Duration, cancel: &AtomicBool) -> bool {
        self.wait(limit, cancel, || self.state.streams_waiting() == 0)
    }

    fn wait(&self, limit: Duration, cancel: &AtomicBool, done: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if done() {
                return true;
            }
            if Instant::now() >= deadline || cancel.load(Ordering::Acquire) {
                return false;
            }
            std::thread::sleep(LOOK.min(deadline.saturating_duration_since(Instant::now())));
        }
    }

    /// Stops accepting, lets open connections finish what they are sending (a couple of
    /// seconds at most) and joins the thread.
    pub fn stop(mut self) {
        self.shutdown.send_replace(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}
