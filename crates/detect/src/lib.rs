//! Token detection and conversion (SPEC §5): what `loadtape tokens` and `loadtape convert` do.
//!
//! [`analyze`] walks every value of every exchange of a recording (URL path segments, query
//! parameters, form fields, headers with `Bearer ` split off, cookies and `Set-Cookie`, every
//! JSON leaf by JSONPath, JSON inside strings, JWT claims), finds where each value a request
//! sends came from (the latest earlier response holding it, also URL-encoded, base64 or
//! Bearer-prefixed) and classifies it: correlated, session token, platform token, generated,
//! appid, static. Every [`Finding`] carries a confidence; [`convert`] applies the confident ones
//! and leaves the rest as suggestions, so a guess never silently rewrites a request.
//!
//! The main types: [`Analysis`] (the steps, findings and warnings of one recording, which
//! [`render_table`] and [`findings_json`] print) and [`Conversion`] (the scenario [`convert`]
//! builds from it, with its comments and the starter rows of the CSVs it names).
//!
//! The split keeps the two commands honest: `tokens` prints exactly what `convert` will apply.

mod classify;
mod convert;
mod evidence;
mod extract;
mod filter;
mod finding;
mod grouping;
mod issued;
mod multipart;
mod naming;
mod origin;
pub mod presets;
mod query;
mod report;
mod rules;
pub mod shape;
pub mod signing;
mod substitute;
mod text;
mod unissued;
mod walk;

pub use classify::{analyze, Options};
pub use convert::{
    convert, group_recordings, mix, serial_template, Conversion, ConvertOptions, MixPart, TokenCsv,
};
pub use evidence::{compare_recordings, Evidence, Fact};
pub use finding::{
    Analysis, Class, Dropped, Encoding, Finding, Gen, MiniProgram, Origin, Place, Platform,
    StepInfo, Use, APPLY_AT,
};
pub use report::{findings_json, render_table, rides_cookie_jar};
