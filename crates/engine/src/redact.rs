//! Credentials masked in what a run writes down for people (warnings, the result's
//! diagnostics): a result file is mailed, archived as a CI artifact and pasted into tickets,
//! so an app secret, a password or a live session must not travel with it. One rule for what
//! looks like a credential, used wherever an exchange is shown; `--debug` alone shows
//! everything, on the terminal of whoever asked for it.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What replaces a credential's value.
pub(crate) const MASK: &str = "***";

/// Values shorter than this are not searched for in text: a 3-character token value would
/// mask every `200` in a body.
const SHORTEST_MASKED: usize = 8;

/// A parameter, header or JSON key whose value is a credential: `secret`, `appsecret`,
/// `password`, `api_key`, `access_token`, `x-session-id`, `ticket` — but not `keyword`,
/// `monkey` or `author`, which a search or a blog sends in the clear.
pub(crate) fn secret_like(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "key"
        || [
            "secret", "password", "passwd", "token", "session", "ticket", "apikey", "appkey",
            "_key", "-key",
        ]
        .iter()
        .any(|w| name.contains(w))
}

/// `a=1&secret=***&b=2`: a query string (or a form body) with credential values masked.
pub(crate) fn query(q: &str) -> String {
    q.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if secret_like(k) => format!("{k}={MASK}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A URL with its query's credential values masked.
pub(crate) fn url(u: &str) -> String {
    match u.split_once('?') {
        Some((base, q)) => format!("{base}?{}", query(q)),
        None => u.to_string(),
    }
}

/// A header's value as shown: `Bearer ***` for an authorization (the scheme tells a reader
/// what was sent), every cookie's value masked, and any credential-named header masked.
pub(crate) fn header(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "authorization" | "proxy-authorization" => match value.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} {MASK}"),
            None => MASK.to_string(),
        },
        "cookie" => value
            .split(';')
            .map(|c| match c.split_once('=') {
                Some((k, _)) => format!("{}={MASK}", k.trim()),
                None => c.trim().to_string(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        "set-cookie" => match value.split_once(';') {
            Some((pair, attrs)) => format!("{};{attrs}", header("cookie", pair)),
            None => header("cookie", value),
        },
        _ if secret_like(&lower) => MASK.to_string(),
        _ => value.to_string(),
    }
}

/// `"appsecret": "…"` or `"token":123` in JSON text, the key captured: found in bodies
/// whether or not the body parses (the start of a body kept in a diagnostic is often cut).
static JSON_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""([^"\\]{1,64})"(\s*:\s*)("(?:[^"\\]|\\.)*"?|-?[0-9][0-9.eE+-]*)"#)
        .expect("the JSON pair pattern is valid")
});

/// A body's text with credentials masked: JSON values under credential-like keys, a form
/// body's credential fields, and every occurrence of `known` (the VU's token values).
pub(crate) fn text(body: &str, known: &[&str]) -> String {
    let mut out = JSON_PAIR
        .replace_all(body, |c: &Captures| {
            if secret_like(&c[1]) {
                format!("\"{}\"{}\"{MASK}\"", &c[1], &c[2])
            } else {
                c[0].to_string()
            }
        })
        .into_owned();
    if !out.contains('{') && out.contains('=') && !out.contains(char::is_whitespace) {
        out = query(&out);
    }
    values(&out, known)
}

/// `s` with every occurrence of a value of `known` long enough to mean something masked.
pub(crate) fn values(s: &str, known: &[&str]) -> String {
    let mut out = s.to_string();
    for v in known.iter().filter(|v| v.len() >= SHORTEST_MASKED) {
        if out.contains(v) {
            out = out.replace(v, MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_shape_and_lose_their_credentials() {
        assert_eq!(
            url("https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=s3cr3t"),
            "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=***"
        );
        assert_eq!(
            url("http://h/o?access_token=abc&page=2"),
            "http://h/o?access_token=***&page=2"
        );
        assert_eq!(url("http://h/plain"), "http://h/plain");
    }

    #[test]
    fn headers_say_what_was_sent_but_not_the_secret() {
        assert_eq!(header("Authorization", "Bearer eyJhbGciOi"), "Bearer ***");
        assert_eq!(
            header("cookie", "sid=abc; theme=dark"),
            "sid=***; theme=***"
        );
        assert_eq!(
            header("set-cookie", "sid=abc; Path=/; HttpOnly"),
            "sid=***; Path=/; HttpOnly"
        );
        assert_eq!(header("X-WX-Token", "t0k3n"), "***");
        assert_eq!(
            header("content-type", "application/json"),
            "application/json"
        );
        assert!(!secret_like("keyword") && !secret_like("author") && secret_like("appKey"));
    }

    #[test]
    fn bodies_lose_credential_values_even_when_cut() {
        let json = r#"{"errcode":0,"access_token":"ACCESS-123","expires_in":7200,"password":"p\"w","session_key":12345"#;
        assert_eq!(
            text(json, &[]),
            r#"{"errcode":0,"access_token":"***","expires_in":7200,"password":"***","session_key":"***""#
        );
        assert_eq!(text(r#"{"token":"abcdef"#, &[]), r#"{"token":"***""#);
        assert_eq!(text("user=a&password=b", &[]), "user=a&password=***");
        assert_eq!(
            text(
                "hello session-value-1234 and again session-value-1234",
                &["session-value-1234", "200"]
            ),
            "hello *** and again ***"
        );
        assert_eq!(
            values("status 200", &["200"]),
            "status 200",
            "short values stay"
        );
    }
}
