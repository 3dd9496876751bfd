//! Regex extractors for values in text bodies, built so that they still work when the page
//! around the value changes a little, and checked on the recorded page before they are used.
//!
//! A pattern is the literal text just before the value, then the value's own character class
//! (digits for an id, the letters and punctuation the value is made of otherwise), so it takes
//! the whole value however long the replayed one is, and stops where the recorded one stopped.
//! A pattern is accepted only when, on the recorded response, every match captures the
//! recorded value: a context shared by many values (`<tr id="post-`) is lengthened, and a
//! value no short context singles out is not extracted at all (left as recorded).

use regex::Regex;

/// Context lengths tried before the value, shortest (most robust) first.
const CONTEXTS: [usize; 6] = [8, 12, 16, 24, 32, 40];

/// A pattern with one group that takes `value` out of `text`, if a short context singles it
/// out. With the `name` the page gives the value (a hidden input's, a script key's), a
/// context that starts at that name is tried first: it moves with the value when the page
/// around it changes.
pub(crate) fn text_regex(text: &str, value: &str, name: Option<&str>) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    let class = char_class(value, name);
    let inside = Regex::new(&format!("^{class}$")).ok()?;
    let whole = |at: usize| {
        let before = text[..at].chars().next_back();
        let after = text[at + value.len()..].chars().next();
        let outside =
            |c: Option<char>| c.is_none_or(|c| !inside.is_match(c.encode_utf8(&mut [0; 4])));
        outside(before) && outside(after)
    };
    let hits: Vec<usize> = text
        .match_indices(value)
        .map(|(i, _)| i)
        .filter(|&i| whole(i))
        .take(64)
        .collect();
    if let Some(name) = name.filter(|n| n.len() >= 2) {
        for &at in &hits {
            let window = at.saturating_sub(48);
            let Some(start) = text.get(window..at).and_then(|w| w.rfind(name)) else {
                continue;
            };
            let context = &text[window + start..at];
            let pattern = format!("{}({class}+)", regex::escape(context));
            if !fragile(context) && singles_out(&pattern, text, value) {
                return Some(pattern);
            }
        }
    }
    for &len in &CONTEXTS {
        for &at in &hits {
            let mut from = at.saturating_sub(len);
            while !text.is_char_boundary(from) {
                from += 1;
            }
            // Never start inside a word or number: that anchors on part of another value.
            let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            while from < at
                && alnum(text[..from].chars().next_back())
                && alnum(text[from..].chars().next())
            {
                from += text[from..].chars().next().map_or(1, char::len_utf8);
            }
            let context = &text[from..at];
            if context.len() < len.min(at) / 2 || fragile(context) {
                continue;
            }
            let pattern = format!("{}({class}+)", regex::escape(context));
            if singles_out(&pattern, text, value) {
                return Some(pattern);
            }
        }
    }
    None
}

/// A context that holds another id or token (a run of digits, a long random word) would
/// break as soon as that one changes: it is not an anchor.
fn fragile(context: &str) -> bool {
    // `&#038;` is a separator written as an entity, not an id.
    let context = &crate::text::decode_entities(context);
    // A date, a time or another id: digits that change from page to page.
    let digits = context.bytes().filter(u8::is_ascii_digit).count() >= 2;
    digits
        || context
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w.len() >= 12 && crate::shape::looks_random(w))
}

/// Whether every match of `pattern` in `text` captures `value` (and there is one).
pub(crate) fn singles_out(pattern: &str, text: &str, value: &str) -> bool {
    let Ok(re) = Regex::new(pattern) else {
        return false;
    };
    let mut n = 0;
    for c in re.captures_iter(text) {
        if c.get(1).map(|m| m.as_str()) != Some(value) {
            return false;
        }
        n += 1;
    }
    n > 0
}

