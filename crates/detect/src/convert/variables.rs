//! What each applied finding becomes in the scenario: a variable bound by an extractor, a
//! generator call, a CSV column (`--token-csv`, `--users-csv`) or the recorded value.

use std::collections::{HashMap, HashSet};

use loadtape_scenario::template::{Expr, Func};
use loadtape_scenario::{DataSource, Pick, Template};

use super::serial::serial;
use super::Builder;
use crate::finding::{Class, Finding, Gen};
use crate::shape;

impl Builder<'_> {
    /// The expression of every applied finding, the variables and the CSV data source.
    pub(super) fn variables(&mut self) {
        let a = self.a;
        if let Some(m) = &a.mini_program {
            self.variables
                .insert("appid".into(), Template::literal(m.appid.clone()));
            self.comments.add(
                "variables.appid",
                format!("The {} mini program's appid, as recorded", m.platform),
            );
        }
        // With --token-csv: the platform tokens, or the session tokens when there are none.
        let csv_class = if a.applied().any(|f| f.class == Class::PlatformToken) {
            Class::PlatformToken
        } else {
            Class::SessionToken
        };
        for f in a.applied() {
            let var = |name: &str| Expr::Var(name.to_string());
            let expr = match f.class {
                Class::AppId => var("appid"),
                c if Self::is_token(f) && self.opts.token_csv.is_some() && c == csv_class => {
                    self.csv_columns.push(f.variable.clone());
                    self.csv_row.push(f.value.clone());
                    var(&format!("tokens.{}", f.variable))
                }
                Class::Correlated | Class::SessionToken | Class::PlatformToken => var(&f.variable),
                Class::Generated(Gen::TimestampMs) => Expr::Call(Func::NowMs, vec![]),
                Class::Generated(Gen::TimestampS) => Expr::Call(Func::NowS, vec![]),
                Class::Generated(Gen::Nonce) if shape::is_hex32(&f.value) => {
                    Expr::Call(Func::Md5, vec![Expr::Call(Func::Uuid, vec![])])
                }
                Class::Generated(Gen::Nonce | Gen::Uuid | Gen::LoginCode) => {
                    Expr::Call(Func::Uuid, vec![])
                }
                Class::Generated(Gen::Serial) => match serial(&f.value) {
                    Some(e) => e,
                    None => continue,
                },
                Class::PerUser => match self.per_user(&f.variable, &f.value) {
                    Some(e) => e,
                    None => continue,
                },
                Class::Generated(Gen::Signature) | Class::Static => continue,
            };
            self.exprs.insert(&f.variable, expr);
        }
        self.users_data();
        self.csv_companions();
        if let Some(csv) = &self.opts.token_csv {
            if !self.csv_columns.is_empty() {
                self.data.insert(
                    "tokens".into(),
                    DataSource {
                        csv: csv.path.clone(),
                        pick: Pick::PerVu,
                    },
                );
                self.comments.add(
                    "data.tokens",
                    format!(
                        "Pre-fetched tokens (PTS method 2), one row per VU, columns: {}.\n\
                         They must stay valid for the whole run: nothing refreshes them.",
                        self.csv_columns.join(", ")
                    ),
                );
            }
        }
    }

    /// With `--token-csv`, the exchanges that fetched the CSV's tokens leave the flow, so every
    /// other value only they issued (the `openid` a WeChat login answers beside its session
    /// key) must come from the CSV too: a column of its own, filled from the recording.
    fn csv_companions(&mut self) {
        let a = self.a;
        let is_csv = |exprs: &HashMap<&str, Expr>, f: &Finding| matches!(exprs.get(f.variable.as_str()), Some(Expr::Var(v)) if v.starts_with("tokens."));
        let csv_steps: HashSet<usize> = a
            .applied()
            .filter(|f| is_csv(&self.exprs, f))
            .flat_map(|f| f.origins.iter().map(|o| o.step))
            .collect();
        if csv_steps.is_empty() {
            return;
        }
        let companions: Vec<&Finding> = a
            .applied()
            .filter(|f| {
                !is_csv(&self.exprs, f)
                    && matches!(self.exprs.get(f.variable.as_str()), Some(Expr::Var(_)))
            })
            .filter(|f| {
                !f.origins.is_empty() && f.origins.iter().all(|o| csv_steps.contains(&o.step))
            })
            .collect();
        for f in companions {
            self.csv_columns.push(f.variable.clone());
            self.csv_row.push(f.value.clone());
            self.exprs
                .insert(&f.variable, Expr::Var(format!("tokens.{}", f.variable)));
        }
    }
}
