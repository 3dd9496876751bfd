//! HAR entries to recorded exchanges.

use std::path::Path;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use chrono::{DateTime, Utc};

use super::locate::{locate, render, Seg};
use super::mitmproxy;
use super::model::{Content, Cookie, Entry, HarFile, HarRequest, HarResponse, Timings};
use super::wire::{
    decode, encode_params, normalize_version, raw_body_in_names, resolve_url, set_cookie,
    split_headers,
};
use crate::body::Body;
use crate::error::Error;
use crate::reader::Recording;
use crate::recording::{Exchange, Headers, RecordingHeader, Request, Response, RECORDING_V1};

/// A HAR file turned into a recording, with what was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The entries as a `recording/v1`, ready to write or to convert.
    pub recording: Recording,
    /// One line per entry that is not an HTTP exchange (CONNECT tunnels), naming its path.
    pub skipped: Vec<String>,
    /// `log.creator.name`: the tool that wrote the file.
    pub creator: Option<String>,
}

/// What HAR writers do with base64: padded or not, sometimes wrapped in lines.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(super) fn import(
    text: &str,
    source: &Path,
    name: &str,
    max_body: usize,
) -> Result<Imported, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // mitmproxy writes undecodable bytes as lone surrogate escapes, which JSON parsers
    // reject: park them and parse again (see the `mitmproxy` module).
    let (har, parked) = match parse(text, source) {
        Ok(har) => (har, None),
        Err(e) if e.message.contains("surrogate") => {
            match mitmproxy::park_surrogate_escapes(text) {
                Some(parked) => (parse(&parked, source)?, Some(parked)),
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let creator = har.log.creator.and_then(|c| c.name);
    let importer = Importer {
        text: parked.as_deref().unwrap_or(text),
        parked: parked.is_some(),
        source,
        mitmproxy: creator
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("mitmproxy")),
        max_body,
    };
    let meta = har.log.recording;
    let pages = page_groups(&har.log.pages);
    let mut exchanges = Vec::with_capacity(har.log.entries.len());
    let mut skipped = Vec::new();
    let mut last_start = meta.as_ref().and_then(|m| m.created);
    for (i, entry) in har.log.entries.into_iter().enumerate() {
        if entry.request.method.eq_ignore_ascii_case("CONNECT") {
            skipped.push(format!(
                "log.entries[{i}]: CONNECT {} (a tunnel, not an HTTP exchange)",
                entry.request.url
            ));
            continue;
        }
        let page = entry.pageref.as_deref().and_then(|p| pages.get(p)).cloned();
        let mut exchange = importer.entry(i, entry, last_start)?;
        exchange.group = exchange.group.take().or(page);
        last_start = Some(exchange.started);
        exchanges.push(exchange);
    }
    let created = meta
        .as_ref()
        .and_then(|m| m.created)
        .or_else(|| exchanges.iter().map(|e| e.started).min())
        .unwrap_or_else(Utc::now);
    let name = meta
        .and_then(|m| m.name)
        .unwrap_or_else(|| name.to_string());
    Ok(Imported {
        recording: Recording {
            header: RecordingHeader {
                loadtape: RECORDING_V1.to_string(),
                name,
                created,
            },
            exchanges,
            truncated_tail: None,
        },
        skipped,
        creator,
    })
}

/// Deserializes the HAR, turning a serde error into one with the file, line and JSON path.
fn parse(text: &str, source: &Path) -> Result<HarFile, Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        let not_json = inner.is_syntax() || inner.is_eof();
        let message = if not_json {
            format!("not valid JSON: {message}")
        } else {
            message
        };
        let error = Error::new(source, message).at(inner.line(), Some(inner.column()));
        // Wrong at the top: probably not a HAR at all.
        let error = if not_json || field == "." || field == "log" {
            error.hint("a HAR 1.2 file is JSON: {\"log\": {\"entries\": [...]}}")
        } else {
            error
        };
        error.field(field)
    })
}

