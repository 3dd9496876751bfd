//! What a value looks like, and what its name suggests: the tests classification is built on.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Shorter values are never candidates: too likely to repeat by chance (`1`, `zh_CN`, `ok`).
pub const MIN_LEN: usize = 8;

/// Whether a value can be a token, id, nonce or timestamp at all: at least [`MIN_LEN`]
/// characters, not a boolean, not a small number, not text with spaces (a sentence, a
/// product name), not a URL (a link is followed, not correlated).
pub fn is_candidate(value: &str) -> bool {
    if value.len() < MIN_LEN || value.len() > 4096 {
        return false;
    }
    if matches!(value, "true" | "false" | "null" | "undefined") {
        return false;
    }
    if value.contains("://") {
        return false;
    }
    // Text with spaces is a sentence or a name, unless a token is glued into it (a value
    // built from an issued one: `algo con espacio3dc42ef8-6bca-…`).
    if value.contains(char::is_whitespace)
        && !value
            .split(char::is_whitespace)
            .any(|w| w.len() >= 16 && is_high_entropy(w))
    {
        return false;
    }
    // A number is a candidate only when it is long enough to be an id or a timestamp.
    if is_decimal(value) {
        return value.bytes().all(|b| b.is_ascii_digit())
            && value.parse::<f64>().is_ok_and(|n| n >= 10_000_000.0);
    }
    true
}

/// Plain decimal notation (`-12`, `3.25`). Not Rust's float grammar: a hex nonce such as
/// `0e58881265` reads as `0 × 10^58881265` there, and `infinity` as a number.
fn is_decimal(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && parts.next().is_none_or(all_digits)
}

/// A short id (`1330`, `a7x`): 2 to 7 letters and digits with a digit among them, not a
/// candidate by itself (too likely to repeat by chance) but correlated when a name or a REST
/// path vouches for it.
pub fn is_short_id(value: &str) -> bool {
    (2..MIN_LEN).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric())
        && value.bytes().any(|b| b.is_ascii_digit())
        && !value.starts_with('0')
}

/// Whether a value looks machine-made (a token, an id) rather than a word: it mixes letters
/// and digits, or is a long number, or has high entropy.
pub fn looks_random(value: &str) -> bool {
    // Words joined by punctuation (`alipay.system.oauth.token`, `operation_success`) are
    // identifiers, however varied their letters.
    if value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .all(|w| w.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return false;
    }
    let digits = value.bytes().filter(u8::is_ascii_digit).count();
    let letters = value.bytes().filter(u8::is_ascii_alphabetic).count();
    (digits > 0 && letters > 0) || (digits == value.len() && digits >= 8) || entropy(value) >= 3.5
}

/// Shannon entropy in bits per character.
pub fn entropy(value: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in value.bytes() {
        counts[b as usize] += 1;
    }
    let n = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// High-entropy enough to be a secret nobody would type: 16+ characters of mixed classes.
pub fn is_high_entropy(value: &str) -> bool {
    value.len() >= 16 && looks_random(value) && entropy(value) >= 3.0
}

/// A Unix timestamp within a day of `at`, in milliseconds (13 digits) or seconds (10).
pub fn timestamp(value: &str, at: DateTime<Utc>) -> Option<TimeUnit> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = value.parse().ok()?;
    let day_ms = 86_400_000;
    let at_ms = at.timestamp_millis();
    match value.len() {
        13 if (n - at_ms).abs() <= day_ms => Some(TimeUnit::Ms),
        10 if (n * 1000 - at_ms).abs() <= day_ms => Some(TimeUnit::S),
        _ => None,
    }
}

/// The unit a [`timestamp`] is in, which decides the function that makes a fresh one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Milliseconds: 13 digits.
    Ms,
    /// Seconds: 10 digits.
    S,
}

/// `8-4-4-4-12` hex digits.
pub fn is_uuid(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Lower-case hex of 16 bytes (an MD5-shaped nonce).
pub fn is_hex32(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|c| c.is_ascii_hexdigit())
}

/// The claims of a JWT (`header.payload.signature`, base64url), if the value is one.
pub fn jwt_claims(value: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = value.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || s.is_empty() || !h.starts_with("eyJ") {
        return None;
    }
    let decode = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .ok()
    };
    let header: Value = serde_json::from_slice(&decode(h)?).ok()?;
    header.get("alg")?;
    match serde_json::from_slice(&decode(p)?).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// The decoded text of a base64 value, when it decodes to printable UTF-8 (so an encoded
