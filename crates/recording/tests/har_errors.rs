//! A broken HAR is rejected with the file, the JSON path of the bad field and its line.

use loadtape_recording::har::import_har_str;
use loadtape_recording::Error;

const GOOD: &str = r#"{"startedDateTime": "2026-11-21T10:00:00Z", "time": 1,
      "request": {"method": "GET", "url": "https://a.example.com/", "httpVersion": "HTTP/1.1", "headers": []},
      "response": {"status": 200, "httpVersion": "HTTP/1.1", "headers": [], "content": {"size": 0, "mimeType": ""}}}"#;

/// A HAR whose fourth entry (index 3) is `bad`.
fn har_with(bad: &str) -> String {
    format!(
        "{{\"log\": {{\"version\": \"1.2\", \"creator\": {{\"name\": \"test\"}},\n\"entries\": [\n{GOOD},\n{bad}\n]}}}}\n",
        GOOD = [GOOD, GOOD, GOOD].join(",\n")
    )
}

fn error(text: &str) -> Error {
    match import_har_str(text, "broken.har", "broken") {
        Ok(i) => panic!("accepted: {:?}", i.recording.exchanges.last()),
        Err(e) => e,
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in the text"));
    1 + text[..at].matches('\n').count()
}

#[test]
fn a_bad_url_names_its_path_and_line() {
    let text = har_with(
        r#"{"startedDateTime": "2026-11-21T10:00:00Z",
  "request": {"method": "GET",
    "url": "ftp://files.example.com/x", "headers": []},
  "response": {"status": 200}}"#,
    );
    let e = error(&text);
    assert_eq!(e.field.as_deref(), Some("log.entries[3].request.url"));
    assert_eq!(e.line, Some(line_of(&text, "ftp://")));
    assert!(e.message.contains("unsupported URL scheme `ftp`"), "{e}");
    let shown = e.to_string();
    assert!(shown.starts_with("broken.har:"), "{shown}");
    assert!(
        shown.contains("field `log.entries[3].request.url`"),
        "{shown}"
    );
}

#[test]
fn a_relative_url_without_a_host_is_located_after_parsing() {
    let text = har_with(
        r#"{"startedDateTime": "2026-11-21T10:00:00Z",
  "request": {"method": "GET",
    "url": "/only/a/path", "headers": [{"name": "accept", "value": "*/*"}]},
  "response": {"status": 200}}"#,
    );
    let e = error(&text);
    assert_eq!(e.field.as_deref(), Some("log.entries[3].request.url"));
    assert_eq!(e.line, Some(line_of(&text, "/only/a/path")));
    assert!(e.message.contains(":authority"), "{e}");
    // With an :authority pseudo-header the same path is fine.
    let ok = har_with(
        r#"{"startedDateTime": "2026-11-21T10:00:00Z",
  "request": {"method": "GET", "httpVersion": "h2",
    "url": "/only/a/path", "headers": [{"name": ":authority", "value": "api.example.com"}]},
  "response": {"status": 200}}"#,
    );
    let rec = import_har_str(&ok, "ok.har", "ok").unwrap().recording;
    assert_eq!(
        rec.exchanges[3].request.url,
        "https://api.example.com/only/a/path"
    );
    assert!(rec.exchanges[3].request.headers.is_empty());
}

#[test]
fn bad_base64_is_located() {
    let text = har_with(
        r#"{"startedDateTime": "2026-11-21T10:00:00Z",
  "request": {"method": "GET", "url": "https://a.example.com/"},
  "response": {"status": 200, "content": {"mimeType": "image/png",
     "text": "%%%not base64%%%", "encoding": "base64"}}}"#,
    );
    let e = error(&text);
    assert_eq!(
        e.field.as_deref(),
        Some("log.entries[3].response.content.text")
    );
    assert_eq!(e.line, Some(line_of(&text, "%%%")));
    assert!(e.message.contains("not valid base64"), "{e}");
}

