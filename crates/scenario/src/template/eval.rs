//! Rendering templates against the caller's variables.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::hash::BuildHasher;

use base64::Engine as _;
use md5::Digest as _;

use super::{Expr, Func, Part, Template};

/// Where a template's variables come from. A data column is asked for by its dotted name
/// (`users.code`). Returning borrowed text keeps rendering free of allocation.
pub trait Vars {
    /// The value of `name` as text; `None` when it has none, which makes rendering fail with
    /// [`RenderError::MissingVariable`].
    fn get(&self, name: &str) -> Option<Cow<'_, str>>;

    /// Whether the value of `name` is JSON text of a non-string (a number, `true`, an object:
    /// what a `json` extractor took from a typed field). A JSON body leaf that is exactly
    /// `'{{ name }}'` then renders it with its type (`{"goods": 42}`, not `{"goods": "42"}`),
    /// so a replay sends what the recorded client sent. Default: plain text.
    fn is_json(&self, _name: &str) -> bool {
        false
    }
}

impl<T: Vars + ?Sized> Vars for &T {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        (**self).get(name)
    }

    fn is_json(&self, name: &str) -> bool {
        (**self).is_json(name)
    }
}

impl<S: BuildHasher> Vars for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        HashMap::get(self, name).map(|v| Cow::Borrowed(v.as_str()))
    }
}

impl<S: BuildHasher> Vars for HashMap<&str, &str, S> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        HashMap::get(self, name).map(|v| Cow::Borrowed(*v))
    }
}

impl Vars for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        BTreeMap::get(self, name).map(|v| Cow::Borrowed(v.as_str()))
    }
}

impl<S: BuildHasher> Vars for indexmap::IndexMap<String, String, S> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        indexmap::IndexMap::get(self, name).map(|v| Cow::Borrowed(v.as_str()))
    }
}

/// Pairs searched in order: handy in tests and for a handful of values.
impl Vars for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| Cow::Borrowed(*v))
    }
}

impl<const N: usize> Vars for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        Vars::get(self.as_slice(), name)
    }
}

/// No variables at all.
impl Vars for () {
    fn get(&self, _name: &str) -> Option<Cow<'_, str>> {
        None
    }
}

/// Why a template could not be rendered. Parsing already rules out everything static, so what
/// is left depends on the run: a value that is not there, or not a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A variable or data column the template uses has no value (the name is given).
    #[error("variable `{0}` has no value")]
    MissingVariable(String),
    /// `env("NAME")` names a variable that is not set in loadtape's environment.
    #[error("environment variable `{0}` is not set")]
    MissingEnv(String),
    /// A function that takes integers got text that is not one.
    #[error("{function}() needs whole numbers, got `{value}`")]
    NotAnInteger {
        /// The function called (`random_int`).
        function: &'static str,
        /// The argument as it rendered.
        value: String,
    },
    /// `hex_to_base64(s)` of something that is not hex digits.
    #[error("hex_to_base64 takes hex digits (a digest), not `{value}`")]
    NotHex {
        /// The argument as it rendered.
        value: String,
    },
    /// `random_int(a, b)` with `a` greater than `b`: there is no integer to pick.
    #[error("random_int({low}, {high}) is empty: the first bound exceeds the second")]
    EmptyRange {
        /// The first bound, as rendered.
        low: i64,
        /// The second bound, as rendered.
        high: i64,
    },
}

/// Anything rendered text can be fed to: a buffer, or a hash being computed.
pub(crate) trait Sink {
    fn put(&mut self, s: &str);
}

impl Sink for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
}

struct Md5Sink(md5::Md5);
impl Sink for Md5Sink {
    fn put(&mut self, s: &str) {
        self.0.update(s.as_bytes());
    }
}

struct DigestSink(ring::digest::Context);
impl Sink for DigestSink {
    fn put(&mut self, s: &str) {
        self.0.update(s.as_bytes());
    }
}

struct HmacSink(ring::hmac::Context);
impl Sink for HmacSink {
    fn put(&mut self, s: &str) {
        self.0.update(s.as_bytes());
    }
}

/// Lets `write!` format numbers straight into a sink.
struct FmtSink<'a>(&'a mut dyn Sink);
impl std::fmt::Write for FmtSink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.put(s);
        Ok(())
    }
}

impl Template {
    /// Appends the rendered text to `out`. On error `out` may hold part of the text.
    pub fn render(&self, vars: &(impl Vars + ?Sized), out: &mut String) -> Result<(), RenderError> {
        self.render_into(&vars, out)
    }

    /// As [`Template::render`], for a body buffer.
    pub fn render_bytes(
        &self,
        vars: &(impl Vars + ?Sized),
        out: &mut Vec<u8>,
    ) -> Result<(), RenderError> {
        self.render_into(&vars, out)
    }

    /// Renders into a new string; borrows the text of a literal template.
    pub fn render_to_string(
        &self,
        vars: &(impl Vars + ?Sized),
    ) -> Result<Cow<'_, str>, RenderError> {
        if let Some(text) = self.as_literal() {
            return Ok(Cow::Borrowed(text));
        }
        let mut out = String::new();
        self.render(vars, &mut out)?;
        Ok(Cow::Owned(out))
    }

    pub(crate) fn render_into(
        &self,
        vars: &dyn Vars,
        out: &mut dyn Sink,
    ) -> Result<(), RenderError> {
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.put(text),
                Part::Expr(e) => eval(e, vars, out)?,
            }
        }
        Ok(())
    }
}

