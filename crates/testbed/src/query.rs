//! Reading one parameter out of a URL query string, percent-decoded, without a URL crate.
//!
//! The endpoints take at most three parameters, so a linear scan per lookup beats building a
//! map, and it borrows from the request instead of allocating unless a value is encoded.

use std::borrow::Cow;

/// The first value of `name` in `query` (`a=1&b=2`), with `%XX` and `+` decoded. A parameter
/// without `=` has the empty value. Invalid escapes are kept literally and invalid UTF-8 is
/// replaced, so no input makes this fail; such values simply match nothing.
pub(crate) fn param<'q>(query: Option<&'q str>, name: &str) -> Option<Cow<'q, str>> {
    query?
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(k, _)| decode(k) == name)
        .map(|(_, v)| decode(v))
}

/// `%XX` and `+` decoded, as in [`param`].
pub(crate) fn decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&h), Some(&l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    out.push(hex(h) << 4 | hex(l));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.to_ascii_lowercase() - b'a' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_decodes() {
        let q = Some("grant_type=client_credential&appid=wx%41b&secret=a+b%2&flag&x=%ff");
        assert_eq!(param(q, "grant_type").as_deref(), Some("client_credential"));
        assert_eq!(param(q, "appid").as_deref(), Some("wxAb"));
        assert_eq!(param(q, "secret").as_deref(), Some("a b%2"));
        assert_eq!(param(q, "flag").as_deref(), Some(""));
        assert_eq!(param(q, "x").as_deref(), Some("\u{fffd}"));
        assert_eq!(param(q, "missing"), None);
        assert_eq!(param(None, "appid"), None);
        assert_eq!(param(Some(""), "appid"), None);
        assert_eq!(param(Some("a%3Db=1"), "a=b").as_deref(), Some("1"));
    }
}
