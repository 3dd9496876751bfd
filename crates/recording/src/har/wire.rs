//! HAR's parsed fields in their wire form: headers split from HTTP/2 pseudo-headers, the URL
//! resolved, the version normalised, form parameters and cookies encoded as they were sent,
//! bodies decoded. What the importer builds exchanges from.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::model::{Cookie, HarRequest, NameValue};
use crate::recording::Headers;

/// `application/x-www-form-urlencoded` leaves these as they are and turns space into `+`.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

pub(super) fn split_headers(list: &[NameValue]) -> (Headers, Headers) {
    let mut headers = Headers::new();
    let mut pseudo = Headers::new();
    for h in list.iter().filter(|h| !h.name.is_empty()) {
        let value = h.value.clone().unwrap_or_default();
        if h.name.starts_with(':') {
            pseudo.push(h.name.clone(), value);
        } else {
            headers.push(h.name.clone(), value);
        }
    }
    (headers, pseudo)
}

/// An absolute URL for the request: as written, or completed from `:scheme`/`:authority` (or
/// `Host`) when the exporter wrote only the path. The fragment is dropped (it is never sent),
/// and a query only listed in `queryString` is appended.
pub(super) fn resolve_url(
    req: &HarRequest,
    headers: &Headers,
    pseudo: &Headers,
    version: &str,
) -> Result<String, String> {
    let mut url = req.url.clone();
    if url.starts_with('/') {
        let path = pseudo
            .get(":path")
            .filter(|p| p.starts_with('/'))
            .unwrap_or(&url)
            .to_string();
        let authority = pseudo.get(":authority").or(headers.get("host")).ok_or_else(|| {
            format!("`{url}` is a path, and there is no `:authority` or `Host` header to complete it")
        })?;
        let secure_default = if version.starts_with("HTTP/1") {
            "http"
        } else {
            "https"
        };
        let scheme = pseudo.get(":scheme").unwrap_or(secure_default);
        url = format!("{scheme}://{authority}{path}");
    } else if !url.contains("://") {
        return Err(format!(
            "`{url}` is not an absolute URL (expected e.g. https://host/path)"
        ));
    }
    if let Some(i) = url.find('#') {
        url.truncate(i);
    }
    if !url.contains('?') && !req.query.is_empty() {
        url.push('?');
        url.push_str(&form_encode(&req.query));
    }
    Ok(url)
}

/// `HTTP/1.1`, `HTTP/2.0` or `HTTP/3.0` as the recording spells them, from what exporters
/// write (`http/1.1`, `h2`, `HTTP/2`, `http/2.0`, `h3`, `h3-29`). Unknown (Chrome's
/// `unknown`, an empty string) is `None`.
pub(super) fn normalize_version(v: &str) -> Option<String> {
    let v = v.trim().to_ascii_lowercase();
    let v = v.strip_prefix("http/").unwrap_or(&v);
    let out = match v {
        "0.9" => "HTTP/0.9",
        "1.0" | "1" => "HTTP/1.0",
        "1.1" => "HTTP/1.1",
        "2" | "2.0" | "h2" | "h2c" => "HTTP/2.0",
        "3" | "3.0" | "h3" => "HTTP/3.0",
        v if v.starts_with("h3-") || v.starts_with("spdy") => {
            if v.starts_with("h3") {
                "HTTP/3.0"
            } else {
                "HTTP/2.0"
            }
        }
        _ => return None,
    };
    Some(out.to_string())
}