struct Importer<'a> {
    text: &'a str,
    /// Lone surrogate escapes were parked as private characters, to be unparked into bytes.
    parked: bool,
    source: &'a Path,
    /// mitmproxy writes a body without a charset as Latin-1 text (see [`Importer::bytes`]).
    mitmproxy: bool,
    /// The most of a body kept, decoded (`har import --max-body`).
    max_body: usize,
}

impl Importer<'_> {
    fn error(&self, path: &[Seg], message: impl Into<String>) -> Error {
        let mut e = Error::new(self.source, message).field(render(path));
        if let Some((line, column)) = locate(self.text, path) {
            e = e.at(line, Some(column));
        }
        e
    }

    fn entry(
        &self,
        i: usize,
        e: Entry,
        last_start: Option<DateTime<Utc>>,
    ) -> Result<Exchange, Error> {
        let version = version(&e.request, e.response.as_ref());
        let request = self.request(i, e.request, &version)?;
        if let Some(u) = crate::unsendable(&request) {
            // The importer's header list differs from the entry's (pseudo-headers dropped,
            // cookies joined): point at the entry's list and name the header.
            let field = match u.field.split('[').next() {
                Some("request.url") => "url",
                Some("request.method") => "method",
                _ => "headers",
            };
            let rest = [Seg::Key("request"), Seg::Key(field)];
            return Err(self
                .error(&entry_path(i, &rest), u.why)
                .hint("fix or delete this entry; only HTTP requests can be replayed"));
        }
        let (response, error) = self.outcome(i, e.response, e.error, &version)?;
        let started = e
            .started
            .or(last_start)
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let duration_ms = duration_ms(e.time, e.timings.as_ref());
        let id =
            e.id.filter(|id| id.fract() == 0.0 && *id >= 1.0)
                .map(|id| id as u64)
                .unwrap_or(i as u64 + 1);
        Ok(Exchange {
            id,
            started,
            duration_ms,
            client: e.client,
            tester: e.tester,
            group: e.group,
            request,
            response,
            error,
        })
    }

    /// The URL is resolved before the body is read, so a bad URL is the error reported even
    /// when the body is bad too.
    fn request(&self, i: usize, req: HarRequest, version: &str) -> Result<Request, Error> {
        let (mut headers, pseudo) = split_headers(&req.headers);
        let url = resolve_url(&req, &headers, &pseudo, version)
            .map_err(|m| self.error(&entry_path(i, &[Seg::Key("request"), Seg::Key("url")]), m))?;
        add_cookie_header(&mut headers, &req.cookies);
        let body = self.request_body(
            &req,
            &headers,
            &entry_path(i, &[Seg::Key("request"), Seg::Key("postData")]),
        )?;
        Ok(Request {
            method: req.method,
            url,
            version: version.to_string(),
            headers,
            body,
        })
    }

    /// The response, or why there is none. Status 0 is how browsers write a request that
    /// never got an answer, so it becomes an error and the best explanation the entry has.
    fn outcome(
        &self,
        i: usize,
        response: Option<HarResponse>,
        entry_error: Option<String>,
        version: &str,
    ) -> Result<(Option<Response>, Option<String>), Error> {
        Ok(match response {
            None => (
                None,
                Some(entry_error.unwrap_or_else(|| "no response in the HAR entry".into())),
            ),
            Some(r) if r.status == 0 => {
                let why = r
                    .error
                    .or(entry_error)
                    .or(r.comment.filter(|s| !s.trim().is_empty()))
                    .or(r.status_text.filter(|s| !s.trim().is_empty()))
                    .unwrap_or_else(|| "no response (status 0)".into());
                (None, Some(why))
            }
            Some(r) => {
                let error = r.error.clone().or(entry_error);
                let path = entry_path(i, &[Seg::Key("response"), Seg::Key("content")]);
                (Some(self.response(r, version, &path)?), error)
            }
        })
    }

    fn request_body(
        &self,
        req: &HarRequest,
        headers: &Headers,
        path: &[Seg],
    ) -> Result<Option<Body>, Error> {
        let Some(post) = &req.post_data else {
            return Ok(None);
        };
        let mime = post
            .mime_type
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .or(headers.get("content-type"));
        let (bytes, was_base64) = match post.text.as_deref() {
            Some(text) if !text.is_empty() => {
                let mut p = path.to_vec();
                p.push(Seg::Key("text"));
                (
                    self.bytes(text, post.encoding.as_deref(), mime, &p)?,
                    is_base64(post.encoding.as_deref()),
                )
            }
            _ if !post.params.is_empty() => match raw_body_in_names(&post.params, headers) {
                Some(raw) => (raw.into_bytes(), false),
                None => (encode_params(&post.params, mime), false),
            },
            _ => return Ok(None),
        };
        Ok(body(
            bytes,
            was_base64,
            mime,
            headers,
            post.truncated_size,
            self.max_body,
        ))
    }

    fn response(
        &self,
        r: HarResponse,
        request_version: &str,
        path: &[Seg],
    ) -> Result<Response, Error> {
        let (mut headers, _) = split_headers(&r.headers);
        if headers.get("set-cookie").is_none() {
            for c in &r.cookies {
                headers.push("set-cookie", set_cookie(c));
            }
        }
        let version = r
            .http_version
            .as_deref()
            .and_then(normalize_version)
            .unwrap_or_else(|| request_version.to_string());
        let content = r.content.unwrap_or_default();
        let Content {
            mime_type,
            text,
            encoding,
            truncated_size,
        } = content;
        let mime = mime_type
            .as_deref()
            .filter(|m| !m.trim().is_empty() && *m != "x-unknown")
            .or(headers.get("content-type"));
        let body = match text.as_deref() {
            Some(text) if !text.is_empty() => {
                let mut p = path.to_vec();
                p.push(Seg::Key("text"));
                let bytes = self.bytes(text, encoding.as_deref(), mime, &p)?;
                body(
                    bytes,
                    is_base64(encoding.as_deref()),
                    mime,
                    &headers,
                    truncated_size,
                    self.max_body,
                )
            }
            _ => None,
        };
        Ok(Response {
            status: r.status,
            version,
            headers,
            body,
        })
    }

    /// The bytes a HAR `text` stands for. With `encoding: base64` they are decoded. Otherwise
    /// the text is the body as characters; mitmproxy, though, decodes a body whose content
    /// type names no charset (and is not JSON or HTML) as Latin-1, so for its files a text of
    /// nothing but Latin-1 characters is turned back into those bytes, which is what was on
    /// the wire (a binary body it did not find "mostly binary", or non-UTF-8 text).
    fn bytes(
        &self,
        text: &str,
        encoding: Option<&str>,
        mime: Option<&str>,
        path: &[Seg],
    ) -> Result<Vec<u8>, Error> {
        let encoding = encoding
            .map(|e| e.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match encoding.as_str() {
            "base64" => {
                let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                LENIENT_BASE64.decode(compact.as_bytes()).map_err(|e| {
                    self.error(
                        path,
                        format!("`encoding` is base64 but the text is not valid base64: {e}"),
                    )
                })
            }
            "" | "utf-8" | "utf8" | "identity" => {
                if let Some(bytes) = self.parked.then(|| mitmproxy::unpark(text)).flatten() {
                    Ok(bytes)
                } else if self.mitmproxy && mitmproxy::latin1(mime, text) {
                    Ok(text.chars().map(|c| c as u8).collect())
                } else {
                    Ok(text.as_bytes().to_vec())
                }
            }
            other => {
                let mut p = path.to_vec();
                p.pop();
                p.push(Seg::Key("encoding"));
                Err(self.error(
                    &p,
                    format!("unsupported content encoding `{other}` (HAR 1.2 knows only base64)"),
                ))
            }
        }
    }
}

