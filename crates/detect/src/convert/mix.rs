//! Several conversions made into one mixed scenario (`loadtape convert a.yaml b.yaml c.yaml`):
//! one flow per conversion, with the parts they have in common said once.
//!
//! - A token step equal to one already taken (the same request and extractors: the one login
//!   of the app, its one platform token) is shared, so every flow runs behind one login.
//! - A variable or data source of the same name and the same value is shared; one of the same
//!   name and another value is renamed for its flow (`checkout_appid`), everywhere it is read.
//! - Steps keep their names unless another flow has taken one (then `flow_step`); the values
//!   steps extract stay within their flow (a flow never reads another's).

use indexmap::IndexMap;
use loadtape_scenario::{Comments, DataSource, Renames, Step, Template, TokenStep};

use super::Conversion;
use loadtape_scenario::Flow;

/// One flow to be: its name, its weight, and the conversion of its recording.
pub struct MixPart {
    /// The flow's name (unique among the parts; the recording's name, as a rule).
    pub flow: String,
    /// Its share of the iterations; `None` for 1.
    pub weight: Option<u32>,
    /// The recording converted on its own.
    pub conversion: Conversion,
}

/// The parts as one scenario named `name`, its flows in the parts' order; `None` without
/// parts. The load and the thresholds are the first part's (the converter's defaults).
pub fn mix(name: &str, parts: Vec<MixPart>) -> Option<Conversion> {
    let mut out = parts.first()?.conversion.scenario.clone();
    let mut into = Mixing::default();
    for part in parts {
        into.add(part);
    }
    out.name = name.to_string();
    out.recording = None;
    out.variables = into.variables;
    out.data = into.data;
    out.tokens = into.tokens;
    out.steps = into.steps;
    out.flows = into.flows;
    Some(Conversion {
        scenario: out,
        comments: into.comments,
        csv_columns: Vec::new(),
        csv_row: Vec::new(),
        login_columns: Vec::new(),
        login_row: Vec::new(),
        users_columns: Vec::new(),
        users_rows: Vec::new(),
    })
}

/// What a part's token step is renamed by: its flow, the prefix of renamed variables, and
/// the names earlier parts' token steps extract.
struct Names<'a> {
    flow: &'a str,
    prefix: &'a str,
    taken: &'a [String],
}

#[derive(Default)]
struct Mixing {
    variables: IndexMap<String, Template>,
    data: IndexMap<String, DataSource>,
    tokens: Vec<TokenStep>,
    steps: Vec<Step>,
    flows: Vec<Flow>,
    comments: Comments,
    /// Every step, token step and flow name taken so far.
    names: Vec<String>,
}

impl Mixing {
    fn add(&mut self, part: MixPart) {
        let flow_name = self.unique(&part.flow, "flow");
        // What a renamed variable starts with: the flow's name as a template name can be.
        let prefix: String = flow_name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let s = part.conversion.scenario;
        let comments = part.conversion.comments;
        let mut renames = Renames::new();
        for (name, source) in &s.data {
            let taken = self.data.get(name);
            let to = match taken {
                Some(t) if t == source => continue,
                Some(_) => format!("{prefix}_{name}"),
                None => name.clone(),
            };
            if &to != name {
                renames.add(name, &to);
            }
            self.data.insert(to, source.clone());
        }
        for (name, t) in &s.variables {
            let t = renames.template(t);
            let to = match self.variables.get(name) {
                Some(have) if *have == t => continue,
                Some(_) => format!("{prefix}_{name}"),
                None => name.clone(),
            };
            if &to != name {
                renames.add(name, &to);
            }
            self.copy_comments(
                &comments,
                &format!("variables.{name}"),
                &format!("variables.{to}"),
            );
            self.variables.insert(to, t);
        }
        // Names the token steps of earlier parts extract: this part's own may repeat one
        // another's (each reads its own in `expires_in`), but not theirs.
        let taken: Vec<String> = self
            .tokens
            .iter()
            .flat_map(|k| k.extract.keys().cloned())
            .collect();
        for (i, t) in s.tokens.iter().enumerate() {
            let names = Names {
                flow: &flow_name,
                prefix: &prefix,
                taken: &taken,
            };
            self.token(names, t, &mut renames, &comments, i);
        }
        let start = self.steps.len();
        for (j, step) in s.steps.iter().enumerate() {
            let mut step: Step = step.clone();
            renames.step(&mut step);
            step.name = self.unique_step(&flow_name, &step.name);
            let from = format!("steps[{j}]");
            let to = format!("flows[{}].steps[{j}]", self.flows.len());
            self.copy_prefixed(&comments, &from, &to);
            self.steps.push(step);
        }
        self.flows.push(Flow {
            name: flow_name,
            weight: part.weight,
            load: None,
            steps: start..self.steps.len(),
        });
    }

    /// Token step `t` (index `i` of its part): shared when an equal one is taken, else added
    /// under a name (and extracted names) no other token step has.
    fn token(
        &mut self,
        names: Names<'_>,
        t: &TokenStep,
        renames: &mut Renames,
        comments: &Comments,
        i: usize,
    ) {
        let mut t = t.clone();
        renames.token(&mut t);
        let same = |a: &TokenStep, b: &TokenStep| {
            a.scope == b.scope
                && a.request == b.request
                && a.extract == b.extract
                && a.expires_in == b.expires_in
                && a.refresh_on == b.refresh_on
        };
        if self.tokens.iter().any(|have| same(have, &t)) {
            return;
        }
        let Names {
            flow,
            prefix,
            taken,
        } = names;
        let clashes: Vec<String> = t
            .extract
            .keys()
            .filter(|k| taken.contains(k) || self.variables.contains_key(*k))
            .cloned()
            .collect();
        let mut more = Renames::new();
        for k in &clashes {
            let to = format!("{prefix}_{k}");
            renames.add(k, &to);
            more.add(k, to);
        }
        if !more.is_empty() {
            // Its own extracts renamed, and its `expires_in` reading them.
            more.token(&mut t);
        }
        t.name = self.unique_step(flow, &t.name);
        let to = format!("tokens[{}]", self.tokens.len());
        self.copy_prefixed(comments, &format!("tokens[{i}]"), &to);
        self.tokens.push(t);
    }

    fn unique(&mut self, name: &str, what: &str) -> String {
        let mut n = name.to_string();
        let mut k = 2;
        while self.names.contains(&n) {
            n = format!("{name}_{what}{k}");
            k += 1;
        }
        self.names.push(n.clone());
        n
    }

    /// `name`, or `flow_name` when another flow took it.
    fn unique_step(&mut self, flow: &str, name: &str) -> String {
        if !self.names.iter().any(|n| n == name) {
            self.names.push(name.to_string());
            return name.to_string();
        }
        self.unique(&format!("{flow}_{name}"), "step")
    }

    fn copy_comments(&mut self, from: &Comments, path: &str, to: &str) {
        for line in from.get(path) {
            self.comments.add(to, line);
        }
    }

    /// The comments at `from` and below it, moved to `to`.
    fn copy_prefixed(&mut self, comments: &Comments, from: &str, to: &str) {
        for (path, lines) in comments.iter() {
            let Some(rest) = path.strip_prefix(from) else {
                continue;
            };
            if rest.is_empty() || rest.starts_with('.') || rest.starts_with('[') {
                for line in lines {
                    self.comments.add(format!("{to}{rest}"), line);
                }
            }
        }
    }
}
