//! How long a token lives, from wherever its exchange says so: a relative field beside any
//! value it issues or around it (`expires_in`, `expiresIn`, `expire_time`, `ttl`), an
//! absolute one (`expires_at` as epoch seconds, milliseconds or RFC 3339), the `Max-Age` or
//! `Expires` of the cookie that carries it, or a JWT's `exp`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use loadtape_recording::Exchange;
use serde_json::Value;

use crate::origin::norm;
use crate::shape;
use crate::walk::key_step;

/// A lifetime found in a token exchange.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lifetime {
    /// A JSON path holding the lifetime in seconds: extracted at every fetch.
    pub relative_path: Option<String>,
    /// The lifetime the recording shows.
    pub recorded: Option<Duration>,
    /// Where it was found, in words, for the scenario's comment.
    pub how: String,
    /// From a JWT's `exp`: the engine reads each fetched token's own, so the scenario states
    /// none.
    pub jwt: bool,
}

/// The lifetime of the first of `values` (the token first, then the other values the
/// exchange issues) whose neighbourhood states one.
pub(crate) fn find(e: &Exchange, values: &[&str]) -> Option<Lifetime> {
    let resp = e.response.as_ref()?;
    let body = resp.body.as_ref().and_then(|b| b.as_json());
    let at = e.started;
    for v in values {
        if let Some(l) = body.and_then(|j| beside("$", j, v, at)) {
            return Some(l);
        }
    }
    for v in values {
        if let Some(l) = cookie(e, v) {
            return Some(l);
        }
    }
    values.iter().find_map(|v| jwt(v, at))
}

fn relative_name(k: &str) -> bool {
    shape::is_expiry_name(k)
        || matches!(
            norm(k).as_str(),
            "expiretime" | "expiresec" | "expireseconds" | "lifetime" | "maxage" | "timeout"
        )
}

fn absolute_name(k: &str) -> bool {
    matches!(
        norm(k).as_str(),
        "expiresat"
            | "expireat"
            | "expiration"
            | "expirationtime"
            | "expiry"
            | "expiredat"
            | "expiretime"
            | "exp"
            | "deadline"
    )
}

/// A lifetime field of the object holding `value`, or of an object around it.
fn beside(at_path: &str, v: &Value, value: &str, at: DateTime<Utc>) -> Option<Lifetime> {
    match v {
        Value::Object(map) => {
            let holds = map.values().any(|x| x.as_str() == Some(value));
            let inner = map
                .iter()
                .find_map(|(k, x)| beside(&format!("{at_path}{}", key_step(k)), x, value, at));
            if inner.is_some() {
                // Found deeper; an object around it may also hold one, but the nearest wins.
                return inner;
            }
            let descendant = !holds && contains(v, value);
            if holds || descendant {
                return field(at_path, map, at);
            }
            None
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| beside(&format!("{at_path}[{i}]"), x, value, at)),
        _ => None,
    }
}

fn contains(v: &Value, value: &str) -> bool {
    match v {
        Value::String(s) => s == value,
        Value::Object(m) => m.values().any(|x| contains(x, value)),
        Value::Array(a) => a.iter().any(|x| contains(x, value)),
        _ => false,
    }
}

/// The lifetime an object states in one of its fields, if any.
fn field(
    at_path: &str,
    map: &serde_json::Map<String, Value>,
    at: DateTime<Utc>,
) -> Option<Lifetime> {
    for (k, x) in map {
        let n = x
            .as_i64()
            .or_else(|| x.as_str().and_then(|s| s.trim().parse().ok()));
        let path = format!("{at_path}{}", key_step(k));
        if let Some(n) = n.filter(|&n| n > 0) {
            // Epoch seconds or milliseconds: an absolute time, whatever the name says.
            if let Some(when) = epoch(n) {
                if absolute_name(k) || relative_name(k) {
                    return absolute(when, at, format!("`{k}` ({path}), an absolute time"));
                }
            } else if relative_name(k) {
                return Some(Lifetime {
                    relative_path: Some(path.clone()),
                    recorded: u64::try_from(n).ok().map(Duration::from_secs),
                    how: format!("`{k}` ({path}) in seconds"),
                    jwt: false,
                });
            }
        }
        if let (Some(s), true) = (x.as_str(), absolute_name(k) || relative_name(k)) {
            if let Ok(when) = DateTime::parse_from_rfc3339(s.trim()) {
                return absolute(
                    when.with_timezone(&Utc),
                    at,
                    format!("`{k}` ({path}), an RFC 3339 time"),
                );
            }
        }
    }
    None
}

/// A number that is a Unix time within ten years of now-ish (2001–2100), in s or ms.
fn epoch(n: i64) -> Option<DateTime<Utc>> {
    match n {
        1_000_000_000..=4_102_444_800 => DateTime::from_timestamp(n, 0),
        1_000_000_000_000..=4_102_444_800_000 => DateTime::from_timestamp_millis(n),
        _ => None,
    }
}

/// An absolute expiry: the recorded lifetime is its distance from the capture.
fn absolute(when: DateTime<Utc>, at: DateTime<Utc>, how: String) -> Option<Lifetime> {
    let secs = u64::try_from(when.signed_duration_since(at).num_seconds()).ok()?;
    Some(Lifetime {
        relative_path: None,
        recorded: Some(Duration::from_secs(secs)),
        how,
        jwt: false,
    })
}

