//! `loadtape-scenario`: the `scenario/v1` format, a load test as `loadtape convert` writes it
//! and `loadtape run` runs it (SPEC §5), and the templates its string values are.
//!
//! - [`Scenario`] and its parts: [`Step`], [`TokenStep`], [`RequestTemplate`], [`Load`] with
//!   its [`Executor`], [`Check`]s and [`Extractor`]s, [`Threshold`]s, [`Rate`]s.
//! - [`load_scenario`] reads and checks one; [`write_scenario`] writes one.
//! - [`template`]: [`Template`], compiled `{{ … }}` strings, rendered against [`Vars`].
//! - [`parse_duration`] / [`format_duration`]: the one duration grammar (`800ms`, `2s`, `1m`,
//!   `1h`), used by scenarios and by the command line's flags alike.
//!
//! [`load_scenario`] reads and checks a scenario completely before anything runs: templates
//! are compiled, JSONPaths and regexes parsed, durations, rates and thresholds read into typed
//! values, and every name a template uses is resolved. Any problem is an [`Error`]
//! naming the file, line, column and field path (`steps[2].request.headers[0]`), what is wrong
//! and what to do. [`write_scenario`] writes the same YAML back.
//!
//! # What a template may use
//!
//! Names are resolved in the order the engine binds them, and a template may only use a name
//! that is bound by then:
//!
//! 1. `data` columns (`users.code`), bound when a VU takes a row;
//! 2. `variables`, rendered in order at the start of each iteration: a variable may use data
//!    columns and the variables above it;
//! 3. token steps, in order: each may use the above and what earlier token steps extract; its
//!    `expires_in` may also use its own extracts. A `shared` token (one for all VUs) may not
//!    depend on data columns or per-VU tokens, which differ between VUs;
//! 4. steps, in order: each may use all of the above and what earlier steps extract (a later
//!    step may extract a name again, replacing it).
//!
//! Function calls and `env("NAME")` need no definition.

// Errors are built once per failed load, never on a hot path; a plain struct with public
// fields (file, line, field) is easier to use than a boxed one.
#![allow(clippy::result_large_err)]

mod body;
mod checks;
mod context;
mod de;
mod flows;
mod load_profile;
mod loader;
mod rename;
mod spans;
mod threshold;
mod time;
mod validate;
mod values;
mod writer;

pub mod template;

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

pub use body::{BodyTemplate, JsonTemplate};
pub use checks::{json_text, Check, Expiry, ExpiryError, Extractor, JsonRule, JsonTest, RefreshOn};
pub use flows::Flow;
pub use load_profile::{Executor, Load, RateStage, VuStage};
pub use loader::{load_scenario, load_scenario_str};
pub use loadtape_recording::Error;
pub use rename::Renames;
pub use template::{RenderError, Template, TemplateError, Vars};
pub use threshold::{Metric, Op, Stat, Threshold};
pub use time::{format_duration, parse_duration, Rate, RateUnit};
pub use values::{parse_origin, JsonPathExpr, RegexExpr};
pub use writer::{write_scenario, write_scenario_with_comments, Comments};

/// The value of a scenario's `loadtape` key.
pub const SCENARIO_V1: &str = "scenario/v1";

/// A whole `scenario/v1` file: what to send and in what order, with which tokens and data,
/// under what load, and what counts as passing.
///
/// A scenario is one flow (`steps:`) or several (`flows:`, each with its own steps); either
/// way [`Scenario::steps`] holds every step, and each [`Flow`] names its slice of them, so
/// that code about steps (names, templates, reports) needs no second case.
///
/// Read one with [`load_scenario`]: the file's shape (`steps:` or `flows:`) is parsed into
/// this one by the loader, which checks it on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Always [`SCENARIO_V1`].
    pub loadtape: String,
    /// What the test is called in summaries and results (`convert` uses the recording's name).
    pub name: String,
    /// The recording it was converted from (informative).
    pub recording: Option<String>,
    /// Recorded origin → origin to send to (`https://api.example.com` →
    /// `https://staging.example.com`). Origins not listed are sent to unchanged. Both sides are
    /// `scheme://host[:port]`, stored without a trailing `/`.
    pub target: IndexMap<String, String>,
    /// Name → template, in order: a variable may use data columns and the variables above it.
    pub variables: IndexMap<String, Template>,
    /// Name → CSV file, whose columns templates use as `name.column`.
    pub data: IndexMap<String, DataSource>,
    /// Refreshable tokens, fetched before the flow.
    pub tokens: Vec<TokenStep>,
    /// Every step: the flow's in order, or with `flows:` each flow's in turn.
    pub steps: Vec<Step>,
    /// The flows of a mixed scenario (`flows:`), each naming its steps in [`Scenario::steps`];
    /// empty for a scenario of one flow (`steps:`).
    pub flows: Vec<Flow>,
    /// How many iterations run, and when: the executor and its settings. With `flows:`, the
    /// flows without a `load` of their own share it by their weights.
    pub load: Load,
    /// Pass/fail criteria judged on the finished run; `loadtape run` exits 99 when one fails.
    /// `None` when the scenario states none: the run is then held to
    /// [`DEFAULT_THRESHOLD`] (see [`Scenario::judged_by`]); `thresholds: []` states none.
    pub thresholds: Option<Vec<Threshold>>,
}

