//! The recording format end to end: write with the appending writer, read back with the reader.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use loadtape_recording::{
    emit, read_recording, read_recording_str, Body, BodyContent, Exchange, Headers,
    RecordingHeader, RecordingWriter, Request, Response, Tombstone,
};
use serde_json::json;

fn header() -> RecordingHeader {
    RecordingHeader {
        loadtape: "recording/v1".into(),
        name: "shop-checkout".into(),
        created: Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap(),
    }
}

fn login(id: u64) -> Exchange {
    let mut req_headers = Headers::new();
    req_headers.push("content-type", "application/json");
    req_headers.push(
        "referer",
        "https://servicewechat.com/wx1234567890abcdef/0/page-frame.html",
    );
    let mut resp_headers = Headers::new();
    resp_headers.push("content-type", "application/json");
    resp_headers.push("set-cookie", "sid=abc123456789; Path=/; HttpOnly");
    resp_headers.push("set-cookie", "theme=dark; Path=/");
    Exchange {
        id,
        started: Utc
            .timestamp_millis_opt(1_795_255_201_123 + id as i64)
            .unwrap(),
        duration_ms: 45.2,
        client: Some("192.168.1.23".into()),
        tester: None,
        group: None,
        request: Request {
            method: "POST".into(),
            url: "https://api.example.com/v1/login?from=home&x=a%20b#frag".into(),
            version: "HTTP/2.0".into(),
            headers: req_headers,
            body: Some(Body::json(json!({"code": "0a3Xk2ll2yqXRc4M"}))),
        },
        response: Some(Response {
            status: 200,
            version: "HTTP/2.0".into(),
            headers: resp_headers,
            body: Some(
                Body::json(json!({"token": "8fE2abcdefgh", "expires_in": 7200}))
                    .decoded_from("gzip"),
            ),
        }),
        error: None,
    }
}

fn failed(id: u64) -> Exchange {
    Exchange {
        id,
        started: Utc.timestamp_millis_opt(1_795_255_202_000).unwrap(),
        duration_ms: 1.0,
        client: None,
        tester: None,
        group: None,
        request: Request {
            method: "GET".into(),
            url: "http://127.0.0.1:9/down".into(),
            version: "HTTP/1.1".into(),
            headers: Headers::new(),
            body: None,
        },
        response: None,
        error: Some("upstream: connection refused".into()),
    }
}

#[test]
fn writer_output_reads_back_identically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/rec.yaml");
    let w = RecordingWriter::create(&path, &header()).unwrap();
    w.append(&login(1)).unwrap();
    w.append(&failed(2)).unwrap();
    let rec = read_recording(&path).unwrap();
    assert_eq!(rec.header, header());
    assert_eq!(rec.exchanges, vec![login(1), failed(2)]);
    assert_eq!(rec.truncated_tail, None);

    // The file looks like the spec's example: flow-style header pairs, one-line short bodies.
    // Timestamps are quoted: YAML 1.1 readers (PyYAML) would read them as dates, not text.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("loadtape: recording/v1\nname: shop-checkout\ncreated: '2026-11-21T10:00:00.000Z'\n...\n---\nid: 1\n"), "{text}");
    assert!(
        text.contains(
            "  - [referer, https://servicewechat.com/wx1234567890abcdef/0/page-frame.html]\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  body: {json: {code: 0a3Xk2ll2yqXRc4M}}\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  body: {json: {token: 8fE2abcdefgh, expires_in: 7200}, decoded_from: gzip}\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\nerror: 'upstream: connection refused'\n"),
        "{text}"
    );
    // Set-Cookie repeats are kept in order.
    let cookies: Vec<_> = rec.exchanges[0]
        .response
        .as_ref()
        .unwrap()
        .headers
        .get_all("Set-Cookie")
        .collect();
    assert_eq!(
        cookies,
        ["sid=abc123456789; Path=/; HttpOnly", "theme=dark; Path=/"]
    );
}

