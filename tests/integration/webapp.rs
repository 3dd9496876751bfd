//! The testbed's WordPress-shaped web app (`/wp/`) through the whole pipeline, with real
//! processes: the TLS testbed binary with 3-second cookies, the recording proxy, a curl session
//! (cookie jar, nonces scraped from the admin page's HTML with sed as a page script would), then
//! `loadtape convert` and `loadtape run` over several cookie lifetimes. The testbed's own
//! `/stats` decide: no nonce refused, no unknown post id, one draft per iteration. A control run
//! with the REST nonce put back to its recorded literal is refused, so the check is real.

use std::path::{Path, PathBuf};

use crate::pipeline::{delta, in_dir, record_script, replay, stats, tls_testbed};

/// A browser session as shell: log in (the cookie jar keeps the session), open the admin page
/// and take its three nonces out of the HTML, create a draft over REST, read it, edit it, the
/// multipart ajax call, log out with the link's nonce. Prints the values it used.
const CLIENT: &str = r#"
via() { curl -sf --max-time 10 --proxy "http://$PROXY" --cacert certs/loadtape-ca.pem -b jar.txt -c jar.txt "$@"; }
via -o /dev/null -d 'log=admin&pwd=testbed-password&redirect_to=%2Fwp%2Fadmin' "$BASE/wp/login"
page=$(via "$BASE/wp/admin")
rest=$(printf '%s\n' "$page" | sed -nE 's/.*wpApiSettings = \{.*"nonce":"([0-9a-f]+)".*/\1/p')
edit=$(printf '%s\n' "$page" | sed -nE 's/.*name="_wpnonce" value="([0-9a-f]+)".*/\1/p')
logout=$(printf '%s\n' "$page" | sed -nE "s/.*[?]action=logout&#038;_wpnonce=([0-9a-f]+)'.*/\1/p")
id=$(via -H "X-WP-Nonce: $rest" -H 'content-type: application/json' \
  -d '{"title":"Hello","status":"draft"}' "$BASE/wp/json/posts" | sed -E 's/.*"id":([0-9]+).*/\1/')
via -H "X-WP-Nonce: $rest" "$BASE/wp/json/posts/$id" >/dev/null
via -H "X-WP-Nonce: $rest" -H 'content-type: application/json' \
  -d "{\"id\":$id,\"title\":\"Hello world\"}" "$BASE/wp/json/posts/$id" >/dev/null
via -F action=wp-remove-post-lock -F "_wpnonce=$edit" -F "post_ID=$id" "$BASE/wp/ajax" >/dev/null
via -o /dev/null "$BASE/wp/logout?action=logout&_wpnonce=$logout"
echo "$rest $edit $logout $id"
"#;

fn n(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Records the session; returns the recording and the four values the client used.
fn record(dir: &Path, base: &str) -> (PathBuf, Vec<String>) {
    let (lines, printed) = record_script(dir, base, "wp.yaml", CLIENT, 7);
    assert!(lines[6].contains("/wp/logout?"), "{lines:?}");
    let values: Vec<String> = printed.split_whitespace().map(String::from).collect();
    assert_eq!(values.len(), 4, "{printed}");
    (dir.join("wp.yaml"), values)
}

#[test]
fn wordpress_session_recorded_converted_and_replayed_over_cookie_lifetimes() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (tb, base) = tls_testbed(dir, "3s");

    let (recording, values) = record(dir, &base);
    let recorded = stats(dir, &base);
    assert_eq!(recorded["webapp"]["nonce_failures"], 0, "{recorded}");
    assert_eq!(recorded["webapp"]["posts_created"], 1, "{recorded}");

    let out = in_dir(dir, &["convert", recording.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scenario = std::fs::read_to_string(dir.join("wp.scenario.yaml")).unwrap();
    // None of the session's values is left as recorded: nonces and the draft id are extracted.
    for v in &values {
        assert!(
            !scenario.contains(v.as_str()),
            "{v} left as recorded:\n{scenario}"
        );
    }

    // 3 VUs for 10 s: over three cookie lifetimes.
    let before = stats(dir, &base);
    let (code, result) = replay(
        dir,
        "wp.scenario.yaml",
        &["--vus", "3", "--duration", "10s"],
    );
    let after = stats(dir, &base);
    let iterations = n(&result["iterations"]);
    eprintln!(
        "replay: exit {code}, {iterations} iterations; /stats delta: {}",
        {
            let d = |p: &[&str]| delta(&after, &before, p);
            format!(
            "logins {} posts_created {} nonce_failures {} unknown_post_ids {} logouts {} auth_failures(expired {} missing {} invalid {})",
            d(&["webapp", "logins"]),
            d(&["webapp", "posts_created"]),
            d(&["webapp", "nonce_failures"]),
            d(&["webapp", "unknown_post_ids"]),
            d(&["webapp", "logouts"]),
            d(&["auth_failures", "expired"]),
            d(&["auth_failures", "missing"]),
            d(&["auth_failures", "invalid"]),
        )
        }
    );
    assert_eq!(code, 0, "{result}");
    assert!(iterations >= 10, "{result}");
    assert_eq!(
        delta(&after, &before, &["webapp", "nonce_failures"]),
        0,
        "{after}"
    );
    assert_eq!(
        delta(&after, &before, &["webapp", "unknown_post_ids"]),
        0,
        "{after}"
    );
    for kind in [
        "missing",
        "expired",
        "invalid",
        "revoked",
        "bad_credentials",
    ] {
        assert_eq!(
            delta(&after, &before, &["auth_failures", kind]),
            0,
            "{kind}: {after}"
        );
    }
    // A draft per iteration; the VUs stopped mid-flow at the end may have created one more each.
    let posts = delta(&after, &before, &["webapp", "posts_created"]);
    assert!(
        (iterations..=iterations + 3).contains(&posts),
        "{posts} drafts, {iterations} iterations"
    );
    assert!(delta(&after, &before, &["webapp", "logouts"]) >= iterations);

    // Control: the REST nonce put back to its recorded literal is refused on every REST call.
    let literal: String = scenario
        .lines()
        .map(
            |l| match l.trim_start().strip_prefix("- [x-wp-nonce, '{{") {
                Some(_) => format!("    - [x-wp-nonce, '{}']", values[0]),
                None => l.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(literal.matches(values[0].as_str()).count(), 3, "{literal}");
    std::fs::write(dir.join("literal.scenario.yaml"), literal).unwrap();
    let before = stats(dir, &base);
    let (code, result) = replay(
        dir,
        "literal.scenario.yaml",
        &["--vus", "1", "--iterations", "2"],
    );
    let after = stats(dir, &base);
    let failures = delta(&after, &before, &["webapp", "nonce_failures"]);
    eprintln!(
        "control: exit {code}, {} iterations, nonce_failures {failures}",
        result["iterations"]
    );
    assert_eq!(code, 99, "the error-rate threshold fails: {result}");
    assert!(failures >= 2, "a recorded nonce is refused: {after}");
    assert_eq!(
        delta(&after, &before, &["webapp", "posts_created"]),
        0,
        "{after}"
    );
    let (code, _) = tb.terminate();
    assert!(
        code == 0 || code == 143 || code == -1,
        "testbed exit {code}"
    );
}
