//! Rewriting recorded text into templates: each occurrence of a finding's value (raw,
//! percent-encoded or base64) becomes the expression that replaces it.

use base64::Engine as _;
use loadtape_format::scenario::JsonTemplate;
use loadtape_format::template::{Expr, Func, Part};
use loadtape_format::Template;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

/// What `encodeURIComponent` leaves alone; everything else is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Needles and the expressions replacing them, longest needle first so that a value inside a
/// longer one does not split it.
#[derive(Debug, Default, Clone)]
pub struct Subs {
    needles: Vec<(String, Expr)>,
}

impl Subs {
    /// Replaces `value` (and its percent-encoded form, with `url_encode`) by `expr`.
    pub fn add(&mut self, value: &str, expr: Expr) {
        let encoded = utf8_percent_encode(value, COMPONENT).to_string();
        if encoded != value {
            self.push(encoded, Expr::Call(Func::UrlEncode, vec![expr.clone()]));
        }
        self.push(value.to_string(), expr);
    }

    /// Replaces base64 of `value` by `base64(expr)`.
    pub fn add_base64(&mut self, value: &str, expr: Expr) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(value);
        self.add(&b64, Expr::Call(Func::Base64, vec![expr]));
    }

    fn push(&mut self, needle: String, expr: Expr) {
        if needle.is_empty() || self.needles.iter().any(|(n, _)| *n == needle) {
            return;
        }
        self.needles.push((needle, expr));
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.0.len()));
    }

    /// The text with every needle replaced.
    pub fn template(&self, text: &str) -> Template {
        let mut parts = Vec::new();
        let mut literal_start = 0;
        let mut i = 0;
        while i < text.len() {
            if !text.is_char_boundary(i) {
                i += 1;
                continue;
            }
            match self
                .needles
                .iter()
                .find(|(n, _)| text[i..].starts_with(n.as_str()))
            {
                Some((needle, expr)) => {
                    parts.push(Part::Literal(text[literal_start..i].to_string()));
                    parts.push(Part::Expr(expr.clone()));
                    i += needle.len();
                    literal_start = i;
                }
                None => i += 1,
            }
        }
        parts.push(Part::Literal(text[literal_start..].to_string()));
        Template::from_parts(parts)
    }

    /// A JSON body with needles replaced in its strings; a number equal to a needle becomes a
    /// string template (the format has no numeric templates).
    pub fn json(&self, v: &Value) -> JsonTemplate {
        match v {
            Value::String(s) => JsonTemplate::String(self.template(s)),
            Value::Number(n) => {
                let text = n.to_string();
                match self.needles.iter().find(|(needle, _)| *needle == text) {
                    Some((_, expr)) => {
                        JsonTemplate::String(Template::from_parts([Part::Expr(expr.clone())]))
                    }
                    None => JsonTemplate::Number(n.clone()),
                }
            }
            Value::Array(items) => {
                JsonTemplate::Array(items.iter().map(|i| self.json(i)).collect())
            }
            Value::Object(map) => {
                JsonTemplate::Object(map.iter().map(|(k, v)| (k.clone(), self.json(v))).collect())
            }
            other => JsonTemplate::from_value(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_raw_encoded_and_base64() {
        let mut s = Subs::default();
        s.add("ab+c/defgh", Expr::Var("tok".into()));
        s.add_base64("g1x0abcdef", Expr::Var("id".into()));
        let t = s.template("https://x/y?t=ab%2Bc%2Fdefgh&u=ab+c/defgh&b=ZzF4MGFiY2RlZg==");
        assert_eq!(
            t.to_string(),
            "https://x/y?t={{ url_encode(tok) }}&u={{ tok }}&b={{ base64(id) }}"
        );
        let j = s.json(&serde_json::json!({"a": "ab+c/defgh", "n": 5}));
        assert_eq!(j.to_value(), serde_json::json!({"a": "{{ tok }}", "n": 5}));
        assert_eq!(s.template("{{ x").as_literal(), Some("{{ x"));
    }
}
