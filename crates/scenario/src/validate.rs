//! Checks that need the whole scenario: names, references between sections, files on disk.
//! The binding order they enforce is documented on the [`scenario`](super) module.

use std::collections::HashMap;

use super::context::Context;
use super::de::suggest;
use super::values::parse_origin;
use super::{Expiry, RequestTemplate, Scenario, Scope, TokenStep};
use crate::template::{is_valid_name, Part, Template};
use loadtape_recording::Error;

/// Where a name gets its value.
#[derive(Clone, Copy)]
enum Def<'a> {
    Variable {
        data_dependent: bool,
    },
    /// Extracted by these token steps (more than one makes a use outside them ambiguous).
    Token {
        steps: Steps<'a>,
        shared: bool,
    },
    Step,
}

/// The first two token steps extracting a name: enough to name both in an error.
#[derive(Clone, Copy)]
struct Steps<'a>(&'a str, Option<&'a str>);

impl<'a> Steps<'a> {
    fn one(name: &'a str) -> Steps<'a> {
        Steps(name, None)
    }

    fn with(self, name: &'a str) -> Steps<'a> {
        Steps(self.0, self.1.or(Some(name)))
    }
}

struct Names<'a> {
    /// Data source → its CSV columns.
    data: HashMap<&'a str, Vec<String>>,
    /// What is bound at the point being checked.
    bound: HashMap<&'a str, Def<'a>>,
    /// The step or token step being checked.
    current: Option<&'a str>,
}

pub(crate) fn validate(s: &Scenario, cx: &Context<'_>) -> Result<(), Error> {
    check_targets(s, cx)?;
    check_step_names(s, cx)?;
    let mut names = Names {
        data: HashMap::new(),
        bound: HashMap::new(),
        current: None,
    };
    names.bind_data(s, cx)?;
    names.bind_variables(s, cx)?;
    for (i, token) in s.tokens.iter().enumerate() {
        names.bind_token(s, cx, i, token)?;
    }
    if s.steps.is_empty() {
        return Err(cx.error(
            "steps",
            "the scenario has no steps",
            Some("add at least one request under `steps`".into()),
        ));
    }
    super::flows::check(s, cx)?;
    // Each flow sees what the token steps and variables bind, and what its own earlier steps
    // extract: never another flow's extracts.
    let before = names.bound.clone();
    for flow in s.flows_or_one() {
        names.bound.clone_from(&before);
        for i in flow.steps.clone() {
            let step = &s.steps[i];
            let base = s.step_path(i);
            names.current = Some(&step.name);
            for (name, t) in &step.vars {
                let path = format!("{base}.vars.{name}");
                names.check(cx, s, &path, t, None, &[])?;
                if !matches!(names.bound.get(name.as_str()), Some(Def::Step)) {
                    names.new_extract(cx, &path, name)?;
                }
                names.bound.insert(name, Def::Step);
            }
            names.request(cx, s, &format!("{base}.request"), &step.request, None)?;
            for name in step.extract.keys() {
                // Extracting a step's name again replaces the value (a fresh CSRF token).
                if !matches!(names.bound.get(name.as_str()), Some(Def::Step)) {
                    names.new_extract(cx, &format!("{base}.extract.{name}"), name)?;
                }
                names.bound.insert(name, Def::Step);
            }
        }
    }
    check_thresholds(s, cx)
}

fn check_thresholds(s: &Scenario, cx: &Context<'_>) -> Result<(), Error> {
    for (i, t) in s.thresholds.iter().flatten().enumerate() {
        let Some(step) = t.step() else { continue };
        if s.step(step).is_some() || s.token(step).is_some() || s.flow(step).is_some() {
            continue;
        }
        let all = s
            .steps
            .iter()
            .map(|s| s.name.as_str())
            .chain(s.tokens.iter().map(|t| t.name.as_str()))
            .chain(s.flows.iter().map(|f| f.name.as_str()));
        let hint = match suggest(step, all) {
            Some(n) => format!("did you mean `{n}`?"),
            None => {
                "name a step, token step or flow, or leave the prefix out for the whole run".into()
            }
        };
        return Err(cx.error(
            &format!("thresholds[{i}]"),
            format!("threshold `{t}` names step `{step}`, which does not exist"),
            Some(hint),
        ));
    }
    Ok(())
}

impl<'a> Names<'a> {
    fn bind_data(&mut self, s: &'a Scenario, cx: &Context<'_>) -> Result<(), Error> {
        for (name, source) in &s.data {
            let path = format!("data.{name}");
            name_ok(cx, &path, name, "data source")?;
            let file = source.resolve(cx.file);
            if !file.is_file() {
                return Err(cx.error(
                    &format!("{path}.csv"),
                    format!(
                        "CSV file `{}` not found (looked at {})",
                        source.csv,
                        file.display()
                    ),
                    Some("a `csv` path is relative to the scenario file's directory".into()),
                ));
            }
            let columns =
                csv_columns(&file).map_err(|m| cx.error(&format!("{path}.csv"), m, None))?;
            self.data.insert(name, columns);
        }
        Ok(())
    }

