//! Whether a recorded request is one HTTP can carry: an `http(s)` (or `ws(s)`) URL with a host, a method
//! that is a token, header names and values a client may send. Checked where exchanges enter
//! loadtape (the recording reader, the HAR importer), so that a file with `ftp://…` or a
//! header value holding a line break is refused there, with its place, and never reaches
//! `convert` or `run` as "a loadtape bug".

use crate::recording::{Headers, Request};

/// What is wrong with a request: the field it is in (`request.url`, `request.headers[2]`),
/// relative to the exchange, what is wrong, and the text to find its line by; `None` when it
/// can be sent.
pub fn unsendable(request: &Request) -> Option<Unsendable> {
    if http::Method::from_bytes(request.method.as_bytes()).is_err() {
        return Some(Unsendable {
            field: "request.method".into(),
            why: format!("`{}` is not an HTTP method", request.method),
            near: "method:".into(),
        });
    }
    if let Some(why) = bad_url(&request.url) {
        return Some(Unsendable {
            field: "request.url".into(),
            why,
            near: "url:".into(),
        });
    }
    bad_header(&request.headers).map(|(i, why)| Unsendable {
        field: format!("request.headers[{i}]"),
        why,
        near: request.headers.0[i].0.clone(),
    })
}

/// A request part HTTP cannot carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsendable {
    /// The field, relative to the exchange (`request.headers[2]`).
    pub field: String,
    /// What is wrong, for the message.
    pub why: String,
    /// Text on the field's line in a YAML document (`url:`, the header's name), to place the
    /// message on its line.
    pub near: String,
}

fn bad_url(url: &str) -> Option<String> {
    let shown: String = url.chars().take(120).collect();
    let Ok(uri) = url.parse::<http::Uri>() else {
        return Some(format!("`{shown}` is not a URL"));
    };
    match uri.scheme_str() {
        Some("http" | "https" | "ws" | "wss") if uri.host().is_some_and(|h| !h.is_empty()) => None,
        Some("http" | "https" | "ws" | "wss") => Some(format!("`{shown}` has no host")),
        Some(other) => Some(format!(
            "`{shown}`: only http, https, ws and wss URLs can be replayed, not `{other}`"
        )),
        None => Some(format!(
            "`{shown}` is not absolute (write scheme://host/path)"
        )),
    }
}

fn bad_header(headers: &Headers) -> Option<(usize, String)> {
    headers.0.iter().enumerate().find_map(|(i, (name, value))| {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Some((i, format!("`{name}` is not a valid header name")));
        }
        if http::HeaderValue::from_bytes(value.as_bytes()).is_err() {
            return Some((
                i,
                format!("the value of `{name}` holds a line break or a control character"),
            ));
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: method.into(),
            url: url.into(),
            version: "HTTP/1.1".into(),
            headers: Headers(
                headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            body: None,
        }
    }

    #[test]
    fn what_http_cannot_carry_is_named_with_its_field() {
        let ok = request("GET", "https://a.example/x", &[("accept", "*/*")]);
        assert_eq!(unsendable(&ok), None);
        let u = unsendable(&request("GET", "ftp://a.example/x", &[])).unwrap();
        assert_eq!(u.field, "request.url");
        assert!(u.why.contains("not `ftp`"), "{}", u.why);
        let u = unsendable(&request("GET", "https://a/x", &[("bad header", "x")])).unwrap();
        assert_eq!(
            (u.field.as_str(), u.near.as_str()),
            ("request.headers[0]", "bad header")
        );
        let r = request(
            "GET",
            "https://a/x",
            &[("ok", "1"), ("x-note", "a\r\nb: 1")],
        );
        let u = unsendable(&r).unwrap();
        assert_eq!(u.field, "request.headers[1]");
        assert!(u.why.contains("line break"), "{}", u.why);
        assert!(unsendable(&request("GE T", "https://a/x", &[])).is_some());
        assert!(unsendable(&request("GET", "/relative", &[])).is_some());
    }
}