#[test]
fn the_spec_example_reads() {
    let text = r#"loadtape: recording/v1
name: shop-checkout
created: 2026-11-21T10:00:00Z
---
id: 1
started: 2026-11-21T10:00:01.123Z
duration_ms: 45.2
client: 192.168.1.23
request:
  method: POST
  url: https://api.example.com/v1/login?from=home
  version: HTTP/2.0
  headers:
  - [content-type, application/json]
  - [referer, https://servicewechat.com/wx1234567890abcdef/0/page-frame.html]
  body: {json: {code: 0a3Xk2ll2yqXRc4M}}    # or {text: ...} or {base64: ...}
response:
  status: 200
  version: HTTP/2.0
  headers:
  - [content-type, application/json]
  body: {json: {token: 8fE2..., z: 1, a: 2}, decoded_from: gzip}
"#;
    let rec = read_recording_str(text, "example.yaml").unwrap();
    assert_eq!(rec.exchanges.len(), 1);
    let e = &rec.exchanges[0];
    assert_eq!(
        e.request.headers.get("Referer"),
        Some("https://servicewechat.com/wx1234567890abcdef/0/page-frame.html")
    );
    assert_eq!(
        e.request.body.as_ref().unwrap().as_json(),
        Some(&json!({"code": "0a3Xk2ll2yqXRc4M"}))
    );
    let body = e.response.as_ref().unwrap().body.as_ref().unwrap();
    assert_eq!(body.decoded_from.as_deref(), Some("gzip"));
    // Key order is kept, so a replayed body is byte-for-byte what was recorded.
    assert_eq!(
        String::from_utf8(body.to_bytes()).unwrap(),
        r#"{"token":"8fE2...","z":1,"a":2}"#
    );
}

#[test]
fn a_crash_mid_document_keeps_every_complete_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.yaml");
    let w = RecordingWriter::create(&path, &header()).unwrap();
    for id in 1..=3 {
        w.append(&login(id)).unwrap();
    }
    drop(w);
    let full = std::fs::read_to_string(&path).unwrap();
    let third_start = full.match_indices("---\n").nth(2).unwrap().0;
    let third_line = full[..third_start].lines().count() + 2;
    // Cut the third document at every point from just after its separator to just before its
    // end marker: the first two exchanges always survive, the third is never half-read.
    let third_end = full.len() - "...\n".len();
    for cut in (third_start + 4..third_end).step_by(7) {
        let rec = read_recording_str(&full[..cut], "rec.yaml")
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(rec.exchanges, vec![login(1), login(2)], "cut at {cut}");
        let tail = rec.truncated_tail.expect("the cut document is reported");
        assert_eq!(tail.line, third_line);
    }
    // Cut right after a document's end marker: nothing is missing.
    let rec = read_recording_str(&full[..third_start], "rec.yaml").unwrap();
    assert_eq!(rec.exchanges.len(), 2);
    assert_eq!(rec.truncated_tail, None);
}

#[test]
fn a_hand_written_file_without_markers_reports_a_cut_tail() {
    let text = "loadtape: recording/v1\nname: x\ncreated: 2026-11-21T10:00:00Z\n---\nid: 1\nstarted: 2026-11-21T10:00:01Z\nduration_ms: 1\nrequest: {method: GET, url: 'http://a/', version: HTTP/1.1}\nresponse: {status: 200, version: HTTP/1.1}\n---\nid: 2\nstarted: 2026-11-21T10:00:01Z\nduration_ms: 1\nrequest: {method: GE";
    let rec = read_recording_str(text, "x.yaml").unwrap();
    assert_eq!(rec.exchanges.len(), 1);
    assert_eq!(rec.truncated_tail.unwrap().line, 11);
}

