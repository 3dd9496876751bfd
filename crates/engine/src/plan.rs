//! A scenario compiled for running: every name resolved to a slot, every literal URL, header
//! and body built once, every origin mapped to where requests go. The hot path only renders
//! the parts that have expressions in them, and never parses a template.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Uri;
use indexmap::IndexMap;
use loadtape_scenario::template::Template;
use loadtape_scenario::Scenario;
use loadtape_scenario::{Check, Expiry, Extractor, Load, RefreshOn, Scope, Threshold};

use crate::data::DataSet;
use crate::observe::Observer;
use crate::output::Sink;
use crate::segment::Segment;
use crate::vars::{Slot, SlotTable};

mod flows;
mod origins;
mod request;

pub(crate) use flows::{FlowPlan, GroupPlan};

pub(crate) use origins::origin_key;
pub(crate) use origins::Origin;
use origins::Origins;
use request::compile_request;
pub(crate) use request::{BodyPlan, HeaderPart, RequestPlan, UrlPlan};

/// How to run, beyond the scenario.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--target ORIGIN=URL`, applied over the scenario's `target`.
    pub targets: Vec<(String, String)>,
    /// Extra CA certificates (PEM) to trust.
    pub ca_files: Vec<PathBuf>,
    /// Accept any server certificate.
    pub insecure: bool,
    /// Print every exchange.
    pub debug: bool,
    /// Where `--debug` blocks and warnings go; by default nowhere.
    pub sink: Sink,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// A request with no complete answer after this long fails as `timeout`.
    pub request_timeout: Duration,
    /// `--segment K/N`: only this segment's slice of each data source's rows is used (the
    /// executor is scaled by the caller, see [`crate::Segment::apply`]).
    pub segment: Segment,
    /// Sees every exchange as sent and answered (`loadtape verify`); `None` for load runs.
    pub observer: Option<Observer>,
    /// Keep every finished second for [`crate::Running::take_seconds`] (`run --timeline`),
    /// besides the folded timeline the result gets.
    pub stream_seconds: bool,
    /// Every this long, each worker hands over its totals so far, and
    /// [`crate::Running::take_checkpoint`] makes an outcome of the run so far (`run --out`
    /// rewritten while a long run goes on); `None`: only at the end.
    pub checkpoint: Option<Duration>,
    /// Publish live per-row numbers once a second ([`crate::Running::live`], for `run
    /// --metrics` and `--dashboard`); off, the workers send only their intervals.
    pub live: bool,
    /// `--connections N`: the VUs share N HTTP/2 connections per origin (spread over the
    /// workers), multiplexing their requests; `None`: each VU its own connection.
    pub shared_connections: Option<usize>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            targets: Vec::new(),
            ca_files: Vec::new(),
            insecure: false,
            debug: false,
            sink: Sink::silent(),
            workers: 0,
            request_timeout: Duration::from_secs(30),
            segment: Segment::WHOLE,
            observer: None,
            stream_seconds: false,
            checkpoint: None,
            live: false,
            shared_connections: None,
        }
    }
}

/// One value to take from an answer, and where it goes.
#[derive(Debug)]
pub struct ExtractPlan {
    /// The name templates use for the value.
    pub name: String,
    /// Where it is kept: a local slot, or for a shared token the index in its value list.
    pub slot: usize,
    /// How it is found in the answer.
    pub extractor: Extractor,
}

/// A token step, compiled: what the VUs run before their steps to log in.
#[derive(Debug)]
pub struct TokenPlan {
    /// The token step's name, for messages and the result.
    pub name: String,
    /// `scope: shared`: one value fetched for the whole run; else each VU fetches its own.
    pub shared: bool,
    /// Its `vars`, each in a local slot, rendered in order before each fetch.
    pub vars: Vec<(usize, Template)>,
    /// The request that fetches the token.
    pub request: RequestPlan,
    /// For a shared token `slot` is the index into its value list; for a per-VU one a local
    /// slot.
    pub extract: Vec<ExtractPlan>,
    /// The stated lifetime (fixed, or rendered from the extracted values); without it a
    /// JWT's `exp` is used, or a lifetime is learned from `refresh_on`.
    pub expires_in: Option<Expiry>,
    /// How long before expiry to refresh; by default a tenth of the lifetime, at most 1 min.
    pub refresh_before: Option<Duration>,
    /// The answers (to steps using the token) that mean it is no longer accepted.
    pub refresh_on: Option<RefreshOn>,
    /// The answer is parsed as JSON: an extractor reads the body, or `--debug` shows it.
    pub needs_body: bool,
    /// An extractor reads the body (`--debug` aside): a cut body fails the token step.
    pub judges_body: bool,
}

