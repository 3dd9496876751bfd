//! `run --metrics` and `run --dashboard`: the flags, binding before the run (a bad address is
//! bad input, before any load is sent), serving during it, and after it, serving just long
//! enough for the final numbers to be seen.
//!
//! After the run, `/metrics` goes on serving until one scrape has had the final numbers
//! (`loadtape_run_finished 1`), for at most `--metrics-linger` (60 s by default: Prometheus's
//! default scrape interval), so that a `max_over_time(…)` over the run ends on its true totals
//! instead of the numbers of up to a scrape interval before the end. Open dashboards are sent
//! the final snapshot before the server goes away. Ctrl-C ends the wait.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::anyhow;
use loadtape_live::{Bound, Role, Server};

use crate::exit::Failure;

/// How long open dashboards get to receive the final snapshot.
const DASHBOARD_FINAL: Duration = Duration::from_secs(3);

/// `--metrics`, `--metrics-linger`, `--dashboard`.
#[derive(Debug, Clone, clap::Args)]
pub struct LiveArgs {
    /// Serve live Prometheus metrics at http://ADDR/metrics during the run (text format 0.0.4,
    /// or OpenMetrics when the scraper asks), e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// After the run, keep /metrics up until a scrape has had the final numbers, for at most
    /// this long (0s: stop at once).
    #[arg(long, value_name = "D", default_value = "60s", requires = "metrics", value_parser = loadtape_scenario::parse_duration)]
    metrics_linger: Duration,
    /// Serve a live dashboard at http://ADDR/ during the run (server-sent events, one update a
    /// second), e.g. 127.0.0.1:5665.
    #[arg(long, value_name = "ADDR")]
    dashboard: Option<SocketAddr>,
}

/// The addresses bound, before the run.
pub struct Bind {
    metrics: Option<Bound>,
    dashboard: Option<Bound>,
    linger: Duration,
}

/// The servers, during and just after the run.
pub struct Live {
    metrics: Option<Server>,
    dashboard: Option<Server>,
    linger: Duration,
}

impl LiveArgs {
    /// Whether the engine is to publish live numbers.
    pub fn wanted(&self) -> bool {
        self.metrics.is_some() || self.dashboard.is_some()
    }

    /// Binds the addresses given; one that cannot be bound is bad input naming its flag.
    pub fn bind(&self) -> Result<Bind, Failure> {
        let bind = |flag: &str, addr: Option<SocketAddr>| {
            addr.map(|a| {
                Bound::bind(a).map_err(|e| {
                    Failure::BadInput(anyhow!("--{flag} {a}: cannot listen there: {e}"))
                })
            })
            .transpose()
        };
        Ok(Bind {
            metrics: bind("metrics", self.metrics)?,
            dashboard: bind("dashboard", self.dashboard)?,
            linger: self.metrics_linger,
        })
    }
}

impl Bind {
    /// Starts serving the run's live numbers and says where.
    pub fn start(self, running: &loadtape_engine::Running) -> Result<Live, Failure> {
        let feed = running.live();
        let start = |bound: Option<Bound>, role: Role| {
            bound
                .map(|b| {
                    let feed = feed.clone().ok_or_else(|| {
                        Failure::Other(anyhow!("the run publishes no live numbers"))
                    })?;
                    Server::start(b, role, feed)
                        .map_err(|e| Failure::Other(anyhow!("cannot start serving: {e}")))
                })
                .transpose()
        };
        let live = Live {
            metrics: start(self.metrics, Role::Metrics)?,
            dashboard: start(self.dashboard, Role::Dashboard)?,
            linger: self.linger,
        };
        if let Some(m) = &live.metrics {
            outln!("metrics: http://{}/metrics", m.addr());
        }
        if let Some(d) = &live.dashboard {
            outln!("dashboard: http://{}/", d.addr());
        }
        Ok(live)
    }
}

impl Live {
    /// After the run: serves until the final numbers have been seen (bounded), then stops;
    /// `quiet` leaves out the line saying nobody scraped them.
    pub fn finish(self, quiet: bool, cancel: &AtomicBool) {
        if let Some(d) = &self.dashboard {
            d.wait_for_dashboards(DASHBOARD_FINAL, cancel);
        }
        if let Some(m) = &self.metrics {
            if m.final_scrapes() == 0 && !self.linger.is_zero() {
                // Even with --quiet: a run that ends in a silent wait would look hung.
                outln!(
                    "metrics: waiting up to {} for a scrape of the final numbers at http://{}/metrics (Ctrl-C to stop waiting)",
                    loadtape_scenario::format_duration(self.linger),
                    m.addr()
                );
                let seen = m.wait_for_final_scrape(self.linger, cancel);
                if !quiet && !seen {
                    outln!("metrics: no scrape of the final numbers; they are in the result");
                }
            }
        }
        for server in [self.dashboard, self.metrics].into_iter().flatten() {
            server.stop();
        }
    }
}
