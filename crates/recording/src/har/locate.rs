//! Finding the line of a JSON value by its path.
//!
//! Most problems in a HAR file are caught while deserializing, where serde_json knows the
//! line. A few can only be judged once an entry is whole (a relative URL with no `Host` to
//! resolve it, base64 that does not decode); for those the importer knows the JSON path, and
//! this walks the text to it, so the error still names the line. It scans without building
//! values, so it costs nothing on a valid file.

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Seg {
    Key(&'static str),
    Index(usize),
}

/// The 1-based line and column where the value at `path` starts, if the path exists.
pub(super) fn locate(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut pos = ws(b, 0);
    for seg in path {
        pos = match seg {
            Seg::Key(key) => member(b, pos, key)?,
            Seg::Index(i) => element(b, pos, *i)?,
        };
    }
    let before = text.get(..pos)?;
    let line = 1 + before.matches('\n').count();
    let column = 1 + before.rsplit('\n').next().unwrap_or("").chars().count();
    Some((line, column))
}

/// Renders a path the way serde_path_to_error does: `log.entries[3].request.url`.
pub(super) fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn ws(b: &[u8], mut pos: usize) -> usize {
    while pos < b.len() && b[pos].is_ascii_whitespace() {
        pos += 1;
    }
    pos
}

/// Position of the value of `key` in the object starting at `pos`.
fn member(b: &[u8], pos: usize, key: &str) -> Option<usize> {
    if b.get(pos) != Some(&b'{') {
        return None;
    }
    let mut pos = pos + 1;
    loop {
        pos = ws(b, pos);
        if b.get(pos)? != &b'"' {
            return None;
        }
        let end = string_end(b, pos)?;
        let name = &b[pos + 1..end - 1];
        pos = ws(b, end);
        if b.get(pos)? != &b':' {
            return None;
        }
        pos = ws(b, pos + 1);
        if name == key.as_bytes() {
            return Some(pos);
        }
        pos = ws(b, value_end(b, pos)?);
        match b.get(pos)? {
            b',' => pos += 1,
            _ => return None,
        }
    }
}

/// Position of element `index` of the array starting at `pos`.
fn element(b: &[u8], pos: usize, index: usize) -> Option<usize> {
    if b.get(pos) != Some(&b'[') {
        return None;
    }
    let mut pos = pos + 1;
    for i in 0.. {
        pos = ws(b, pos);
        if b.get(pos)? == &b']' {
            return None;
        }
        if i == index {
            return Some(pos);
        }
        pos = ws(b, value_end(b, pos)?);
        match b.get(pos)? {
            b',' => pos += 1,
            _ => return None,
        }
    }
    None
}

/// The position just past the string starting (at its quote) at `pos`.
fn string_end(b: &[u8], pos: usize) -> Option<usize> {
    let mut i = pos + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The position just past the value starting at `pos`.
fn value_end(b: &[u8], pos: usize) -> Option<usize> {
    match b.get(pos)? {
        b'"' => string_end(b, pos),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = pos;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = string_end(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let mut i = pos;
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']') && !b[i].is_ascii_whitespace()
            {
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values() {
        let text = "{\"log\": {\n \"x\": [1, {\"a\": \"]}\\\"\"}],\n \"entries\": [\n  {},\n  {\"request\": {\"url\": 5}}\n ]}}";
        let path = [
            Seg::Key("log"),
            Seg::Key("entries"),
            Seg::Index(1),
            Seg::Key("request"),
            Seg::Key("url"),
        ];
        assert_eq!(locate(text, &path), Some((5, 23)));
        assert_eq!(render(&path), "log.entries[1].request.url");
        assert_eq!(locate(text, &[Seg::Key("nope")]), None);
        assert_eq!(
            locate(text, &[Seg::Key("log"), Seg::Key("entries"), Seg::Index(2)]),
            None
        );
    }
}
