//! Request bodies with templates: JSON whose string leaves are templates, text, form fields or
//! fixed bytes.

use std::fmt;

use base64::Engine as _;
use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value};

use super::de::{did_you_mean, fail, fail_at};
use crate::template::eval::Sink;
use crate::template::{Expr, Func, Part, RenderError, Template, Vars};
use loadtape_recording::body::BASE64;

/// A request body. In YAML: `{json: ...}`, `{text: ...}`, `{form: {name: value}}` or
/// `{base64: ...}`, exactly one.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyTemplate {
    /// `{json: ...}`: a JSON document whose strings are templates, sent compact.
    Json(JsonTemplate),
    /// `{text: ...}`: one template, sent as the text it renders to.
    Text(Template),
    /// `application/x-www-form-urlencoded` fields, in order.
    Form(IndexMap<String, Template>),
    /// Fixed bytes (decoded at load).
    Base64(Vec<u8>),
}

/// A JSON value whose strings are templates. Object keys are plain text, in their order.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, sent as written in the file.
    Number(Number),
    /// A string, which is a template. One that is only a call of `now_ms()`, `now_s()` or
    /// `random_int()`, or only a variable holding typed JSON, is sent as that JSON value
    /// rather than as a string.
    String(Template),
    /// An array, in order.
    Array(Vec<JsonTemplate>),
    /// An object's fields in the file's order; keys are plain text, not templates.
    Object(Vec<(String, JsonTemplate)>),
}

impl BodyTemplate {
    /// The content type a body of this kind is sent with when the request names none.
    pub fn default_content_type(&self) -> Option<&'static str> {
        match self {
            BodyTemplate::Json(_) => Some("application/json"),
            BodyTemplate::Form(_) => Some("application/x-www-form-urlencoded"),
            BodyTemplate::Text(_) => Some("text/plain; charset=utf-8"),
            BodyTemplate::Base64(_) => None,
        }
    }

    /// Every template in the body.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        match self {
            BodyTemplate::Json(j) => j.collect(&mut out),
            BodyTemplate::Text(t) => out.push(t),
            BodyTemplate::Form(f) => out.extend(f.values()),
            BodyTemplate::Base64(_) => {}
        }
        out
    }

    /// Whether the body is the same every time (it can then be built once).
    pub fn is_literal(&self) -> bool {
        self.templates().iter().all(|t| t.is_literal())
    }

    /// Appends the body's bytes: JSON compact (strings escaped as they render), form fields
    /// percent-encoded.
    pub fn render(
        &self,
        vars: &(impl Vars + ?Sized),
        out: &mut Vec<u8>,
    ) -> Result<(), RenderError> {
        match self {
            BodyTemplate::Json(j) => j.render_into(&vars, out),
            BodyTemplate::Text(t) => t.render_bytes(vars, out),
            BodyTemplate::Form(fields) => {
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b'&');
                    }
                    FormSink(out).put(name);
                    out.push(b'=');
                    value.render_into(&vars, &mut FormSink(out))?;
                }
                Ok(())
            }
            BodyTemplate::Base64(bytes) => {
                out.extend_from_slice(bytes);
                Ok(())
            }
        }
    }
}

