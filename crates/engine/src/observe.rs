//! Watching single exchanges: an optional callback in [`Options`](crate::Options) that sees
//! every request a VU sends (token steps and steps) with its answer or its failure.
//! `loadtape verify` uses it to compare one replayed iteration with the recording; a load run
//! leaves it unset and pays one `Option` check per request.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

/// One request as sent and what came of it.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The step or token step that sent it.
    pub step: String,
    /// Whether it was a token step's request.
    pub token: bool,
    /// The request method.
    pub method: Method,
    /// The absolute URL it went to (after `target` rewriting).
    pub url: String,
    /// The headers as sent (the cookie jar's `cookie` included; `host` left out).
    pub headers: HeaderMap,
    /// The body as sent.
    pub body: Bytes,
    /// The answer, or why there was none.
    pub outcome: Result<ObservedAnswer, String>,
}

/// An answer as received.
#[derive(Debug, Clone)]
pub struct ObservedAnswer {
    /// The status code.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body as received (not decompressed).
    pub body: Bytes,
}

/// The callback: called on the VU's worker thread right after each exchange, so it should be
/// quick (store the value and return).
#[derive(Clone)]
pub struct Observer(Arc<dyn Fn(&Observed) + Send + Sync>);

impl Observer {
    /// Calls `f` for every exchange of the run.
    pub fn new(f: impl Fn(&Observed) + Send + Sync + 'static) -> Observer {
        Observer(Arc::new(f))
    }

    pub(crate) fn call(&self, o: &Observed) {
        (self.0)(o);
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}
