//! Where each field of a YAML document is: field path → line and column.
//!
//! serde_yaml reports a position only for problems it meets while parsing; a check that runs
//! on the typed scenario afterwards (an undefined variable, a missing CSV file) knows the
//! field path but not the line. This index comes from a second, event-level parse of the same
//! text (saphyr-parser, which gives every event its span) and uses serde_path_to_error's path
//! syntax, so either kind of path finds its line. It also finds duplicate keys, which serde
//! would otherwise let the last one win silently for maps.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

use super::de::join_path;

/// A position, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub line: usize,
    pub column: usize,
}

struct Entry {
    /// Where the key is, for a mapping entry.
    key: Option<Loc>,
    /// Where the value starts.
    value: Loc,
    /// The value's text, when it is a scalar.
    scalar: Option<String>,
}

pub(crate) struct Duplicate {
    pub path: String,
    pub at: Loc,
    pub first: Loc,
}

pub(crate) struct SpanIndex {
    entries: HashMap<String, Entry>,
    pub duplicates: Vec<Duplicate>,
}

enum Frame {
    Map {
        path: String,
        seen: HashMap<String, Loc>,
        /// The key read, whose value comes next.
        key: Option<(String, Loc)>,
    },
    Seq {
        path: String,
        next: usize,
    },
    /// Inside a complex (collection) key, which the index does not look into.
    Skip(usize),
}

impl SpanIndex {
    /// Indexes the first document of `text`; `Err` (with where) when it is not valid YAML.
    pub(crate) fn build(text: &str) -> Result<SpanIndex, (Loc, String)> {
        let mut index = SpanIndex {
            entries: HashMap::new(),
            duplicates: Vec::new(),
        };
        let mut stack: Vec<Frame> = Vec::new();
        let mut root_seen = false;
        for event in Parser::new_from_str(text) {
            let (event, span) = event.map_err(scan_error)?;
            let loc = Loc {
                line: span.start.line(),
                column: span.start.col() + 1,
            };
            let is_map = matches!(event, Event::MappingStart(..));
            let (opens, scalar) = match event {
                Event::DocumentEnd if root_seen => break,
                Event::MappingStart(..) | Event::SequenceStart(..) => (true, None),
                Event::Scalar(value, ..) => (false, Some(value.into_owned())),
                Event::Alias(_) => (false, None),
                Event::MappingEnd | Event::SequenceEnd => {
                    close(&mut stack);
                    continue;
                }
                _ => continue,
            };
            let Some(path) = index.place(&mut stack, loc, opens, scalar, &mut root_seen) else {
                continue;
            };
            if opens {
                stack.push(if is_map {
                    Frame::Map {
                        path,
                        seen: HashMap::new(),
                        key: None,
                    }
                } else {
                    Frame::Seq { path, next: 0 }
                });
            }
        }
        Ok(index)
    }

