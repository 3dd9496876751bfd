//! recording → HAR → recording keeps every field HAR can carry, and the HAR written has every
//! field HAR 1.2 requires (what Chrome DevTools and HAR viewers check).

use loadtape_recording::har::{import_har, to_har, write_har};
use loadtape_recording::{
    read_any, read_recording, write_recording, Body, Exchange, Headers, Recording, RecordingHeader,
    Request, Response,
};
use serde_json::{json, Value};

fn at(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(1_795_000_000_000 + ms).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn request(
    method: &str,
    url: &str,
    version: &str,
    h: &[(&str, &str)],
    body: Option<Body>,
) -> Request {
    Request {
        method: method.into(),
        url: url.into(),
        version: version.into(),
        headers: headers(h),
        body,
    }
}

fn response(status: u16, version: &str, h: &[(&str, &str)], body: Option<Body>) -> Response {
    Response {
        status,
        version: version.into(),
        headers: headers(h),
        body,
    }
}

/// Every kind of exchange the recorder writes.
fn sample() -> Recording {
    let exchange = |id, ms, request, response, error: Option<&str>| Exchange {
        id,
        started: at(ms),
        duration_ms: 12.345,
        client: Some("192.168.1.23".into()),
        // Two testers and two groups: HAR keeps them (`_loadtapeTester`, pages).
        tester: Some(if id % 2 == 0 { "alice" } else { "bob" }.into()),
        group: Some(if id < 5 { "browse" } else { "order" }.into()),
        request,
        response,
        error: error.map(str::to_string),
    };
    let login = exchange(
        3,
        0,
        request(
            "POST",
            "https://api.example.com/v1/login?from=home&q=a+b%26c",
            "HTTP/2.0",
            &[
                ("content-type", "application/json"),
                ("cookie", "a=1; b=2"),
                (
                    "referer",
                    "https://servicewechat.com/wx1234567890abcdef/0/page-frame.html",
                ),
            ],
            Some(Body::json(json!({"code": "0a3Xk2ll2yqXRc4M", "n": 1}))),
        ),
        Some(response(
            200,
            "HTTP/2.0",
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
                ("set-cookie", "sid=abc; Path=/; HttpOnly"),
                ("set-cookie", "lang=zh_CN; Path=/; Max-Age=86400"),
            ],
            Some(
                Body::json(json!({"token": "8fE2abcdefgh", "expires_in": 7200}))
                    .decoded_from("gzip"),
            ),
        )),
        None,
    );
    let form = exchange(
        1,
        5,
        request(
            "POST",
            "http://127.0.0.1:9090/api/form",
            "HTTP/1.1",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("X-Dup", "1"),
                ("X-Dup", "2"),
            ],
            Some(Body::text("a=1&b=h%C3%A9llo")),
        ),
        Some(response(
            200,
            "HTTP/1.1",
            &[("content-type", "text/plain; charset=utf-8")],
            Some(Body::text("héllo 世界\n")),
        )),
        None,
    );
    let upload = exchange(
        2,
        10,
        request(
            "PUT",
            "https://cdn.example.com/blob",
            "HTTP/3.0",
            &[("content-type", "application/octet-stream")],
            Some(Body::binary(vec![0u8, 1, 2, 0xff, 0x80])),
        ),
        Some(response(
            201,
            "HTTP/3.0",
            &[("content-type", "image/png")],
            Some(Body::binary(vec![0x89, b'P', b'N', b'G', 0, 0xfe])),
        )),
        None,
    );
    let big = exchange(
        4,
        20,
        request("GET", "https://api.example.com/big", "HTTP/1.1", &[], None),
        Some(response(
            200,
            "HTTP/1.1",
            &[("content-type", "text/plain")],
            Some(Body::truncated(b"abcdef", 1_000_000, Some("text/plain"))),
        )),
        Some("response body interrupted after 500000 bytes: connection reset"),
    );
    let refused = exchange(
        5,
        30,
        request(
            "GET",
            "https://down.example.com/",
            "HTTP/1.1",
            &[("accept", "*/*")],
            None,
        ),
        None,
        Some("upstream: connection refused"),
    );
    let no_body = exchange(
        6,
        40,
        request(
            "DELETE",
            "https://api.example.com/v1/cart/1",
            "HTTP/2.0",
            &[],
            None,
        ),
        Some(response(204, "HTTP/2.0", &[], None)),
        None,
    );
    Recording {
        header: RecordingHeader {
            loadtape: "recording/v1".into(),
            name: "shop-checkout".into(),
            created: at(-1000),
        },
        exchanges: vec![login, form, upload, big, refused, no_body],
        truncated_tail: None,
    }
}

#[test]
fn recording_to_har_and_back_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("rec.yaml");
    write_recording(&yaml, &sample()).unwrap();
    // As stored on disk (millisecond timestamps, microsecond durations).
    let original = read_recording(&yaml).unwrap();
    let har = dir.path().join("rec.har");
    write_har(&har, &original).unwrap();
    let back = import_har(&har).unwrap();
    assert!(back.skipped.is_empty());
    assert_eq!(back.creator.as_deref(), Some("loadtape"));
    for (a, b) in original.exchanges.iter().zip(&back.recording.exchanges) {
        assert_eq!(a, b, "exchange {}", a.id);
    }
    assert_eq!(back.recording, original);
    // read_any takes either.
    assert_eq!(read_any(&har).unwrap(), original);
    assert_eq!(read_any(&yaml).unwrap(), original);
    // And a HAR without the .har extension is recognised by its leading `{`.
    let odd = dir.path().join("export.json");
    std::fs::copy(&har, &odd).unwrap();
    assert_eq!(read_any(&odd).unwrap().exchanges, original.exchanges);
}

