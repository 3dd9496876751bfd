//! A quick look for token-like fields, for the live line and the exit summary. The real
//! detection (origins, classes, confidence) is `loadtape tokens`; this only tells the tester,
//! while recording, that auth-bearing calls are being captured.

use loadtape_recording::Request;

const NAMES: [&str; 12] = [
    "authorization",
    "token",
    "access_token",
    "x-token",
    "x-access-token",
    "session",
    "sessionid",
    "session_id",
    "sid",
    "3rd_session",
    "auth_token",
    "ticket",
];

fn is_token_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    NAMES.contains(&n.as_str()) || n.ends_with("token") || n.ends_with("_session")
}

/// Names of header and query fields in a request that look like they carry a token.
pub(crate) fn token_names(r: &Request) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: &str| {
        let n = n.to_ascii_lowercase();
        if !names.contains(&n) {
            names.push(n);
        }
    };
    for (name, _) in r.headers.iter() {
        if is_token_name(name) {
            add(name);
        }
    }
    if let Some((_, query)) = r.url.split_once('?') {
        for pair in query.split('&') {
            let name = pair.split('=').next().unwrap_or("");
            if is_token_name(name) {
                add(name);
            }
        }
    }
    names
}
