//! Knowing when a connection is idle, and ending it then.
//!
//! An [`Activity`] is stamped on every byte a [`Watched`] stream reads or writes (client
//! connections) or whenever an exchange stops using the connection ([`Busy`], upstream
//! connections); [`Activity::idle`] resolves once nothing is using the connection and nothing
//! has moved for a given time. `serve_until_idle!` runs a served connection with it: shut
//! down gracefully once idle (exchanges in flight finish), dropped if it stays idle after that.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;

/// When a connection last moved, and how many exchanges are using it.
pub(crate) struct Activity {
    epoch: Instant,
    /// Milliseconds from `epoch` to the last byte or the last exchange's end.
    last_ms: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    pub(crate) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        })
    }

    /// Something moved: the idle time starts again from now.
    pub(crate) fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Relaxed);
    }

    /// An exchange uses the connection until the guard is dropped: it is not idle meanwhile.
    pub(crate) fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Relaxed);
        Busy(self.clone())
    }

    fn quiet_for(&self) -> Duration {
        self.epoch
            .elapsed()
            .saturating_sub(Duration::from_millis(self.last_ms.load(Relaxed)))
    }

    /// Resolves once no exchange uses the connection and nothing has moved for `timeout`.
    /// One timer at a time, re-armed only when something moved meanwhile.
    pub(crate) async fn idle(&self, timeout: Duration) {
        loop {
            let quiet = self.quiet_for();
            let busy = self.busy.load(Relaxed) > 0;
            if !busy && quiet >= timeout {
                return;
            }
            let wait = if busy { timeout } else { timeout - quiet };
            tokio::time::sleep(wait).await;
        }
    }
}

/// An exchange using a connection; see [`Activity::busy`].
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Relaxed);
    }
}

/// Runs `$conn` (a served hyper connection) until it ends, or until `$activity` has been idle
/// for `$timeout`: then it is asked to finish gracefully (an HTTP/2 GOAWAY, HTTP/1 closing
/// after the response in flight), and if it stays idle for another `$timeout` it is dropped,
/// which closes it (a client that stopped reading its response would hold it for ever).
///
/// A macro, not a generic function: an `async fn` generic over hyper's connection futures
/// makes the spawned future fail rustc's higher-ranked `Send` check ("implementation of `From`
/// is not general enough").
macro_rules! serve_until_idle {
    ($conn:expr, $activity:expr, $timeout:expr) => {{
        let conn = $conn;
        tokio::pin!(conn);
        let done = tokio::select! {
            _ = conn.as_mut() => true,
            _ = $activity.idle($timeout) => false,
        };
        if !done {
            conn.as_mut().graceful_shutdown();
            $activity.touch();
            tokio::select! {
                _ = conn => {}
                _ = $activity.idle($timeout) => {}
            }
        }
    }};
}
pub(crate) use serve_until_idle;

/// A stream that stamps its [`Activity`] on every byte read or written.
pub(crate) struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
    /// Held as long as the stream: a client connection's place under `--max-clients`, given
    /// back when the socket closes, wherever the stream went (a CONNECT hands it to its
    /// tunnel).
    _place: Option<OwnedSemaphorePermit>,
}

impl<T> Watched<T> {
    pub(crate) fn new(
        inner: T,
        activity: Arc<Activity>,
        place: Option<OwnedSemaphorePermit>,
    ) -> Watched<T> {
        activity.touch();
        Watched {
            inner,
            activity,
            _place: place,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_waits_for_quiet_and_for_the_last_exchange() {
        let activity = Activity::new();
        let busy = activity.busy();
        let t = Duration::from_millis(50);
        let watch = activity.idle(t);
        tokio::pin!(watch);
        // Busy: not idle however long nothing moves.
        assert!(tokio::time::timeout(t * 4, watch.as_mut()).await.is_err());
        drop(busy);
        let released = Instant::now();
        tokio::time::timeout(Duration::from_secs(10), watch)
            .await
            .expect("idle once the exchange is over");
        // (Stamps are whole milliseconds.)
        let waited = released.elapsed() + Duration::from_millis(2);
        assert!(waited >= t, "{waited:?}");
    }
}