    fn bind_variables(&mut self, s: &'a Scenario, cx: &Context<'_>) -> Result<(), Error> {
        for (i, (name, template)) in s.variables.iter().enumerate() {
            let path = format!("variables.{name}");
            name_ok(cx, &path, name, "variable")?;
            if self.data.contains_key(name.as_str()) {
                return Err(cx.error(
                    &path,
                    format!("`{name}` is both a variable and a data source"),
                    Some("rename one".into()),
                ));
            }
            let later: Vec<&str> = s.variables.keys().skip(i).map(String::as_str).collect();
            self.check(cx, s, &path, template, None, &later)?;
            let data_dependent = template.variables().iter().any(|v| {
                v.contains('.')
                    || matches!(
                        self.bound.get(v),
                        Some(Def::Variable {
                            data_dependent: true
                        })
                    )
            });
            self.bound.insert(name, Def::Variable { data_dependent });
        }
        Ok(())
    }

    fn bind_token(
        &mut self,
        s: &'a Scenario,
        cx: &Context<'_>,
        i: usize,
        token: &'a TokenStep,
    ) -> Result<(), Error> {
        let base = format!("tokens[{i}]");
        let shared = token.scope == Scope::Shared;
        self.current = Some(&token.name);
        let shared_name = shared.then_some(token.name.as_str());
        // Its vars are its request's alone (never per VU by themselves: the request's own
        // check says whether a shared token may use what they use).
        let mut own = Names {
            data: self.data.clone(),
            bound: self.bound.clone(),
            current: self.current,
        };
        for (name, t) in &token.vars {
            let path = format!("{base}.vars.{name}");
            own.check(cx, s, &path, t, shared_name, &[])?;
            own.new_extract(cx, &path, name)?;
            own.bound.insert(
                name,
                Def::Variable {
                    data_dependent: false,
                },
            );
        }
        own.request(
            cx,
            s,
            &format!("{base}.request"),
            &token.request,
            shared_name,
        )?;
        if token.extract.is_empty() {
            return Err(cx.error(
                &format!("{base}.extract"),
                format!("token step `{}` extracts nothing", token.name),
                Some("add what it fetches, e.g. extract: {session: {json: $.data.token}}".into()),
            ));
        }
        for name in token.extract.keys() {
            // Token steps may each extract the same helper name (`expires_in`): it is theirs
            // to use in their own `expires_in`; a step using it is ambiguous (see `check`).
            if !matches!(self.bound.get(name.as_str()), Some(Def::Token { .. })) {
                self.new_extract(cx, &format!("{base}.extract.{name}"), name)?;
            }
        }
        // The token's own extracts are visible to its `expires_in`, over earlier tokens'.
        if let Some(Expiry::Template(t)) = &token.expires_in {
            let mut own = Names {
                data: self.data.clone(),
                bound: self.bound.clone(),
                current: self.current,
            };
            for name in token.extract.keys() {
                let steps = Steps::one(&token.name);
                own.bound.insert(name, Def::Token { steps, shared });
            }
            own.check(cx, s, &format!("{base}.expires_in"), t, None, &[])?;
        }
        for name in token.extract.keys() {
            let def = match self.bound.get(name.as_str()) {
                Some(Def::Token { steps, shared: was }) => Def::Token {
                    steps: steps.with(&token.name),
                    shared: shared && *was,
                },
                _ => Def::Token {
                    steps: Steps::one(&token.name),
                    shared,
                },
            };
            self.bound.insert(name, def);
        }
        if let (Some(Expiry::Fixed(life)), Some(before)) = (&token.expires_in, token.refresh_before)
        {
            if before >= *life {
                return Err(cx.error(
                    &format!("{base}.refresh_before"),
                    "`refresh_before` is not shorter than `expires_in`: the token would be refreshed all the time",
                    Some("make refresh_before a fraction of the lifetime".into()),
                ));
            }
        }
        Ok(())
    }
}

fn check_targets(s: &Scenario, cx: &Context<'_>) -> Result<(), Error> {
    let hint = "`target` maps a recorded origin to where to send it, e.g. https://api.example.com: https://staging.example.com";
    for (from, to) in &s.target {
        let path = format!("target.{from}");
        parse_origin(from).map_err(|m| cx.error(&path, m, Some(hint.into())))?;
        parse_origin(to).map_err(|m| cx.error(&path, m, Some(hint.into())))?;
        if from.ends_with('/') || to.ends_with('/') {
            return Err(cx.error(
                &path,
                "an origin has no trailing `/`",
                Some(format!(
                    "write {}: {}",
                    from.trim_end_matches('/'),
                    to.trim_end_matches('/')
                )),
            ));
        }
    }
    Ok(())
}

fn check_step_names(s: &Scenario, cx: &Context<'_>) -> Result<(), Error> {
    let mut seen: HashMap<&str, String> = HashMap::new();
    let all = s
        .tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("tokens[{i}]"), t.name.as_str()))
        .chain(
            s.steps
                .iter()
                .enumerate()
                .map(|(i, st)| (s.step_path(i), st.name.as_str())),
        )
        .chain(
            s.flows
                .iter()
                .enumerate()
                .map(|(i, f)| (format!("flows[{i}]"), f.name.as_str())),
        );
    for (path, name) in all {
        let field = format!("{path}.name");
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':'));
        if !ok {
            return Err(cx.error(
                &field,
                format!("`{name}` is not a usable step name"),
                Some(
                    "use letters, digits and _ - . / : (thresholds refer to steps as `name.p95`)"
                        .into(),
                ),
            ));
        }
        if let Some(first) = seen.insert(name, path.clone()) {
            return Err(cx.error(
                &field,
                format!("step name `{name}` is used twice"),
                Some(format!(
                    "{first} has it too; names identify steps in reports and thresholds"
                )),
            ));
        }
    }
    Ok(())
}