    /// Where this node sits: as a key, a value or the root. Only values and the root get an
    /// entry (and a path, returned so a collection can become the next frame); a key is held
    /// in its map's frame until its value arrives, and nodes inside a complex key are skipped.
    fn place(
        &mut self,
        stack: &mut Vec<Frame>,
        loc: Loc,
        opens: bool,
        scalar: Option<String>,
        root_seen: &mut bool,
    ) -> Option<String> {
        match stack.last_mut() {
            Some(Frame::Skip(depth)) => {
                if opens {
                    *depth += 1;
                }
                None
            }
            Some(Frame::Map { seen, key, path }) if key.is_none() => {
                let name = scalar.unwrap_or_else(|| "?".into());
                if let Some(first) = seen.get(&name) {
                    self.duplicates.push(Duplicate {
                        path: join_path(path, &name),
                        at: loc,
                        first: *first,
                    });
                } else {
                    seen.insert(name.clone(), loc);
                }
                *key = Some((name, loc));
                if opens {
                    stack.push(Frame::Skip(1));
                }
                None
            }
            Some(Frame::Map { key, path, .. }) => {
                let (name, key_loc) = key.take().unwrap_or_else(|| ("?".into(), loc));
                let p = join_path(path, &name);
                self.insert(p.clone(), Some(key_loc), loc, scalar);
                Some(p)
            }
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                self.insert(p.clone(), None, loc, scalar);
                Some(p)
            }
            None => {
                *root_seen = true;
                self.insert(String::new(), None, loc, scalar);
                Some(String::new())
            }
        }
    }

    fn insert(&mut self, path: String, key: Option<Loc>, value: Loc, scalar: Option<String>) {
        self.entries
            .entry(path)
            .or_insert(Entry { key, value, scalar });
    }

    /// Where `path` is (its key, for a mapping entry), or failing that its nearest ancestor
    /// that exists in the document. The flag says whether the path itself was found.
    pub(crate) fn locate(&self, path: &str) -> Option<(Loc, bool)> {
        let mut p = path;
        let mut exact = true;
        loop {
            if let Some(e) = self.entries.get(p) {
                return Some((e.key.unwrap_or(e.value), exact));
            }
            if p.is_empty() {
                return None;
            }
            exact = false;
            p = parent(p);
        }
    }

    /// The text of a scalar value.
    pub(crate) fn scalar(&self, path: &str) -> Option<&str> {
        self.entries.get(path).and_then(|e| e.scalar.as_deref())
    }
}

/// `a.b[2]` → `a.b`, `a.b` → `a`, `a` → ``.
fn parent(path: &str) -> &str {
    if path.ends_with(']') {
        if let Some(i) = path.rfind('[') {
            return &path[..i];
        }
    }
    match path.rfind('.') {
        Some(i) => &path[..i],
        None => "",
    }
}

/// The end of a collection inside a complex key only unwinds the skip depth; any other end
/// closes the innermost frame.
fn close(stack: &mut Vec<Frame>) {
    match stack.last_mut() {
        Some(Frame::Skip(depth)) if *depth > 1 => *depth -= 1,
        _ => {
            stack.pop();
        }
    }
}

/// saphyr's markers count columns from 0; a [`Loc`] counts from 1 like the rest.
fn scan_error(e: saphyr_parser::ScanError) -> (Loc, String) {
    let m = e.marker();
    (
        Loc {
            line: m.line(),
            column: m.col() + 1,
        },
        e.info().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
name: x
steps:
  - name: a
    request:
      headers:
      - [k, v]
  - {name: b, think: 1s}
target:
  https://a.example: https://b.example
dup: 1
dup: 2
";

    #[test]
    fn finds_keys_items_and_ancestors() {
        let idx = SpanIndex::build(DOC).unwrap();
        let at = |p: &str| idx.locate(p).map(|(l, e)| (l.line, l.column, e));
        assert_eq!(at("name"), Some((1, 1, true)));
        assert_eq!(at("steps[0]"), Some((3, 5, true)));
        assert_eq!(at("steps[0].request.headers[0]"), Some((6, 9, true)));
        assert_eq!(at("steps[0].request.headers[0][1]"), Some((6, 13, true)));
        assert_eq!(at("steps[1].think"), Some((7, 15, true)));
        assert_eq!(at("steps[1].nope.deeper"), Some((7, 5, false)));
        assert_eq!(at("target.https://a.example"), Some((9, 3, true)));
        assert_eq!(idx.scalar("steps[1].think"), Some("1s"));
        assert_eq!(idx.duplicates.len(), 1);
        assert_eq!(idx.duplicates[0].path, "dup");
        assert_eq!(
            (idx.duplicates[0].at.line, idx.duplicates[0].first.line),
            (11, 10)
        );
    }

    #[test]
    fn complex_keys_and_syntax_errors() {
        let idx = SpanIndex::build("? [a, b]\n: 1\nc: 2\n").unwrap();
        assert_eq!(idx.locate("c").map(|l| l.0.line), Some(3));
        let (loc, msg) = SpanIndex::build("a: [1\nb: 2\n").err().unwrap();
        assert!(loc.line >= 1 && !msg.is_empty());
    }
}