/// What a run is judged by when its scenario states no thresholds. k6 passes such a run
/// whatever its requests met; loadtape holds it to its errors, so that a run whose requests
/// failed never reports success unless the scenario says so (`thresholds: []`).
pub const DEFAULT_THRESHOLD: &str = "error_rate < 1%";

/// A CSV file whose header row names the columns (`users.code`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSource {
    /// Path relative to the scenario file's directory (or absolute).
    pub csv: String,
    /// How rows are handed out (default `per-vu`).
    #[serde(default)]
    pub pick: Pick,
}

impl DataSource {
    /// The CSV's path, given the scenario file's path.
    pub fn resolve(&self, scenario_file: &Path) -> PathBuf {
        let csv = Path::new(&self.csv);
        if csv.is_absolute() {
            return csv.to_path_buf();
        }
        match scenario_file.parent() {
            Some(dir) => dir.join(csv),
            None => csv.to_path_buf(),
        }
    }
}

/// How rows are handed out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pick {
    /// Each VU takes the next row once and keeps it (a user per VU).
    #[default]
    PerVu,
    /// Every iteration takes the next row, wrapping around.
    Sequential,
    /// Every iteration takes a random row.
    Random,
    /// Every iteration takes a row no other iteration had; the run ends when rows run out.
    Unique,
}

impl Pick {
    /// The spelling in the file (`per-vu`, `sequential`, `random`, `unique`).
    pub fn as_str(self) -> &'static str {
        match self {
            Pick::PerVu => "per-vu",
            Pick::Sequential => "sequential",
            Pick::Random => "random",
            Pick::Unique => "unique",
        }
    }
}

/// Whether a token is one for all VUs or one per VU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// One token for every VU, refreshed by a single request however many VUs wait.
    Shared,
    /// One token per VU, fetched and refreshed by that VU (a session from its own login).
    #[default]
    PerVu,
}

impl Scope {
    /// The spelling in the file: `shared` or `per-vu`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Shared => "shared",
            Scope::PerVu => "per-vu",
        }
    }
}

/// A request with templates in its URL, header values and body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestTemplate {
    /// The HTTP method, upper-case (`GET`, `POST`, …; any valid method token is accepted).
    #[serde(deserialize_with = "values::method")]
    pub method: http::Method,
    /// An absolute URL (`https://...`), possibly starting with a template.
    pub url: Template,
    /// `- [name, value]` pairs, in order, repeats kept.
    #[serde(default, deserialize_with = "values::headers")]
    pub headers: Vec<(String, Template)>,
    /// What to send as the body; absent for none. Without a `content-type` header the request
    /// is sent with the body kind's [`BodyTemplate::default_content_type`].
    #[serde(default)]
    pub body: Option<BodyTemplate>,
}

impl RequestTemplate {
    /// Every template of the request, with its field path below the request.
    pub fn templates(&self) -> Vec<(String, &Template)> {
        let mut out = vec![("url".to_string(), &self.url)];
        for (i, (_, v)) in self.headers.iter().enumerate() {
            out.push((format!("headers[{i}][1]"), v));
        }
        if let Some(body) = &self.body {
            body::body_templates("body", body, &mut out);
        }
        out
    }
}

/// A request run ahead of the flow to get a token, and run again before the token expires.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenStep {
    /// Names the token step in messages, results and thresholds (`login.error_rate`); unique
    /// among steps and token steps.
    pub name: String,
    /// The id of the recorded exchange this token step was converted from, so `loadtape verify`
    /// can compare the live answer with the recorded one. Absent in hand-written scenarios.
    #[serde(default)]
    pub recorded: Option<u64>,
    /// Whether one token serves every VU (`shared`) or each VU fetches its own (`per-vu`, the
    /// default).
    #[serde(default)]
    pub scope: Scope,
    /// As a step's `vars`: rendered in order before each fetch (a signed login's timestamp
    /// and signature), seen by its request only.
    #[serde(default)]
    pub vars: IndexMap<String, Template>,
    /// The request that fetches the token.
    pub request: RequestTemplate,
    /// Variable → where its value is in the response. At least one.
    #[serde(default)]
    pub extract: IndexMap<String, Extractor>,
    /// How long a token lives. Absent: the `exp` claim of an extracted JWT, if there is one.
    #[serde(default)]
    pub expires_in: Option<Expiry>,
    /// Refresh this long before expiry.
    #[serde(default, deserialize_with = "time::opt_duration")]
    pub refresh_before: Option<Duration>,
    /// Responses (to any step using the token) that mean it has to be refreshed now; the
    /// request is then retried once.
    #[serde(default)]
    pub refresh_on: Option<RefreshOn>,
}