/// token is recognised, and random text that happens to be valid base64 mostly is not).
pub fn base64_text(value: &str) -> Option<String> {
    if value.len() < 12 {
        return None;
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ];
    engines.iter().find_map(|e| {
        let bytes = e.decode(value).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        text.chars()
            .all(|c| c.is_ascii_graphic())
            .then_some(text)
            .filter(|t| t.len() >= MIN_LEN)
    })
}

fn norm(name: &str) -> String {
    name.to_ascii_lowercase().replace(['-', '_'], "")
}

/// Names that carry credentials (SPEC §5: Authorization, X-Token, token, access_token,
/// session, sid, 3rd_session).
pub fn is_auth_name(name: &str) -> bool {
    let n = norm(name);
    let lower = name.to_ascii_lowercase();
    n.contains("token")
        || n.contains("session")
        || lower == "sid"
        || lower.ends_with("_sid")
        || lower.ends_with("-sid")
        || matches!(
            n.as_str(),
            "authorization" | "auth" | "ticket" | "jwt" | "skey" | "credential"
        )
}

/// Signature parameters: the replay needs the rule that computes them.
pub fn is_signature_name(name: &str) -> bool {
    matches!(
        norm(name).as_str(),
        "sign" | "signature" | "paysign" | "sig" | "xsign" | "xsignature"
    )
}

/// Nonce parameters (`nonce`, `nonceStr` of WeChat Pay, `rand`).
pub fn is_nonce_name(name: &str) -> bool {
    let n = norm(name);
    n.contains("nonce")
        || matches!(
            n.as_str(),
            "rand" | "random" | "rnd" | "requestid" | "xrequestid" | "traceid" | "xtraceid"
        )
}

/// Timestamp parameters (`ts`, `timestamp`, WeChat Pay's `timeStamp`, `_t`).
pub fn is_time_name(name: &str) -> bool {
    let n = norm(name);
    matches!(
        n.as_str(),
        "t" | "ts" | "time" | "timestamp" | "reqtime" | "xtimestamp" | "xts" | ""
    )
}

/// Login codes: single-use, issued to the client by the super app, never by a response the
/// proxy sees (`wx.login` → `code`, `my.getAuthCode` → `authCode`).
pub fn is_login_code_name(name: &str) -> bool {
    matches!(
        norm(name).as_str(),
        "code" | "jscode" | "authcode" | "logincode"
    )
}

/// Whether a path looks like where sessions are made.
pub fn is_login_path(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    ["login", "auth", "token", "session", "signin", "oauth"]
        .iter()
        .any(|w| p.contains(w))
}

/// Names of the fields that sit beside an issued token and give its lifetime.
pub fn is_expiry_name(name: &str) -> bool {
    matches!(
        norm(name).as_str(),
        "expiresin" | "expires" | "expire" | "ttl"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates() {
        assert!(!is_candidate("zh_CN"));
        assert!(!is_candidate("true"));
        assert!(!is_candidate("1234567"));
        assert!(!is_candidate("12345.678"));
        assert!(!is_candidate("Classic Green Tea"));
        assert!(is_candidate("12345678"));
        assert!(is_candidate("g1x0ab12cd34ef"));
        // Hex nonces in float notation (a WordPress nonce seen in CI) and a float word.
        assert!(is_candidate("0e58881265"));
        assert!(is_candidate("123456e7"));
        assert!(!is_candidate("-12345.5"));
        assert!(!looks_random("infinity"));
        assert!(!looks_random("alipay.system.oauth.token"));
        assert!(!looks_random("operation_success"));
        assert!(looks_random("SKU-7731-AX92"));
    }

    #[test]
    fn timestamps() {
        let at = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp("1795255200000", at), Some(TimeUnit::Ms));
        assert_eq!(timestamp("1795255200", at), Some(TimeUnit::S));
        assert_eq!(timestamp("1595255200", at), None);
        assert_eq!(timestamp("17952552000", at), None);
    }

    #[test]
    fn jwt() {
        // {"alg":"HS256","typ":"JWT"} . {"sub":"u1","exp":1795258800}
        let t = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MSIsImV4cCI6MTc5NTI1ODgwMH0.c2ln";
        assert_eq!(jwt_claims(t).unwrap()["exp"], 1795258800);
        assert!(jwt_claims("a.b.c").is_none());
    }

    #[test]
    fn names() {
        assert!(is_auth_name("X-Token"));
        assert!(is_auth_name("3rd_session"));
        assert!(is_auth_name("sid"));
        assert!(!is_auth_name("goods_id"));
        assert!(is_signature_name("paySign"));
        assert!(is_nonce_name("nonceStr"));
        assert!(is_time_name("timeStamp"));
        assert!(is_login_code_name("js_code"));
    }
}
