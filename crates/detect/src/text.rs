//! Values inside text bodies (HTML pages, inline scripts, JSONP): where a server hands a page
//! the nonces and ids its script sends back. A value found here goes by a name when the text
//! gives it one: a hidden input's `name`, a `data-` attribute, a JS object key, a query
//! parameter inside a link. The name is the evidence a short id needs, and the context the
//! extractor's regex is anchored on.

use std::sync::LazyLock;

use regex::Regex;

/// A value a text body holds under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub name: String,
    pub value: String,
}

/// The text with the HTML entities that hide separators decoded: `&amp;`, `&#038;`, `&#x26;`
/// and friends. A query string inside an `href` is written `a=1&amp;b=2` (WordPress writes
/// `&#038;`), and the value after the entity is what a request sends.
pub(crate) fn decode_entities(text: &str) -> String {
    static ENTITY: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|amp|quot|apos|lt|gt);").ok()
    });
    let Some(re) = ENTITY.as_ref() else {
        return text.to_string();
    };
    if !text.contains('&') {
        return text.to_string();
    }
    re.replace_all(text, |c: &regex::Captures| {
        let e = &c[1];
        let ch = match e {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            _ => {
                let n = e.strip_prefix("#x").or_else(|| e.strip_prefix("#X"));
                match n {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => e[1..].parse().ok(),
                }
                .and_then(char::from_u32)
            }
        };
        ch.map(String::from).unwrap_or_else(|| c[0].to_string())
    })
    .into_owned()
}

/// Every named value of a text body (entities already decoded), in order of appearance.
pub(crate) fn fields(text: &str) -> Vec<Field> {
    let mut out = Vec::new();
    inputs(text, &mut out);
    data_attributes(text, &mut out);
    object_members(text, &mut out);
    query_params(text, &mut out);
    out
}

/// `<input name="k" value="v">` in any attribute order (hidden form fields: nonces, ids).
fn inputs(text: &str, out: &mut Vec<Field>) {
    static TAG: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"(?i)<(?:input|meta|option)\b[^>]*>").ok());
    let Some(tag) = TAG.as_ref() else { return };
    for m in tag.find_iter(text) {
        let attrs = attributes(m.as_str());
        let get = |n: &str| {
            attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        let name = get("name").or_else(|| get("id"));
        if let (Some(name), Some(value)) = (name, get("value").or_else(|| get("content"))) {
            out.push(Field { name, value });
        }
    }
}

/// `data-post-id="1330"` → `post-id`.
fn data_attributes(text: &str, out: &mut Vec<Field>) {
    static DATA: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r#"\sdata-([A-Za-z0-9_-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')"#).ok()
    });
    let Some(re) = DATA.as_ref() else { return };
    for c in re.captures_iter(text) {
        let value = c.get(2).or(c.get(3)).map(|m| m.as_str()).unwrap_or("");
        out.push(Field {
            name: c[1].to_string(),
            value: value.to_string(),
        });
    }
}

/// `"key":"value"`, `key: 'value'`, `"key":1330` in inline scripts and JSON-in-HTML.
fn object_members(text: &str, out: &mut Vec<Field>) {
    static MEMBER: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"(?:"([A-Za-z_$][\w$-]*)"|'([A-Za-z_$][\w$-]*)'|\b([A-Za-z_$][\w$]*))\s*:\s*(?:"((?:[^"\\]|\\.)*)"|'([^'\\]*)'|(-?[0-9]{1,19})\b)"#,
        )
        .ok()
    });
    let Some(re) = MEMBER.as_ref() else { return };
    for c in re.captures_iter(text) {
        let name = c.get(1).or(c.get(2)).or(c.get(3)).map(|m| m.as_str());
        let value = c.get(4).or(c.get(5)).or(c.get(6)).map(|m| m.as_str());
        if let (Some(name), Some(value)) = (name, value) {
            out.push(Field {
                name: name.to_string(),
                value: value.replace("\\/", "/"),
            });
        }
    }
}

/// `?k=v&k2=v2` inside links and script strings.
fn query_params(text: &str, out: &mut Vec<Field>) {
    static PARAM: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"[?&]([A-Za-z_][\w\[\]-]*)=([^&#\s\x22'<>\\]+)").ok());
    let Some(re) = PARAM.as_ref() else { return };
    for c in re.captures_iter(text) {
        out.push(Field {
            name: c[1].to_string(),
            value: loadtape_scenario::template::url_decode(&c[2]),
        });
    }
}

/// The attributes of one tag, values unquoted.
fn attributes(tag: &str) -> Vec<(String, String)> {
    static ATTR: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r#"([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))"#)
            .ok()
    });
    let Some(re) = ATTR.as_ref() else {
        return Vec::new();
    };
    re.captures_iter(tag)
        .map(|c| {
            let v = c.get(2).or(c.get(3)).or(c.get(4)).map(|m| m.as_str());
            (c[1].to_string(), v.unwrap_or("").to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(text: &str) -> Vec<(String, String)> {
        fields(&decode_entities(text))
            .into_iter()
            .map(|f| (f.name, f.value))
            .collect()
    }

    #[test]
    fn entities() {
        assert_eq!(
            decode_entities("a?x=1&#038;_wpnonce=0b4b&amp;y=&#x26;&bogus;"),
            "a?x=1&_wpnonce=0b4b&y=&&bogus;"
        );
    }

    #[test]
    fn wordpress_shapes() {
        let html = r#"<input type='hidden' id='post_ID' name='post_ID' value='1330' />
            <a href='http://h/wp-login.php?action=logout&#038;_wpnonce=0b4b01722f'>Log Out</a>
            <script>var heartbeatSettings = {"nonce":"0504180544"};
            x = {"postLock":{"isLocked":false,"activePostLock":"1698345365:10"}, id: 1330, root:"http:\/\/h\/"}</script>
            <tr data-post-id="1327">"#;
        let f = named(html);
        let has = |n: &str, v: &str| f.contains(&(n.to_string(), v.to_string()));
        assert!(has("post_ID", "1330"), "{f:?}");
        assert!(has("_wpnonce", "0b4b01722f"), "{f:?}");
        assert!(has("action", "logout"), "{f:?}");
        assert!(has("nonce", "0504180544"), "{f:?}");
        assert!(has("activePostLock", "1698345365:10"), "{f:?}");
        assert!(has("id", "1330"), "{f:?}");
        assert!(has("root", "http://h/"), "{f:?}");
        assert!(has("post-id", "1327"), "{f:?}");
        assert!(!f.iter().any(|(n, _)| n == "isLocked"), "{f:?}");
    }
}