#[test]
fn bad_values_are_named() {
    let cases = [
        (
            r#"{"startedDateTime": "yesterday", "request": {"method": "GET", "url": "https://a/"}, "response": {"status": 200}}"#,
            "log.entries[3].startedDateTime",
            "not a date-time",
        ),
        (
            r#"{"startedDateTime": "2026-11-21T10:00:00Z", "request": {"method": "GET", "url": "https://a/"}, "response": {"status": 1234}}"#,
            "log.entries[3].response.status",
            "not an HTTP status",
        ),
        (
            r#"{"startedDateTime": "2026-11-21T10:00:00Z", "request": {"method": "G E T", "url": "https://a/"}, "response": {"status": 200}}"#,
            "log.entries[3].request.method",
            "not an HTTP method",
        ),
        (
            r#"{"startedDateTime": "2026-11-21T10:00:00Z", "request": {"url": "https://a/"}, "response": {"status": 200}}"#,
            "log.entries[3].request",
            "missing field `method`",
        ),
        (
            r#"{"startedDateTime": "2026-11-21T10:00:00Z", "request": {"method": "GET", "url": "https://a/", "headers": [{"name": "a", "value": {"x": 1}}]}, "response": {"status": 200}}"#,
            "log.entries[3].request.headers[0].value",
            "expected a string, found an object",
        ),
        (
            r#"{"startedDateTime": "2026-11-21T10:00:00Z", "request": {"method": "GET", "url": "https://a/"}, "response": {"status": 200, "content": {"text": "x", "encoding": "rot13"}}}"#,
            "log.entries[3].response.content.encoding",
            "unsupported content encoding `rot13`",
        ),
    ];
    for (entry, field, message) in cases {
        let text = har_with(entry);
        let e = error(&text);
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
        assert_eq!(e.line, Some(line_of(&text, entry)), "{e}");
        assert!(e.message.contains(message), "{e}");
    }
}

#[test]
fn not_json_or_not_a_har() {
    let e = error("{\"log\": {\"entries\": [\n  {,}\n]}}");
    assert_eq!(e.line, Some(2));
    assert!(e.message.starts_with("not valid JSON"), "{e}");
    let e = error("{\"log\": {\"version\": \"1.2\"}}");
    assert_eq!(e.field.as_deref(), Some("log"));
    assert!(e.message.contains("missing field `entries`"), "{e}");
    assert!(e.hint.is_some());
    let e = error("loadtape: recording/v1\n");
    assert!(e.message.starts_with("not valid JSON"), "{e}");
}

#[test]
fn what_exporters_write_is_tolerated() {
    // A BOM (Windows tools), nulls, numbers as strings, `-1` everywhere, no timings, `_`
    // fields and comments.
    let text = "\u{feff}{\"log\": {\"version\": \"1.2\", \"creator\": null, \"comment\": \"\", \"entries\": [
      {\"startedDateTime\": \"2026-11-21 10:00:00.5\", \"time\": \"7.5\", \"_x\": [1],
       \"request\": {\"method\": \"GET\", \"url\": \"https://a.example.com/p\", \"httpVersion\": null,
          \"headers\": null, \"queryString\": [{\"name\": \"q\", \"value\": null}], \"cookies\": null,
          \"headersSize\": -1, \"bodySize\": -1, \"comment\": \"\"},
       \"response\": {\"status\": \"200\", \"statusText\": null, \"httpVersion\": \"HTTP/1.1\", \"headers\": [{\"name\": \"x-n\", \"value\": 5}],
          \"content\": {\"size\": -1, \"mimeType\": null, \"text\": null}, \"redirectURL\": null, \"headersSize\": -1, \"bodySize\": -1},
       \"cache\": null, \"timings\": null}]}}";
    let rec = import_har_str(text, "x.har", "x").unwrap().recording;
    let e = &rec.exchanges[0];
    assert_eq!(e.duration_ms, 7.5);
    assert_eq!(e.started.to_rfc3339(), "2026-11-21T10:00:00.500+00:00");
    assert_eq!(e.request.url, "https://a.example.com/p?q=");
    assert_eq!(e.request.version, "HTTP/1.1");
    let r = e.response.as_ref().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("x-n"), Some("5"));
    assert_eq!(r.body, None);
}
