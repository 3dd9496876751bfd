//! Renaming the variables templates use, for a tool that puts the parts of several scenarios
//! into one (`loadtape convert a.yaml b.yaml`): two flows may each have an `appid`, and the
//! second one's must then become another name everywhere it is read.
//!
//! A data column is renamed by its source (`users` → `b_users` turns `users.code` into
//! `b_users.code`).

use std::collections::HashMap;

use super::body::{BodyTemplate, JsonTemplate};
use super::checks::Expiry;
use super::template::{Expr, Part, Template};
use super::{RequestTemplate, Step, TokenStep};

/// Old name → new name. A dotted name (`users.code`) is looked up whole, then by its source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renames(HashMap<String, String>);

impl Renames {
    /// No renames.
    pub fn new() -> Renames {
        Renames::default()
    }

    /// `from` is to be read as `to` from now on.
    pub fn add(&mut self, from: impl Into<String>, to: impl Into<String>) {
        self.0.insert(from.into(), to.into());
    }

    /// Nothing is renamed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The new name of `name`, or `name` itself.
    pub fn name(&self, name: &str) -> String {
        if let Some(to) = self.0.get(name) {
            return to.clone();
        }
        match name.split_once('.') {
            Some((source, column)) => match self.0.get(source) {
                Some(to) => format!("{to}.{column}"),
                None => name.to_string(),
            },
            None => name.to_string(),
        }
    }

    /// `t` reading the new names.
    pub fn template(&self, t: &Template) -> Template {
        if self.is_empty() || t.is_literal() {
            return t.clone();
        }
        Template::from_parts(t.parts().iter().map(|p| match p {
            Part::Expr(e) => Part::Expr(self.expr(e)),
            literal => literal.clone(),
        }))
    }

    fn expr(&self, e: &Expr) -> Expr {
        match e {
            Expr::Var(name) => Expr::Var(self.name(name)),
            Expr::Call(f, args) => Expr::Call(*f, args.iter().map(|a| self.expr(a)).collect()),
            Expr::Concat(parts) => Expr::Concat(parts.iter().map(|a| self.expr(a)).collect()),
            other => other.clone(),
        }
    }

    /// Every template of a request renamed.
    pub fn request(&self, r: &mut RequestTemplate) {
        r.url = self.template(&r.url);
        for (_, v) in &mut r.headers {
            *v = self.template(v);
        }
        if let Some(b) = &mut r.body {
            self.body(b);
        }
    }

    fn body(&self, b: &mut BodyTemplate) {
        match b {
            BodyTemplate::Json(j) => self.json(j),
            BodyTemplate::Text(t) => *t = self.template(t),
            BodyTemplate::Form(fields) => {
                for v in fields.values_mut() {
                    *v = self.template(v);
                }
            }
            BodyTemplate::Base64(_) => {}
        }
    }

    fn json(&self, j: &mut JsonTemplate) {
        match j {
            JsonTemplate::String(t) => *t = self.template(t),
            JsonTemplate::Array(items) => items.iter_mut().for_each(|i| self.json(i)),
            JsonTemplate::Object(fields) => fields.iter_mut().for_each(|(_, v)| self.json(v)),
            _ => {}
        }
    }

    /// A step's request and the names it extracts.
    pub fn step(&self, s: &mut Step) {
        s.vars = std::mem::take(&mut s.vars)
            .into_iter()
            .map(|(k, t)| (self.name(&k), self.template(&t)))
            .collect();
        self.request(&mut s.request);
        s.extract = std::mem::take(&mut s.extract)
            .into_iter()
            .map(|(k, v)| (self.name(&k), v))
            .collect();
    }

    /// A token step's request, the names it extracts and its `expires_in`.
    pub fn token(&self, t: &mut TokenStep) {
        t.vars = std::mem::take(&mut t.vars)
            .into_iter()
            .map(|(k, v)| (self.name(&k), self.template(&v)))
            .collect();
        self.request(&mut t.request);
        t.extract = std::mem::take(&mut t.extract)
            .into_iter()
            .map(|(k, v)| (self.name(&k), v))
            .collect();
        if let Some(Expiry::Template(e)) = &mut t.expires_in {
            *e = self.template(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_data_columns_and_nested_calls_are_renamed() {
        let mut r = Renames::new();
        r.add("appid", "b_appid");
        r.add("users", "b_users");
        let t = Template::parse("x{{ appid }}/{{ md5(appid + users.code) }}/{{ other }}").unwrap();
        assert_eq!(
            r.template(&t).to_string(),
            "x{{ b_appid }}/{{ md5(b_appid + b_users.code) }}/{{ other }}"
        );
        assert_eq!(r.name("users"), "b_users");
        assert_eq!(r.name("nope.x"), "nope.x");
    }
}
