//! The testbed's v2 session shape through the whole pipeline, with real processes: the TLS
//! testbed with 2-second tokens, the recording proxy, a curl client that logs in with
//! `/api/login2` (camelCase `sessionToken`, a `tb_sid` cookie it echoes back by hand as
//! `wx.request` would), reads the profile and the feed, and searches with the feed's cursor
//! inside URL-encoded JSON (`curl -G --data-urlencode`, as `encodeURIComponent` would). Then
//! `loadtape convert` and `loadtape run --vus 3 --duration 8s`, four token lifetimes, judged by
//! the testbed's own `/stats`.

use std::path::Path;

use serde_json::Value;

use crate::pipeline::{count, delta, entry, in_dir, record_script, replay, stats, tls_testbed};

/// The mini program as shell. Prints the token, the cookie and the cursor it used.
const CLIENT: &str = r#"
via() { curl -sf --max-time 10 --proxy "http://$PROXY" --cacert certs/loadtape-ca.pem "$@"; }
login=$(via -D login.headers -H 'content-type: application/json' -d '{"code":"0a1b2c"}' "$BASE/api/login2")
token=$(printf '%s' "$login" | sed -E 's/.*"sessionToken":"([^"]+)".*/\1/')
sid=$(tr -d '\r' < login.headers | sed -nE 's/^set-cookie: tb_sid=([^;]+);.*/\1/ip')
auth=(-H "Authorization: Bearer $token" -H "Cookie: tb_sid=$sid")
via "${auth[@]}" "$BASE/api/v2/profile" | grep -q '"errcode":0'
cursor=$(via "${auth[@]}" "$BASE/api/v2/feed" | sed -E 's/.*"cursor":"([^"]+)".*/\1/')
via "${auth[@]}" -G --data-urlencode "q={\"cursor\":\"$cursor\",\"size\":10}" "$BASE/api/v2/search" \
  | grep -q '"errcode":0'
echo "$token $sid $cursor"
"#;

/// Records the client's session; returns the three values it used (token, cookie, cursor).
fn record(dir: &Path, base: &str) -> Vec<String> {
    let (lines, printed) = record_script(dir, base, "v2.yaml", CLIENT, 4);
    assert!(lines[3].contains("/api/v2/search?q="), "{lines:?}");
    let values: Vec<String> = printed.split_whitespace().map(String::from).collect();
    assert_eq!(values.len(), 3, "{printed}");
    values
}