#[test]
fn malformed_files_name_file_line_and_field() {
    let head = "loadtape: recording/v1\nname: x\ncreated: 2026-11-21T10:00:00Z\n...\n---\n";
    let cases: &[(&str, &str, usize, &str, &str)] = &[
        // (document, expected field, expected line, message fragment, description)
        (
            "id: 1\nstarted: 2026-11-21T10:00:01Z\nduration_ms: 1\nrequest:\n  method: GET\n  url: http://a/\n  version: HTTP/1.1\n  headers:\n  - [a, b]\n  - [c]\nresponse: {status: 200, version: HTTP/1.1}\n...\n",
            "request.headers[1]",
            15,
            "invalid length 1",
            "a header pair with one element",
        ),
        (
            "id: 1\nstarted: yesterday\nduration_ms: 1\nrequest: {method: GET, url: 'http://a/', version: HTTP/1.1}\nresponse: {status: 200, version: HTTP/1.1}\n...\n",
            "started",
            7,
            "input contains invalid characters",
            "a bad timestamp",
        ),
        (
            "id: 1\nstarted: 2026-11-21T10:00:01Z\nduration_ms: 1\nrequest: {method: GET, url: 'http://a/', version: HTTP/1.1}\nresponse:\n  status: 200\n  version: HTTP/1.1\n  body: {json: {}, text: x}\n...\n",
            "response.body",
            13,
            "exactly one of",
            "two body kinds",
        ),
        (
            "id: 1\nstarted: 2026-11-21T10:00:01Z\nduration_ms: 1\nrequest: {method: GET, url: 'http://a/', version: HTTP/1.1}\nresponse:\n  status: 200\n  version: HTTP/1.1\n  body: {base64: '***'}\n...\n",
            "response.body",
            13,
            "not valid base64",
            "bad base64",
        ),
        (
            "id: 1\nstarted: 2026-11-21T10:00:01Z\nduration_ms: 1\nrequest: {method: GET, version: HTTP/1.1}\nresponse: {status: 200, version: HTTP/1.1}\n...\n",
            "request",
            9,
            "missing field `url`",
            "a missing url",
        ),
        (
            "id: 1\nstarted: 2026-11-21T10:00:01Z\nduration_ms: 1\nrequest: {method: GET, url: 'http://a/', version: HTTP/1.1}\nresponse: {status: 99999, version: HTTP/1.1}\n...\n",
            "response.status",
            10,
            "invalid value",
            "a status out of range",
        ),
    ];
    for (doc, field, line, fragment, what) in cases {
        let text = format!("{head}{doc}---\nid: 9\n");
        let err = read_recording_str(&text, "recordings/bad.yaml").expect_err(what);
        assert_eq!(err.field.as_deref(), Some(*field), "{what}: {err}");
        assert_eq!(err.line, Some(*line), "{what}: {err}");
        assert!(err.message.contains(fragment), "{what}: {err}");
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("recordings/bad.yaml:{line}:")),
            "{what}: {shown}"
        );
    }

    let err = read_recording_str(
        "loadtape: scenario/v1\nname: x\ncreated: 2026-11-21T10:00:00Z\n",
        "s.yaml",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "s.yaml:1: field `loadtape`: unsupported format `scenario/v1`, expected `recording/v1`"
    );
    let err = read_recording_str("", "e.yaml").unwrap_err();
    assert!(
        err.to_string().starts_with("e.yaml: the file is empty"),
        "{err}"
    );
    let err = read_recording_str(&format!("{head}id: 1\nstarted: 2026-11-21T10:00:01Z\nduration_ms: 1\nrequest: {{method: GET, url: 'http://a/', version: HTTP/1.1}}\n...\n"), "n.yaml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "n.yaml:6: field `response`: an exchange needs a `response` or an `error`"
    );
}

#[test]
fn missing_and_non_utf8_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_recording(dir.path().join("nope.yaml")).unwrap_err();
    assert!(
        err.message.starts_with("cannot read the recording"),
        "{err}"
    );
    let path = dir.path().join("bin.yaml");
    std::fs::write(&path, b"loadtape: recording/v1\nname: \xff\xfe\n").unwrap();
    let err = read_recording(&path).unwrap_err();
    assert_eq!(err.line, Some(2));
    assert!(err.message.contains("not UTF-8"));
}

