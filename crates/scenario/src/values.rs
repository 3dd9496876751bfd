//! The scenario's leaf values: durations, rates, JSONPath, regexes, templates, methods,
//! headers and origins. Each is validated inside its serde visitor, while the YAML parser is
//! still at the scalar, so an error carries the scalar's own line and column.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::de::{did_you_mean, fail};
use crate::template::Template;

/// Parses a duration: one or more `<number><unit>` parts (`800ms`, `30s`, `1m30s`, `1h 30m`),
/// units `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, `d`. The unit is required and sits right
/// after the number: `8 sec` is refused rather than guessed at (humantime, which the command
/// line once used, accepts that and `8 months` too; a load test wants the narrow, unambiguous
/// form). The command line's flags (`--duration`, `--token-ttl`, `--grace`) and the testbed's
/// `/admin/stall?for=` read durations with this function too.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        let t = text.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            format!("`{t}` is not a duration: give its unit, e.g. `{t}s` (ms, s, m, h, d)")
        } else {
            format!("`{text}` is not a duration (e.g. 800ms, 30s, 1m30s, 2h; units ns, us, ms, s, m, h, d)")
        }
    };
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        rest = rest.trim_start_matches(' ');
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        if num.is_empty()
            || num.starts_with('.')
            || num.ends_with('.')
            || num.matches('.').count() > 1
        {
            return Err(bad());
        }
        let unit_len = after
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            _ => return Err(bad()),
        };
        let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
        let whole: u128 = whole.parse().map_err(|_| bad())?;
        let mut nanos = whole.checked_mul(scale).ok_or_else(bad)?;
        let mut digit_scale = scale;
        for d in frac.bytes().take(18) {
            digit_scale /= 10;
            nanos += u128::from(d - b'0') * digit_scale;
        }
        total = total.checked_add(nanos).ok_or_else(bad)?;
        rest = after;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| bad())?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// Writes a duration the way [`parse_duration`] reads it, biggest units first: `1m30s`,
/// `800ms`, `1s500ms`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let mut nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, scale) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        if nanos >= scale {
            out.push_str(&(nanos / scale).to_string());
            out.push_str(unit);
            nanos %= scale;
        }
    }
    out
}

pub(crate) const DURATION_HINT: &str =
    "write a number and its unit with no space, as 800ms, 30s, 1m, 1m30s or 2h (units: us, ms, s, m, h, d)";

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as 800ms, 30s or 1m")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        match v.trim().parse::<u64>() {
            Ok(n) => self.visit_u64(n),
            Err(_) => parse_duration(v).map_err(|m| fail(m, DURATION_HINT)),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(fail(
            format!("`{v}` has no unit"),
            format!("durations need a unit: {v}s or {v}ms"),
        ))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        Err(fail(format!("`{v}` is not a duration"), DURATION_HINT))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(fail(format!("`{v}` has no unit"), DURATION_HINT))
    }
}

/// `deserialize_with` for a required duration.
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_str(DurationVisitor)
}

/// `deserialize_with` for an optional duration (`~` is none).
pub(crate) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    struct Opt;
    impl<'de> Visitor<'de> for Opt {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as 800ms, 30s or 1m")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            duration(d).map(Some)
        }
    }
    d.deserialize_option(Opt)
}

/// Flow iterations started per unit of time: `500/s`, `30/m`, `2/h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Iterations started in each `per` (a whole number).
    pub count: u64,
    /// The unit of time, as written after the `/`.
    pub per: RateUnit,
}

/// The unit of time of a [`Rate`]: kept as written, so `30/m` is written back as `30/m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateUnit {
    /// `/s`
    Second,
    /// `/m`
    Minute,
    /// `/h`
    Hour,
}