fn name_ok(cx: &Context<'_>, path: &str, name: &str, what: &str) -> Result<(), Error> {
    if is_valid_name(name) {
        return Ok(());
    }
    Err(cx.error(
        path,
        format!("`{name}` is not a valid {what} name"),
        Some(
            "templates refer to names made of letters, digits and _, not starting with a digit"
                .into(),
        ),
    ))
}

/// The header row of a CSV file, trimmed.
fn csv_columns(file: &std::path::Path) -> Result<Vec<String>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .from_path(file)
        .map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("cannot read the header row of `{}`: {e}", file.display()))?;
    let columns: Vec<String> = headers.iter().map(str::to_string).collect();
    if columns.iter().all(String::is_empty) {
        return Err(format!(
            "`{}` has no header row naming its columns",
            file.display()
        ));
    }
    Ok(columns)
}

impl<'a> Names<'a> {
    /// A name about to be extracted: valid, and not one that something else owns.
    fn new_extract(&self, cx: &Context<'_>, path: &str, name: &str) -> Result<(), Error> {
        name_ok(cx, path, name, "variable")?;
        let clash = if self.data.contains_key(name) {
            Some("a data source".to_string())
        } else {
            match self.bound.get(name) {
                Some(Def::Variable { .. }) => Some("a variable".to_string()),
                Some(Def::Token { steps, .. }) => {
                    Some(format!("extracted by token step `{}`", steps.0))
                }
                _ => None,
            }
        };
        match clash {
            Some(what) => Err(cx.error(
                path,
                format!("`{name}` is already {what}"),
                Some("give the extracted value its own name".into()),
            )),
            None => Ok(()),
        }
    }

    fn request(
        &self,
        cx: &Context<'_>,
        s: &Scenario,
        base: &str,
        r: &RequestTemplate,
        shared_token: Option<&str>,
    ) -> Result<(), Error> {
        url_ok(cx, &format!("{base}.url"), &r.url)?;
        for (sub, t) in r.templates() {
            self.check(cx, s, &format!("{base}.{sub}"), t, shared_token, &[])?;
        }
        Ok(())
    }

