//! What the servers share with their owner: the feed they read, and what they have delivered
//! of the final numbers (so that `run` knows when it may stop serving).

use std::sync::atomic::{AtomicU64, Ordering};

use loadtape_engine::Feed;

/// One server's shared state.
pub(crate) struct State {
    /// The run's snapshots.
    pub feed: Feed,
    /// `/metrics` responses of the final numbers written out whole.
    final_scrapes: AtomicU64,
    /// `/events` streams not yet sent the final snapshot.
    streams_waiting: AtomicU64,
}

impl State {
    pub(crate) fn new(feed: Feed) -> State {
        State {
            feed,
            final_scrapes: AtomicU64::new(0),
            streams_waiting: AtomicU64::new(0),
        }
    }

    /// A response of the final numbers has been handed over whole.
    pub(crate) fn final_scraped(&self) {
        self.final_scrapes.fetch_add(1, Ordering::AcqRel);
    }

    /// How many responses of the final numbers went out.
    pub(crate) fn final_scrapes(&self) -> u64 {
        self.final_scrapes.load(Ordering::Acquire)
    }

    /// An event stream opened; [`State::stream_done`] when it has sent the final snapshot or
    /// closed.
    pub(crate) fn stream_opened(&self) {
        self.streams_waiting.fetch_add(1, Ordering::AcqRel);
    }

    /// An event stream has sent the final snapshot, or its reader went away.
    pub(crate) fn stream_done(&self) {
        self.streams_waiting.fetch_sub(1, Ordering::AcqRel);
    }

    /// Event streams still owed the final snapshot.
    pub(crate) fn streams_waiting(&self) -> u64 {
        self.streams_waiting.load(Ordering::Acquire)
    }
}

/// What a server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `--metrics`: `/metrics`, for Prometheus (or any OpenMetrics scraper).
    Metrics,
    /// `--dashboard`: the page at `/`, its events at `/events`, the latest JSON at
    /// `/snapshot`.
    Dashboard,
}
