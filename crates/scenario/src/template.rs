//! Templates: string values with `{{ expr }}` parts, compiled once when a scenario loads.
//!
//! ```text
//! Bearer {{ session }}
//! {{ md5(appid + ts + secret) }}
//! https://api.example.com/v1/order?ts={{ now_ms() }}&nonce={{ uuid() }}
//! ```
//!
//! An expression is a variable (`name`, or `users.code` for a data column), a string literal
//! (`'x'` or `"x"`, with `\\`, `\'`, `\"`, `\n`, `\t`, `\r` escapes), an integer literal, a call
//! of one of the built-in [`Func`]tions, or several of those joined by `+`, which always
//! concatenates strings (`1 + 2` is `12`).
//!
//! Parsing folds everything that is constant into literal text, so `{{ '{{' }}` (the way to
//! write a literal `{{`) and a template without `{{` both end up as plain [`Part::Literal`]s:
//! rendering them is a copy. [`Display`](std::fmt::Display) writes the canonical source back,
//! and `Template::parse(&t.to_string()) == Ok(t)` holds for every template, which is what lets
//! the scenario writer round-trip.
//!
//! Rendering ([`Template::render`]) appends to a caller's buffer and looks variables up through
//! the [`Vars`] trait; the literal and variable paths never allocate, and hash functions are fed
//! piece by piece, so `md5(a + b + c)` does not build the joined string either.

pub(crate) mod eval;
mod parse;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

pub use eval::{RenderError, Vars};

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What `url_encode` leaves alone: RFC 3986's unreserved characters.
const URL_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// What `form_encode` leaves alone besides the space (WHATWG's urlencoded serializer).
const FORM_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b' ');

/// `url_encode(s)`: the one definition, shared by the template function and by detection,
/// which must write the needle the function will reproduce.
pub fn url_encode(s: &str) -> String {
    utf8_percent_encode(s, URL_KEEP).to_string()
}

/// `form_encode(s)`: `application/x-www-form-urlencoded`, a space as `+`.
pub fn form_encode(s: &str) -> String {
    utf8_percent_encode(s, FORM_KEEP)
        .to_string()
        .replace(' ', "+")
}

/// `url_decode(s)`: percent-decoding with `+` as a space; invalid UTF-8 is replaced.
pub fn url_decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

/// A compiled template: literal text and expressions, in order.
///
/// Invariant (kept by every constructor): no two literals are adjacent, no literal is empty
/// and no expression is a constant. The parts are public to read (an engine may compile the
/// variable names to slots), and built only through [`Template::from_parts`], which restores
/// the invariant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Template {
    parts: Vec<Part>,
}

/// A piece of a [`Template`]: text copied as it is, or an expression evaluated when rendering.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Part {
    /// Text rendered unchanged (never empty, never next to another literal).
    Literal(String),
    /// A `{{ … }}` expression that is not constant (constant ones are folded into literals).
    Expr(Expr),
}

/// An expression inside `{{ … }}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    /// A variable, with a data column written as one dotted name (`users.code`).
    Var(String),
    /// A string literal (`'x'` or `"x"`), escapes already undone.
    Str(String),
    /// An integer literal, rendered in decimal.
    Int(i64),
    /// A call of a built-in function, with one expression per parameter.
    Call(Func, Vec<Expr>),
    /// `a + b + c`: the parts' text, joined. Always two parts or more.
    Concat(Vec<Expr>),
}