/// The characters a value is made of, as a regex class: `[0-9]` for an id, letters and
/// digits plus the value's own punctuation otherwise (`1698345365:10` → `[0-9:]`).
///
/// A random value's recorded instance may happen to use only part of its alphabet: one
/// WordPress nonce in a hundred is all digits, one hex token in many all letters. So letters
/// always come with digits (digits with punctuation alone stay a compound number), and an
/// all-digit value is taken for a number only when it is
/// short or its name says it is an id; a longer one with another name (a nonce) gets letters
/// and digits, else a replayed `a1b2…` would not match or be cut short.
fn char_class(value: &str, name: Option<&str>) -> String {
    let all_digits = value.bytes().all(|b| b.is_ascii_digit());
    let id_name = name.is_some_and(|n| {
        let n = n.to_ascii_lowercase();
        n.ends_with("id") || n == "p" || n.ends_with("_no") || n.ends_with("count")
    });
    if all_digits && (value.len() < 8 || id_name || name.is_none()) {
        return "[0-9]".into();
    }
    let mut punct: Vec<char> = value
        .chars()
        .filter(|c| !c.is_ascii_alphanumeric())
        .collect();
    punct.sort_unstable();
    punct.dedup();
    let mut class = String::from("[");
    if all_digits || value.bytes().any(|b| b.is_ascii_alphabetic()) {
        class.push_str("A-Za-z0-9");
    } else if value.bytes().any(|b| b.is_ascii_digit()) {
        // Digits and punctuation, no letter: a compound number (`1698345365:10`).
        class.push_str("0-9");
    }
    for c in punct {
        if c.is_ascii_alphanumeric() {
            continue;
        }
        // Escaped one by one: `-`, `]`, `\` and `^` mean something inside a class.
        class.push('\\');
        class.push(c);
    }
    class.push(']');
    class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_on_context_and_checked() {
        let page = r#"<a href='x?action=logout&#038;_wpnonce=0b4b01722f'>Log Out</a>
                      <a href="x?action=logout&#038;_wpnonce=0b4b01722f">Log Out</a>"#;
        let p = text_regex(page, "0b4b01722f", None).unwrap();
        assert_eq!(p, r"wpnonce=([A-Za-z0-9]+)");
        assert!(singles_out(&p, page, "0b4b01722f"));
        let lock = r#"{"activePostLock":"1698345365:10"},"x":"1698345365:11""#;
        assert_eq!(
            text_regex(lock, "1698345365:10", None).unwrap(),
            r#"\{"activePostLock":"([0-9\:]+)"#
        );
    }

    #[test]
    fn a_context_shared_by_many_values_is_lengthened_or_refused() {
        let rows = r#"<tbody id="the-list"><tr id="post-1330"><td>x</td></tr><tr id="post-1327"><td>x</td></tr><tr id="post-1319"><td>x</td></tr>"#;
        let first = text_regex(rows, "post-1330", None).unwrap();
        assert_eq!(first, r#""><tr id="([A-Za-z0-9\-]+)"#);
        assert!(singles_out(&first, rows, "post-1330"), "{first}");
        // The second and third rows share every context that holds no other id.
        assert_eq!(text_regex(rows, "post-1319", None), None);
        let same = "<tr id=\"post-101\"><tr id=\"post-102\"><tr id=\"post-103\">";
        assert_eq!(text_regex(same, "post-102", None), None);
        // Part of a longer token is not an occurrence.
        assert_eq!(text_regex("id=12345", "2345", None), None);
    }

    #[test]
    fn the_name_is_the_anchor_when_there_is_one() {
        let page = r#"<p>1330</p><input type="hidden" id="post_ID" name="post_ID" value="1330" />"#;
        assert_eq!(
            text_regex(page, "1330", Some("post_ID")).unwrap(),
            r#"post_ID" value="([0-9]+)"#
        );
    }

    /// One WordPress nonce in a hundred is all digits; the next one may not be.
    #[test]
    fn an_all_digit_nonce_is_still_taken_as_letters_and_digits() {
        let page = r#"<script>var wpApiSettings = {"root":"x","nonce":"4412097736"};</script>"#;
        let p = text_regex(page, "4412097736", Some("nonce")).unwrap();
        assert_eq!(p, r#"nonce":"([A-Za-z0-9]+)"#);
        let next = page.replace("4412097736", "a3f09c1e2b");
        let got = Regex::new(&p).unwrap().captures(&next).unwrap()[1].to_string();
        assert_eq!(got, "a3f09c1e2b");
        // A letters-only instance still takes digits.
        let p = text_regex(
            &page.replace("4412097736", "abcdefabcd"),
            "abcdefabcd",
            None,
        );
        assert!(p.unwrap().ends_with("([A-Za-z0-9]+)"));
    }
}
