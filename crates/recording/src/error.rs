use std::fmt;
use std::path::PathBuf;

/// A problem with an input file, located precisely enough to fix it by hand: the file, the line
/// (and column), the field path inside the document, what is wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// The file as the user named it (or the name given to text read from memory).
    pub file: PathBuf,
    /// 1-based line in the file, when the problem has a place.
    pub line: Option<usize>,
    /// 1-based column on that line, when the parser knows it.
    pub column: Option<usize>,
    /// Dotted path of the offending field, e.g. `request.headers[2]`.
    pub field: Option<String>,
    /// What is wrong, as a sentence fragment that follows the location when displayed.
    pub message: String,
    /// What to do about it, shown in parentheses after the message.
    pub hint: Option<String>,
}

impl Error {
    /// An error about `file` with no location yet; add one with [`Error::at`] and
    /// [`Error::field`].
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error {
            file: file.into(),
            line: None,
            column: None,
            field: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Places the error at a 1-based line and, if known, column.
    pub fn at(mut self, line: usize, column: Option<usize>) -> Error {
        self.line = Some(line);
        self.column = column;
        self
    }

    /// Names the offending field by its dotted path; an empty path or `.` (the document
    /// itself) names none.
    pub fn field(mut self, field: impl Into<String>) -> Error {
        let field = field.into();
        self.field = (!field.is_empty() && field != ".").then_some(field);
        self
    }

    /// Adds advice on how to fix the file.
    pub fn hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", cut(&self.message))?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The longest message shown whole. Messages quote what they found, and what they found
/// may be a 50 MB URL: a message is for reading, so its middle is cut past this.
const MESSAGE_SHOWN: usize = 400;

/// `message`, or its start and end around a note of how much was left out.
fn cut(message: &str) -> std::borrow::Cow<'_, str> {
    if message.len() <= MESSAGE_SHOWN {
        return message.into();
    }
    let head = floor_char_boundary(message, MESSAGE_SHOWN * 2 / 3);
    let tail = ceil_char_boundary(message, message.len() - MESSAGE_SHOWN / 3);
    format!(
        "{}… ({} bytes left out) …{}",
        &message[..head],
        tail - head,
        &message[tail..]
    )
    .into()
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_message_is_cut_in_the_middle() {
        let long = format!("bad URL `{}é` here", "a".repeat(50 << 20));
        let shown = Error::new("s.yaml", long).at(6, Some(3)).to_string();
        assert!(shown.len() < 600, "{}", shown.len());
        assert!(shown.starts_with("s.yaml:6:3: bad URL `aaa"), "{shown}");
        assert!(shown.ends_with("aé` here"), "{shown}");
        assert!(shown.contains("bytes left out"), "{shown}");
        let short = Error::new("s.yaml", "missing field `name`").to_string();
        assert_eq!(short, "s.yaml: missing field `name`");
    }
}
