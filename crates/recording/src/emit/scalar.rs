//! When a string may be written as a plain YAML scalar, and how it is quoted when not.
//!
//! Recordings and scenarios are read by loadtape (serde_yaml, libyaml's grammar with YAML 1.2
//! types) and by people's own tools, most of which implement YAML 1.1 (PyYAML, libyaml itself,
//! ruamel's safe loader) or YAML 1.2 (saphyr). A plain scalar is written only when all of them
//! read it back as this same string, so the rules are the union of both versions': no
//! indicator where either grammar gives it a meaning, no word or number either schema would
//! resolve to another type (1.1's `yes`, `on`, `0o7` as octal, `1_000`, `1:30` as 90,
//! `2026-11-21` as a date; 1.2's `0o7` and `1e3`). Everything else is quoted: in single quotes
//! when nothing needs an escape (they read better), else in double quotes with escapes.
//! The property tests in `tests/emit_props.rs` hold these rules to all three readers.

use std::fmt::Write as _;

/// How a string that cannot be written plain is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quotes {
    /// Always `"..."`, with escapes, for a caller that wants one style throughout.
    Double,
    /// `'...'` when the text has nothing that needs an escape, else `"..."`: quoted text reads
    /// as written that way (`'{{ env("SECRET") }}'` rather than `"{{ env(\"SECRET\") }}"`,
    /// `'C:\temp'` rather than `"C:\\temp"`). What recordings and scenarios use.
    Single,
}

/// Mapping keys whose written form is longer than this are written as explicit keys
/// (`? key`): YAML readers give up on an implicit key past 1024 characters (libyaml, PyYAML:
/// "could not find expected ':'"), and this counts bytes, which are never fewer.
pub(crate) const IMPLICIT_KEY_MAX: usize = 1000;

/// Writes a string as a YAML scalar: plain when every reader reads it back unchanged, else
/// quoted (single quotes preferred). `in_flow` says the scalar stands inside `[...]` or `{...}`,
/// where `,[]{}` and `?` end a plain scalar.
pub fn scalar(out: &mut String, s: &str, in_flow: bool) {
    scalar_with(out, s, in_flow, Quotes::Single);
}

/// [`scalar`] with a choice of quotes.
pub fn scalar_with(out: &mut String, s: &str, in_flow: bool, q: Quotes) {
    if is_plain_safe(s, in_flow) {
        out.push_str(s);
    } else if q == Quotes::Single && !s.chars().any(needs_escape) {
        single(out, s);
    } else {
        double(out, s);
    }
}

/// Characters a YAML reader rejects or changes unless escaped in a double-quoted scalar:
/// tabs and line breaks (a quoted scalar folds them), other C0 and C1 controls and DEL, the
/// byte-order mark, Unicode's line and paragraph separators, and the non-characters
/// U+FFFE/U+FFFF. Everything else is printable to both YAML versions.
fn needs_escape(c: char) -> bool {
    (c as u32) < 0x20
        || (0x7f..=0x9f).contains(&(c as u32))
        || matches!(
            c,
            '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// A conservative test for a plain scalar that every YAML reader returns as this same string:
/// ASCII only, starting with a letter, digit, `/` or `_` (never an indicator), no `: ` or ` #`,
/// no space at either end, and nothing a 1.1 or 1.2 schema resolves to a non-string.
fn is_plain_safe(s: &str, in_flow: bool) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if !(first.is_ascii_alphanumeric() || first == b'/' || first == b'_') {
        return false;
    }
    // A trailing `:` would make the scalar a key; a trailing space would be dropped.
    if bytes.last() == Some(&b' ') || bytes.last() == Some(&b':') {
        return false;
    }
    if !bytes.iter().all(|&b| plain_byte(b, in_flow)) {
        return false;
    }
    // `: ` starts a mapping value and ` #` a comment; two spaces are kept by every reader but
    // are easy to misread, so such text is quoted. One pass over byte pairs: `str::contains`
    // with a two-byte needle calls `memcmp` at each candidate: in a profile of the proxy under
    // load that was the recorder thread's largest symbol (every header value comes here).
    if bytes
        .windows(2)
        .any(|w| matches!(w, [b':', b' '] | [b' ', b'#'] | [b' ', b' ']))
    {
        return false;
    }
    !resolves_to_non_string(s)
}

/// Bytes that may stand inside a plain scalar (not first: see [`is_plain_safe`]). `#` is left
/// out altogether, and in flow context the flow indicators and `?`, which end a plain scalar
/// there (PyYAML, YAML 1.1, ends one at `?`).
fn plain_byte(b: u8, in_flow: bool) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b' ' | b'_'
                | b'.'
                | b'/'
                | b':'
                | b';'
                | b'='
                | b'@'
                | b'+'
                | b'%'
                | b'*'
                | b'('
                | b')'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'~'
                | b'^'
                | b'-'
                | b'<'
                | b'>'
                | b'|'
                | b'`'
        )
        || (!in_flow && matches!(b, b',' | b'[' | b']' | b'{' | b'}' | b'?'))
}

