//! Waiting for work in flight to finish: a count that guards raise and lower, and a wait for
//! it to reach zero. The proxy's shutdown waits on it so that every exchange that started is
//! recorded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// How many pieces of work are in flight.
#[derive(Default)]
pub(crate) struct Drain {
    count: AtomicUsize,
    zero: Notify,
}

/// One piece of work in flight; dropping it ends it.
pub(crate) struct InFlight(Arc<Drain>);

impl Drain {
    /// Counts a piece of work that has started until the guard is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// Returns once nothing is in flight. The `notified` future is created before the count is
    /// read, so a guard dropped in between still wakes this wait.
    pub async fn wait(&self) {
        loop {
            let notified = self.zero.notified();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.zero.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_the_last_guard() {
        let drain = Arc::new(Drain::default());
        drain.wait().await;
        let a = drain.begin();
        let b = drain.begin();
        let waiter = tokio::spawn({
            let drain = drain.clone();
            async move { drain.wait().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
