//! The recorder's web UI: what `loadtape record` serves at `/ui` on its own address and at
//! `http://loadtape.ca/ui` through the proxy, so that the tester holding the phone and the
//! engineer next to them see what was captured while it is captured.
//!
//! The proxy knows only [`hook`]'s [`UiHook`]; everything the UI shows comes from what the
//! proxy hands it ([`loadtape_proxy::UiContext`]) and from the recording file itself, read
//! with the recording crate's reader (so drops, written as tombstones, are honoured exactly
//! as `convert` honours them). The modules, each with one job, used in one direction:
//!
//! - `routes`: which path does what, and the answer to everything else (the page).
//! - `events`: the live list as server-sent events: the feed's backlog, then each event; a
//!   bounded number of watchers, each a bounded queue (a slow one loses the oldest).
//! - `rows`: a feed event as the JSON the page reads.
//! - `snapshot`: the recording as it is on disk now, read again only when the file grew.
//! - `detail`: one exchange opened: headers, bodies in a form a page can draw, timing.
//! - `tokens`: the token-like values of an exchange, by the detect crate's analysis of the
//!   recording so far, with their class and origin.
//! - `downloads`: the recording (drops applied, or the file as it is), a HAR, the scenario.
//! - `reply`: the small responses everything above answers with.
//!
//! The page (`src/page/`: HTML, CSS, vanilla JS) is embedded in the binary: no CDN, works
//! offline, and fetches bodies only when an exchange is opened.

mod detail;
mod downloads;
mod events;
mod reply;
mod routes;
mod rows;
mod snapshot;
mod tokens;

use std::sync::Arc;

use loadtape_proxy::UiHook;

/// The UI, for [`loadtape_proxy::ProxyConfig::ui`].
pub fn hook() -> UiHook {
    UiHook(Arc::new(|cx| Arc::new(routes::Ui::new(cx))))
}
