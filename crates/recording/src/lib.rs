//! `loadtape-recording`: what the proxy records and what `tokens`, `convert` and `run` read.
//!
//! - [`Recording`], [`Exchange`], [`Request`], [`Response`], [`Headers`]: the `recording/v1`
//!   model ([`recording`]); [`read_recording`] and [`RecordingWriter`] read and append it.
//! - [`Body`]: a request or response body as stored (text, JSON, base64, truncated), and
//!   [`content::decode`], the one undoing of a `content-encoding` (gzip, deflate with or
//!   without zlib wrapping, brotli, zstd) that the proxy and the HAR importer share.
//! - [`har`]: HAR 1.2 import ([`import_har`]) and export ([`write_har`]).
//! - [`emit`]: the YAML emitter recordings and scenarios are written with.
//! - [`Error`]: a file that could not be read (a recording, a HAR file, a scenario), naming
//!   the file, line, column and field.
//!
//! A recording (`recording/v1`) is a YAML stream: a header document, then one document per
//! exchange in completion order. The proxy appends to it while it runs, so the format is built
//! to survive a crash: every document the [`RecordingWriter`] writes ends with YAML's explicit
//! end marker (`...`), and the [`read_recording`] reader returns every complete exchange of a
//! file whose last document was cut off, saying so instead of failing. Nothing written is
//! ever rewritten: an exchange dropped while recording is dropped by appending a
//! [`Tombstone`], which the reader applies.
//!
//! The writer emits YAML itself (see [`emit`]) because serde_yaml cannot write the flow style
//! the formats use for header pairs and short bodies (`- [content-type, application/json]`);
//! reading goes through serde_yaml, and property tests hold the two together.

// Errors are built once per failed load, never on a hot path; a plain struct with public
// fields (file, line, field) is easier to use than a boxed one.
#![allow(clippy::result_large_err)]

pub mod body;
pub mod content;
pub mod emit;
mod error;
pub mod har;
pub mod reader;
pub mod recording;
mod sendable;
mod text_file;
pub mod writer;

pub use body::{Body, BodyContent};
pub use error::Error;
pub use har::{import_har, import_har_capped, read_har, to_har, write_har, Imported};
pub use reader::{read_recording, read_recording_str, Recording, TruncatedTail};
pub use recording::{
    version_str, Exchange, Headers, RecordingHeader, Request, Response, Tombstone, RECORDING_V1,
};
pub use sendable::{unsendable, Unsendable};
pub use text_file::{strip_bom, TextFile};
pub use writer::{recording_yaml, write_recording, RecordingWriter};

/// Reads a recording or a HAR file, whichever `path` is: a HAR by its `.har` extension or
/// its leading `{`, else recording YAML. Lets `convert` and `tokens` take a DevTools or proxy
/// export directly.
pub fn read_any(path: impl AsRef<std::path::Path>) -> Result<Recording, Error> {
    let path = path.as_ref();
    if har::looks_like_har(path) {
        read_har(path)
    } else {
        read_recording(path)
    }
}