#[test]
fn large_and_binary_bodies_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    let w = RecordingWriter::create(&path, &header()).unwrap();

    // 4 MiB of JSON (block style, since it is far too long for one line).
    let items: Vec<_> = (0..40_000).map(|i| json!({"id": format!("item-{i:08}"), "n": i, "tags": ["a", "b"], "nested": {"k": [1, {"x": null}]}})).collect();
    let big_json = json!({"data": items, "total": 40_000});
    // Every byte value, including invalid UTF-8.
    let binary: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    let non_utf8 = b"caf\xe9 au lait".to_vec();
    let mut e = login(1);
    e.request.body = Some(Body::from_bytes(&binary, Some("application/octet-stream")));
    e.response.as_mut().unwrap().body = Some(Body::from_bytes(
        &serde_json::to_vec(&big_json).unwrap(),
        Some("application/json"),
    ));
    let mut e2 = login(2);
    e2.request.body = Some(Body::from_bytes(
        &non_utf8,
        Some("text/plain; charset=latin1"),
    ));
    e2.response.as_mut().unwrap().body = Some(Body::truncated(&binary[..1000], 50 << 20, None));
    w.append(&e).unwrap();
    w.append(&e2).unwrap();

    let rec = read_recording(&path).unwrap();
    assert_eq!(rec.exchanges, vec![e.clone(), e2.clone()]);
    assert_eq!(
        rec.exchanges[0].request.body.as_ref().unwrap().to_bytes(),
        binary
    );
    assert_eq!(
        rec.exchanges[1].request.body.as_ref().unwrap().content,
        BodyContent::Binary(non_utf8)
    );
    let cut = rec.exchanges[1]
        .response
        .as_ref()
        .unwrap()
        .body
        .as_ref()
        .unwrap();
    assert!(cut.truncated);
    assert_eq!(cut.size, Some(50 << 20));
    assert_eq!(cut.to_bytes(), &binary[..1000]);
}

/// The recorder's group commit writes a batch at once: the file is the same, byte for byte,
/// as the same exchanges appended one at a time.
#[test]
fn a_batch_appended_at_once_is_the_same_file_as_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let (one, batch) = (dir.path().join("one.yaml"), dir.path().join("batch.yaml"));
    let exchanges = vec![login(1), failed(2), login(3)];
    let w = RecordingWriter::create(&one, &header()).unwrap();
    for e in &exchanges {
        w.append(e).unwrap();
    }
    let w = RecordingWriter::create(&batch, &header()).unwrap();
    w.append_all(&exchanges[..2]).unwrap();
    w.append_all(&[]).unwrap();
    w.append_all(&exchanges[2..]).unwrap();
    let (a, b) = (std::fs::read(&one).unwrap(), std::fs::read(&batch).unwrap());
    assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
    assert_eq!(read_recording(&batch).unwrap().exchanges, exchanges);
}

