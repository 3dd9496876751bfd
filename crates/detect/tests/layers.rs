//! Decoded layers: values issued URL-encoded, base64-encoded, in a text body (JSONP) or inside
//! a JSON document held in a string.

#[path = "support/corpus.rs"]
mod support;

use loadtape_detect::ConvertOptions;
use support::*;

#[test]
fn decoded_layers_url_encoding_base64_text_and_json_in_strings() {
    let (rec, a) = load("layers");
    assert_eq!(
        rows(&a),
        [
            "x_uid | correlated | init: header x-uid | config: json $.uid | 90",
            "cursor | correlated | list: query cursor | config: json $.cursor | 90",
            "t | correlated | list: query t | init: body text `ticket` | 90",
            "k | correlated | confirm: json $.k | config: json $.payload → $.nonceKey | 50",
        ]
    );
    assert_eq!(
        a.findings[0].uses[0].encoding,
        loadtape_detect::Encoding::Base64
    );
    // JSONP: a script content type with a query is an API call, not an asset.
    assert!(a.steps.iter().all(|s| s.dropped.is_none()));
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    let s = &c.scenario;
    assert_eq!(
        extracts(&s.steps[0].extract),
        ["x_uid = json $.uid", "cursor = json $.cursor"]
    );
    assert_eq!(headers(&s.steps[1].request), ["x-uid: {{ base64(x_uid) }}"]);
    assert_eq!(
        extracts(&s.steps[1].extract),
        [r#"t = regex ticket":"([A-Za-z0-9\_]+) group 1"#]
    );
    assert_eq!(
        url(&s.steps[2].request),
        "https://api.x.example.com/v1/list?cursor={{ url_encode(cursor) }}&t={{ t }}"
    );
    // The suggestion is not applied, only commented.
    assert_eq!(body(&s.steps[3].request), r#"{"k":"nk_77aa12bc9e"}"#);
    assert!(c.yaml().contains("# Suggestion, not applied: `k`"));
}

/// Odd but valid recordings: a failed exchange, a binary body, a huge duration, a URL without
/// a path, a malformed JWT-looking token. Nothing panics and the scenario still loads.
#[test]
fn odd_recordings_do_not_panic() {
    let text = r#"loadtape: recording/v1
name: odd
created: 2026-11-21T10:00:00Z
---
id: 1
started: 2026-11-21T10:00:01Z
duration_ms: 1.0e300
request: {method: GET, url: "https://a.example.com", version: HTTP/1.1}
response:
  status: 200
  version: HTTP/1.1
  headers: [[content-type, application/octet-stream], [x-token, eyJhbGciOi.x.y]]
  body: {base64: AAECAwQFBgcICQ==}
---
id: 2
started: 2026-11-21T10:00:02Z
duration_ms: -5
request:
  method: POST
  url: "https://a.example.com/%zz/x?=&&a=%ff"
  version: HTTP/1.1
  headers: [[x-token, eyJhbGciOi.x.y], [cookie, "=;;a"], [authorization, Bearer]]
  body: {text: "=&==&x=eyJhbGciOi.x.y", truncated: true, size: 99}
error: "upstream: connection refused"
---
id: 3
started: 2026-11-21T10:00:03Z
duration_ms: 2
request:
  method: GET
  url: "https://a.example.com/p?x=eyJhbGciOi.x.y"
  version: HTTP/1.1
  headers: [[authorization, "Bearer  "]]
response: {status: 500, version: HTTP/1.1, body: {json: ["{\"a\": [1, {\"b\": \"eyJhbGciOi.x.y\"}]}"]}}
"#;
    let rec = loadtape_recording::read_recording_str(text, "odd.yaml").unwrap();
    let a = loadtape_detect::analyze(&rec, &Default::default()).unwrap();
    assert_eq!(a.steps[1].dropped, Some(loadtape_detect::Dropped::Failed));
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    assert_eq!(c.scenario.steps.len(), 2);
    assert_eq!(c.scenario.steps[0].think, None);
    assert_eq!(
        c.scenario.steps[1].check, None,
        "a recorded 500 is not asserted"
    );
}

/// A token a response hands out as `Bearer x` in a header: the header extractor takes the whole
/// value, so the request's whole `Bearer x` becomes the variable (no `Bearer Bearer x`).
#[test]
fn a_bearer_issued_in_a_response_header() {
    let text = r#"loadtape: recording/v1
name: bearer-header
created: 2026-11-21T10:00:00Z
---
id: 1
started: 2026-11-21T10:00:01Z
duration_ms: 1
request: {method: POST, url: "https://a.example.com/v1/signin", version: HTTP/1.1}
response:
  status: 200
  version: HTTP/1.1
  headers: [[x-auth, Bearer r7Yt2kLq9ZpX4mNw8sVb]]
---
id: 2
started: 2026-11-21T10:00:02Z
duration_ms: 1
request:
  method: GET
  url: "https://a.example.com/v1/me"
  version: HTTP/1.1
  headers: [[authorization, Bearer r7Yt2kLq9ZpX4mNw8sVb]]
response: {status: 200, version: HTTP/1.1}
"#;
    let rec = loadtape_recording::read_recording_str(text, "bearer.yaml").unwrap();
    let a = loadtape_detect::analyze(&rec, &Default::default()).unwrap();
    assert_eq!(
        rows(&a),
        ["x_auth | session token | me: header authorization (Bearer) | signin: header x-auth (Bearer) | 90"]
    );
    let c = convert_checked(&rec, &a, &ConvertOptions::default());
    assert_eq!(
        extracts(&c.scenario.tokens[0].extract),
        ["x_auth = header x-auth"]
    );
    assert_eq!(
        headers(&c.scenario.steps[0].request),
        ["authorization: {{ x_auth }}"]
    );
}