/// A step, compiled.
#[derive(Debug)]
pub struct StepPlan {
    /// The step's name, for messages and the result.
    pub name: String,
    /// Its `vars`, each in a local slot, rendered in order before each sending.
    pub vars: Vec<(usize, Template)>,
    /// The request the step sends.
    pub request: RequestPlan,
    /// What a good answer is; without a check, any status below 400.
    pub check: Option<Check>,
    /// Values taken from the answer for later steps; one not found aborts the iteration.
    pub extract: Vec<ExtractPlan>,
    /// The pause after the step, before the next one.
    pub think: Option<Duration>,
    /// The answer is parsed as JSON: a check, an extractor or a token's `refresh_on` reads
    /// the body, or `--debug` shows it.
    pub needs_body: bool,
    /// A check, an extractor or `refresh_on` reads the body (`--debug` aside): a cut body
    /// fails the step, whereas `--debug` only shows what was kept.
    pub judges_body: bool,
}

/// A scenario ready to run.
#[derive(Debug)]
pub struct Plan {
    /// The scenario's name.
    pub name: String,
    /// The scenario's file as given; data source paths were resolved against it.
    pub file: PathBuf,
    /// The scenario's `load`: its executor and `iterations`.
    pub load: Load,
    /// The scenario's thresholds, judged on the result by [`crate::report::result`].
    pub thresholds: Vec<Threshold>,
    /// The scenario states no thresholds: `thresholds` is the default one
    /// ([`loadtape_scenario::DEFAULT_THRESHOLD`]), and the result says so.
    pub default_thresholds: bool,
    /// Every name a template can use, mapped to where its value lives.
    pub slots: SlotTable,
    /// The CSV data sources, each already cut to this segment's rows.
    pub data: Vec<DataSet>,
    /// The scenario's variables: the local slot each is rendered into, and its template.
    pub variables: Vec<(usize, Template)>,
    /// Variables must be rendered every iteration (they use the clock, randomness or a data
    /// row picked per iteration); otherwise once per VU.
    pub variables_each_iteration: bool,
    /// Every origin a request may go to; a request names its origin by index in this list.
    pub origins: Vec<Origin>,
    /// The token steps, in the scenario's order (the metrics rows follow it).
    pub tokens: Vec<TokenPlan>,
    /// The steps, in the scenario's order (every flow's, each flow's in turn).
    pub steps: Vec<StepPlan>,
    /// The flows (one for a scenario without `flows:`), each naming its slice of `steps`.
    pub flows: Vec<FlowPlan>,
    /// The executors the run starts, each with the flows it picks from.
    pub groups: Vec<GroupPlan>,
    /// Effective origin mapping, for the result.
    pub targets: IndexMap<String, String>,
    /// How to run, as the caller gave it.
    pub options: Options,
}

/// A plan could not be made: bad input (an origin, a CSV file).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl Plan {
    /// Compiles scenario `s`, read from `file` (data source paths are relative to it). Fails
    /// on input that cannot run: an origin, URL or header that does not parse, a body that
    /// does not render, a CSV file that cannot be read or leaves this segment no rows.
    pub fn compile(s: &Scenario, file: &Path, options: Options) -> Result<Plan, PlanError> {
        check_env(s)?;
        let mut slots = SlotTable::default();
        let data = compile_data(s, file, options.segment, &mut slots)?;
        let (variables, each) = compile_variables(s, &data, &mut slots);
        let (targets, mut origins) = compile_targets(s, &options)?;
        let (tokens, token_of) = compile_tokens(s, &options, &mut slots, &mut origins, &targets)?;
        let steps = compile_steps(s, &options, &mut slots, &mut origins, &targets, &token_of)?;
        let (thresholds, default_thresholds) = s.judged_by();
        let (mut flows, groups) = flows::compile(s);
        // Which token steps each step and each token step uses.
        let step_uses: Vec<&[usize]> = steps.iter().map(|st| &st.request.tokens[..]).collect();
        let token_uses: Vec<&[usize]> = tokens.iter().map(|t| &t.request.tokens[..]).collect();
        flows::attach_tokens(&mut flows, &step_uses, &token_uses);
        Ok(Plan {
            name: s.name.clone(),
            file: file.to_path_buf(),
            load: s.load.clone(),
            thresholds,
            default_thresholds,
            slots,
            data,
            variables,
            variables_each_iteration: each,
            origins: origins.list,
            tokens,
            steps,
            flows,
            groups,
            targets,
            options,
        })
    }

    /// The most VUs the run may have at once: every executor's peak added up.
    pub fn max_vus(&self) -> u32 {
        flows::max_vus(&self.groups)
    }

    /// How long the run's schedule lasts: its longest executor's.
    pub fn duration(&self) -> Duration {
        flows::duration(&self.groups)
    }

    /// A flow ran on its own rate, or several flows ran: the result lists the flows.
    pub fn is_mixed(&self) -> bool {
        self.flows.len() > 1 || self.flows.iter().any(|f| f.funnel)
    }

    /// The origin a rendered URL's scheme and authority belong to, if the scenario names it.
    pub fn origin_of(&self, uri: &Uri) -> Option<usize> {
        let key = origin_key(uri)?;
        self.origins.iter().position(|o| o.key == key)
    }
}

