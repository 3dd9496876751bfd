//! A signed step (see `crate::signing`): the values the signature covers that are made
//! afresh each sending (timestamps, nonces) become the step's `vars`, so the request and the
//! signature use the same one, and the signature becomes a `vars` entry computed by the
//! inferred rule, with the secret read from the environment.

use indexmap::IndexMap;
use loadtape_scenario::template::{Expr, Func, Part};
use loadtape_scenario::Template;

use super::Builder;
use crate::signing::{At, Params, Signing};
use crate::substitute::Subs;

impl<'a> Builder<'a> {
    /// The signature fields step `step` sends that have an inferred rule.
    pub(super) fn signed_at(&self, step: usize) -> Vec<(&'a Signing, &'a At)> {
        let a = self.a;
        a.signings
            .iter()
            .filter(|s| s.rule.is_some())
            .flat_map(|s| {
                s.uses
                    .iter()
                    .filter(move |(i, _)| *i == step)
                    .map(move |(_, at)| (s, at))
            })
            .collect()
    }

    /// The last request's vars, with the comments on its signatures at `path` (a step's or
    /// token step's).
    pub(super) fn take_vars(&mut self, path: &str) -> IndexMap<String, Template> {
        for (var, note) in std::mem::take(&mut self.sign_notes) {
            self.comments
                .add(format!("{path}.vars.{var}"), format!("Signature {note}"));
        }
        std::mem::take(&mut self.step_vars)
    }

    /// Adds each signature of `step` to `vars` (computed by its rule over the values as
    /// `subs` writes them) and to `subs` (its recorded value replaced by the variable).
    pub(super) fn sign(
        &mut self,
        step: usize,
        signed: &[(&Signing, &At)],
        subs: &mut Subs,
        vars: &mut IndexMap<String, Template>,
    ) {
        let e = &self.ex[step];
        let params = Params::of(e);
        for (s, at) in signed {
            let Some(rule) = &s.rule else { continue };
            let Some(recorded) = crate::signing::value_at(e, &params, at) else {
                continue;
            };
            let picked: Vec<(String, Expr)> = rule
                .pick(&params, &s.field, at)
                .into_iter()
                .map(|p| (p.key, subs.template(&p.value).as_expr()))
                .collect();
            let secret = match &rule.secret_env {
                Some(env) => Expr::Call(Func::Env, vec![Expr::Str(env.clone())]),
                None => Expr::Str(String::new()),
            };
            let name = var_name(&s.field, vars);
            let t = Template::from_parts([Part::Expr(rule.expr(&picked, secret))]);
            vars.insert(name.clone(), t);
            self.sign_notes.push((name.clone(), s.describe()));
            subs.add(&recorded, Expr::Var(name));
        }
    }
}

/// The variable a signature is computed into: its field's name as a variable (`paySign`,
/// `x_sign`), another when the step has one of that name.
fn var_name(field: &str, vars: &IndexMap<String, Template>) -> String {
    let base = crate::naming::variable(field).unwrap_or_else(|| "signature".into());
    let mut name = base.clone();
    let mut n = 2;
    while vars.contains_key(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}
