//! Reading a scenario file: YAML through serde (with field paths), then the checks that need
//! the whole scenario, every error located by file, line, column and field.

use std::path::{Path, PathBuf};

use super::context::Context;
use super::de::{join_path, suggest, untag};
use super::flows::Parsed;
use super::spans::{Loc, SpanIndex};
use super::{validate, Scenario, SCENARIO_V1};
use loadtape_recording::Error;

/// Reads and checks a scenario file. See [`load_scenario_str`].
pub fn load_scenario(path: impl AsRef<Path>) -> Result<Scenario, Error> {
    let path = path.as_ref();
    let text = loadtape_recording::TextFile {
        what: "the scenario",
        read_hint: "check the path; `loadtape convert REC.yaml` writes one",
        utf8_hint: "save it as UTF-8",
    }
    .read(path)?;
    load_scenario_str(&text, path)
}

/// Parses and checks a scenario held in memory. `path` names it in errors and is where
/// relative `data` paths start from (its directory).
pub fn load_scenario_str(text: &str, path: impl Into<PathBuf>) -> Result<Scenario, Error> {
    let file = path.into();
    let text = loadtape_recording::strip_bom(text);
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(Error::new(&file, "the file is empty").hint(
            "a scenario starts with `loadtape: scenario/v1`; `loadtape convert` writes one",
        ));
    }
    // When the event parser fails, serde_yaml fails too and says why in its own words.
    let spans = SpanIndex::build(text).ok();
    let cx = Context {
        file: &file,
        spans: spans.as_ref(),
    };
    if let Some(spans) = &spans {
        if let Some(d) = spans.duplicates.first() {
            let key = d.path.rsplit(['.', '[']).next().unwrap_or(&d.path);
            return Err(Error::new(&file, format!("`{key}` appears twice"))
                .at(d.at.line, Some(d.at.column))
                .field(d.path.clone())
                .hint(format!("it is first at line {}; keep one", d.first.line)));
        }
        check_version(
            &cx,
            spans.scalar("loadtape"),
            spans.locate("loadtape").is_some_and(|l| l.1),
        )?;
    }
    let de = serde_yaml::Deserializer::from_str(text);
    let Parsed(scenario) = serde_path_to_error::deserialize(de).map_err(|e| de_error(e, &cx))?;
    if spans.is_none() {
        check_version(&cx, Some(&scenario.loadtape), true)?;
    }
    validate::validate(&scenario, &cx)?;
    Ok(scenario)
}

fn check_version(cx: &Context<'_>, value: Option<&str>, present: bool) -> Result<(), Error> {
    match value {
        Some(SCENARIO_V1) => Ok(()),
        _ if !present => Err(Error::new(
            cx.file,
            "this is not a loadtape scenario: it has no `loadtape` key",
        )
        .at(1, Some(1))
        .hint("a scenario starts with `loadtape: scenario/v1`")),
        Some(v) if v.starts_with("recording/") => Err(cx.error(
            "loadtape",
            "this is a recording, not a scenario",
            Some(format!(
                "convert it first: loadtape convert {}",
                cx.file.display()
            )),
        )),
        Some(v) => Err(cx.error(
            "loadtape",
            format!("unsupported format `{v}`"),
            Some(format!("this loadtape reads `{SCENARIO_V1}`")),
        )),
        None => Err(cx.error("loadtape", "`loadtape` must be `scenario/v1`", None)),
    }
}