impl RateUnit {
    /// How many seconds the unit lasts.
    pub fn seconds(self) -> u64 {
        match self {
            RateUnit::Second => 1,
            RateUnit::Minute => 60,
            RateUnit::Hour => 3600,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            RateUnit::Second => "s",
            RateUnit::Minute => "m",
            RateUnit::Hour => "h",
        }
    }
}

impl Rate {
    /// `count` iterations per second (`count/s`).
    pub fn per_second(count: u64) -> Rate {
        Rate {
            count,
            per: RateUnit::Second,
        }
    }

    /// Iterations per second, for schedulers.
    pub fn as_per_second(&self) -> f64 {
        self.count as f64 / self.per.seconds() as f64
    }

    /// The time between two iterations, `None` for a rate of zero.
    pub fn interval(&self) -> Option<Duration> {
        (self.count > 0)
            .then(|| Duration::from_nanos(self.per.seconds() * 1_000_000_000 / self.count))
    }

    /// Parses `<count>/<unit>` (`500/s`, `30/m`, `2/h`); `Err` holds the message.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let bad = || {
            let t = text.trim();
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                format!("`{t}` is not a rate: say per what, e.g. `{t}/s` (or /m, /h)")
            } else {
                format!("`{text}` is not a rate (e.g. 500/s, 30/m, 10/h: whole numbers)")
            }
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" => RateUnit::Second,
            "m" => RateUnit::Minute,
            "h" => RateUnit::Hour,
            _ => return Err(bad()),
        };
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.per.suffix())
    }
}

pub(crate) const RATE_HINT: &str =
    "write iterations per unit of time: 500/s, 30/m or 10/h (whole numbers)";

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rate such as 500/s")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                Rate::parse(v).map_err(|m| fail(m, RATE_HINT))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rate, E> {
                Err(fail(
                    format!("`{v}` has no time unit"),
                    format!("write {v}/s for {v} iterations per second"),
                ))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSONPath (RFC 9535), compiled when the scenario loads. Compared by its source text.
#[derive(Clone)]
pub struct JsonPathExpr {
    source: String,
    path: serde_json_path::JsonPath,
}

impl JsonPathExpr {
    /// Compiles a JSONPath; `Err` holds the message, quoting the path.
    pub fn parse(source: &str) -> Result<JsonPathExpr, String> {
        serde_json_path::JsonPath::parse(source)
            .map(|path| JsonPathExpr {
                source: source.to_string(),
                path,
            })
            .map_err(|e| format!("invalid JSONPath `{source}`: {e}"))
    }

    /// The path as written, for writing the scenario back and for messages.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The compiled path, for queries that need every node it selects.
    pub fn path(&self) -> &serde_json_path::JsonPath {
        &self.path
    }

    /// The first node the path selects.
    pub fn first<'v>(&self, value: &'v serde_json::Value) -> Option<&'v serde_json::Value> {
        self.path.query(value).first()
    }
}

impl PartialEq for JsonPathExpr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for JsonPathExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonPath({:?})", self.source)
    }
}

impl<'de> Deserialize<'de> for JsonPathExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JsonPathExpr, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = JsonPathExpr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSONPath such as $.data.token")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonPathExpr, E> {
                JsonPathExpr::parse(v).map_err(|m| {
                    let hint = if !v.starts_with('$') {
                        format!(
                            "a JSONPath starts at the root `$`: `$.{}`",
                            v.trim_start_matches('.')
                        )
                    } else {
                        "examples: $.data.token, $.list[0].id, $['odd key'], $..id".to_string()
                    };
                    fail(m, hint)
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// A regular expression (the `regex` crate's syntax), compiled when the scenario loads.
#[derive(Clone)]
pub struct RegexExpr {
    regex: regex::Regex,
}

impl RegexExpr {
    /// Compiles a regex; `Err` holds the message, quoting the pattern and the crate's verdict.
    pub fn parse(source: &str) -> Result<RegexExpr, String> {
        regex::Regex::new(source)
            .map(|regex| RegexExpr { regex })
            .map_err(|e| {
                // The crate's message draws a caret diagram over several lines; keep its verdict.
                let text = e.to_string();
                let verdict = text
                    .lines()
                    .find_map(|l| l.strip_prefix("error: "))
                    .unwrap_or_else(|| text.lines().last().unwrap_or("invalid"));
                format!("invalid regex `{source}`: {verdict}")
            })
    }

    /// The pattern as written, for writing the scenario back and for messages.
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// The compiled regex, to match with.
    pub fn regex(&self) -> &regex::Regex {
        &self.regex
    }
}

impl PartialEq for RegexExpr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for RegexExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Regex({:?})", self.as_str())
    }
}