/// The built-in functions. Their names are reserved: they never need defining.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// Milliseconds since the Unix epoch.
    NowMs,
    /// Seconds since the Unix epoch.
    NowS,
    /// A random (version 4) UUID, lower-case with hyphens.
    Uuid,
    /// A random integer in `a..=b`.
    RandomInt,
    /// An environment variable of the loadtape process; unset is a render error.
    Env,
    /// Lower-case hex MD5 of the argument.
    Md5,
    /// Lower-case hex SHA-1 of the argument (home-made signatures still use it).
    Sha1,
    /// Lower-case hex SHA-256 of the argument.
    Sha256,
    /// Lower-case hex HMAC-SHA256 of the second argument, keyed by the first.
    HmacSha256,
    /// Standard base64 (with padding) of the argument's UTF-8 bytes.
    Base64,
    /// Percent-encoding of everything but RFC 3986's unreserved characters
    /// (`A-Z a-z 0-9 - _ . ~`), as `encodeURIComponent` does for most inputs.
    UrlEncode,
    /// `application/x-www-form-urlencoded` encoding (a space becomes `+`), as browsers encode
    /// form fields and Java's `URLEncoder` encodes anything.
    FormEncode,
    /// Percent-decoding, `+` read as a space: the inverse of both encodings above.
    UrlDecode,
    /// The argument in upper case (ASCII): WeChat Pay's `sign` is upper-case hex.
    Upper,
    /// The bytes a hex string spells, in standard base64: a digest's base64 form
    /// (`hex_to_base64(hmac_sha256(key, s))`), as many signing schemes send it.
    HexToBase64,
}

impl Func {
    /// Every function, in the order messages list them.
    pub const ALL: [Func; 15] = [
        Func::NowMs,
        Func::NowS,
        Func::Uuid,
        Func::RandomInt,
        Func::Env,
        Func::Md5,
        Func::Sha1,
        Func::Sha256,
        Func::HmacSha256,
        Func::Base64,
        Func::UrlEncode,
        Func::FormEncode,
        Func::UrlDecode,
        Func::Upper,
        Func::HexToBase64,
    ];

