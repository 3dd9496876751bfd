//! Where the recorder's web UI plugs in. The proxy serves it at `/ui` on its own address and
//! at `http://loadtape.ca/ui` through it, behind the same guards as the proxy, but knows
//! nothing of what it shows: the UI (the `loadtape-ui` crate) is handed the live [`Feed`], the
//! group [`Marks`], the [`Drops`] and the recording's path, and answers its own requests. So
//! the proxy needs no detection, no HAR and no scenario code, and the UI can be left out.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;

use crate::body::ProxyBody;
use crate::feed::Feed;
use crate::recorder::Drops;
use crate::testers::{Client, Marks};

/// The path the UI is served under.
pub const UI_PATH: &str = "/ui";

/// What the proxy hands the UI when it starts.
#[derive(Clone)]
pub struct UiContext {
    /// Every exchange written, drop and notice, live.
    pub feed: Arc<Feed>,
    /// The group marks (the terminal's and `/mark/NAME`'s).
    pub marks: Arc<Marks>,
    /// Drops exchanges from the recording (a tombstone, appended by the recorder thread).
    pub drops: Drops,
    /// The recording being written, which the UI reads bodies and downloads from.
    pub recording: PathBuf,
    /// The proxy's address.
    pub listen: SocketAddr,
}

/// A boxed response future, as the UI answers.
pub type UiFuture = Pin<Box<dyn Future<Output = Response<ProxyBody>> + Send>>;

/// The UI's side: answers one request under [`UI_PATH`] from a client the proxy has let in.
pub trait UiPages: Send + Sync {
    /// Answers `req` (its path starts with [`UI_PATH`]) from `client`.
    fn serve(&self, req: Request<Incoming>, client: Client) -> UiFuture;
}

/// Makes the UI once the proxy has started (its feed, marks and drops exist).
#[derive(Clone)]
pub struct UiHook(pub Arc<dyn Fn(UiContext) -> Arc<dyn UiPages> + Send + Sync>);

impl fmt::Debug for UiHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UiHook")
    }
}

/// Whether `path` is the UI's.
pub(crate) fn is_ui_path(path: &str) -> bool {
    path == UI_PATH || path.starts_with("/ui/")
}
