//! A feed event as the page reads it: an SSE event name and a JSON object.

use loadtape_proxy::{FeedEvent, Row};
use serde_json::{json, Value};

/// The SSE event name and data of `event`.
pub(crate) fn event(event: &FeedEvent) -> (&'static str, Value) {
    match event {
        FeedEvent::Exchange(row) => ("row", row_json(row)),
        FeedEvent::Dropped(id) => ("drop", json!({ "id": id })),
        FeedEvent::Notice { at, text } => (
            "notice",
            json!({ "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "text": text }),
        ),
    }
}

fn row_json(r: &Row) -> Value {
    let (host, path) = split_url(&r.url);
    json!({
        "id": r.id,
        "started": r.started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "duration_ms": r.duration_ms,
        "status": r.status,
        "method": r.method,
        "host": host,
        "path": path,
        "url": r.url,
        "version": r.version,
        "size": r.size,
        "tester": r.tester,
        "group": r.group,
        "error": r.error,
        "tokens": r.tokens,
    })
}

/// `https://a.example:8443/p?q=1` → (`a.example:8443`, `/p?q=1`).
pub(crate) fn split_url(url: &str) -> (&str, &str) {
    let after = url.split_once("://").map_or(url, |(_, a)| a);
    match after.find(['/', '?']) {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, "/"),
    }
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn urls_split_into_host_and_path() {
        assert_eq!(
            split_url("https://a.example:8443/p?q=1"),
            ("a.example:8443", "/p?q=1")
        );
        assert_eq!(split_url("http://h?x"), ("h", "?x"));
        assert_eq!(split_url("http://h"), ("h", "/"));
    }
}