fn has(v: &Value, keys: &[&str], what: &str) {
    for k in keys {
        assert!(v.get(k).is_some(), "{what} lacks `{k}`: {v}");
    }
}

#[test]
fn exported_har_has_every_required_field() {
    let har = to_har(&sample());
    let log = &har["log"];
    assert_eq!(log["version"], "1.2");
    assert_eq!(log["creator"]["name"], "loadtape");
    assert!(log["creator"]["version"].is_string());
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 6);
    for e in entries {
        has(
            e,
            &[
                "startedDateTime",
                "time",
                "request",
                "response",
                "cache",
                "timings",
            ],
            "entry",
        );
        has(
            &e["request"],
            &[
                "method",
                "url",
                "httpVersion",
                "cookies",
                "headers",
                "queryString",
                "headersSize",
                "bodySize",
            ],
            "request",
        );
        has(
            &e["response"],
            &[
                "status",
                "statusText",
                "httpVersion",
                "cookies",
                "headers",
                "content",
                "redirectURL",
                "headersSize",
                "bodySize",
            ],
            "response",
        );
        has(&e["response"]["content"], &["size", "mimeType"], "content");
        has(&e["timings"], &["send", "wait", "receive"], "timings");
        assert_eq!(e["timings"]["wait"], e["time"]);
        assert_eq!(e["request"]["headersSize"], -1);
        assert!(
            chrono::DateTime::parse_from_rfc3339(e["startedDateTime"].as_str().unwrap()).is_ok()
        );
    }
    let login = &entries[0];
    assert_eq!(
        login["request"]["queryString"],
        json!([{"name": "from", "value": "home"}, {"name": "q", "value": "a b&c"}])
    );
    assert_eq!(
        login["request"]["cookies"],
        json!([{"name": "a", "value": "1"}, {"name": "b", "value": "2"}])
    );
    assert_eq!(login["request"]["postData"]["mimeType"], "application/json");
    assert_eq!(
        login["request"]["postData"]["text"],
        r#"{"code":"0a3Xk2ll2yqXRc4M","n":1}"#
    );
    assert_eq!(
        login["response"]["cookies"],
        json!([
            {"name": "sid", "value": "abc", "path": "/", "httpOnly": true},
            {"name": "lang", "value": "zh_CN", "path": "/"}
        ])
    );
    assert_eq!(login["response"]["statusText"], "OK");
    // Decoded text under content-encoding, as browsers export it; the wire size is unknown.
    assert_eq!(login["response"]["bodySize"], -1);
    let form = &entries[1];
    assert_eq!(
        form["request"]["postData"]["params"],
        json!([{"name": "a", "value": "1"}, {"name": "b", "value": "héllo"}])
    );
    let upload = &entries[2];
    assert_eq!(upload["response"]["content"]["encoding"], "base64");
    assert_eq!(upload["response"]["content"]["text"], "iVBORwD+");
    assert_eq!(upload["response"]["content"]["size"], 6);
    assert_eq!(upload["request"]["postData"]["encoding"], "base64");
    let refused = &entries[4];
    assert_eq!(refused["response"]["status"], 0);
    assert_eq!(
        refused["response"]["_error"],
        "upstream: connection refused"
    );
    assert_eq!(
        entries[5]["response"]["content"],
        json!({"size": 0, "mimeType": "x-unknown"})
    );
}

#[test]
fn groups_are_har_pages_and_pages_of_other_tools_become_groups() {
    let rec = sample();
    let v: Value = to_har(&rec);
    let pages = v["log"]["pages"].as_array().unwrap();
    let titles: Vec<&str> = pages.iter().map(|p| p["title"].as_str().unwrap()).collect();
    let mut groups: Vec<&str> = Vec::new();
    for e in &rec.exchanges {
        let g = e.group.as_deref().unwrap();
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    assert_eq!(titles, groups);
    for e in v["log"]["entries"].as_array().unwrap() {
        let page = pages
            .iter()
            .find(|p| p["id"] == e["pageref"])
            .expect("a page");
        assert_eq!(page["title"], e["_loadtapeGroup"]);
    }
    // A HAR of another tool with two pages: each page is a group (by title when it names one).
    let mut other = v.clone();
    for e in other["log"]["entries"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("_loadtapeGroup");
    }
    other["log"]["pages"][1]["title"] = json!("https://shop.example/order?id=1");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.har");
    std::fs::write(&path, other.to_string()).unwrap();
    let back = import_har(&path).unwrap().recording;
    let first = back
        .exchanges
        .iter()
        .find(|e| e.group.as_deref() == Some("browse"));
    assert!(
        first.is_some(),
        "{:?}",
        back.exchanges.iter().map(|e| &e.group).collect::<Vec<_>>()
    );
    assert!(back
        .exchanges
        .iter()
        .any(|e| e.group.as_deref() == Some("group_order")));
}
