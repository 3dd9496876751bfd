//! The scenario's leaf values: JSONPath, regexes, templates, methods, headers, statuses and
//! origins (durations and rates are in `time.rs`). Each is validated inside its serde visitor, while the YAML parser is
//! still at the scalar, so an error carries the scalar's own line and column.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::de::{did_you_mean, fail};
use crate::template::Template;

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
    use crate::time::{Rate, RateUnit};
    use std::time::Duration;

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
