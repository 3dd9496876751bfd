//! A request's URL, form and XML text as parameters: the path and query of a URL, `a=1&b=2`
//! decoded into pairs, a flat XML body's elements, and JSONPath steps for object keys. A leaf: what walking values and
//! inferring signatures both read requests with.

/// Percent-decodes (with `+` as space, as forms and most query strings mean it).
pub(crate) fn decode_component(s: &str) -> String {
    loadtape_scenario::template::url_decode(s)
}

/// `a=1&b=2` → pairs, decoded.
pub(crate) fn pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode_component(k), decode_component(v)),
            None => (decode_component(p), String::new()),
        })
        .collect()
}

/// The path and query of an absolute URL.
pub(crate) fn path_and_query(url: &str) -> (&str, Option<&str>) {
    let after_scheme = url.find("://").map(|i| &url[i + 3..]).unwrap_or(url);
    let rest = after_scheme
        .find('/')
        .map(|i| &after_scheme[i..])
        .unwrap_or("/");
    let rest = rest.split('#').next().unwrap_or(rest);
    match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    }
}

/// A JSONPath step for an object key: `.key` when it is a plain name, `['key']` otherwise.
pub(crate) fn key_step(key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!(".{key}")
    } else {
        format!("['{}']", key.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// The root's child elements of an XML body and their text (CDATA undone), in order; none
/// when it is not XML or nests deeper (a signed parameter list is flat).
pub(crate) fn xml_fields(text: &str) -> Vec<(String, String)> {
    let Ok(doc) = roxmltree::Document::parse(text.trim()) else {
        return Vec::new();
    };
    let children = doc.root_element().children().filter(|n| n.is_element());
    let mut out = Vec::new();
    for child in children {
        if child.children().any(|n| n.is_element()) {
            return Vec::new();
        }
        let value: String = child
            .children()
            .filter_map(|n| n.text())
            .collect::<Vec<_>>()
            .concat();
        out.push((child.tag_name().name().to_string(), value));
    }
    out
}
