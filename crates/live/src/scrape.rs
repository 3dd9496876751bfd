//! `GET /metrics`: the exposition of the latest snapshot, in the format the scraper asked for.
//! A response of the final numbers is counted once its body has been handed to hyper whole,
//! so that `run` can stop serving as soon as the last scrape has them ([`crate::Server`]):
//! stopping lets the responses in flight finish.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::exposition::{render, Format};
use crate::state::State;

/// A whole body that tells the [`State`] when hyper has taken it.
struct Counted {
    data: Option<Bytes>,
    len: u64,
    on_end: Option<Arc<State>>,
}

impl Body for Counted {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        // The one frame is the whole body: once hyper has it, the response is its to finish
        // (a server stopping lets responses in flight finish).
        let data = self.data.take();
        if data.is_some() {
            if let Some(state) = self.on_end.take() {
                state.final_scraped();
            }
        }
        Poll::Ready(data.map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}

/// The response to a scrape with this `Accept` header.
pub(crate) fn scrape(
    state: &Arc<State>,
    accept: Option<&str>,
) -> http::Response<crate::body::Boxed> {
    let snapshot = state.feed.borrow().clone();
    let format = Format::negotiate(accept);
    let text = Bytes::from(render(&snapshot, format));
    let body = Counted {
        len: text.len() as u64,
        data: Some(text),
        on_end: snapshot.finished.then(|| state.clone()),
    };
    crate::body::response(200, format.content_type(), body)
}
