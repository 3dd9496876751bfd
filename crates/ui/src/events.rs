//! The live list as server-sent events (`GET /ui/events`).
//!
//! Each watcher gets the feed's backlog, then every event as it is published. One task per
//! watcher moves events from the feed into a small queue the response body drains; when the
//! watcher falls [`loadtape_proxy::feed::LIVE`] events behind, the feed has dropped the oldest
//! for it, and it is sent `lagged` (the page reloads the list). A comment every
//! [`HEARTBEAT`] finds a watcher that went away without closing; at most [`MAX_WATCHERS`]
//! watch at once, so a page reloaded in a loop cannot pile up tasks.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use loadtape_proxy::{BoxError, Feed, FeedEvent, ProxyBody};
use tokio::sync::{broadcast, mpsc};

use crate::reply;
use crate::rows;

/// How many pages may watch the live list at once.
pub(crate) const MAX_WATCHERS: usize = 32;
/// How often an idle stream sends a comment (and so learns that its watcher is gone).
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How many encoded events wait for a watcher's socket.
const QUEUE: usize = 64;

/// The watchers now.
#[derive(Default)]
pub(crate) struct Watchers {
    count: Arc<AtomicUsize>,
}

impl Watchers {
    /// The event stream of one watcher, or a 503 when [`MAX_WATCHERS`] already watch.
    pub(crate) fn stream(&self, feed: &Feed) -> Response<ProxyBody> {
        let count = self.count.clone();
        if count.fetch_add(1, Ordering::SeqCst) >= MAX_WATCHERS {
            count.fetch_sub(1, Ordering::SeqCst);
            return reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{MAX_WATCHERS} pages already watch this recorder; close one"),
            );
        }
        let (backlog, live) = feed.subscribe();
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(async move {
            forward(backlog, live, tx).await;
            count.fetch_sub(1, Ordering::SeqCst);
        });
        let mut r = Response::new(Events { rx }.boxed());
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

/// Sends the backlog, then the live events, until the watcher is gone.
async fn forward(
    backlog: Vec<Arc<FeedEvent>>,
    mut live: broadcast::Receiver<Arc<FeedEvent>>,
    tx: mpsc::Sender<Bytes>,
) {
    for event in backlog {
        if tx.send(encode(&event)).await.is_err() {
            return;
        }
    }
    if tx
        .send(Bytes::from_static(b"event: ready\ndata: {}\n\n"))
        .await
        .is_err()
    {
        return;
    }
    loop {
        let frame = tokio::select! {
            got = live.recv() => match got {
                Ok(event) => encode(&event),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    Bytes::from(format!("event: lagged\ndata: {{\"missed\":{n}}}\n\n"))
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(HEARTBEAT) => Bytes::from_static(b": alive\n\n"),
        };
        if tx.send(frame).await.is_err() {
            return;
        }
    }
}

fn encode(event: &FeedEvent) -> Bytes {
    let (name, data) = rows::event(event);
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// The response body: whatever the watcher's task queued. Dropped when the client goes, which
/// ends the task at its next send.
struct Events {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for Events {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next(body: &mut ProxyBody) -> String {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("a frame within 5 s")
            .expect("the stream goes on")
            .unwrap();
        String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn backlog_then_live_and_the_cap_is_given_back_when_a_watcher_leaves() {
        let feed = Feed::default();
        feed.publish(FeedEvent::Dropped(1));
        let watchers = Watchers::default();
        let mut first = watchers.stream(&feed).into_body();
        assert_eq!(next(&mut first).await, "event: drop\ndata: {\"id\":1}\n\n");
        assert!(next(&mut first).await.starts_with("event: ready\n"));
        feed.notice("!! hello");
        assert!(next(&mut first).await.contains("\"text\":\"!! hello\""));

        let mut others: Vec<_> = (1..MAX_WATCHERS).map(|_| watchers.stream(&feed)).collect();
        assert_eq!(
            watchers.stream(&feed).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        // A watcher that goes away: its task ends at the next event, and its place is free.
        others.truncate(MAX_WATCHERS - 2);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            feed.publish(FeedEvent::Dropped(2));
            let r = watchers.stream(&feed);
            if r.status() == StatusCode::OK {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the place was not given back"
            );
            tokio::task::yield_now().await;
        }
    }
}
