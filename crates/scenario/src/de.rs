//! How the scenario's `Deserialize` impls report problems.
//!
//! serde only carries a message string from a `Deserialize` impl to the loader. To give every
//! error a hint, and to let a check that runs after a whole mapping was read (two body kinds,
//! a field that does not fit the executor) point at the offending key rather than at the
//! mapping, the message is tagged with two control characters that never occur in YAML text:
//! `\u{1}SUBPATH\u{1}MESSAGE\u{2}HINT`. The loader ([`super::loader`]) takes the tags apart,
//! appends SUBPATH to serde's field path and looks its line up in the span index.

use std::fmt::Display;

use serde::de;

const SUB: char = '\u{1}';
const HINT: char = '\u{2}';

/// An error about the value being deserialized.
pub(crate) fn fail<E: de::Error>(message: impl Display, hint: impl Display) -> E {
    fail_at("", message, hint)
}

/// An error about `sub` (a key like `stages`, or a suffix like `stages[1].to`) inside the
/// mapping being deserialized. An empty hint is left out.
pub(crate) fn fail_at<E: de::Error>(sub: &str, message: impl Display, hint: impl Display) -> E {
    E::custom(tag(sub, message, hint))
}

/// The tagged message [`fail_at`] raises, for a conversion (`serde(try_from)`) to return.
pub(crate) fn tag(sub: &str, message: impl Display, hint: impl Display) -> String {
    format!("{SUB}{sub}{SUB}{message}{HINT}{hint}")
}

/// A message as the loader gets it, taken apart.
#[derive(Debug, PartialEq)]
pub(crate) struct Tagged {
    pub sub: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

/// Splits a tagged message. `raw` may have text before the tag (serde_yaml prefixes its own
/// path); an untagged message is returned whole.
pub(crate) fn untag(raw: &str) -> Tagged {
    let Some(start) = raw.find(SUB) else {
        return Tagged {
            sub: None,
            message: raw.to_string(),
            hint: None,
        };
    };
    let rest = &raw[start + SUB.len_utf8()..];
    let (sub, rest) = rest.split_once(SUB).unwrap_or(("", rest));
    let (message, hint) = match rest.split_once(HINT) {
        Some((m, h)) => (m, h),
        None => (rest, ""),
    };
    Tagged {
        sub: (!sub.is_empty()).then(|| sub.to_string()),
        message: message.to_string(),
        hint: (!hint.is_empty()).then(|| hint.to_string()),
    }
}

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len().max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `did you mean `x`?` or nothing.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    suggest(word, candidates)
        .map(|s| format!("did you mean `{s}`?"))
        .unwrap_or_default()
}

/// Joins a field path and a sub-path the way serde_path_to_error writes paths.
pub(crate) fn join_path(path: &str, sub: &str) -> String {
    if path.is_empty() || path == "." {
        sub.to_string()
    } else if sub.is_empty() {
        path.to_string()
    } else if sub.starts_with('[') {
        format!("{path}{sub}")
    } else {
        format!("{path}.{sub}")
    }
}

/// Accepts one value or a list of them (`status: 200` or `status: [200, 201]`).
pub(crate) fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: de::Deserializer<'de>,
    T: de::Deserialize<'de>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: de::Deserialize<'de>> de::Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a value or a list of values")
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|v| vec![v])
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            T::deserialize(de::IntoDeserializer::<E>::into_deserializer(v)).map(|v| vec![v])
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Vec<T>, E> {
            T::deserialize(de::IntoDeserializer::<E>::into_deserializer(v)).map(|v| vec![v])
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Vec<T>, E> {
            T::deserialize(de::IntoDeserializer::<E>::into_deserializer(v)).map(|v| vec![v])
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Vec<T>, E> {
            T::deserialize(de::IntoDeserializer::<E>::into_deserializer(v)).map(|v| vec![v])
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Vec<T>, E> {
            T::deserialize(de::IntoDeserializer::<E>::into_deserializer(v)).map(|v| vec![v])
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        let e: serde_json::Error = fail_at("stages", "bad", "do this");
        let t = untag(&e.to_string());
        assert_eq!(t.sub.as_deref(), Some("stages"));
        assert_eq!(t.message, "bad");
        assert_eq!(t.hint.as_deref(), Some("do this"));
        let t = untag("load: \u{1}\u{1}plain");
        assert_eq!((t.sub, t.message.as_str(), t.hint), (None, "plain", None));
        assert_eq!(untag("no tags").message, "no tags");
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("thnk", ["think", "name", "check"]), Some("think"));
        assert_eq!(suggest("per_vu", ["per-vu", "shared"]), Some("per-vu"));
        assert_eq!(suggest("zzzzzz", ["think", "name"]), None);
        assert_eq!(join_path("a", "[1]"), "a[1]");
        assert_eq!(join_path("", "b"), "b");
        assert_eq!(join_path("a", "b"), "a.b");
    }
}
