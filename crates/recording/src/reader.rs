//! Reading a recording, including one whose writer died mid-document.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::recording::{Exchange, RecordingHeader, Tombstone, RECORDING_V1};
use crate::sendable::unsendable;
use crate::text_file::{strip_bom, TextFile};

/// A recording as read from disk, its drops ([`Tombstone`]s) applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// The first document: format, name, creation time.
    pub header: RecordingHeader,
    /// Every complete exchange, in file order (for the proxy's, the order they completed).
    pub exchanges: Vec<Exchange>,
    /// Set when the last document was cut off (the recorder crashed or the disk filled while
    /// writing it); every exchange before it is in `exchanges`.
    pub truncated_tail: Option<TruncatedTail>,
}

/// A last document that was cut off and left out, so that a reader can warn about it.
#[derive(Debug, Clone, PartialEq)]
pub struct TruncatedTail {
    /// The line where the incomplete document starts.
    pub line: usize,
    /// Why it counts as cut off: no end marker, or the parse error it ends in.
    pub reason: String,
}

/// Reads a recording file. See [`read_recording_str`].
pub fn read_recording(path: impl AsRef<Path>) -> Result<Recording, Error> {
    let path = path.as_ref();
    let text = TextFile {
        what: "the recording",
        read_hint: "check the path; `loadtape record --out FILE` writes one",
        utf8_hint: "a recording is YAML; binary bodies are stored as base64",
    }
    .read(path)?;
    read_recording_str(&text, path)
}

/// Parses a recording held in memory; `source` names it in errors.
///
/// Documents are separated by `---` lines. The writer ends every document with `...`, so when
/// the header carries that marker the reader knows the writer's habit and treats a last
/// document without it as cut off: it is dropped and reported in `truncated_tail`, never
/// half-read. A hand-written file without markers is read as it is.
pub fn read_recording_str(text: &str, source: impl Into<PathBuf>) -> Result<Recording, Error> {
    let source = source.into();
    let docs = split_documents(strip_bom(text));
    let Some(first) = docs.first() else {
        return Err(Error::new(&source, "the file is empty")
            .hint("a recording starts with a header document: `loadtape: recording/v1`"));
    };
    let header: RecordingHeader = parse_doc(first, &source)?;
    if header.loadtape != RECORDING_V1 {
        return Err(Error::new(
            &source,
            format!(
                "unsupported format `{}`, expected `{RECORDING_V1}`",
                header.loadtape
            ),
        )
        .at(first.line, None)
        .field("loadtape"));
    }
    let writer_marks_ends = first.terminated;
    let mut exchanges = Vec::with_capacity(docs.len().saturating_sub(1));
    let mut truncated_tail = None;
    let last = docs.len() - 1;
    for (i, doc) in docs.iter().enumerate().skip(1) {
        let is_tail = i == last;
        if is_tail && writer_marks_ends && !doc.terminated {
            truncated_tail = Some(TruncatedTail {
                line: doc.line,
                reason: "the last document has no end marker (`...`): it was being written when the recorder stopped".into(),
            });
            break;
        }
        if doc.is_blank() {
            continue;
        }
        if doc.is_tombstone() {
            apply_tombstone(&mut exchanges, doc, &source)?;
            continue;
        }
        match parse_doc::<Exchange>(doc, &source) {
            Ok(exchange) => {
                if exchange.response.is_none() && exchange.error.is_none() {
                    return Err(Error::new(
                        &source,
                        "an exchange needs a `response` or an `error`",
                    )
                    .at(doc.line, None)
                    .field("response"));
                }
                if let Some(u) = unsendable(&exchange.request) {
                    let at = doc.text.lines().position(|l| l.contains(&u.near));
                    return Err(Error::new(&source, u.why)
                        .at(doc.line + at.unwrap_or(0), None)
                        .field(u.field)
                        .hint("fix or delete this exchange; only HTTP requests can be replayed"));
                }
                exchanges.push(exchange);
            }
            // Without end markers, a cut-off last document usually fails to parse; that is a
            // crash, not a malformed file.
            Err(e) if is_tail && !doc.text.ends_with('\n') => {
                truncated_tail = Some(TruncatedTail {
                    line: doc.line,
                    reason: format!("the last document is incomplete: {}", e.message),
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Recording {
        header,
        exchanges,
        truncated_tail,
    })
}

/// One YAML document of the stream and where it starts.
pub(crate) struct Doc<'a> {
    pub text: &'a str,
    /// 1-based line of the document's first line in the file.
    pub line: usize,
    /// Ended with an explicit `...` marker.
    pub terminated: bool,
}

impl Doc<'_> {
    /// A [`Tombstone`] starts with its `dropped` key; an exchange starts with `id`.
    fn is_tombstone(&self) -> bool {
        self.text
            .lines()
            .find(|l| !(l.trim().is_empty() || l.trim_start().starts_with('#')))
            .is_some_and(|l| l.starts_with("dropped:"))
    }

    fn is_blank(&self) -> bool {
        self.text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    }
}

/// Splits a YAML stream at its document markers. A `---` or `...` at the start of a line is a
/// marker in YAML wherever it appears, so a line scan finds exactly the parser's documents.
pub(crate) fn split_documents<'a>(text: &'a str) -> Vec<Doc<'a>> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut line_no = 1usize;
    let mut pos = 0usize;
    let mut body_end: Option<usize> = None;
    let mut terminated = false;
    // A `---` opened the current document, so it exists even if nothing follows the marker.
    let mut opened = false;
    let push = |docs: &mut Vec<Doc<'a>>, s: usize, e: usize, line: usize, t: bool| {
        docs.push(Doc {
            text: &text[s..e],
            line,
            terminated: t,
        });
    };
    while pos < text.len() {
        let end = text[pos..]
            .find('\n')
            .map(|i| pos + i + 1)
            .unwrap_or(text.len());
        let line = &text[pos..end];
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_start = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        let is_end = bare == "..." || bare.starts_with("... ");
        if is_start {
            let e = body_end.unwrap_or(pos);
            if e > start || !docs.is_empty() || terminated {
                push(&mut docs, start, e, start_line, terminated);
            }
            // Content after `--- ` on the same line belongs to the new document.
            start = if bare.len() > 3 { pos + 4 } else { end };
            start_line = if bare.len() > 3 { line_no } else { line_no + 1 };
            body_end = None;
            terminated = false;
            opened = true;
        } else if is_end {
            body_end.get_or_insert(pos);
            terminated = true;
        }
        pos = end;
        line_no += 1;
    }
    let e = body_end.unwrap_or(text.len());
    if e > start || terminated || opened {
        push(&mut docs, start, e, start_line, terminated);
    }
    docs
}

