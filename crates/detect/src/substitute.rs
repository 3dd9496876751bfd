//! Rewriting recorded text into templates: each occurrence of a finding's value (raw,
//! percent-encoded or base64) becomes the expression that replaces it.

use base64::Engine as _;
use loadtape_scenario::template::{form_encode, url_decode, url_encode, Expr, Func, Part};
use loadtape_scenario::JsonTemplate;
use loadtape_scenario::Template;
use serde_json::Value;

use crate::finding::Encoding;
use crate::shape::MIN_LEN;

/// Needles and the expressions replacing them, longest needle first so that a value inside a
/// longer one does not split it. A needle shorter than a candidate (a short id) is replaced
/// only where it stands alone, never inside a longer run of letters and digits (`1330` in
/// `posts/1330`, not in `16981330`).
#[derive(Debug, Default, Clone)]
pub(crate) struct Subs {
    needles: Vec<(String, Expr)>,
}

impl Subs {
    /// Replaces `value`, and its percent- and form-encoded forms, by `expr` (wrapped in the
    /// function that encodes it the same way).
    pub(crate) fn add(&mut self, value: &str, expr: Expr) {
        for (encoded, func) in [
            (url_encode(value), Func::UrlEncode),
            (form_encode(value), Func::FormEncode),
        ] {
            if encoded != value {
                self.push(encoded, Expr::Call(func, vec![expr.clone()]));
            }
        }
        self.push(value.to_string(), expr);
    }

    /// Replaces what a use sends of `value` through its layer by `expr` through the same.
    pub(crate) fn add_layered(&mut self, value: &str, encoding: Encoding, expr: Expr) {
        let wrap = |f: Func| Expr::Call(f, vec![expr.clone()]);
        match encoding {
            Encoding::Plain => self.add(value, expr),
            Encoding::Base64 => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(value);
                self.add(&b64, wrap(Func::Base64));
            }
            Encoding::UrlDecoded => self.add(&url_decode(value), wrap(Func::UrlDecode)),
            Encoding::UrlEncoded => self.push(url_encode(value), wrap(Func::UrlEncode)),
            Encoding::FormEncoded => self.push(form_encode(value), wrap(Func::FormEncode)),
        }
    }

    fn push(&mut self, needle: String, expr: Expr) {
        if needle.is_empty() || self.needles.iter().any(|(n, _)| *n == needle) {
            return;
        }
        self.needles.push((needle, expr));
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.0.len()));
    }

    /// Whether `needle` may be replaced at `i` of `text`: a short one only standing alone.
    fn fits(text: &str, i: usize, needle: &str) -> bool {
        if needle.len() >= MIN_LEN {
            return true;
        }
        let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        !alnum(text[..i].chars().next_back()) && !alnum(text[i + needle.len()..].chars().next())
    }

    /// The text with every needle replaced.
    pub(crate) fn template(&self, text: &str) -> Template {
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
                .find(|(n, _)| text[i..].starts_with(n.as_str()) && Self::fits(text, i, n))
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
    pub(crate) fn json(&self, v: &Value) -> JsonTemplate {
        match v {
            Value::String(s) => {
                let t = self.template(s);
                // A recorded string stays a string: a lone `now_ms()` would render a number.
                match t.parts() {
                    [Part::Expr(e @ Expr::Call(Func::NowMs | Func::NowS | Func::RandomInt, _))] => {
                        JsonTemplate::String(Template::from_parts([Part::Expr(Expr::Concat(
                            vec![Expr::Str(String::new()), e.clone()],
                        ))]))
                    }
                    _ => JsonTemplate::String(t),
                }
            }
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
        s.add_layered("g1x0abcdef", Encoding::Base64, Expr::Var("id".into()));
        let t = s.template("https://x/y?t=ab%2Bc%2Fdefgh&u=ab+c/defgh&b=ZzF4MGFiY2RlZg==");
        assert_eq!(
            t.to_string(),
            "https://x/y?t={{ url_encode(tok) }}&u={{ tok }}&b={{ base64(id) }}"
        );
        let mut short = Subs::default();
        short.add("1330", Expr::Var("post".into()));
        assert_eq!(
            short
                .template("/posts/1330?x=16981330&p=post-1330")
                .to_string(),
            "/posts/{{ post }}?x=16981330&p=post-{{ post }}"
        );
        let mut layers = Subs::default();
        layers.add_layered("%26a+b%3Dc", Encoding::UrlDecoded, Expr::Var("e".into()));
        layers.add_layered("&x y=z", Encoding::FormEncoded, Expr::Var("d".into()));
        assert_eq!(
            layers.template("&a b=c|%26x+y%3Dz").to_string(),
            "{{ url_decode(e) }}|{{ form_encode(d) }}"
        );
        let j = s.json(&serde_json::json!({"a": "ab+c/defgh", "n": 5}));
        assert_eq!(j.to_value(), serde_json::json!({"a": "{{ tok }}", "n": 5}));
        assert_eq!(s.template("{{ x").as_literal(), Some("{{ x"));
    }
}