impl JsonTemplate {
    fn collect<'a>(&'a self, out: &mut Vec<&'a Template>) {
        match self {
            JsonTemplate::String(t) => out.push(t),
            JsonTemplate::Array(items) => items.iter().for_each(|i| i.collect(out)),
            JsonTemplate::Object(fields) => fields.iter().for_each(|(_, v)| v.collect(out)),
            _ => {}
        }
    }

    /// A plain JSON value (templates become their source text).
    pub fn to_value(&self) -> Value {
        match self {
            JsonTemplate::Null => Value::Null,
            JsonTemplate::Bool(b) => Value::Bool(*b),
            JsonTemplate::Number(n) => Value::Number(n.clone()),
            JsonTemplate::String(t) => Value::String(t.to_string()),
            JsonTemplate::Array(items) => Value::Array(items.iter().map(Self::to_value).collect()),
            JsonTemplate::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// A JSON value with every string taken as literal text (what a converter starts from).
    pub fn from_value(v: &Value) -> JsonTemplate {
        match v {
            Value::Null => JsonTemplate::Null,
            Value::Bool(b) => JsonTemplate::Bool(*b),
            Value::Number(n) => JsonTemplate::Number(n.clone()),
            Value::String(s) => JsonTemplate::String(Template::literal(s.as_str())),
            Value::Array(items) => {
                JsonTemplate::Array(items.iter().map(Self::from_value).collect())
            }
            Value::Object(map) => JsonTemplate::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Self::from_value(v)))
                    .collect(),
            ),
        }
    }

    /// Appends compact JSON text.
    pub fn render(
        &self,
        vars: &(impl Vars + ?Sized),
        out: &mut Vec<u8>,
    ) -> Result<(), RenderError> {
        self.render_into(&vars, out)
    }

    fn render_into(&self, vars: &dyn Vars, out: &mut Vec<u8>) -> Result<(), RenderError> {
        match self {
            JsonTemplate::Null => out.extend_from_slice(b"null"),
            JsonTemplate::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            JsonTemplate::Number(n) => {
                let _ = std::io::Write::write_fmt(out, format_args!("{n}"));
            }
            JsonTemplate::String(t) => {
                // A lone call that makes a number (`now_ms()`, `now_s()`, `random_int(a, b)`)
                // is a JSON number: a recorded `"ts": 1795255206123` stays a number.
                // `'{{ "" + now_ms() }}'` makes it a string.
                if let [Part::Expr(Expr::Call(Func::NowMs | Func::NowS | Func::RandomInt, _))] =
                    t.parts()
                {
                    return t.render_into(vars, &mut RawBytes(out));
                }
                // `'{{ v }}'` alone, with a typed value: the value itself, unquoted.
                if let [Part::Expr(Expr::Var(name))] = t.parts() {
                    if vars.is_json(name) {
                        let value = vars
                            .get(name)
                            .ok_or_else(|| RenderError::MissingVariable(name.clone()))?;
                        out.extend_from_slice(value.as_bytes());
                        return Ok(());
                    }
                }
                out.push(b'"');
                t.render_into(vars, &mut JsonEscape(out))?;
                out.push(b'"');
            }
            JsonTemplate::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.render_into(vars, out)?;
                }
                out.push(b']');
            }
            JsonTemplate::Object(fields) => {
                out.push(b'{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.push(b'"');
                    JsonEscape(out).put(k);
                    out.extend_from_slice(b"\":");
                    v.render_into(vars, out)?;
                }
                out.push(b'}');
            }
        }
        Ok(())
    }
}

/// Writes text as the inside of a JSON string.
struct JsonEscape<'a>(&'a mut Vec<u8>);

/// Rendered text as it is (a number a function made needs no escaping).
struct RawBytes<'a>(&'a mut Vec<u8>);

impl Sink for RawBytes<'_> {
    fn put(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }
}

impl Sink for JsonEscape<'_> {
    fn put(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let esc: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0..=0x1f => b"",
                _ => continue,
            };
            self.0.extend_from_slice(&bytes[start..i]);
            if esc.is_empty() {
                self.0.extend_from_slice(format!("\\u{b:04x}").as_bytes());
            } else {
                self.0.extend_from_slice(esc);
            }
            start = i + 1;
        }
        self.0.extend_from_slice(&bytes[start..]);
    }
}

/// Writes text form-urlencoded (space as `+`).
struct FormSink<'a>(&'a mut Vec<u8>);

impl Sink for FormSink<'_> {
    fn put(&mut self, s: &str) {
        for chunk in url_form(s) {
            self.0.extend_from_slice(chunk.as_bytes());
        }
    }
}