fn eval(e: &Expr, vars: &dyn Vars, out: &mut dyn Sink) -> Result<(), RenderError> {
    match e {
        Expr::Var(name) => {
            let value = vars
                .get(name)
                .ok_or_else(|| RenderError::MissingVariable(name.clone()))?;
            out.put(&value);
        }
        Expr::Str(s) => out.put(s),
        Expr::Int(i) => {
            let _ = write!(FmtSink(out), "{i}");
        }
        Expr::Concat(items) => {
            for item in items {
                eval(item, vars, out)?;
            }
        }
        Expr::Call(func, args) => call(*func, args, vars, out)?,
    }
    Ok(())
}

fn call(func: Func, args: &[Expr], vars: &dyn Vars, out: &mut dyn Sink) -> Result<(), RenderError> {
    let arg = |i: usize| args.get(i).unwrap_or(&Expr::Int(0));
    match func {
        Func::NowMs => {
            let _ = write!(FmtSink(out), "{}", since_epoch().as_millis());
        }
        Func::NowS => {
            let _ = write!(FmtSink(out), "{}", since_epoch().as_secs());
        }
        Func::Uuid => {
            let bytes = fastrand::u128(..).to_le_bytes();
            let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
            let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
            out.put(id.hyphenated().encode_lower(&mut buf));
        }
        Func::RandomInt => {
            let low = integer(arg(0), vars)?;
            let high = integer(arg(1), vars)?;
            if low > high {
                return Err(RenderError::EmptyRange { low, high });
            }
            let _ = write!(FmtSink(out), "{}", fastrand::i64(low..=high));
        }
        Func::Env => {
            let name = text(arg(0), vars)?;
            let value = std::env::var(&name).map_err(|_| RenderError::MissingEnv(name.clone()))?;
            out.put(&value);
        }
        Func::Md5 => {
            let mut h = Md5Sink(md5::Md5::new());
            eval(arg(0), vars, &mut h)?;
            hex(&h.0.finalize(), out);
        }
        Func::Sha1 => {
            let mut h = DigestSink(ring::digest::Context::new(
                &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            ));
            eval(arg(0), vars, &mut h)?;
            hex(h.0.finish().as_ref(), out);
        }
        Func::Sha256 => {
            let mut h = DigestSink(ring::digest::Context::new(&ring::digest::SHA256));
            eval(arg(0), vars, &mut h)?;
            hex(h.0.finish().as_ref(), out);
        }
        Func::HmacSha256 => {
            let key = text(arg(0), vars)?;
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
            let mut h = HmacSink(ring::hmac::Context::with_key(&key));
            eval(arg(1), vars, &mut h)?;
            hex(h.0.sign().as_ref(), out);
        }
        Func::Base64 => {
            let s = text(arg(0), vars)?;
            let mut encoded = String::with_capacity(s.len() * 4 / 3 + 4);
            loadtape_recording::body::BASE64.encode_string(s.as_bytes(), &mut encoded);
            out.put(&encoded);
        }
        Func::UrlEncode => out.put(&super::url_encode(&text(arg(0), vars)?)),
        Func::FormEncode => out.put(&super::form_encode(&text(arg(0), vars)?)),
        Func::UrlDecode => out.put(&super::url_decode(&text(arg(0), vars)?)),
        Func::Upper => out.put(&text(arg(0), vars)?.to_ascii_uppercase()),
        Func::HexToBase64 => {
            let s = text(arg(0), vars)?;
            let bytes = unhex(&s).ok_or(RenderError::NotHex { value: s })?;
            let mut encoded = String::with_capacity(bytes.len() * 4 / 3 + 4);
            loadtape_recording::body::BASE64.encode_string(&bytes, &mut encoded);
            out.put(&encoded);
        }
    }
    Ok(())
}

fn since_epoch() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// An argument's full text (for the functions that need all of it at once).
fn text(e: &Expr, vars: &dyn Vars) -> Result<String, RenderError> {
    if let Expr::Str(s) = e {
        return Ok(s.clone());
    }
    let mut s = String::new();
    eval(e, vars, &mut s)?;
    Ok(s)
}

fn integer(e: &Expr, vars: &dyn Vars) -> Result<i64, RenderError> {
    if let Expr::Int(i) = e {
        return Ok(*i);
    }
    let s = text(e, vars)?;
    s.trim()
        .parse::<i64>()
        .map_err(|_| RenderError::NotAnInteger {
            function: "random_int",
            value: s,
        })
}

/// The bytes of an even-length hex string (either case); `None` for anything else.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hex(bytes: &[u8], out: &mut dyn Sink) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 128];
    let mut n = 0;
    for &b in bytes.iter().take(64) {
        buf[n] = DIGITS[(b >> 4) as usize];
        buf[n + 1] = DIGITS[(b & 0xf) as usize];
        n += 2;
    }
    // Only ASCII hex digits were written.
    out.put(std::str::from_utf8(&buf[..n]).unwrap_or_default());
}