pub(super) fn form_encode(pairs: &[NameValue]) -> String {
    pairs
        .iter()
        .map(|p| {
            let enc = |s: &str| utf8_percent_encode(s, FORM).to_string().replace("%20", "+");
            format!("{}={}", enc(&p.name), enc(p.value.as_deref().unwrap_or("")))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A body an exporter mistook for a form: Charles writes a JSON (or other non-form) body
/// sent as `application/x-www-form-urlencoded` as `params` whose *names* are the body and
/// whose values are empty, cut where it met a `&` or `;` (and trimmed). The bytes on the wire
/// were the body itself. Taken so only when every value is empty and the names, joined back,
/// parse as JSON; the separator is the one that gives the recorded `Content-Length` (`&`
/// when none fits or none is recorded).
pub(super) fn raw_body_in_names(params: &[NameValue], headers: &Headers) -> Option<String> {
    if params
        .iter()
        .any(|p| p.value.as_deref().is_some_and(|v| !v.is_empty()) || p.file_name.is_some())
    {
        return None;
    }
    let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let first = names.first()?.trim_start();
    if !first.starts_with('{') && !first.starts_with('[') {
        return None;
    }
    let length: Option<usize> = headers
        .get("content-length")
        .and_then(|l| l.trim().parse().ok());
    let joined = ["&", ";", "; "]
        .iter()
        .map(|sep| names.join(sep))
        .find(|j| Some(j.len()) == length)
        .unwrap_or_else(|| names.join("&"));
    serde_json::from_str::<serde_json::Value>(&joined)
        .is_ok()
        .then_some(joined)
}

/// A body from `params` alone (k6 Studio writes forms that way): multipart when the type says
/// so and names its boundary, else urlencoded.
pub(super) fn encode_params(params: &[NameValue], mime: Option<&str>) -> Vec<u8> {
    let boundary = mime
        .filter(|m| m.to_ascii_lowercase().contains("multipart/"))
        .and_then(|m| {
            m.split(';')
                .find_map(|p| p.trim().strip_prefix("boundary="))
                .map(|b| b.trim_matches('"').to_string())
        });
    let Some(boundary) = boundary else {
        return form_encode(params).into_bytes();
    };
    let mut out = String::new();
    for p in params {
        out.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
            p.name
        ));
        if let Some(f) = &p.file_name {
            out.push_str(&format!("; filename=\"{f}\""));
        }
        out.push_str("\r\n");
        if let Some(ct) = &p.content_type {
            out.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(p.value.as_deref().unwrap_or(""));
        out.push_str("\r\n");
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out.into_bytes()
}

/// A `Set-Cookie` value from a HAR cookie, for exports that keep cookies only in `cookies`.
pub(super) fn set_cookie(c: &Cookie) -> String {
    let mut s = format!("{}={}", c.name, c.value.as_deref().unwrap_or(""));
    if let Some(p) = c.path.as_deref().filter(|p| !p.is_empty()) {
        s.push_str(&format!("; Path={p}"));
    }
    if let Some(d) = c.domain.as_deref().filter(|d| !d.is_empty()) {
        s.push_str(&format!("; Domain={d}"));
    }
    if let Some(t) = c.expires.as_deref().and_then(super::model::parse_time) {
        s.push_str(&format!(
            "; Expires={}",
            t.format("%a, %d %b %Y %H:%M:%S GMT")
        ));
    }
    if c.http_only == Some(true) {
        s.push_str("; HttpOnly");
    }
    if c.secure == Some(true) {
        s.push_str("; Secure");
    }
    if let Some(ss) = c.same_site.as_deref().filter(|s| !s.is_empty()) {
        s.push_str(&format!("; SameSite={ss}"));
    }
    s
}

/// Undoes a `content-encoding` when the bytes really are in it, completely or up to `max`
/// decoded bytes (a bomb stops there); `None` otherwise (then they were already decoded, as
/// HAR exporters normally write them, or the stream breaks before the cap). With the bytes,
/// whether the cap cut them.
pub(super) fn decode(coding: &str, data: &[u8], max: usize) -> Option<(Vec<u8>, bool)> {
    match crate::content::decode(coding, data, max)? {
        (out, true) => Some((out, false)),
        (out, false) if out.len() == max => Some((out, true)),
        (_, false) => None,
    }
}