fn url_form(s: &str) -> impl Iterator<Item = &str> {
    // `form_urlencoded` rules: keep alphanumerics and `*-._`, space as `+`, the rest %XX.
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'*')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b' ');
    percent_encoding::utf8_percent_encode(s, KEEP).flat_map(|chunk| {
        chunk
            .split_inclusive(' ')
            .flat_map(|piece| match piece.strip_suffix(' ') {
                Some(before) => [before, "+"],
                None => [piece, ""],
            })
    })
}

const BODY_KEYS: [&str; 4] = ["json", "text", "form", "base64"];
const BODY_HINT: &str =
    "a body is one of {json: {...}}, {text: '...'}, {form: {name: value}} or {base64: ...}";

impl<'de> Deserialize<'de> for BodyTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<BodyTemplate, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BodyTemplate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a body mapping")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<BodyTemplate, E> {
                Err(fail("a body is a mapping naming its kind", BODY_HINT))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BodyTemplate, A::Error> {
                let mut found: Option<(String, BodyTemplate)> = None;
                while let Some(key) = map.next_key::<String>()? {
                    if !BODY_KEYS.contains(&key.as_str()) {
                        return Err(fail_at(
                            &key,
                            format!("unknown field `{key}`"),
                            format!("{} {BODY_HINT}", did_you_mean(&key, BODY_KEYS)),
                        ));
                    }
                    if let Some((first, _)) = &found {
                        return Err(fail_at(
                            &key,
                            format!(
                                "a body has exactly one kind, this one has `{first}` and `{key}`"
                            ),
                            format!("keep one: {BODY_HINT}"),
                        ));
                    }
                    let body = match key.as_str() {
                        "json" => BodyTemplate::Json(map.next_value()?),
                        "text" => BodyTemplate::Text(map.next_value()?),
                        "form" => BodyTemplate::Form(map.next_value()?),
                        _ => {
                            let text: String = map.next_value()?;
                            let bytes = BASE64.decode(text.trim().as_bytes()).map_err(|e| {
                                fail_at::<A::Error>(
                                    "base64",
                                    format!("`base64` is not valid base64: {e}"),
                                    "",
                                )
                            })?;
                            BodyTemplate::Base64(bytes)
                        }
                    };
                    found = Some((key, body));
                }
                found
                    .map(|(_, b)| b)
                    .ok_or_else(|| fail("the body is empty", BODY_HINT))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for JsonTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JsonTemplate, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonTemplate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<JsonTemplate, E> {
                Ok(JsonTemplate::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<JsonTemplate, E> {
                Ok(JsonTemplate::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<JsonTemplate, E> {
                Ok(JsonTemplate::Bool(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonTemplate, E> {
                Ok(JsonTemplate::Number(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonTemplate, E> {
                Ok(JsonTemplate::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonTemplate, E> {
                Number::from_f64(v)
                    .map(JsonTemplate::Number)
                    .ok_or_else(|| {
                        fail(
                            format!("`{v}` is not a JSON number"),
                            "quote it to send it as a string",
                        )
                    })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonTemplate, E> {
                Template::deserialize(de::IntoDeserializer::<E>::into_deserializer(v))
                    .map(JsonTemplate::String)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonTemplate, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(JsonTemplate::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonTemplate, A::Error> {
                let mut fields: Vec<(String, JsonTemplate)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value()?;
                    fields.push((key, value));
                }
                Ok(JsonTemplate::Object(fields))
            }
        }
        d.deserialize_any(V)
    }
}

/// Every template of a body with its field path (`body.json.items[0].id`), for validation.
pub(crate) fn body_templates<'a>(
    prefix: &str,
    body: &'a BodyTemplate,
    out: &mut Vec<(String, &'a Template)>,
) {
    fn walk<'a>(path: String, j: &'a JsonTemplate, out: &mut Vec<(String, &'a Template)>) {
        match j {
            JsonTemplate::String(t) => out.push((path, t)),
            JsonTemplate::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(format!("{path}[{i}]"), item, out);
                }
            }
            JsonTemplate::Object(fields) => {
                for (k, v) in fields {
                    walk(format!("{path}.{k}"), v, out);
                }
            }
            _ => {}
        }
    }
    match body {
        BodyTemplate::Json(j) => walk(format!("{prefix}.json"), j, out),
        BodyTemplate::Text(t) => out.push((format!("{prefix}.text"), t)),
        BodyTemplate::Form(fields) => {
            for (k, v) in fields {
                out.push((format!("{prefix}.form.{k}"), v));
            }
        }
        BodyTemplate::Base64(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(yaml: &str) -> BodyTemplate {
        serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    fn render(b: &BodyTemplate, vars: &[(&str, &str)]) -> String {
        let mut out = Vec::new();
        b.render(vars, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_bodies_render_compact_with_escaped_strings_and_key_order() {
        let b = body("{json: {z: 1, a: [true, null, -2.5, '{{ v }}'], m: {k: 'x{{ v }}'}}}");
        let text = render(&b, &[("v", "q\"\\\n\u{1}é")]);
        assert_eq!(
            text,
            r#"{"z":1,"a":[true,null,-2.5,"q\"\\\n\u0001é"],"m":{"k":"xq\"\\\n\u0001é"}}"#
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["a"][3], "q\"\\\n\u{1}é");
        assert_eq!(b.default_content_type(), Some("application/json"));
        assert!(!b.is_literal());
    }

    #[test]
    fn a_lone_typed_value_keeps_its_json_type() {
        struct Typed;
        impl Vars for Typed {
            fn get(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
                Some(match name {
                    "n" => "42".into(),
                    _ => "text".into(),
                })
            }
            fn is_json(&self, name: &str) -> bool {
                name == "n"
            }
        }
        let b = body("{json: {a: '{{ n }}', b: 'id-{{ n }}', c: '{{ s }}'}}");
        let mut out = Vec::new();
        b.render(&Typed, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":42,"b":"id-42","c":"text"}"#
        );
        // Plain variables stay strings.
        assert_eq!(
            render(&b, &[("n", "42"), ("s", "x")]),
            r#"{"a":"42","b":"id-42","c":"x"}"#
        );
    }

    #[test]
    fn a_lone_number_function_is_a_json_number() {
        let b = body(
            r#"{json: {t: '{{ random_int(7, 7) }}', s: '{{ "" + random_int(7, 7) }}', u: 'x{{ random_int(7, 7) }}'}}"#,
        );
        assert_eq!(render(&b, &[]), r#"{"t":7,"s":"7","u":"x7"}"#);
    }

    #[test]
    fn form_text_and_base64_bodies() {
        let b = body("{form: {user name: '{{ v }}', b: 'x&y=z'}}");
        assert_eq!(
            render(&b, &[("v", "a b+ü")]),
            "user+name=a+b%2B%C3%BC&b=x%26y%3Dz"
        );
        let b = body("{text: 'hello {{ v }}'}");
        assert_eq!(render(&b, &[("v", "there")]), "hello there");
        let b = body("{base64: AAEC/w==}");
        let mut out = Vec::new();
        b.render(&(), &mut out).unwrap();
        assert_eq!(out, vec![0, 1, 2, 255]);
        assert!(b.is_literal());
    }

    #[test]
    fn body_templates_are_listed_with_paths() {
        let b = body("{json: {a: ['{{ x }}', {b: '{{ y }}'}], n: 1}}");
        let mut out = Vec::new();
        body_templates("body", &b, &mut out);
        let paths: Vec<&str> = out.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["body.json.a[0]", "body.json.a[1].b"]);
        assert_eq!(JsonTemplate::from_value(&b_value()).to_value(), b_value());
    }

    fn b_value() -> Value {
        serde_json::json!({"k": ["x{", 1, null, {"x": false}]})
    }
}