/// Whether a YAML 1.1 or 1.2 schema (or serde_yaml's) reads this plain text as a number, a
/// date or timestamp, a boolean or null. Leading `.`, `+`, `-`, `~`, `<` and `=` never reach
/// here (see [`is_plain_safe`]), which already rules out `.inf`, `-1`, `~`, `<<` and `=`.
fn resolves_to_non_string(s: &str) -> bool {
    let first = s.as_bytes()[0];
    (first.is_ascii_digit() && (looks_numeric(s) || looks_like_timestamp(s))) || is_reserved_word(s)
}

/// Whether a digit-led string could be read as a number (decimal, float with exponent, hex,
/// octal, binary, sexagesimal or with underscores, as YAML 1.1 readers do). Deliberately wide:
/// any digit-led text of hex digits and number punctuation is quoted.
fn looks_numeric(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_hexdigit()
            || matches!(
                b,
                b'.' | b'_' | b':' | b'+' | b'-' | b'x' | b'X' | b'o' | b'O'
            )
    })
}

/// Whether YAML 1.1's timestamp type could claim the text: `YYYY-M-D` followed by its end, a
/// `T`/`t` or a space (`2026-11-21`, `2026-11-21T10:00:00.123Z`, `2020-08-20 11:29:55`).
/// Anything after that prefix is not examined: such text is quoted whatever follows.
fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, min: usize, max: usize| -> Option<usize> {
        let n = b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        (min..=max).contains(&n).then_some(from + n)
    };
    let date_end = digits(0, 4, 4)
        .filter(|&i| b.get(i) == Some(&b'-'))
        .and_then(|i| digits(i + 1, 1, 2))
        .filter(|&i| b.get(i) == Some(&b'-'))
        .and_then(|i| digits(i + 1, 1, 2));
    match date_end {
        Some(i) => matches!(b.get(i), None | Some(b'T' | b't' | b' ')),
        None => false,
    }
}

/// Words YAML 1.1 or 1.2 reads as booleans or null, in any case (1.1 only knows three
/// spellings of each, but other casings cost nothing to quote), and the float words.
fn is_reserved_word(s: &str) -> bool {
    const WORDS: [&str; 14] = [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "nan", "inf", "infinity",
        "none", "tilde",
    ];
    s.len() <= 8 && WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

/// `'...'`, with `'` doubled: the only escape single quotes have.
fn single(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
}

/// Double-quoted YAML with escapes for everything a YAML reader rejects or would change:
/// control characters, DEL and C1 controls, BOM, line and paragraph separators.
fn double(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Text for a `#` comment line. A comment ends at a line break, and YAML 1.1 counts NEL,
/// U+2028 and U+2029 as breaks too, so those, a lone `\r` and anything a reader refuses
/// (controls, BOM) are written as `\u....` escapes: the comment stays one line and the file
/// stays readable. A comment may quote recorded text (a name, a value), which can hold any of them.
pub fn comment_text(line: &str) -> std::borrow::Cow<'_, str> {
    let escaped = |c: char| c != '\t' && needs_escape(c);
    if !line.chars().any(escaped) {
        return line.into();
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        if escaped(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// A JSON number as YAML that both versions read as the same number. Integers are as JSON
/// has them. A float always has a point and a signed exponent when it has one (`1.0e+300`,
/// `5.0e-7`), because YAML 1.1 reads `1e+300` and `5e-7` as strings.
pub(crate) fn number(out: &mut String, n: &serde_json::Number) {
    let text = n.to_string();
    if !n.is_f64() {
        out.push_str(&text);
        return;
    }
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (text.as_str(), None),
    };
    out.push_str(mantissa);
    if !mantissa.contains('.') {
        out.push_str(".0");
    }
    if let Some(e) = exponent {
        out.push('e');
        if !e.starts_with(['+', '-']) {
            out.push('+');
        }
        out.push_str(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> bool {
        is_plain_safe(s, true)
    }

    #[test]
    fn timestamps_and_dates_are_quoted_other_digit_led_text_is_not() {
        for s in [
            "2026-11-21",
            "2026-11-21T10:00:00Z",
            "2020-08-20 11:29:55",
            "2001-1-2t1",
        ] {
            assert!(looks_like_timestamp(s) && !plain(s), "{s}");
        }
        for s in [
            "2026-11-21x",
            "20261-1-1",
            "2026-11",
            "200 OK",
            "3 days",
            "1st",
        ] {
            assert!(!looks_like_timestamp(s), "{s}");
        }
        assert!(plain("200 OK") && plain("3 days") && plain("2026-11-21_rc"));
    }

    #[test]
    fn floats_have_a_point_and_a_signed_exponent() {
        let f = |x: f64| {
            let mut out = String::new();
            number(&mut out, &serde_json::Number::from_f64(x).expect("finite"));
            out
        };
        assert_eq!(f(1e300), "1.0e+300");
        assert_eq!(f(-5e-7), "-5.0e-7");
        assert_eq!(f(1.5e16), "1.5e+16");
        assert_eq!(f(0.25), "0.25");
        assert_eq!(f(3.0), "3.0");
    }
}
