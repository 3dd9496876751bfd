//! How mitmproxy's `hardump` writes bodies, and how to get the wire bytes back.
//!
//! mitmproxy puts a body that is not "mostly binary" into `text` as characters, decoded with
//! the charset of its content type, UTF-8 for JSON, a `<meta charset>` or `@charset`, and
//! Latin-1 otherwise; bytes that do not decode become Python's surrogate escapes (U+DC80 to
//! U+DCFF), which it writes as `\udcXX` — JSON that strict parsers (serde_json among them)
//! reject. Both are undone here, so a binary or non-UTF-8 body imports as the bytes that were
//! on the wire.

/// Where an escaped byte `XX` is parked while the text is parsed: U+10FF00 + XX, in a private
/// use plane no HTTP body uses.
const PARKED: u32 = 0x10_ff00;

/// Whether mitmproxy decoded this body as Latin-1: its content type names no charset (or
/// Latin-1) and is not JSON or self-declaring HTML or CSS, and every character fits in a byte.
pub(super) fn latin1(mime: Option<&str>, text: &str) -> bool {
    if !text.chars().all(|c| (c as u32) <= 0xff) {
        return false;
    }
    let mime = mime.unwrap_or("").to_ascii_lowercase();
    if let Some(charset) = mime
        .split(';')
        .skip(1)
        .find_map(|p| p.trim().strip_prefix("charset="))
    {
        let charset = charset.trim_matches(['"', '\'', ' ']);
        return matches!(charset, "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1");
    }
    let head = || {
        text.get(..text.len().min(4096))
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    !(mime.contains("json")
        || (mime.contains("html") && head().contains("charset="))
        || (mime.contains("text/css") && head().starts_with("@charset")))
}

/// The JSON text with every `\udcXX` escape (a lone low surrogate) replaced by a parked
/// character, or `None` if there is none. Escapes are walked pairwise, so `\\udc80` (an
/// escaped backslash, then text) is left alone.
pub(super) fn park_surrogate_escapes(json: &str) -> Option<String> {
    let b = json.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        let escape = b.get(i + 1..i + 6);
        let byte = escape.and_then(|e| {
            let e = std::str::from_utf8(e).ok()?;
            let hex = e.strip_prefix("udc").or_else(|| e.strip_prefix("uDC"))?;
            u8::from_str_radix(hex, 16).ok().filter(|b| *b >= 0x80)
        });
        match byte {
            Some(byte) => {
                out.push_str(&json[copied..i]);
                out.push(char::from_u32(PARKED + u32::from(byte)).unwrap_or('\u{fffd}'));
                i += 6;
                copied = i;
            }
            None => i += 2,
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&json[copied..]);
    Some(out)
}

/// The bytes of a text that may hold parked bytes: those are the bytes themselves, the rest
/// is UTF-8 (what mitmproxy had decoded).
pub(super) fn unpark(text: &str) -> Option<Vec<u8>> {
    let parked = |c: char| (PARKED + 0x80..=PARKED + 0xff).contains(&(c as u32));
    if !text.chars().any(parked) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for c in text.chars() {
        if parked(c) {
            out.push((c as u32 - PARKED) as u8);
        } else {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_rule_follows_mitmproxy() {
        assert!(latin1(Some("application/octet-stream"), "\u{0}\u{ff}"));
        assert!(!latin1(Some("application/json"), "é"));
        assert!(!latin1(Some("text/plain; charset=utf-8"), "é"));
        assert!(latin1(Some("text/plain; charset=ISO-8859-1"), "é"));
        assert!(!latin1(Some("text/plain"), "中"));
        assert!(!latin1(
            Some("text/html"),
            "<meta charset=\"utf-8\"><p>caf\u{e9}</p>"
        ));
    }

    #[test]
    fn surrogate_escapes_become_bytes() {
        // What Python writes for b"ok \xff\xfe" decoded with surrogateescape, plus an escaped
        // backslash followed by text that only looks like an escape.
        let json = r#"{"text": "ok \udcff\udcfe \u4e2d \\udc80"}"#;
        let parked = park_surrogate_escapes(json).unwrap();
        let v: serde_json::Value = serde_json::from_str(&parked).unwrap();
        let text = v["text"].as_str().unwrap();
        let mut want = b"ok \xff\xfe ".to_vec();
        want.extend_from_slice("中 \\udc80".as_bytes());
        assert_eq!(unpark(text).unwrap(), want);
        assert_eq!(park_surrogate_escapes(r#"{"a": "\\udcff \u00e9"}"#), None);
        assert_eq!(unpark("plain"), None);
    }
}