#[test]
fn appends_from_many_threads_interleave_whole_documents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conc.yaml");
    let w = Arc::new(RecordingWriter::create(&path, &header()).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let w = w.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let id = t * 1000 + i;
                    if i % 3 == 0 {
                        w.append(&failed(id)).unwrap();
                    } else {
                        w.append(&login(id)).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let rec = read_recording(&path).unwrap();
    assert_eq!(rec.exchanges.len(), 400);
    let mut ids: Vec<_> = rec.exchanges.iter().map(|e| e.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 400);
    for e in &rec.exchanges {
        let expected = if (e.id % 1000) % 3 == 0 {
            failed(e.id)
        } else {
            login(e.id)
        };
        assert_eq!(e, &expected);
    }
}

#[test]
fn an_existing_recording_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.yaml");
    std::fs::write(&path, "keep me").unwrap();
    let err = RecordingWriter::create(&path, &header()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
}

#[test]
fn emitted_documents_are_what_serde_yaml_reads() {
    // The emitter and serde_yaml agree on a document full of awkward strings.
    let awkward = [
        "",
        " lead",
        "trail ",
        "a: b",
        "a #b",
        "#x",
        "- x",
        "true",
        "False",
        "null",
        "~",
        "yes",
        "on",
        "1",
        "-1",
        "1.5",
        "0x1F",
        "1e3",
        "12:30",
        ".inf",
        "@x",
        "`x",
        "a,b",
        "[a]",
        "{a}",
        "it's",
        "\"q\"",
        "back\\slash",
        "tab\there",
        "nl\nx",
        "\u{7f}",
        "\u{85}",
        "\u{feff}bom",
        "é",
        "日本",
        "a  b",
        "x:",
        "2026-11-21",
        "2026-11-21T10:00:00Z",
        "https://a.b/c?d=e&f=g",
        "Bearer abc.def-ghi",
        "<<",
        "!tag",
        "&anchor",
        "*alias",
        "%x",
        "|",
        ">",
        "?",
        "?x",
        "y",
        "n",
        "N",
        "nan",
    ];
    for s in awkward {
        let mut e = failed(1);
        e.request.url = s.to_string();
        e.request.headers.push(s, s);
        e.request.body = Some(Body::json(json!({ s: [s, {s: s}], "k": s })));
        e.error = Some(s.to_string());
        let doc = emit::exchange(&e);
        let back: Exchange =
            serde_yaml::from_str(&doc).unwrap_or_else(|err| panic!("{s:?}: {err}\n{doc}"));
        assert_eq!(back, e, "{s:?}\n{doc}");
    }
}

#[test]
fn a_tombstone_drops_its_exchange_without_rewriting_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.yaml");
    let w = RecordingWriter::create(&path, &header()).unwrap();
    w.append(&login(1)).unwrap();
    w.append(&failed(2)).unwrap();
    w.append(&login(3)).unwrap();
    let before = std::fs::read_to_string(&path).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 21, 10, 5, 0).unwrap();
    w.append_tombstone(&Tombstone { dropped: 2, at }).unwrap();
    let after = std::fs::read_to_string(&path).unwrap();
    // Append-only: what was written is untouched, the drop follows it.
    assert!(after.starts_with(&before));
    assert!(
        after[before.len()..].starts_with("---\ndropped: 2\nat: "),
        "{after}"
    );
    let rec = read_recording(&path).unwrap();
    let ids: Vec<u64> = rec.exchanges.iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 3]);
    assert!(rec.truncated_tail.is_none());
    // An exchange appended after the drop, even with the dropped id, is kept.
    w.append(&failed(2)).unwrap();
    let rec = read_recording(&path).unwrap();
    let ids: Vec<u64> = rec.exchanges.iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 3, 2]);
}

#[test]
fn a_tombstone_that_drops_nothing_or_is_malformed_is_a_clear_error() {
    let head = emit::header(&header());
    let text = format!(
        "{head}...\n---\n{}...\n---\ndropped: 7\nat: 2026-11-21T10:05:00Z\n...\n",
        emit::exchange(&login(1))
    );
    let e = read_recording_str(&text, "rec.yaml").unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("rec.yaml"), "{shown}");
    assert!(shown.contains("exchange 7"), "{shown}");
    assert_eq!(e.field.as_deref(), Some("dropped"));
    assert!(e.line.is_some_and(|l| l > 3), "{e:?}");
    let text = format!(
        "{head}...\n---\n{}...\n---\ndropped: one\n...\n",
        emit::exchange(&login(1))
    );
    let e = read_recording_str(&text, "rec.yaml").unwrap_err();
    assert!(e.to_string().contains("rec.yaml"), "{e}");
}