fn is_base64(encoding: Option<&str>) -> bool {
    encoding.is_some_and(|e| e.trim().eq_ignore_ascii_case("base64"))
}

/// Builds a stored body: compression noted (and undone when the exporter kept the raw bytes),
/// cut at `max_body` as the recorder cuts it (the size then is the bytes the file held, as
/// the recorder's is the bytes on the wire), then classified as the recorder would.
fn body(
    bytes: Vec<u8>,
    was_base64: bool,
    mime: Option<&str>,
    headers: &Headers,
    truncated: Option<f64>,
    max_body: usize,
) -> Option<Body> {
    let coding = headers
        .get("content-encoding")
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e != "identity");
    let held = bytes.len() as u64;
    let (mut bytes, capped) = match (&coding, was_base64) {
        // A HAR's text is normally the decoded body. Only base64 can hold the raw compressed
        // bytes, and only if they really decode is that what the exporter did.
        (Some(c), true) => decode(c, &bytes, max_body).unwrap_or((bytes, false)),
        _ => (bytes, false),
    };
    let cut = capped || bytes.len() > max_body;
    bytes.truncate(max_body);
    let truncated = truncated
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| s as u64)
        .or(cut.then_some(held));
    if bytes.is_empty() && truncated.is_none() {
        return None;
    }
    let mut body = match truncated {
        Some(size) => Body::truncated(&bytes, size, mime),
        None => Body::from_bytes(&bytes, mime),
    };
    body.decoded_from = coding;
    Some(body)
}