    /// The name a template calls it by (`now_ms`, `hmac_sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Func::NowMs => "now_ms",
            Func::NowS => "now_s",
            Func::Uuid => "uuid",
            Func::RandomInt => "random_int",
            Func::Env => "env",
            Func::Md5 => "md5",
            Func::Sha1 => "sha1",
            Func::Sha256 => "sha256",
            Func::HmacSha256 => "hmac_sha256",
            Func::Base64 => "base64",
            Func::UrlEncode => "url_encode",
            Func::FormEncode => "form_encode",
            Func::UrlDecode => "url_decode",
            Func::Upper => "upper",
            Func::HexToBase64 => "hex_to_base64",
        }
    }

    /// The parameter names, as shown in error messages; their count is the arity.
    pub fn params(self) -> &'static [&'static str] {
        match self {
            Func::NowMs | Func::NowS | Func::Uuid => &[],
            Func::RandomInt => &["a", "b"],
            Func::Env => &["name"],
            Func::Md5
            | Func::Sha1
            | Func::Upper
            | Func::HexToBase64
            | Func::Sha256
            | Func::Base64
            | Func::UrlEncode
            | Func::FormEncode
            | Func::UrlDecode => &["s"],
            Func::HmacSha256 => &["key", "s"],
        }
    }

    /// The function a template's call names; `None` when there is no such function.
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// `name(a, b)`, for messages.
    pub fn signature(self) -> String {
        format!("{}({})", self.name(), self.params().join(", "))
    }

    /// Every function's signature, comma-separated, for messages.
    pub fn known() -> String {
        Func::ALL
            .iter()
            .map(|f| f.signature())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A template that does not parse, with the byte offset in its source where the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// Byte offset in the template's source (not in the file) where the problem is.
    pub offset: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    /// The whole template as one expression (literal text as strings): what a function
    /// call over its rendering takes as its argument.
    pub fn as_expr(&self) -> Expr {
        Expr::concat(
            self.parts
                .iter()
                .map(|p| match p {
                    Part::Literal(s) => Expr::Str(s.clone()),
                    Part::Expr(e) => e.clone(),
                })
                .collect(),
        )
    }

    /// Compiles a template. A string without `{{` is a literal, whatever else it holds.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        if !source.contains("{{") {
            return Ok(Template::literal(source));
        }
        parse::parse(source).map(Template::from_parts)
    }

    /// A template whose text is exactly `text`, `{{` included (it is escaped when displayed).
    pub fn literal(text: impl Into<String>) -> Template {
        let text = text.into();
        if text.is_empty() {
            return Template::default();
        }
        Template {
            parts: vec![Part::Literal(text)],
        }
    }

    /// A template of one variable, `{{ name }}`.
    pub fn var(name: impl Into<String>) -> Template {
        Template {
            parts: vec![Part::Expr(Expr::Var(name.into()))],
        }
    }

    /// Builds a template from parts, folding constants and joining adjacent literals.
    pub fn from_parts(parts: impl IntoIterator<Item = Part>) -> Template {
        let mut out: Vec<Part> = Vec::new();
        for part in parts {
            let part = match part {
                Part::Expr(e) => match fold(e) {
                    Expr::Str(s) => Part::Literal(s),
                    Expr::Int(i) => Part::Literal(i.to_string()),
                    e => Part::Expr(e),
                },
                literal => literal,
            };
            match (out.last_mut(), part) {
                (_, Part::Literal(s)) if s.is_empty() => {}
                (Some(Part::Literal(prev)), Part::Literal(s)) => prev.push_str(&s),
                (_, part) => out.push(part),
            }
        }
        Template { parts: out }
    }

    /// The parts in order, for an engine to compile (see the invariant above).
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// No expressions: rendering always gives [`Template::as_literal`].
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// The text of a literal template (`""` for the empty one), `None` when it has expressions.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Literal(s)] => Some(s),
            _ => None,
        }
    }

    /// The variables referenced, in order of first use, each once (dotted data columns as one
    /// name). Function names are not variables; an `env("X")` read is not one either.
    pub fn variables(&self) -> Vec<&str> {
        let mut names = Vec::new();
        for part in &self.parts {
            if let Part::Expr(e) = part {
                collect_vars(e, &mut names);
            }
        }
        names
    }

    /// The environment variables `env("NAME")` reads with a literal name, so that a run can
    /// check before it starts that each is set (a missing one fails every render).
    pub fn env_names(&self) -> Vec<&str> {
        fn collect<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
            match e {
                Expr::Call(Func::Env, args) if matches!(args.as_slice(), [Expr::Str(_)]) => {
                    out.extend(args.iter().filter_map(|a| match a {
                        Expr::Str(name) => Some(name.as_str()),
                        _ => None,
                    }));
                }
                Expr::Call(_, args) | Expr::Concat(args) => {
                    args.iter().for_each(|a| collect(a, out));
                }
                Expr::Var(_) | Expr::Str(_) | Expr::Int(_) => {}
            }
        }
        let mut out = Vec::new();
        for part in &self.parts {
            if let Part::Expr(e) = part {
                collect(e, &mut out);
            }
        }
        out
    }

    /// Whether rendering can give a different text each time (clock, randomness), so the result
    /// must not be cached even when every variable is unchanged.
    pub fn is_volatile(&self) -> bool {
        fn volatile(e: &Expr) -> bool {
            match e {
                Expr::Call(f, args) => {
                    matches!(f, Func::NowMs | Func::NowS | Func::Uuid | Func::RandomInt)
                        || args.iter().any(volatile)
                }
                Expr::Concat(items) => items.iter().any(volatile),
                _ => false,
            }
        }
        self.parts.iter().any(|p| match p {
            Part::Expr(e) => volatile(e),
            Part::Literal(_) => false,
        })
    }
}

fn collect_vars<'a>(e: &'a Expr, names: &mut Vec<&'a str>) {
    match e {
        Expr::Var(name) => {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        Expr::Call(_, args) | Expr::Concat(args) => {
            for a in args {
                collect_vars(a, names);
            }
        }
        Expr::Str(_) | Expr::Int(_) => {}
    }
}