/// Converts `v2.yaml`; returns the scenario's text.
fn convert(dir: &Path) -> String {
    let out = in_dir(dir, &["convert", "v2.yaml"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.join("v2.scenario.yaml")).unwrap()
}

/// The 8-second run of `scenario`: returns the exit code, the result and `/stats` after and
/// before it.
fn run_8s(dir: &Path, base: &str, scenario: &str) -> (i32, Value, Value, Value) {
    let before = stats(dir, base);
    let (code, result) = replay(dir, scenario, &["--vus", "3", "--duration", "8s"]);
    let after = stats(dir, base);
    let d = |p: &[&str]| delta(&after, &before, p);
    eprintln!(
        "{scenario}: exit {code}; requests {} retries {} restarted {}; logins {} calls {} expired_answers {} \
         invalid_cursors {}; auth_failures missing {} expired {} invalid {} revoked {}",
        result["total"]["requests"],
        result["total"]["retries"],
        result["total"]["restarted"],
        d(&["v2", "logins"]),
        d(&["v2", "calls"]),
        d(&["v2", "expired_answers"]),
        d(&["v2", "invalid_cursors"]),
        d(&["auth_failures", "missing"]),
        d(&["auth_failures", "expired"]),
        d(&["auth_failures", "invalid"]),
        d(&["auth_failures", "revoked"]),
    );
    (code, result, after, before)
}

/// What every run must show: no credential refused but by expiry; every expiry answered with
/// the 42001 that `refresh_on` names, and each of those absorbed (the engine refreshes and then
/// retries the step or restarts the iteration: as many retries + restarts as expired answers,
/// and no business step failed); the token really refreshed over four 2-second lifetimes.
fn sessions_held(result: &Value, after: &Value, before: &Value) {
    let d = |p: &[&str]| delta(after, before, p);
    for kind in ["missing", "invalid", "revoked", "bad_credentials"] {
        assert_eq!(d(&["auth_failures", kind]), 0, "{kind}: {after}");
    }
    let expired = d(&["v2", "expired_answers"]);
    assert_eq!(d(&["auth_failures", "expired"]), expired, "{after}");
    let total = &result["total"];
    let absorbed = count(&total["retries"]) + count(&total["restarted"]);
    assert_eq!(absorbed, expired, "{result}");
    for step in ["profile", "feed"] {
        assert_eq!(count(&entry(result, "steps", step)["errors"]), 0, "{step}");
    }
    let logins = count(&entry(result, "tokens", "login2")["requests"]);
    assert_eq!(d(&["v2", "logins"]), logins, "{after}");
    // Refreshed 400 ms before each 2 s expiry: about 5 logins per VU in 8 s.
    assert!(logins >= 12, "{logins} logins in 8 s of 2 s tokens");
}

/// The token step's expiry comes from the login answer's `expiresIn`; the feed extracts the
/// cursor and the search sends it inside its encoded JSON, the rest of the query as recorded.
fn check_conversion(scenario: &str, values: &[String]) {
    assert!(
        scenario.contains("expires_in: {json: '$.data.expiresIn'}"),
        "{scenario}"
    );
    assert!(scenario.contains("expires_in: '{{ expires_in }}s'"));
    assert!(scenario.contains("json: {path: '$.errcode', in: [40001, 40014, 42001]}"));
    assert!(scenario.contains("- [cookie, 'tb_sid={{ tb_sid }}']"));
    for v in values {
        assert!(!scenario.contains(v.as_str()), "{v} left as recorded");
    }
    assert!(
        scenario.contains("q=%7b%22cursor%22%3a%22{{ cursor }}%22%2c%22size%22%3a10%7d"),
        "{scenario}"
    );
    assert!(
        scenario.contains("cursor: {json: '$.data.cursor'}"),
        "{scenario}"
    );
}

#[test]
fn login2_cookie_and_encoded_json_cursor_recorded_converted_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (tb, base) = tls_testbed(dir, "2s");

    let values = record(dir, &base);
    let recorded = stats(dir, &base);
    assert_eq!(recorded["v2"]["invalid_cursors"], 0, "{recorded}");
    assert_eq!(recorded["v2"]["logins"], 1, "{recorded}");
    let scenario = convert(dir);
    check_conversion(&scenario, &values);

    // As converted: sessions hold across token lifetimes, and every search sends the cursor
    // its own feed answered: none is refused, the run passes.
    let (code, result, after, before) = run_8s(dir, &base, "v2.scenario.yaml");
    sessions_held(&result, &after, &before);
    let search = entry(&result, "steps", "search");
    assert!(count(&search["succeeded"]) >= 10, "{result}");
    assert_eq!(delta(&after, &before, &["v2", "invalid_cursors"]), 0);
    assert_eq!(count(&search["errors"]), 0, "{result}");
    assert_eq!(code, 0, "{result}");

    // The control: the recorded cursor put back is refused on every search, and the converted
    // default threshold fails the run.
    let stale = scenario.replace("%22{{ cursor }}%22", &format!("%22{}%22", values[2]));
    std::fs::write(dir.join("stale.scenario.yaml"), stale).unwrap();
    let (code, result, after, before) = run_8s(dir, &base, "stale.scenario.yaml");
    let searches = count(&entry(&result, "steps", "search")["requests"]);
    assert!(searches >= 10, "{result}");
    assert_eq!(delta(&after, &before, &["v2", "invalid_cursors"]), searches);
    assert_eq!(code, 99, "the error-rate threshold fails");

    let (code, _) = tb.terminate();
    assert!(
        code == 0 || code == 143 || code == -1,
        "testbed exit {code}"
    );
}
