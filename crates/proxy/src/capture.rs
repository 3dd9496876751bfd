//! Bodies streamed through the proxy while a bounded copy is kept for the recording.
//!
//! The client never waits for the recording: each frame is passed on as it arrives, and only
//! the first `limit` bytes are copied aside. When the body ends, fails, or is dropped half-way
//! (a client that went away), the capture is finished exactly once and handed on.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// What was seen of one body.
#[derive(Debug, Default, Clone)]
pub(crate) struct Captured {
    /// The first bytes, up to the limit.
    pub bytes: Vec<u8>,
    /// Every byte that went through.
    pub total: u64,
    /// How the stream ended: `None` for a clean end, else why it did not.
    pub interrupted: Option<String>,
    pub finished: bool,
}

impl Captured {
    pub(crate) fn truncated(&self) -> bool {
        self.total > self.bytes.len() as u64
    }
}

/// A capture shared between the body that fills it and whoever finishes the exchange.
pub(crate) type SharedCapture = Arc<Mutex<Captured>>;

/// Called once when a [`Tee`] body is finished.
pub(crate) type OnEnd = Box<dyn FnOnce() + Send + Sync>;

/// Passes a body through, copying up to `limit` bytes into a shared capture.
pub(crate) struct Tee<B: Body> {
    inner: B,
    capture: SharedCapture,
    limit: usize,
    on_end: Option<OnEnd>,
}

impl<B: Body> Tee<B> {
    pub(crate) fn new(
        inner: B,
        capture: SharedCapture,
        limit: usize,
        on_end: Option<OnEnd>,
    ) -> Tee<B> {
        Tee {
            inner,
            capture,
            limit,
            on_end,
        }
    }

    fn finish(&mut self, interrupted: Option<String>) {
        {
            let mut c = lock(&self.capture);
            if c.finished {
                return;
            }
            c.finished = true;
            c.interrupted = interrupted;
        }
        if let Some(on_end) = self.on_end.take() {
            on_end();
        }
    }
}

pub(crate) fn lock(c: &SharedCapture) -> std::sync::MutexGuard<'_, Captured> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

impl<B> Body for Tee<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let mut c = lock(&this.capture);
                    c.total += data.len() as u64;
                    let room = this.limit.saturating_sub(c.bytes.len());
                    if room > 0 {
                        let take = room.min(data.len());
                        c.bytes.extend_from_slice(&data[..take]);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.finish(Some(e.to_string()));
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.finish(None);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body> Drop for Tee<B> {
    fn drop(&mut self) {
        if lock(&self.capture).finished {
            return;
        }
        if self.inner.is_end_stream() {
            // An empty body that was never polled (a 204, a HEAD) is complete.
            self.finish(None);
        } else {
            // Dropped before its end: the peer went away or the exchange was abandoned.
            self.finish(Some(
                "the body was not read to its end (the peer disconnected)".into(),
            ));
        }
    }
}