/// Every `env("NAME")` the scenario reads must be set before the run starts: a missing one
/// fails every render of its template, which would be a run of errors (or, in a variable, a
/// run whose iterations never complete) instead of one clear message.
fn check_env(s: &Scenario) -> Result<(), PlanError> {
    for (place, t) in s.templates() {
        for name in t.env_names() {
            if std::env::var_os(name).is_none() {
                return Err(PlanError(format!(
                    "the environment variable `{name}` is not set ({place} reads it with \
                     env(\"{name}\")): set it for the run, e.g. `{name}=… loadtape run …`"
                )));
            }
        }
    }
    Ok(())
}

/// The data sources, each cut to this segment's rows, their columns bound as `name.column`.
fn compile_data(
    s: &Scenario,
    file: &Path,
    segment: Segment,
    slots: &mut SlotTable,
) -> Result<Vec<DataSet>, PlanError> {
    let mut data = Vec::new();
    for (name, source) in &s.data {
        let mut set = DataSet::load(name, &source.resolve(file), source.pick)
            .map_err(|e| PlanError(format!("data.{name}: {e}")))?;
        let rows = segment.rows(set.rows());
        if rows.is_empty() {
            return Err(PlanError(format!(
                "data.{name}: segment {} of its {} rows is empty; use fewer segments or more rows",
                segment,
                set.rows()
            )));
        }
        set.keep(rows);
        for (column, col) in set.columns.iter().enumerate() {
            slots.bind(
                &format!("{name}.{col}"),
                Slot::Data {
                    source: data.len(),
                    column,
                },
            );
        }
        data.push(set);
    }
    Ok(data)
}

/// The variables, each in a local slot, and whether they are rendered every iteration.
fn compile_variables(
    s: &Scenario,
    data: &[DataSet],
    slots: &mut SlotTable,
) -> (Vec<(usize, Template)>, bool) {
    let per_iteration_data = data
        .iter()
        .any(|d| d.pick != loadtape_scenario::Pick::PerVu);
    let mut variables = Vec::new();
    let mut each = false;
    for (name, t) in &s.variables {
        each |= t.is_volatile() || (per_iteration_data && !t.variables().is_empty());
        variables.push((slots.local(name), t.clone()));
    }

    (variables, each)
}

/// The origin mapping (the scenario's `target`, then `--target`) and the origins it names.
fn compile_targets(
    s: &Scenario,
    options: &Options,
) -> Result<(IndexMap<String, String>, Origins), PlanError> {
    let mut targets: IndexMap<String, String> = s.target.clone();
    for (from, to) in &options.targets {
        let from = loadtape_scenario::parse_origin(from)
            .map_err(|e| PlanError(format!("--target {from}={to}: {e}")))?;
        let to = loadtape_scenario::parse_origin(to)
            .map_err(|e| PlanError(format!("--target {from}={to}: {e}")))?;
        targets.insert(from, to);
    }
    let mut origins = Origins::default();
    for (from, to) in &targets {
        origins.add(from, Some(to)).map_err(PlanError)?;
    }

    Ok((targets, origins))
}

/// The token steps, and which token step each extracted name comes from.
fn compile_tokens(
    s: &Scenario,
    options: &Options,
    slots: &mut SlotTable,
    origins: &mut Origins,
    targets: &IndexMap<String, String>,
) -> Result<(Vec<TokenPlan>, HashMap<String, usize>), PlanError> {
    let mut token_of: HashMap<String, usize> = HashMap::new();
    let mut tokens = Vec::new();
    for (ti, t) in s.tokens.iter().enumerate() {
        let request =
            compile_request(&t.request, origins, targets, &token_of).map_err(PlanError)?;
        let shared = t.scope == Scope::Shared;
        let extract = t
            .extract
            .iter()
            .enumerate()
            .map(|(i, (name, ex))| {
                let slot = if shared {
                    slots.bind(
                        name,
                        Slot::Shared {
                            token: ti,
                            index: i,
                        },
                    );
                    i
                } else {
                    slots.local(name)
                };
                ExtractPlan {
                    name: name.clone(),
                    slot,
                    extractor: ex.clone(),
                }
            })
            .collect::<Vec<_>>();
        for name in t.extract.keys() {
            token_of.insert(name.clone(), ti);
        }
        let judges_body = extract.iter().any(|e| body_extractor(&e.extractor));
        let needs_body = judges_body || options.debug;
        tokens.push(TokenPlan {
            name: t.name.clone(),
            shared,
            vars: t
                .vars
                .iter()
                .map(|(name, t)| (slots.local(name), t.clone()))
                .collect(),
            request,
            extract,
            expires_in: t.expires_in.clone(),
            refresh_before: t.refresh_before,
            refresh_on: t.refresh_on.clone(),
            needs_body,
            judges_body,
        });
    }
    Ok((tokens, token_of))
}

