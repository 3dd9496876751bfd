//! Reading an input file as text, the one way every loader does it (recordings, HAR files,
//! scenarios): a read error names the file, bytes that are not UTF-8 name the line, and a
//! UTF-8 byte-order mark (Windows editors write one) is dropped rather than read as part of
//! the first key.

use std::path::Path;

use crate::Error;

/// What the caller is reading, for its messages.
pub struct TextFile<'a> {
    /// `the recording`, `the scenario`, `the HAR file`.
    pub what: &'a str,
    /// What to do when the file cannot be read.
    pub read_hint: &'a str,
    /// What to do when it is not UTF-8.
    pub utf8_hint: &'a str,
}

impl TextFile<'_> {
    /// The file's text, without a byte-order mark.
    pub fn read(&self, path: &Path) -> Result<String, Error> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::new(path, format!("cannot read {}: {e}", self.what)).hint(self.read_hint)
        })?;
        let mut text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
            Error::new(path, "the file is not UTF-8 text")
                .at(line, None)
                .hint(self.utf8_hint)
        })?;
        if text.starts_with(BOM) {
            text.drain(..BOM.len_utf8());
        }
        Ok(text)
    }
}

const BOM: char = '\u{feff}';

/// `text` without a leading byte-order mark.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bom_is_dropped_and_bad_bytes_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let f = TextFile {
            what: "the test file",
            read_hint: "check the path",
            utf8_hint: "save it as UTF-8",
        };
        let p = dir.path().join("a.yaml");
        std::fs::write(&p, b"\xef\xbb\xbfname: x\n").unwrap();
        assert_eq!(f.read(&p).unwrap(), "name: x\n");
        std::fs::write(&p, b"a: 1\nb: \xff\n").unwrap();
        let e = f.read(&p).unwrap_err();
        assert_eq!(e.line, Some(2));
        let e = f.read(&dir.path().join("missing.yaml")).unwrap_err();
        assert!(e.to_string().contains("cannot read the test file"), "{e}");
        assert_eq!(strip_bom("\u{feff}x"), "x");
    }
}