/// The headers without HTTP/2 and HTTP/3 pseudo-headers, and the pseudo-headers apart.
/// The path of entry `i`'s field `rest`, for errors that point into the file.
/// Page id → group, when the HAR has two pages or more (a single page is a browser's one
/// page load, not a choice of flows): the page's title when it is a usable flow name, else
/// its id.
fn page_groups(pages: &[super::model::Page]) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    if pages.len() < 2 {
        return out;
    }
    for p in pages {
        let Some(id) = &p.id else { continue };
        let usable = |t: &&String| {
            (1..=64).contains(&t.len())
                && t.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        };
        let name = p.title.as_ref().filter(usable).unwrap_or(id);
        out.insert(id.clone(), name.clone());
    }
    out
}

fn entry_path(i: usize, rest: &[Seg]) -> Vec<Seg> {
    let mut p = vec![Seg::Key("log"), Seg::Key("entries"), Seg::Index(i)];
    p.extend_from_slice(rest);
    p
}

/// Some writers put the HTTP version only on the response, so that is the fallback before
/// assuming HTTP/1.1.
fn version(req: &HarRequest, response: Option<&HarResponse>) -> String {
    let response_version = response
        .and_then(|r| r.http_version.as_deref())
        .and_then(normalize_version);
    req.http_version
        .as_deref()
        .and_then(normalize_version)
        .or(response_version)
        .unwrap_or_else(|| "HTTP/1.1".to_string())
}

/// Chrome's sanitized export and some tools keep the cookies only in `cookies`, not in a
/// `Cookie` header; replay sends headers, so they are folded into one.
fn add_cookie_header(headers: &mut Headers, cookies: &[Cookie]) {
    if headers.get("cookie").is_none() && !cookies.is_empty() {
        let pairs: Vec<String> = cookies
            .iter()
            .map(|c| format!("{}={}", c.name, c.value.as_deref().unwrap_or("")))
            .collect();
        headers.push("cookie", pairs.join("; "));
    }
}

/// `time` when the writer gave a usable one; otherwise the sum of the timing phases, where
/// HAR writes -1 for a phase that does not apply.
fn duration_ms(time: Option<f64>, timings: Option<&Timings>) -> f64 {
    time.filter(|t| t.is_finite() && *t >= 0.0)
        .or_else(|| {
            let t = timings?;
            let parts = [t.blocked, t.dns, t.connect, t.send, t.wait, t.receive];
            let sum: f64 = parts.iter().flatten().filter(|v| **v > 0.0).sum();
            Some(sum)
        })
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for (given, want) in [
            ("HTTP/1.1", Some("HTTP/1.1")),
            ("http/1.1", Some("HTTP/1.1")),
            ("h2", Some("HTTP/2.0")),
            ("HTTP/2", Some("HTTP/2.0")),
            ("http/2.0", Some("HTTP/2.0")),
            ("h3", Some("HTTP/3.0")),
            ("h3-29", Some("HTTP/3.0")),
            ("unknown", None),
            ("", None),
        ] {
            assert_eq!(normalize_version(given).as_deref(), want, "{given}");
        }
    }
}
