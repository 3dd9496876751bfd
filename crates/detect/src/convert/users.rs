//! Per-user data (`convert --also`): a value each recording of the flow sends differently and
//! no answer issues (a user name, a phone number typed in) becomes a column of the `users`
//! data source, one row per recording, so each VU sends one user's values.

use loadtape_scenario::template::Expr;
use loadtape_scenario::{DataSource, Pick};

use super::Builder;
use crate::finding::Class;

/// The data source's name: `{{ users.phone }}` in templates.
pub(super) const SOURCE: &str = "users";

impl Builder<'_> {
    /// The expression of a per-user finding, and its column and rows; `None` (sent as
    /// recorded) when no CSV was named for them.
    pub(super) fn per_user(&mut self, variable: &str, recorded: &str) -> Option<Expr> {
        self.opts.users_csv.as_ref()?;
        self.users_columns.push(variable.to_string());
        let elsewhere = self.a.rows_elsewhere.get(variable);
        let rows = 1 + elsewhere.map_or(0, Vec::len);
        self.users_rows
            .resize(rows.max(self.users_rows.len()), Vec::new());
        for (r, row) in self.users_rows.iter_mut().enumerate() {
            let v = match r {
                0 => recorded.to_string(),
                _ => elsewhere
                    .and_then(|e| e.get(r - 1))
                    .cloned()
                    .unwrap_or_else(|| recorded.to_string()),
            };
            row.push(v);
        }
        Some(Expr::Var(format!("{SOURCE}.{variable}")))
    }

    /// The `users` data source, once its columns are known.
    pub(super) fn users_data(&mut self) {
        let Some(csv) = self.opts.users_csv.clone() else {
            return;
        };
        if self.users_columns.is_empty() {
            return;
        }
        let n = self
            .a
            .findings
            .iter()
            .filter(|f| f.class == Class::PerUser && f.applied())
            .count();
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
                "Per-user data, one row per recording of the flow ({} row(s)), columns: {}.\n\
                 The recordings sent {n} value(s) differently that no answer issued: each user's own.\n\
                 Add a row per test user.",
                self.users_rows.len(),
                self.users_columns.join(", ")
            ),
        );
    }
}
