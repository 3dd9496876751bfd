//! HTML form bodies: `application/x-www-form-urlencoded` and `multipart/form-data`, the two
//! encodings a browser posts, parsed just far enough for the web app's fields.

use http::header::CONTENT_TYPE;
use http::HeaderMap;

use crate::query;

/// The fields of a form body, by the request's `content-type`: urlencoded or multipart. Any
/// other type (or a multipart body without a boundary) has no fields.
pub(crate) struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Form {
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        let fields = if mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            urlencoded(body)
        } else if mime.eq_ignore_ascii_case("multipart/form-data") {
            boundary(content_type).map_or_else(Vec::new, |b| multipart(body, &b))
        } else {
            Vec::new()
        };
        Form { fields }
    }

    /// Every field, in the order sent.
    pub(crate) fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// The first value of field `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `a=1&b=2` (a form body, or a query string) as decoded pairs, in order.
pub(crate) fn urlencoded(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (query::decode(k).into_owned(), query::decode(v).into_owned())
        })
        .collect()
}

/// `boundary=...` of a multipart content type, quotes removed.
fn boundary(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty())
}

/// The text fields of a multipart body: each part's `name` from its `Content-Disposition` and
/// its content up to the next delimiter. Parts with a `filename` are files, not fields.
fn multipart(body: &[u8], boundary: &str) -> Vec<(String, String)> {
    let delimiter = format!("--{boundary}");
    let text = String::from_utf8_lossy(body);
    let mut fields = Vec::new();
    // The preamble before the first delimiter and the epilogue after the last are skipped.
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some((head, content)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let content = content.strip_suffix("\r\n").unwrap_or(content);
        if let Some(name) = disposition_name(head) {
            fields.push((name, content.to_string()));
        }
    }
    fields
}

fn disposition_name(head: &str) -> Option<String> {
    let line = head.lines().find(|l| {
        l.split(':')
            .next()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("content-disposition"))
    })?;
    let params: Vec<(&str, &str)> = line
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .collect();
    if params
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("filename"))
    {
        return None;
    }
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("name"))
        .map(|(_, v)| v.trim_matches('"').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn form(content_type: &'static str, body: &str) -> Form {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        Form::parse(&h, body.as_bytes())
    }

    #[test]
    fn urlencoded_fields() {
        let f = form(
            "application/x-www-form-urlencoded",
            "log=admin&pwd=a+b%21&redirect_to=%2Fwp%2Fadmin&flag&l%6fg=2",
        );
        assert_eq!(f.get("log"), Some("admin"));
        assert_eq!(f.get("pwd"), Some("a b!"));
        assert_eq!(f.get("redirect_to"), Some("/wp/admin"));
        assert_eq!(f.get("flag"), Some(""));
        assert_eq!(f.get("nope"), None);
    }

    #[test]
    fn multipart_fields_as_curl_sends_them() {
        let body = "--------------------------x1\r\n\
            Content-Disposition: form-data; name=\"action\"\r\n\r\n\
            wp-remove-post-lock\r\n\
            --------------------------x1\r\n\
            Content-Disposition: form-data; name=\"_wpnonce\"\r\n\r\n\
            0123456789\r\n\
            --------------------------x1\r\n\
            Content-Disposition: form-data; name=\"up\"; filename=\"a.txt\"\r\n\
            Content-Type: text/plain\r\n\r\n\
            file\r\n\
            --------------------------x1\r\n\
            content-disposition: form-data; name=post_ID\r\n\r\n\
            1330\r\n\
            --------------------------x1--\r\n";
        let f = form(
            "multipart/form-data; boundary=------------------------x1",
            body,
        );
        assert_eq!(f.get("action"), Some("wp-remove-post-lock"));
        assert_eq!(f.get("_wpnonce"), Some("0123456789"));
        assert_eq!(f.get("post_ID"), Some("1330"));
        assert_eq!(f.get("up"), None, "a file is not a field");
        assert_eq!(form("multipart/form-data", body).get("action"), None);
        assert_eq!(form("text/plain", "action=x").get("action"), None);
    }
}
