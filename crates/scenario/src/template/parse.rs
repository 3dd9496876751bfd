//! The template parser: literal text, and `{{ expr }}` parsed by recursive descent over bytes.

use super::{Expr, Func, Part, TemplateError};

/// How deep function calls may nest (`md5(upper(trim(x)))` is 3). Parsing, rendering and
/// dropping an expression recurse once per level on a VU's stack; a real template nests a
/// few levels, so the bound costs nothing and a hostile one (`md5(` × 2,000) is refused here
/// instead of overflowing a worker's stack mid-run.
pub(super) const MAX_NESTING: usize = 32;

/// Parses `source` into parts (not yet folded; [`super::Template::from_parts`] does that).
pub(super) fn parse(source: &str) -> Result<Vec<Part>, TemplateError> {
    let mut parts = Vec::new();
    let mut rest_start = 0;
    while let Some(found) = source[rest_start..].find("{{") {
        let open = rest_start + found;
        if open > rest_start {
            parts.push(Part::Literal(source[rest_start..open].to_string()));
        }
        let mut p = Parser {
            src: source,
            pos: open + 2,
            open,
            depth: 0,
        };
        let expr = p.expression()?;
        p.close()?;
        parts.push(Part::Expr(expr));
        rest_start = p.pos;
    }
    if rest_start < source.len() {
        parts.push(Part::Literal(source[rest_start..].to_string()));
    }
    Ok(parts)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    /// Where the `{{` of the expression being parsed is.
    open: usize,
    /// Calls open around the current position (bounded by [`MAX_NESTING`]).
    depth: usize,
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError {
        offset,
        message: message.into(),
    })
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn at_close(&self) -> bool {
        self.src[self.pos..].starts_with("}}")
    }

    /// What is at the current position, for "expected X, found Y" messages.
    fn found(&self) -> String {
        if self.pos >= self.src.len() {
            return "the end of the text".into();
        }
        if self.at_close() {
            return "`}}`".into();
        }
        let c = self.src[self.pos..].chars().next().unwrap_or(' ');
        format!("`{c}`")
    }

    fn unclosed<T>(&self) -> Result<T, TemplateError> {
        err(
            self.open,
            "unclosed `{{`: end the expression with `}}` (write a literal `{{` as `{{ '{{' }}`)",
        )
    }

    /// Consumes the closing `}}`.
    fn close(&mut self) -> Result<(), TemplateError> {
        self.skip_ws();
        if self.at_close() {
            self.pos += 2;
            return Ok(());
        }
        if self.pos >= self.src.len() {
            return self.unclosed();
        }
        err(
            self.pos,
            format!(
                "expected `+` or `}}}}`, found {} (join values with `+`)",
                self.found()
            ),
        )
    }

    /// `term ('+' term)*`
    fn expression(&mut self) -> Result<Expr, TemplateError> {
        self.skip_ws();
        if self.at_close() {
            return err(
                self.pos,
                "empty expression: put a variable, a string or a function call between `{{` and `}}`",
            );
        }
        let first = self.term()?;
        let mut items = vec![first];
        loop {
            self.skip_ws();
            if self.peek() != Some(b'+') {
                break;
            }
            self.pos += 1;
            self.skip_ws();
            items.push(self.term()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::Str(String::new()))
        } else {
            Expr::Concat(items)
        })
    }

    fn term(&mut self) -> Result<Expr, TemplateError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None => self.unclosed(),
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                let name = self.name();
                self.skip_ws();
                if self.peek() == Some(b'(') {
                    self.pos += 1;
                    self.call(name, start)
                } else {
                    Ok(Expr::Var(name.to_string()))
                }
            }
            Some(_) => err(
                start,
                format!(
                    "expected a variable, a 'string', a number or a function call, found {}",
                    self.found()
                ),
            ),
        }
    }

    /// `name` or `a.b.c`.
    fn name(&mut self) -> &'a str {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        while self.pos < bytes.len() {
            let b = bytes[self.pos];
            let part_start = self.pos == start || bytes[self.pos - 1] == b'.';
            let ok = b.is_ascii_alphanumeric() || b == b'_';
            if ok
                || (b == b'.'
                    && !part_start
                    && bytes
                        .get(self.pos + 1)
                        .is_some_and(|n| n.is_ascii_alphanumeric() || *n == b'_'))
            {
                self.pos += 1;
            } else {
                break;
            }
        }
        &self.src[start..self.pos]
    }

    /// The arguments of a call to `func`, after its `(`, through its `)`.
    fn arguments(&mut self, func: Func) -> Result<Vec<Expr>, TemplateError> {
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                if self.at_close() || self.pos >= self.src.len() {
                    let what = match func.params().get(args.len()) {
                        Some(p) => format!("expected argument `{p}` of {}", func.signature()),
                        None => format!("expected `)` to end {}", func.signature()),
                    };
                    if self.pos >= self.src.len() {
                        return self.unclosed();
                    }
                    return err(self.pos, format!("{what}, found {}", self.found()));
                }
                args.push(self.expression()?);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    None => return self.unclosed(),
                    Some(_) => {
                        return err(
                            self.pos,
                            format!(
                                "expected `,` or `)` in {}, found {}",
                                func.signature(),
                                self.found()
                            ),
                        )
                    }
                }
            }
        }
        Ok(args)
    }

    fn call(&mut self, name: &str, start: usize) -> Result<Expr, TemplateError> {
        let Some(func) = Func::from_name(name) else {
            let near = Func::ALL
                .iter()
                .map(|f| f.name())
                .filter(|f| strsim::levenshtein(f, name) <= 2)
                .map(|f| format!("did you mean `{f}`? "))
                .next()
                .unwrap_or_default();
            return err(
                start,
                format!(
                    "unknown function `{name}`; {near}the functions are {}",
                    Func::known()
                ),
            );
        };
        if self.depth == MAX_NESTING {
            return err(
                start,
                format!(
                    "function calls nested more than {MAX_NESTING} deep: compute the value in \
                     `variables:` step by step instead"
                ),
            );
        }
        self.depth += 1;
        let args = self.arguments(func)?;
        self.depth -= 1;
        let want = func.params().len();
        if args.len() != want {
            let plural = if want == 1 { "" } else { "s" };
            return err(
                start,
                format!(
                    "{} takes {want} argument{plural}, got {}",
                    func.signature(),
                    args.len()
                ),
            );
        }
        if let (Func::RandomInt, [Expr::Int(a), Expr::Int(b)]) = (func, args.as_slice()) {
            if a > b {
                return err(
                    start,
                    format!(
                        "random_int({a}, {b}) is empty: the first bound must not exceed the second"
                    ),
                );
            }
        }
        Ok(Expr::Call(func, args))
    }

    fn string(&mut self, quote: u8) -> Result<Expr, TemplateError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.src[self.pos..].chars().next() else {
                return err(start, "unclosed string: end it with its opening quote");
            };
            self.pos += c.len_utf8();
            match c {
                c if c as u32 == quote as u32 => return Ok(Expr::Str(out)),
                '\\' => {
                    let esc_at = self.pos - 1;
                    let Some(e) = self.src[self.pos..].chars().next() else {
                        return err(start, "unclosed string: end it with its opening quote");
                    };
                    self.pos += e.len_utf8();
                    out.push(match e {
                        '\\' => '\\',
                        '\'' => '\'',
                        '"' => '"',
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => {
                            return err(
                                esc_at,
                                format!("unknown escape `\\{other}`; the escapes are \\\\ \\' \\\" \\n \\t \\r"),
                            )
                        }
                    });
                }
                c => out.push(c),
            }
        }
    }

    fn integer(&mut self) -> Result<Expr, TemplateError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        if matches!(self.peek(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b'.') {
            return err(
                start,
                "a name cannot start with a digit, and numbers are whole (quote other text: '1.5')",
            );
        }
        text.parse::<i64>().map(Expr::Int).or_else(|_| {
            err(
                start,
                format!(
                    "`{text}` is not an integer that fits in 64 bits (quote it to use it as text)"
                ),
            )
        })
    }
}
