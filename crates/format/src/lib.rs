//! loadtape's file formats.
//!
//! A recording (`recording/v1`) is a YAML stream: a header document, then one document per
//! exchange in completion order. The proxy appends to it while it runs, so the format is built
//! to survive a crash: every document the [`RecordingWriter`] writes ends with YAML's explicit
//! end marker (`...`), and the [`read_recording`] reader returns every complete exchange of a
//! file whose last document was cut off, saying so instead of failing.
//!
//! A scenario (`scenario/v1`, the [`scenario`] module) is one YAML document describing a load
//! test; its string values are [`template`]s compiled when it loads.
//!
//! The writer emits YAML itself (see [`emit`]) because serde_yaml cannot write the flow style
//! the format uses for header pairs and short bodies (`- [content-type, application/json]`);
//! reading goes through serde_yaml, and property tests hold the two together.

// Errors are built once per failed load, never on a hot path; a plain struct with public
// fields (file, line, field) is easier to use than a boxed one.
#![allow(clippy::result_large_err)]

pub mod body;
pub mod emit;
mod error;
pub mod reader;
pub mod recording;
pub mod scenario;
pub mod template;
pub mod writer;

pub use body::{Body, BodyContent};
pub use error::Error;
pub use reader::{read_recording, read_recording_str, Recording, TruncatedTail};
pub use recording::{
    version_str, Exchange, Headers, RecordingHeader, Request, Response, RECORDING_V1,
};
pub use scenario::{
    load_scenario, load_scenario_str, write_scenario, write_scenario_with_comments, Scenario,
    SCENARIO_V1,
};
pub use template::{RenderError, Template, TemplateError, Vars};
pub use writer::{write_recording, RecordingWriter};
