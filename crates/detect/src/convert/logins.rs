//! `--login-csv FILE`: the user-bound login material (see `rules::user_bound`) of the
//! recorded login becomes a per-VU data source, one row per test user, so N VUs log in as N
//! users instead of all as the one recorded.

use loadtape_scenario::template::Expr;
use loadtape_scenario::{DataSource, Pick};

use super::Builder;
use crate::rules::user_bound;
use crate::substitute::Subs;

/// The data source's name: `{{ logins.rawData }}` in templates.
pub(super) const SOURCE: &str = "logins";

impl Builder<'_> {
    /// The first kept exchange sending user-bound material, and that material.
    fn login_material(&self) -> Option<(usize, Vec<(String, String)>)> {
        (0..self.ex.len())
            .filter(|&i| self.a.steps[i].dropped.is_none())
            .map(|i| (i, user_bound::fields(&self.ex[i].request)))
            .find(|(_, f)| !f.is_empty())
    }

    /// With `--login-csv`: the `logins` data source, its columns and the recorded row.
    pub(super) fn login_data(&mut self) {
        let Some(csv) = self.opts.login_csv.clone() else {
            return;
        };
        let Some((step, fields)) = self.login_material() else {
            return;
        };
        self.login_columns = fields.iter().map(|(n, _)| n.clone()).collect();
        self.login_row = fields.iter().map(|(_, v)| v.clone()).collect();
        self.data.insert(
            SOURCE.into(),
            DataSource {
                csv: csv.path,
                pick: Pick::PerVu,
            },
        );
        self.comments.add(
            format!("data.{SOURCE}"),
            format!(
                "One row per test user, columns: {}. Step `{}` logs in with them, so each VU is\n\
                 its own user. Fill it from several recordings (one per test user); the starter\n\
                 row is the recorded user's.",
                self.login_columns.join(", "),
                self.a.steps[step].name
            ),
        );
    }

    /// The recorded material of `step` replaced by the data source's columns.
    pub(super) fn login_subs(&self, step: usize, subs: &mut Subs) {
        if self.login_columns.is_empty() {
            return;
        }
        for (name, value) in user_bound::fields(&self.ex[step].request) {
            if self.login_columns.contains(&name) {
                subs.add(&value, Expr::Var(format!("{SOURCE}.{name}")));
            }
        }
    }
}
