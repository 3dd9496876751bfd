//! HAR 1.2 import and export.
//!
//! Testers often have their traffic already, as HAR files exported from Chrome or Safari
//! DevTools, Charles, Fiddler, Proxyman, mitmproxy (`hardump`) or k6 Studio. Importing one gives
//! a `recording/v1` that `loadtape tokens`, `convert` and `run` take like a recording of
//! loadtape's own proxy; exporting a recording gives a HAR that DevTools and HAR viewers open.
//!
//! The importer is tolerant of what real exporters write (custom `_` fields, `-1` sizes,
//! `null`s, HTTP/2 pseudo-headers, missing timings, bodies already decoded under a
//! `content-encoding` header) and strict about what cannot be understood: such an error names
//! the file, the JSON path of the field (`log.entries[3].request.url`) and its line.
//!
//! Mapping, in short: entries keep their order and become exchanges numbered from 1;
//! `startedDateTime` and `time` give `started` and `duration_ms`; `httpVersion` is normalised
//! (`h2`, `HTTP/2`, `http/2.0` are `HTTP/2.0`); pseudo-headers are dropped from header lists
//! but complete a URL written as a path; `postData.text` (or `params`, re-encoded) and
//! `content.text` (base64 when `encoding` says so) become bodies, classified as the recorder
//! classifies them, with `decoded_from` when a `content-encoding` was undone; an entry without
//! a response, with status 0 or with `_error` becomes an exchange with `error`; CONNECT
//! entries (tunnels, not exchanges) are skipped and reported.

mod export;
mod import;
mod locate;
mod mitmproxy;
mod model;
mod wire;

use std::io::{Read as _, Write as _};
use std::path::Path;

use crate::error::Error;
use crate::reader::Recording;

pub use import::Imported;

/// Reads a HAR file as a recording named after the file.
pub fn read_har(path: impl AsRef<Path>) -> Result<Recording, Error> {
    import_har(path).map(|i| i.recording)
}

/// Reads a HAR file, also returning what was skipped and who wrote it; bodies are kept up to
/// [`DEFAULT_MAX_BODY`] decoded bytes.
pub fn import_har(path: impl AsRef<Path>) -> Result<Imported, Error> {
    import_har_capped(path, DEFAULT_MAX_BODY)
}

/// The most of a body an import keeps by default once decoded: what `loadtape record` keeps.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;

/// [`import_har`], keeping at most `max_body` bytes of each decoded body: a compressed body
/// that inflates past it (a gzip bomb) is cut there and marked truncated, in bounded memory.
pub fn import_har_capped(path: impl AsRef<Path>, max_body: usize) -> Result<Imported, Error> {
    let path = path.as_ref();
    let text = crate::TextFile {
        what: "the HAR file",
        read_hint: "export one from DevTools (Network, Export HAR) or your proxy",
        utf8_hint: "HAR files are JSON, which is UTF-8",
    }
    .read(path)?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "har".to_string());
    import::import(&text, path, &name, max_body)
}

/// Parses HAR text held in memory; `source` names it in errors, `name` becomes the
/// recording's name (unless the file was exported by loadtape and carries its own).
pub fn import_har_str(text: &str, source: impl AsRef<Path>, name: &str) -> Result<Imported, Error> {
    import::import(text, source.as_ref(), name, DEFAULT_MAX_BODY)
}

/// The recording as a HAR 1.2 document.
pub fn to_har(recording: &Recording) -> serde_json::Value {
    export::export(recording)
}

/// Writes the recording as a HAR 1.2 file, replacing `path` if it exists (the command line
/// checks for that first). Written beside the target and renamed, so a failed write never
/// leaves half a file under the final name.
pub fn write_har(path: impl AsRef<Path>, recording: &Recording) -> std::io::Result<()> {
    let path = path.as_ref();
    let tmp = path.with_extension("har.partial");
    let written = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, &to_har(recording))?;
        out.write_all(b"\n")?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Whether a file is a HAR rather than a recording: by its `.har` extension, or failing that
/// by its first non-blank character (`{`: a recording is YAML and starts with a key).
pub fn looks_like_har(path: &Path) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("har"))
    {
        return true;
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = [0u8; 512];
    let n = file.read(&mut head).unwrap_or(0);
    let head = &head[..n];
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}
