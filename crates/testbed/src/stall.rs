//! A server-side pause, like a garbage collector's stop-the-world, set by `POST /admin/stall`.
//!
//! A load generator that waits for each answer before sending the next request under-reports
//! latency when the server stops for a while (coordinated omission): during the pause it sends
//! nothing, so it never records the requests that *would* have waited. Testing that loadtape
//! corrects for this needs a server that really stops on demand. While a stall lasts, every
//! business request waits for its end before it is handled; the admin, stats and synthetic
//! endpoints keep answering, so a test can watch the pause from outside.
//!
//! The end of the stall is one `AtomicU64` of milliseconds since this clock's creation, so the
//! request path reads one atomic (and, only once a stall has ever been set, the clock) — no lock.
//! Each waiting request sleeps in its own connection task; the server keeps accepting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest stall `/admin/stall` accepts.
pub(crate) const MAX_STALL: Duration = Duration::from_secs(60);

pub(crate) struct Stall {
    epoch: Instant,
    /// End of the current (or last) stall in ms since `epoch`; 0: never stalled.
    until_ms: AtomicU64,
}

impl Stall {
    pub(crate) fn new() -> Stall {
        Stall {
            epoch: Instant::now(),
            until_ms: AtomicU64::new(0),
        }
    }

    /// Stalls business requests for `length` from now and returns when the stall ends, in ms
    /// since the testbed started. A stall only ever extends: one already running past the new
    /// end is kept (and its end returned), so two overlapping stalls never shorten each other
    /// and requests already waiting never see their deadline move earlier.
    pub(crate) fn start(&self, length: Duration) -> u64 {
        // Both rounded up, so the stall lasts at least `length` from this call.
        let now = ceil_ms(self.epoch.elapsed());
        // At least 1, so "never stalled" stays distinguishable.
        let until = now.saturating_add(ceil_ms(length)).max(1);
        self.until_ms.fetch_max(until, Ordering::AcqRel).max(until)
    }

    /// Returns at once unless a stall is running; otherwise when it (and any extension set
    /// meanwhile) is over.
    pub(crate) async fn wait(&self) {
        loop {
            let until = self.until_ms.load(Ordering::Acquire);
            if until == 0 {
                return;
            }
            let Some(end) = self.epoch.checked_add(Duration::from_millis(until)) else {
                return;
            };
            if Instant::now() >= end {
                return;
            }
            tokio::time::sleep_until(end.into()).await;
        }
    }
}

fn ceil_ms(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_the_end_and_only_extends() {
        let stall = Stall::new();
        let t0 = Instant::now();
        stall.wait().await;
        assert!(
            t0.elapsed() < Duration::from_millis(50),
            "no stall: no wait"
        );

        let until = stall.start(Duration::from_millis(120));
        assert!((120..1000).contains(&until), "{until}");
        assert_eq!(
            stall.start(Duration::from_millis(10)),
            until,
            "shorter: kept"
        );
        stall.wait().await;
        assert!(t0.elapsed() >= Duration::from_millis(120));
        assert!(stall.start(Duration::ZERO) >= until);

        let t1 = Instant::now();
        stall.wait().await;
        assert!(t1.elapsed() < Duration::from_millis(50), "over: no wait");
    }
}
