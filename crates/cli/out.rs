//! Printing to stdout that survives a stdout nobody reads any more.
//!
//! Rust ignores SIGPIPE (so that a peer closing a socket is an error, not a kill, which the
//! proxy and the engine rely on), and `println!` then panics when stdout is a closed pipe:
//! `loadtape tokens x | head -3`, or a recording proxy whose terminal or `tee` went away. A
//! panic in the proxy's recorder would stop the recording, so every line loadtape prints goes
//! through these macros instead, which drop what cannot be written.

use std::fmt::Arguments;
use std::io::Write;

/// Writes `args` (and a newline when `newline`) to stdout; a write error is ignored.
pub fn write(args: Arguments, newline: bool) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(args);
    if newline {
        let _ = out.write_all(b"\n");
    }
}

/// A titled list, one `  - item` line each; nothing at all when `items` is empty (what
/// `convert --also` and `convert --verify` changed in a scenario).
pub fn list(title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    write(format_args!("{title}:"), true);
    for item in items {
        write(format_args!("  - {item}"), true);
    }
}

/// `println!` that never panics.
macro_rules! outln {
    () => {
        $crate::out::write(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::out::write(format_args!($($arg)*), true)
    };
}

/// `print!` that never panics.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::write(format_args!($($arg)*), false)
    };
}

/// The engine's sink for `loadtape run`: `--debug` blocks on stdout, each under one lock and
/// flushed, warnings on stderr, a write error ignored (a panicking worker would lose its VUs'
/// results; a line nobody can read is dropped instead).
pub struct Terminal;

impl loadtape_engine::Output for Terminal {
    fn debug(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(text.as_bytes());
        let _ = o.flush();
    }

    fn line(&self, line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}