/// Folds constant runs of a concatenation (and constant arguments) into string literals, and
/// flattens nested concatenations, so that equal texts have one form.
fn fold(e: Expr) -> Expr {
    match e {
        Expr::Call(f, args) => Expr::Call(f, args.into_iter().map(fold).collect()),
        Expr::Concat(items) => {
            let mut flat = Vec::with_capacity(items.len());
            flatten(items, &mut flat);
            let mut out: Vec<Expr> = Vec::with_capacity(flat.len());
            for item in flat {
                match (out.last_mut(), item) {
                    (
                        Some(prev @ (Expr::Str(_) | Expr::Int(_))),
                        next @ (Expr::Str(_) | Expr::Int(_)),
                    ) => {
                        let mut s = const_text(prev).into_owned();
                        s.push_str(&const_text(&next));
                        *prev = Expr::Str(s);
                    }
                    (_, item) => out.push(item),
                }
            }
            // An empty string adds nothing to a concatenation of other things, except to a lone
            // number-making call: `"" + now_ms()` is how a JSON body asks for it as a string.
            let numeric =
                |e: &Expr| matches!(e, Expr::Call(Func::NowMs | Func::NowS | Func::RandomInt, _));
            let keeps_string = out.len() == 2
                && matches!(&out[0], Expr::Str(s) if s.is_empty())
                && numeric(&out[1]);
            if out.len() > 1 && !keeps_string {
                out.retain(|e| !matches!(e, Expr::Str(s) if s.is_empty()));
            }
            match out.len() {
                0 => Expr::Str(String::new()),
                1 => out.pop().unwrap_or(Expr::Str(String::new())),
                _ => Expr::Concat(out),
            }
        }
        e => e,
    }
}

fn flatten(items: Vec<Expr>, out: &mut Vec<Expr>) {
    for item in items {
        match fold(item) {
            Expr::Concat(inner) => flatten(inner, out),
            other => out.push(other),
        }
    }
}

fn const_text(e: &Expr) -> Cow<'_, str> {
    match e {
        Expr::Str(s) => Cow::Borrowed(s),
        Expr::Int(i) => Cow::Owned(i.to_string()),
        _ => Cow::Borrowed(""),
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Literal(text) => {
                    let expr_follows = matches!(self.parts.get(i + 1), Some(Part::Expr(_)));
                    write_literal(f, text, expr_follows)?;
                }
                Part::Expr(e) => write!(f, "{{{{ {e} }}}}")?,
            }
        }
        Ok(())
    }
}

/// Writes literal text so that it parses back as itself: a `{` that would open an expression
/// (another `{` after it, or an expression right after the text) is written as `{{ "{" }}`.
fn write_literal(f: &mut fmt::Formatter<'_>, text: &str, expr_follows: bool) -> fmt::Result {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let opens = b == b'{'
            && match bytes.get(i + 1) {
                Some(&next) => next == b'{',
                None => expr_follows,
            };
        if opens {
            f.write_str(&text[start..i])?;
            f.write_str("{{ \"{\" }}")?;
            start = i + 1;
        }
    }
    f.write_str(&text[start..])
}

impl Expr {
    /// `items` joined as one expression: the empty string, the one item, or their
    /// [`Expr::Concat`] (which holds two or more).
    pub fn concat(mut items: Vec<Expr>) -> Expr {
        match items.len() {
            0 => Expr::Str(String::new()),
            1 => items.remove(0),
            _ => Expr::Concat(items),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Var(name) => f.write_str(name),
            Expr::Int(i) => write!(f, "{i}"),
            Expr::Str(s) => {
                // Double quotes as in `env("NAME")`, unless the text has `"` and no `'`.
                let q = if s.contains('"') && !s.contains('\'') {
                    '\''
                } else {
                    '"'
                };
                write!(f, "{q}")?;
                for c in s.chars() {
                    match c {
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\r' => f.write_str("\\r")?,
                        '\t' => f.write_str("\\t")?,
                        c if c == q => write!(f, "\\{q}")?,
                        c => write!(f, "{c}")?,
                    }
                }
                write!(f, "{q}")
            }
            Expr::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            Expr::Concat(items) => {
                for (i, a) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" + ")?;
                    }
                    write!(f, "{a}")?;
                }
                Ok(())
            }
        }
    }
}

/// Whether `name` can be used as a variable (or data source) name in a template: an ASCII
/// letter or `_`, then letters, digits and `_`.
pub fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl std::str::FromStr for Template {
    type Err = TemplateError;

    fn from_str(s: &str) -> Result<Template, TemplateError> {
        Template::parse(s)
    }
}