/// Leaves out every exchange before `doc` that its tombstone drops. A tombstone that drops
/// nothing is an error: the file was edited by hand, or pieced together from others.
fn apply_tombstone(
    exchanges: &mut Vec<Exchange>,
    doc: &Doc<'_>,
    source: &Path,
) -> Result<(), Error> {
    let tombstone: Tombstone = parse_doc(doc, source)?;
    let before = exchanges.len();
    exchanges.retain(|e| e.id != tombstone.dropped);
    if exchanges.len() == before {
        return Err(Error::new(
            source,
            format!(
                "this drop names exchange {}, which no earlier document holds (or an earlier drop already dropped)",
                tombstone.dropped
            ),
        )
        .at(doc.line, None)
        .field("dropped")
        .hint("delete this document, or fix its `dropped:` id to one of an exchange above it"));
    }
    Ok(())
}

fn parse_doc<T: DeserializeOwned>(doc: &Doc<'_>, source: &Path) -> Result<T, Error> {
    let de = serde_yaml::Deserializer::from_str(doc.text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let (line, column) = match inner.location() {
            Some(loc) => (doc.line + loc.line().saturating_sub(1), Some(loc.column())),
            None => (doc.line, None),
        };
        Error::new(source, clean_message(&inner.to_string(), &field))
            .at(line, column)
            .field(field)
    })
}

/// serde_yaml wraps its messages in its own path prefix and a " at line L column C" suffix;
/// both are ours to report (the line relative to the file rather than the document).
fn clean_message(message: &str, field: &str) -> String {
    let mut message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    if let Some((prefix, rest)) = message.split_once(": ") {
        if !prefix.contains(' ') && field.starts_with(prefix) {
            message = rest;
        }
    }
    message.to_string()
}