impl<'de> Deserialize<'de> for RegexExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RegexExpr, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RegexExpr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a regular expression")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RegexExpr, E> {
                RegexExpr::parse(v).map_err(|m| {
                    fail(m, "escape special characters with `\\`; single-quote the YAML value so backslashes stay")
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// Templates are compiled as the YAML is read. Numbers and booleans are taken as their text.
impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Template, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Template;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string (a template, with {{ expr }} parts)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Template, E> {
                Template::parse(v).map_err(|e| {
                    let hint = if e.message.starts_with("unknown function") {
                        String::new()
                    } else {
                        "write {{ name }}, {{ users.column }} or {{ md5(a + b) }}; a literal `{{` is {{ '{{' }}"
                            .to_string()
                    };
                    fail(format!("template error at byte {} of `{v}`: {}", e.offset, e.message), hint)
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Template, E> {
                Ok(Template::literal(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Template, E> {
                Ok(Template::literal(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Template, E> {
                Ok(Template::literal(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Template, E> {
                Ok(Template::literal(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

pub(crate) fn method<'de, D: Deserializer<'de>>(d: D) -> Result<http::Method, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = http::Method;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an HTTP method such as GET or POST")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<http::Method, E> {
            const COMMON: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
            // RFC 9110 allows any token, but every method in use is a word (`M-SEARCH` at
            // most): `42` or `GE T` is a typo, refused alike.
            let word = v.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && v.bytes()
                    .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_');
            match http::Method::from_bytes(v.as_bytes())
                .ok()
                .filter(|_| word)
                .ok_or(())
            {
                Ok(m)
                    if v.bytes().all(|b| b.is_ascii_uppercase())
                        || !COMMON.contains(&v.to_ascii_uppercase().as_str()) =>
                {
                    Ok(m)
                }
                Ok(_) => Err(fail(
                    format!("method `{v}` is not upper-case"),
                    format!(
                        "methods are case-sensitive: write {}",
                        v.to_ascii_uppercase()
                    ),
                )),
                Err(_) => Err(fail(
                    format!("`{v}` is not an HTTP method"),
                    format!("{} one of {}", did_you_mean(v, COMMON), COMMON.join(", ")),
                )),
            }
        }
    }
    d.deserialize_str(V)
}

/// `- [name, value]` pairs; names are checked as HTTP header names.
pub(crate) fn headers<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, Template)>, D::Error> {
    struct Pair(String, Template);
    impl<'de> Deserialize<'de> for Pair {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pair, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Pair;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a header as [name, value]")
                }
                fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Pair, A::Error> {
                    let pair_hint = "write a header as a pair: - [content-type, application/json]";
                    let name: String = seq
                        .next_element()?
                        .ok_or_else(|| fail("a header needs a name and a value", pair_hint))?;
                    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                        return Err(fail(
                            format!("`{name}` is not a valid header name"),
                            "header names are letters, digits and - _ . with no spaces or colons",
                        ));
                    }
                    let value: Template = seq
                        .next_element()?
                        .ok_or_else(|| fail(format!("header `{name}` has no value"), pair_hint))?;
                    if seq.next_element::<de::IgnoredAny>()?.is_some() {
                        return Err(fail(
                            format!("header `{name}` has more than a name and a value"),
                            "quote a value that holds a comma: [accept, 'a, b']",
                        ));
                    }
                    Ok(Pair(name, value))
                }
                fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Pair, A::Error> {
                    Err(fail(
                        "a header is a [name, value] pair, not a mapping",
                        "write - [content-type, application/json]",
                    ))
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Pair, E> {
                    let hint = match v.split_once(':') {
                        Some((n, val)) => format!("write - [{}, {}]", n.trim(), val.trim()),
                        None => "write - [content-type, application/json]".into(),
                    };
                    Err(fail("a header is a [name, value] pair", hint))
                }
            }
            d.deserialize_any(V)
        }
    }
    let pairs: Vec<Pair> = Vec::deserialize(d)?;
    Ok(pairs.into_iter().map(|p| (p.0, p.1)).collect())
}

/// An HTTP status code, 100 to 599.
pub(crate) struct Status(pub u16);

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Status, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Status;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an HTTP status code such as 200")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Status, E> {
                match u16::try_from(v) {
                    Ok(s) if (100..=599).contains(&s) => Ok(Status(s)),
                    _ => Err(fail(
                        format!("`{v}` is not an HTTP status"),
                        "a status is 100 to 599",
                    )),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Status, E> {
                Err(fail(
                    format!("`{v}` is not an HTTP status"),
                    "a status is 100 to 599",
                ))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Status, E> {
                match v.parse::<u64>() {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(fail(
                        format!("`{v}` is not an HTTP status"),
                        "write the number, e.g. 200; list several as [200, 201]",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `one_or_many` status codes.
pub(crate) fn statuses<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    super::de::one_or_many::<D, Status>(d).map(|v| v.into_iter().map(|s| s.0).collect())
}

/// Checks an origin (`https://host[:port]`) and returns it without a trailing `/`.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let trimmed = text.strip_suffix('/').unwrap_or(text);
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|_| format!("`{text}` is not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("`{text}` is not an http:// or https:// origin")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{text}` has no host"));
    }
    if uri
        .path_and_query()
        .is_some_and(|pq| pq.as_str() != "/" && !pq.as_str().is_empty())
    {
        return Err(format!(
            "`{text}` has a path or query; an origin is scheme://host[:port] only"
        ));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_strict_and_round_trip() {
        for (text, ms) in [
            ("800ms", 800),
            ("30s", 30_000),
            ("1m", 60_000),
            ("1m30s", 90_000),
            ("1h 30m", 5_400_000),
            ("1.5s", 1500),
            ("2d", 172_800_000),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        for bad in [
            "8 sec",
            "8sec",
            "5",
            "",
            "s",
            "1.s",
            ".5s",
            "1x",
            "1m-",
            "99999999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for d in [
            Duration::ZERO,
            Duration::from_millis(800),
            Duration::from_secs(5400),
            Duration::new(1, 500_000_001),
            Duration::from_secs(86_400 * 3),
        ] {
            assert_eq!(
                parse_duration(&format_duration(d)),
                Ok(d),
                "{}",
                format_duration(d)
            );
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn rates_and_origins() {
        let r = Rate::parse("30/m").unwrap();
        assert_eq!(
            (r.count, r.per, r.as_per_second()),
            (30, RateUnit::Minute, 0.5)
        );
        assert_eq!(r.interval(), Some(Duration::from_secs(2)));
        assert_eq!(r.to_string(), "30/m");
        assert!(
            Rate::parse("500").is_err()
                && Rate::parse("x/s").is_err()
                && Rate::parse("5/d").is_err()
        );
        assert_eq!(
            parse_origin("https://a.example:8443/").as_deref(),
            Ok("https://a.example:8443")
        );
        assert!(parse_origin("https://a.example/v1").is_err());
        assert!(parse_origin("ftp://a.example").is_err());
        assert!(parse_origin("a.example").is_err());
    }
}