fn compile_steps(
    s: &Scenario,
    options: &Options,
    slots: &mut SlotTable,
    origins: &mut Origins,
    targets: &IndexMap<String, String>,
    token_of: &HashMap<String, usize>,
) -> Result<Vec<StepPlan>, PlanError> {
    let mut steps = Vec::new();
    for st in &s.steps {
        let request =
            compile_request(&st.request, origins, targets, token_of).map_err(PlanError)?;
        let extract: Vec<ExtractPlan> = st
            .extract
            .iter()
            .map(|(name, ex)| ExtractPlan {
                name: name.clone(),
                slot: slots.local(name),
                extractor: ex.clone(),
            })
            .collect();
        let refresh_json = request.tokens.iter().any(|&t| {
            s.tokens[t]
                .refresh_on
                .as_ref()
                .is_some_and(|r| !r.json.is_empty())
        });
        let check_body = st
            .check
            .as_ref()
            .is_some_and(|c| !c.json.is_empty() || !c.body_contains.is_empty());
        let judges_body =
            refresh_json || check_body || extract.iter().any(|e| body_extractor(&e.extractor));
        let needs_body = options.debug || judges_body;
        let vars = st
            .vars
            .iter()
            .map(|(name, t)| (slots.local(name), t.clone()))
            .collect();
        steps.push(StepPlan {
            name: st.name.clone(),
            vars,
            request,
            check: st.check.clone(),
            extract,
            think: st.think,
            needs_body,
            judges_body,
        });
    }
    Ok(steps)
}

fn body_extractor(e: &Extractor) -> bool {
    matches!(e, Extractor::Json(_) | Extractor::Regex { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"
loadtape: scenario/v1
name: t
target:
  https://api.example.com: http://127.0.0.1:9
variables:
  base: https://api.example.com
steps:
  - name: a
    request: {method: GET, url: 'https://api.example.com/v1/goods?page=1'}
  - name: b
    request:
      method: POST
      url: '{{ base }}/v1/order'
      headers: [[x-id, '{{ base }}']]
      body: {json: {k: 1}}
load: {executor: constant-vus, vus: 1, duration: 1s}
"#;

    #[test]
    fn maps_origins_and_prebuilds_literals() {
        let s = loadtape_scenario::load_scenario_str(SCENARIO, "t.yaml").unwrap();
        let plan = Plan::compile(&s, Path::new("t.yaml"), Options::default()).unwrap();
        assert_eq!(plan.origins.len(), 1);
        let o = &plan.origins[0];
        assert_eq!(
            (o.at.is_https(), o.at.host.as_str(), o.at.port),
            (false, "127.0.0.1", 9)
        );
        assert_eq!(o.key, "https://api.example.com:443");
        assert!(matches!(
            &plan.steps[0].request.url,
            UrlPlan::Literal { origin: 0, pq } if pq.as_str() == "/v1/goods?page=1"
        ));
        assert!(
            matches!(plan.steps[1].request.body, BodyPlan::Literal(ref b) if b.as_ref() == br#"{"k":1}"#)
        );
        // A rendered URL is matched by origin; anything else is refused.
        let ok: Uri = "https://API.example.com:443/x".parse().unwrap();
        assert_eq!(plan.origin_of(&ok), Some(0));
        let other: Uri = "https://evil.example.com/x".parse().unwrap();
        assert_eq!(plan.origin_of(&other), None);
        assert!(!plan.variables_each_iteration);
    }

    #[test]
    fn command_line_targets_override_and_bad_ones_are_refused() {
        let s = loadtape_scenario::load_scenario_str(SCENARIO, "t.yaml").unwrap();
        let options = Options {
            targets: vec![(
                "https://api.example.com".into(),
                "https://localhost:8443".into(),
            )],
            ..Options::default()
        };
        let plan = Plan::compile(&s, Path::new("t.yaml"), options).unwrap();
        assert_eq!(plan.origins[0].at.port, 8443);
        assert!(plan.origins[0].at.is_https());
        let bad = Options {
            targets: vec![("api.example.com".into(), "x".into())],
            ..Options::default()
        };
        assert!(Plan::compile(&s, Path::new("t.yaml"), bad).is_err());
    }
}
