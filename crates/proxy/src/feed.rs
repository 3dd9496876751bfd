//! What the recorder's UI shows live: one event per exchange written, per drop and per
//! operator notice (an error, an untrusted CA), fanned out to any number of watchers.
//!
//! The recorder thread publishes after each write; publishing never blocks it (a
//! `tokio::sync::broadcast` send is a lock and a copy of an `Arc`). A watcher that falls more
//! than [`LIVE`] events behind loses the oldest and is told so (it reloads from the backlog),
//! so a slow phone can never slow recording. The backlog (the last [`BACKLOG`] events) is
//! what a page opened later starts from. Bodies are not here: a page fetches those on demand
//! from the recording file.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

/// How many recent events a newly opened page starts from.
pub const BACKLOG: usize = 10_000;
/// How many events a live watcher may fall behind before it loses the oldest.
pub const LIVE: usize = 1024;

/// One thing the UI shows.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    /// An exchange is in the recording.
    Exchange(Row),
    /// An exchange was dropped (its tombstone is in the recording).
    Dropped(u64),
    /// A line the operator was told: an error or advice (an untrusted CA, a refused client).
    Notice {
        /// When it was said.
        at: DateTime<Utc>,
        /// The line, as printed in the terminal.
        text: String,
    },
}

/// The list row of one recorded exchange: what the UI filters on, no bodies.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The exchange's id in the recording.
    pub id: u64,
    /// When the request arrived.
    pub started: DateTime<Utc>,
    /// Request to end of response, in milliseconds.
    pub duration_ms: f64,
    /// The response status; `None` when there was no response.
    pub status: Option<u16>,
    /// The request method.
    pub method: String,
    /// The request's absolute URL.
    pub url: String,
    /// The HTTP version the client spoke.
    pub version: String,
    /// The response body's size in bytes (as sent, before truncation).
    pub size: u64,
    /// The tester who sent it, with a tester list.
    pub tester: Option<String>,
    /// The group it belongs to.
    pub group: Option<String>,
    /// What went wrong, when something did.
    pub error: Option<String>,
    /// Header and query names that looked like tokens (the terminal line's hint).
    pub tokens: Vec<String>,
}

/// The fan-out of [`FeedEvent`]s, with its bounded backlog.
#[derive(Debug)]
pub struct Feed {
    live: broadcast::Sender<Arc<FeedEvent>>,
    backlog: Mutex<VecDeque<Arc<FeedEvent>>>,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed {
            live: broadcast::channel(LIVE).0,
            backlog: Mutex::new(VecDeque::new()),
        }
    }
}

impl Feed {
    /// Tells every watcher; never blocks on them.
    pub fn publish(&self, event: FeedEvent) {
        let event = Arc::new(event);
        let mut backlog = self.backlog.lock().unwrap_or_else(|e| e.into_inner());
        if backlog.len() == BACKLOG {
            backlog.pop_front();
        }
        backlog.push_back(event.clone());
        // No watcher is not an error: the event waits in the backlog.
        let _ = self.live.send(event);
    }

    /// The backlog so far and a receiver of everything after it: taken together under the
    /// backlog's lock, so that no event falls between the two or comes in both.
    pub fn subscribe(&self) -> (Vec<Arc<FeedEvent>>, broadcast::Receiver<Arc<FeedEvent>>) {
        let backlog = self.backlog.lock().unwrap_or_else(|e| e.into_inner());
        (backlog.iter().cloned().collect(), self.live.subscribe())
    }

    /// A notice, now.
    pub fn notice(&self, text: &str) {
        self.publish(FeedEvent::Notice {
            at: Utc::now(),
            text: text.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_is_bounded_and_a_slow_watcher_loses_the_oldest() {
        let feed = Feed::default();
        let (_, mut slow) = feed.subscribe();
        for i in 0..(BACKLOG + 5) {
            feed.publish(FeedEvent::Dropped(i as u64));
        }
        let (backlog, _) = feed.subscribe();
        assert_eq!(backlog.len(), BACKLOG);
        assert_eq!(*backlog[0], FeedEvent::Dropped(5));
        assert!(matches!(
            slow.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
        // After the lag, it goes on with the newest events.
        assert!(slow.try_recv().is_ok());
    }
}
