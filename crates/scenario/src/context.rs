//! Where the checks of a scenario report their errors: shared by the loader (serde's errors,
//! the format version) and the validation that needs the whole scenario.

use std::path::Path;

use loadtape_recording::Error;

use super::spans::SpanIndex;

/// What the checks need to report errors: the file, and where each field is.
pub(crate) struct Context<'a> {
    pub file: &'a Path,
    pub spans: Option<&'a SpanIndex>,
}

impl Context<'_> {
    /// An error at `path`, located by the span index (at the nearest ancestor that exists when
    /// the path itself does not, as for a missing field).
    pub(crate) fn error(
        &self,
        path: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Error {
        let mut e = Error::new(self.file, message).field(path);
        if let Some((loc, _)) = self.spans.and_then(|s| s.locate(path)) {
            e = e.at(loc.line, Some(loc.column));
        }
        match hint {
            Some(h) if !h.trim().is_empty() => e.hint(h.trim().to_string()),
            _ => e,
        }
    }
}