/// The `Max-Age` (or `Expires`) of the cookie the exchange sets to `value`.
fn cookie(e: &Exchange, value: &str) -> Option<Lifetime> {
    let resp = e.response.as_ref()?;
    for sc in resp.headers.get_all("set-cookie") {
        let mut parts = sc.split(';');
        let (name, v) = parts.next()?.trim().split_once('=')?;
        if v.trim_matches('"') != value {
            continue;
        }
        for attr in parts {
            let (k, x) = attr.trim().split_once('=').unwrap_or((attr.trim(), ""));
            if k.eq_ignore_ascii_case("max-age") {
                let secs: u64 = x.trim().parse().ok()?;
                return Some(Lifetime {
                    relative_path: None,
                    recorded: Some(Duration::from_secs(secs)),
                    how: format!("the `Max-Age` of cookie `{name}`"),
                    jwt: false,
                });
            }
        }
        for attr in sc.split(';').skip(1) {
            if let Some((k, x)) = attr.trim().split_once('=') {
                if k.eq_ignore_ascii_case("expires") {
                    let when = DateTime::parse_from_rfc2822(x.trim())
                        .or_else(|_| {
                            DateTime::parse_from_str(x.trim(), "%a, %d-%b-%Y %H:%M:%S GMT")
                        })
                        .ok()?;
                    return absolute(
                        when.with_timezone(&Utc),
                        e.started,
                        format!("the `Expires` of cookie `{name}`"),
                    );
                }
            }
        }
    }
    None
}

/// A JWT's lifetime: `exp` minus `iat` (or minus the capture time).
fn jwt(value: &str, at: DateTime<Utc>) -> Option<Lifetime> {
    let claims = shape::jwt_claims(value)?;
    let exp = claims.get("exp")?.as_i64()?;
    let from = claims
        .get("iat")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| at.timestamp());
    let secs = u64::try_from(exp.checked_sub(from)?).ok()?;
    Some(Lifetime {
        relative_path: None,
        recorded: Some(Duration::from_secs(secs)),
        how: "the JWT's `exp`".into(),
        jwt: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadtape_recording::{Body, Headers, Request, Response};

    fn exchange(body: &str, set_cookie: &[&str]) -> Exchange {
        let mut headers = Headers::new();
        for c in set_cookie {
            headers.push("set-cookie", *c);
        }
        let started = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Exchange {
            id: 1,
            started,
            duration_ms: 1.0,
            client: None,
            tester: None,
            group: None,
            request: Request {
                method: "POST".into(),
                url: "https://a/login".into(),
                version: "HTTP/1.1".into(),
                headers: Headers::new(),
                body: None,
            },
            response: Some(Response {
                status: 200,
                version: "HTTP/1.1".into(),
                headers,
                body: Some(Body::from_bytes(body.as_bytes(), Some("application/json"))),
            }),
            error: None,
        }
    }

    #[test]
    fn wherever_the_exchange_states_it() {
        // The cookie is the first value, its neighbour says nothing; the token's does.
        let e = exchange(
            r#"{"data":{"sessionToken":"tok123456789","expiresIn":900}}"#,
            &["sid=abcdef123456; Path=/; HttpOnly"],
        );
        let l = find(&e, &["abcdef123456", "tok123456789"]).unwrap();
        assert_eq!(l.relative_path.as_deref(), Some("$.data.expiresIn"));
        assert_eq!(l.recorded, Some(Duration::from_secs(900)));
        // Around the value, not beside it.
        let e = exchange(
            r#"{"data":{"token":"tok123456789"},"expire_time":7200}"#,
            &[],
        );
        assert_eq!(
            find(&e, &["tok123456789"])
                .unwrap()
                .relative_path
                .as_deref(),
            Some("$.expire_time")
        );
        // Absolute: epoch seconds and RFC 3339, as the distance from the capture.
        let e = exchange(r#"{"token":"tok123456789","expires_at":1795258800}"#, &[]);
        let l = find(&e, &["tok123456789"]).unwrap();
        assert_eq!(
            (l.relative_path, l.recorded),
            (None, Some(Duration::from_secs(3600)))
        );
        let e = exchange(
            r#"{"token":"tok123456789","expiresAt":"2026-11-21T10:30:00Z"}"#,
            &[],
        );
        assert_eq!(
            find(&e, &["tok123456789"]).unwrap().recorded,
            Some(Duration::from_secs(1800))
        );
        // A cookie's Max-Age.
        let e = exchange("{}", &["sid=abcdef123456; Max-Age=600; Path=/"]);
        let l = find(&e, &["abcdef123456"]).unwrap();
        assert_eq!(l.recorded, Some(Duration::from_secs(600)));
        assert!(l.how.contains("Max-Age"), "{}", l.how);
        let e = exchange(
            "{}",
            &["sid=abcdef123456; Expires=Sat, 21 Nov 2026 12:00:00 GMT"],
        );
        assert_eq!(
            find(&e, &["abcdef123456"]).unwrap().recorded,
            Some(Duration::from_secs(7200))
        );
        assert_eq!(
            find(
                &exchange(r#"{"token":"tok123456789","page":2}"#, &[]),
                &["tok123456789"]
            ),
            None
        );
    }
}
