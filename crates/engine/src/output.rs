//! Where the engine's words for people go. The engine is a library: it never writes to stdout
//! or stderr itself. `--debug` blocks and warnings go to the [`Sink`] in
//! [`Options`](crate::Options), which the CLI points at its terminal and a test or another
//! embedder can point anywhere.

use std::fmt;
use std::sync::Arc;

/// Receives what a run has to say, from every worker thread at once.
pub trait Output: Send + Sync {
    /// A `--debug` block: whole lines, each ending in `\n`, shown together so that VUs on
    /// different threads do not interleave within a block.
    fn debug(&self, text: &str);
    /// A warning, note or error for the person running the test: one line, without its `\n`.
    fn line(&self, line: &str);
}

/// Discards everything.
struct Silent;

impl Output for Silent {
    fn debug(&self, _: &str) {}
    fn line(&self, _: &str) {}
}

/// A shared [`Output`].
#[derive(Clone)]
pub struct Sink(Arc<dyn Output>);

impl Sink {
    /// Shares `output` between every worker thread of a run.
    pub fn new(output: impl Output + 'static) -> Sink {
        Sink(Arc::new(output))
    }

    /// A sink that drops everything: a library run says nothing unless asked to.
    pub fn silent() -> Sink {
        Sink::new(Silent)
    }

    /// Hands a `--debug` block to the output whole (see [`Output::debug`]).
    pub fn debug(&self, text: &str) {
        self.0.debug(text);
    }

    /// Formats one line for people and hands it over (see [`Output::line`]).
    pub fn line(&self, line: fmt::Arguments) {
        self.0.line(&line.to_string());
    }
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sink")
    }
}

impl Default for Sink {
    fn default() -> Sink {
        Sink::silent()
    }
}