/// One request of the flow.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Names the step in the summary, results and thresholds (`goods.p95`); unique among
    /// steps and token steps.
    pub name: String,
    /// The id of the recorded exchange this step was converted from, so `loadtape verify` can
    /// compare the live answer with the recorded one. Absent in hand-written scenarios.
    #[serde(default)]
    pub recorded: Option<u64>,
    /// Name → template, rendered in order each time the step runs, before its request: a
    /// value the request uses twice the same (a timestamp and nonce that a signature covers
    /// too). Each may use what the request may, and the ones above it; later steps see the
    /// last value.
    #[serde(default)]
    pub vars: IndexMap<String, Template>,
    /// What to send.
    pub request: RequestTemplate,
    /// Absent: any status below 400 passes.
    #[serde(default)]
    pub check: Option<Check>,
    /// Variable → where its value is in the response, for the steps after this one. A value
    /// not found is a `check` error and ends the iteration.
    #[serde(default)]
    pub extract: IndexMap<String, Extractor>,
    /// Pause after the step.
    #[serde(default, deserialize_with = "time::opt_duration")]
    pub think: Option<Duration>,
    /// The traffic funnel: how many of the flow's iterations per second reach this step. The
    /// first step's rate is the flow's (a `constant-rate` load); each later step goes on with
    /// the share that keeps it at its rate, and the rest end there ("cut short").
    #[serde(default)]
    pub rate: Option<Rate>,
}

impl TokenStep {
    /// Every template of the token step's request (its `vars`, then its request's), with
    /// its field path below the token step.
    pub fn templates(&self) -> Vec<(String, &Template)> {
        vars_then_request(&self.vars, &self.request)
    }
}

impl Step {
    /// Every template of the step (its `vars`, then its request's), with its field path below
    /// the step.
    pub fn templates(&self) -> Vec<(String, &Template)> {
        vars_then_request(&self.vars, &self.request)
    }
}

/// A request's templates after the `vars` it may use, with their paths (`vars.ts`,
/// `request.url`).
fn vars_then_request<'a>(
    vars: &'a IndexMap<String, Template>,
    request: &'a RequestTemplate,
) -> Vec<(String, &'a Template)> {
    let vars = vars.iter().map(|(k, t)| (format!("vars.{k}"), t));
    let request = request
        .templates()
        .into_iter()
        .map(|(p, t)| (format!("request.{p}"), t));
    vars.chain(request).collect()
}

impl Scenario {
    /// Every template the scenario renders, with where it is (`variables.appid`, `token step
    /// `login` request.url`, `step `order` vars.sign`), in the order they run.
    pub fn templates(&self) -> Vec<(String, &Template)> {
        let variables = self
            .variables
            .iter()
            .map(|(name, t)| (format!("variables.{name}"), t));
        let tokens = self.tokens.iter().flat_map(|t| {
            let owner = format!("token step `{}`", t.name);
            t.templates()
                .into_iter()
                .map(move |(sub, t)| (format!("{owner} {sub}"), t))
        });
        let steps = self.steps.iter().flat_map(|st| {
            let owner = format!("step `{}`", st.name);
            st.templates()
                .into_iter()
                .map(move |(sub, t)| (format!("{owner} {sub}"), t))
        });
        variables.chain(tokens).chain(steps).collect()
    }

    /// The environment variables the scenario reads (`env("NAME")`), each once, in order.
    pub fn env_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for (_, t) in self.templates() {
            for n in t.env_names() {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        names
    }

    /// The thresholds the run is judged by, and whether they are the default (the scenario
    /// states none).
    pub fn judged_by(&self) -> (Vec<Threshold>, bool) {
        match &self.thresholds {
            Some(t) => (t.clone(), false),
            None => (
                Threshold::parse(DEFAULT_THRESHOLD).into_iter().collect(),
                true,
            ),
        }
    }

    /// A step of the flow by name (a token step: [`Scenario::token`]).
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// A mixed scenario whose every flow has a `load` of its own: the scenario's `load` is
    /// then absent from the file, and in memory a copy of the first flow's.
    pub fn every_flow_has_its_own_load(&self) -> bool {
        !self.flows.is_empty() && self.flows.iter().all(|f| f.load.is_some())
    }

    /// A flow by name.
    pub fn flow(&self, name: &str) -> Option<&Flow> {
        self.flows.iter().find(|f| f.name == name)
    }

    /// Where step `i` is in the file, in the loader's field syntax: `steps[i]`, or
    /// `flows[f].steps[j]` in a mixed scenario.
    pub fn step_path(&self, i: usize) -> String {
        match self
            .flows
            .iter()
            .enumerate()
            .find(|(_, f)| f.steps.contains(&i))
        {
            Some((f, flow)) => format!("flows[{f}].steps[{}]", i - flow.steps.start),
            None => format!("steps[{i}]"),
        }
    }

    /// The flows as they run: those of `flows:`, or the one flow of a plain scenario (named
    /// after the scenario, every step, the scenario's load).
    pub fn flows_or_one(&self) -> Vec<Flow> {
        if !self.flows.is_empty() {
            return self.flows.clone();
        }
        vec![Flow {
            name: self.name.clone(),
            weight: None,
            load: None,
            steps: 0..self.steps.len(),
        }]
    }

    /// A token step by name.
    pub fn token(&self, name: &str) -> Option<&TokenStep> {
        self.tokens.iter().find(|t| t.name == name)
    }
}