/// Turns a serde error into ours: field path from serde_path_to_error, message and hint from
/// our tags (see `de.rs`), and the best location serde_yaml and the span index have.
fn de_error(e: serde_path_to_error::Error<serde_yaml::Error>, cx: &Context<'_>) -> Error {
    let mut path = e.path().to_string();
    if path == "." {
        path.clear();
    }
    let inner = e.into_inner();
    let serde_loc = inner.location().map(|l| Loc {
        line: l.line(),
        column: l.column(),
    });
    let raw = strip_location(&inner.to_string());
    let tagged = untag(&raw);
    let mut message = tagged.message;
    let mut hint = tagged.hint;
    let mut by_span = false;
    if let Some(sub) = &tagged.sub {
        path = join_path(&path, sub);
        by_span = true;
    } else {
        // serde_yaml puts its own copy of the path in front of its messages.
        if let Some((prefix, rest)) = message.split_once(": ") {
            if !prefix.contains(' ') && (path.starts_with(prefix) || prefix == ".") {
                message = rest.to_string();
            }
        }
        if let Some((name, expected, what)) = unknown_name(&message) {
            // serde_path_to_error has usually recorded the unknown key already.
            let last = path.rsplit(['.', ']']).next().unwrap_or("");
            if what == "field" && last != name {
                path = join_path(&path, &name);
            }
            let mut h = suggest(&name, expected.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            let label = if what == "field" {
                "fields here are"
            } else {
                "values are"
            };
            h.push_str(&format!("the {label} {}", expected.join(", ")));
            message = format!("unknown {what} `{name}`");
            hint = Some(h);
        } else if let Some(name) = between(&message, "missing field `", "`") {
            let name = name.to_string();
            message = format!("missing field `{name}`");
            if path.rsplit(['.', ']']).next() != Some(name.as_str()) {
                path = join_path(&path, &name);
            }
            hint = Some(format!("add `{name}:`"));
        }
    }
    let span_loc = cx.spans.and_then(|s| s.locate(&path));
    let loc = match (serde_loc, span_loc) {
        (_, Some((l, _))) if by_span => Some(l),
        // serde_yaml marks an error raised after a whole mapping was read at the mapping's
        // start; the span index knows the field itself.
        (Some(s), Some((l, true))) if s.line < l.line => Some(l),
        (Some(s), _) => Some(s),
        (None, l) => l.map(|l| l.0),
    };
    // A syntax error's path ends where the parser gave up (`variables.?`); keep what is known.
    if let Some(i) = path.find(".?").or_else(|| path.find('?')) {
        path.truncate(i);
    }
    let mut err = Error::new(cx.file, message).field(path);
    if let Some(l) = loc {
        // libyaml repeats the position inside its message; it is already in front.
        let here = format!(" at line {} column {}", l.line, l.column);
        err.message = err.message.replacen(&here, "", 1);
        err = err.at(l.line, Some(l.column));
    }
    match hint {
        Some(h) if !h.trim().is_empty() => err.hint(h.trim().to_string()),
        _ => err,
    }
}

/// Drops serde_yaml's trailing ` at line L column C` (the location is reported apart).
fn strip_location(message: &str) -> String {
    if let Some(i) = message.rfind(" at line ") {
        let tail = &message[i + " at line ".len()..];
        let mut words = tail.split(' ');
        let shape = (words.next(), words.next(), words.next(), words.next());
        if let (Some(l), Some("column"), Some(c), None) = shape {
            if l.bytes().all(|b| b.is_ascii_digit()) && c.bytes().all(|b| b.is_ascii_digit()) {
                return message[..i].to_string();
            }
        }
    }
    message.to_string()
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// serde's `unknown field `x`, expected one of `a`, `b`` (or variant): the name, the
/// expected names and which kind it was.
fn unknown_name(message: &str) -> Option<(String, Vec<String>, &'static str)> {
    let what = if message.starts_with("unknown field `") {
        "field"
    } else if message.starts_with("unknown variant `") {
        "value"
    } else {
        return None;
    };
    let name = between(message, "`", "`")?.to_string();
    let expected_at = message.find("expected")?;
    let expected = message[expected_at..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((name, expected, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_cleaning() {
        assert_eq!(strip_location("bad at line 3 column 7"), "bad");
        assert_eq!(
            strip_location("did not find expected key at line 3 column 1, while parsing"),
            "did not find expected key at line 3 column 1, while parsing"
        );
        let (name, expected, what) =
            unknown_name("unknown field `thnk`, expected one of `name`, `think`").unwrap();
        assert_eq!((name.as_str(), what), ("thnk", "field"));
        assert_eq!(expected, vec!["name", "think"]);
        let (_, expected, _) = unknown_name("unknown variant `x`, expected `a` or `b`").unwrap();
        assert_eq!(expected, vec!["a", "b"]);
    }
}