    /// Every name `t` uses must be bound here. `later` lists variables defined further down
    /// (for the hint).
    fn check(
        &self,
        cx: &Context<'_>,
        s: &Scenario,
        path: &str,
        t: &Template,
        shared_token: Option<&str>,
        later: &[&str],
    ) -> Result<(), Error> {
        for name in t.variables() {
            if let Some((source, column)) = name.split_once('.') {
                if let Some(columns) = self.data.get(source) {
                    if !columns.iter().any(|c| c == column) {
                        let hint = match suggest(column, columns.iter().map(String::as_str)) {
                            Some(c) => format!(
                                "did you mean `{source}.{c}`? the columns are {}",
                                columns.join(", ")
                            ),
                            None => format!("the columns are {}", columns.join(", ")),
                        };
                        return Err(cx.error(
                            path,
                            format!("data source `{source}` has no column `{column}`"),
                            Some(hint),
                        ));
                    }
                    if let Some(token) = shared_token {
                        return Err(shared_error(cx, path, token, name));
                    }
                    continue;
                }
            }
            if self.data.contains_key(name) {
                return Err(cx.error(
                    path,
                    format!("`{name}` is a data source, not a value"),
                    Some(format!("name a column: {{{{ {name}.<column> }}}}")),
                ));
            }
            match self.bound.get(name) {
                Some(Def::Token {
                    steps: Steps(a, Some(b)),
                    ..
                }) => {
                    return Err(cx.error(
                        path,
                        format!("`{name}` is extracted by both token steps `{a}` and `{b}`, so which one is meant here is unclear"),
                        Some("give the two extracted values different names".into()),
                    ));
                }
                Some(def) => {
                    if let Some(token) = shared_token {
                        let per_vu = match def {
                            Def::Variable { data_dependent } => *data_dependent,
                            Def::Token { shared, .. } => !shared,
                            Def::Step => true,
                        };
                        if per_vu {
                            return Err(shared_error(cx, path, token, name));
                        }
                    }
                }
                None => {
                    return Err(cx.error(
                        path,
                        format!("`{name}` is not defined"),
                        Some(self.undefined_hint(s, name, later)),
                    ))
                }
            }
        }
        Ok(())
    }

    fn undefined_hint(&self, s: &Scenario, name: &str, later: &[&str]) -> String {
        if later.contains(&name) {
            return format!("variable `{name}` is defined below this one; move it up");
        }
        let in_token = s.tokens.iter().find(|t| t.extract.contains_key(name));
        let in_step = s.steps.iter().find(|st| st.extract.contains_key(name));
        let own = in_token
            .map(|t| t.name.as_str())
            .or(in_step.map(|st| st.name.as_str()));
        if own.is_some() && own == self.current {
            return format!(
                "`{}` extracts it from its own response, so its request cannot use it yet",
                own.unwrap_or_default()
            );
        }
        if let Some(t) = in_token {
            return format!(
                "it is extracted by token step `{}`, which runs after this",
                t.name
            );
        }
        if let Some(st) = in_step {
            return format!("it is extracted by step `{}`, which has not run at this point; move that step earlier", st.name);
        }
        let columns: Vec<String> = self
            .data
            .iter()
            .flat_map(|(src, cols)| cols.iter().map(move |c| format!("{src}.{c}")))
            .collect();
        let known = self
            .bound
            .keys()
            .copied()
            .chain(columns.iter().map(String::as_str));
        let mut hint = match suggest(name, known) {
            Some(n) => format!("did you mean `{n}`? "),
            None => String::new(),
        };
        hint.push_str("define it under `variables`, extract it in an earlier step, or use a `data` column (source.column)");
        hint
    }
}

fn shared_error(cx: &Context<'_>, path: &str, token: &str, name: &str) -> Error {
    cx.error(
        path,
        format!("shared token `{token}` uses `{name}`, which differs between VUs"),
        Some(
            "make the token `scope: per-vu`, or use only variables and shared tokens in it".into(),
        ),
    )
}

/// A request URL must be absolute: where it starts with text, that text says http(s)://.
fn url_ok(cx: &Context<'_>, path: &str, url: &Template) -> Result<(), Error> {
    let Some(Part::Literal(start)) = url.parts().first() else {
        return Ok(());
    };
    let lower = start.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("http://") || lower.starts_with("https://");
    let whole_ok = match url.as_literal() {
        Some(u) => u
            .parse::<http::Uri>()
            .is_ok_and(|u| u.authority().is_some()),
        None => true,
    };
    if scheme_ok && whole_ok {
        return Ok(());
    }
    Err(cx.error(
        path,
        format!("`{url}` is not an absolute http(s) URL"),
        Some(
            "write the full URL, e.g. https://api.example.com/v1/goods; `target` redirects origins"
                .into(),
        ),
    ))
}
