//! Operator lines said once per subject: a phone that retries a pinned host, or a refused
//! client that reconnects, would otherwise fill the terminal with the same advice.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::recorder::LinePrinter;

pub(crate) struct Notices {
    said: Mutex<HashSet<String>>,
    print: LinePrinter,
}

impl Notices {
    pub(crate) fn new(print: LinePrinter) -> Notices {
        Notices {
            said: Mutex::new(HashSet::new()),
            print,
        }
    }

    /// Prints `message` the first time it is said about `subject`. Advice has its host as the
    /// subject (the same advice again is noise); a failure has its host and cause, the line
    /// itself (a different cause for the same host is news).
    pub(crate) fn once(&self, subject: &str, message: &str) {
        let first = self
            .said
            .lock()
            .map(|mut set| set.insert(subject.to_string()))
            .unwrap_or(false);
        if first {
            (self.print)(message);
        }
    }
}
