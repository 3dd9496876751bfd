//! `flows:`, the mixed scenario (PTS's "mixed" test design, k6's `scenarios`): several named
//! flows, each with its own steps and either a `weight` (its share of the iterations of the
//! scenario's `load`) or a `load` of its own, all sharing the scenario's token steps,
//! variables and data.
//!
//! The file keeps each flow's steps under the flow; in memory every step is in
//! [`Scenario::steps`] and a [`Flow`] names its slice, so that everything that walks steps
//! (validation, the engine's metric rows, reports) walks one list.

use std::ops::Range;

use indexmap::IndexMap;
use serde::Deserialize;

use super::context::Context;
use super::de::tag;
use super::{DataSource, Executor, Load, Scenario, Step, Template, Threshold, TokenStep};
use loadtape_recording::Error;

/// One flow of a mixed scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Names the flow in the summary, results and thresholds (`checkout.p95`); unique among
    /// flows, steps and token steps.
    pub name: String,
    /// Its share of the iterations of the scenario's `load`, against the other flows that
    /// share it (70, 20, 10); `None` means 1, or a flow with its own `load`.
    pub weight: Option<u32>,
    /// A load of its own (an executor run beside the scenario's), instead of a weight.
    pub load: Option<Load>,
    /// Its steps: indices into [`Scenario::steps`].
    pub steps: Range<usize>,
}

impl Flow {
    /// The weight it is picked by among the flows sharing the scenario's `load`.
    pub fn weight_or_one(&self) -> u32 {
        self.weight.unwrap_or(1)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlow {
    name: String,
    #[serde(default)]
    weight: Option<u32>,
    #[serde(default)]
    load: Option<Load>,
    #[serde(default)]
    steps: Vec<Step>,
}

/// The file's shape: `steps:` or `flows:` (both are accepted here, and refused by the
/// validation with their lines).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    loadtape: String,
    name: String,
    #[serde(default)]
    recording: Option<String>,
    #[serde(default)]
    target: IndexMap<String, String>,
    #[serde(default)]
    variables: IndexMap<String, Template>,
    #[serde(default)]
    data: IndexMap<String, DataSource>,
    #[serde(default)]
    tokens: Vec<TokenStep>,
    #[serde(default)]
    steps: Vec<Step>,
    #[serde(default)]
    flows: Vec<RawFlow>,
    #[serde(default)]
    load: Option<Load>,
    #[serde(default)]
    thresholds: Option<Vec<Threshold>>,
}

/// A [`Scenario`] as the loader parses it: from the file's shape, through [`RawScenario`].
#[derive(Deserialize)]
#[serde(try_from = "RawScenario")]
pub(crate) struct Parsed(pub(crate) Scenario);

impl TryFrom<RawScenario> for Parsed {
    type Error = String;

    /// The scenario's `load` is there exactly when some flow shares it: required for a plain
    /// scenario and for flows without a load of their own, refused when every flow has its own
    /// (it would run nothing; in memory it is then the first flow's, for the run's settings).
    fn try_from(r: RawScenario) -> Result<Parsed, String> {
        let all_own = !r.flows.is_empty() && r.flows.iter().all(|f| f.load.is_some());
        let first_own = r
            .flows
            .first()
            .and_then(|f| f.load.clone())
            .filter(|_| all_own);
        let load =
            match (r.load, first_own) {
                (Some(_), Some(_)) => return Err(tag(
                    "load",
                    "no flow shares the scenario's `load`: every flow has a load of its own",
                    "leave `load` out, or take a flow's own `load` away so that it shares this one",
                )),
                (Some(l), None) | (None, Some(l)) => l,
                (None, None) => return Err(tag(
                    "load",
                    "missing field `load`",
                    "add `load:` (e.g. `load: {executor: constant-vus, vus: 10, duration: 1m}`)",
                )),
            };
        let mut steps = r.steps;
        let mut flows = Vec::with_capacity(r.flows.len());
        for f in r.flows {
            let start = steps.len();
            steps.extend(f.steps);
            flows.push(Flow {
                name: f.name,
                weight: f.weight,
                load: f.load,
                steps: start..steps.len(),
            });
        }
        Ok(Parsed(Scenario {
            loadtape: r.loadtape,
            name: r.name,
            recording: r.recording,
            target: r.target,
            variables: r.variables,
            data: r.data,
            tokens: r.tokens,
            steps,
            flows,
            load,
            thresholds: r.thresholds,
        }))
    }
}

/// The checks of `flows:` and of funnel rates, after the names are known to be unique.
pub(crate) fn check(s: &Scenario, cx: &Context<'_>) -> Result<(), Error> {
    if s.flows.first().is_some_and(|f| f.steps.start > 0) {
        return Err(cx.error(
            "flows",
            "the scenario has both `steps` and `flows`",
            Some("a scenario is one flow (`steps:`) or several (`flows:`): move the steps into a flow".into()),
        ));
    }
    let sharing = s.flows.iter().filter(|f| f.load.is_none()).count();
    for (i, f) in s.flows.iter().enumerate() {
        let path = format!("flows[{i}]");
        if f.steps.is_empty() {
            return Err(cx.error(
                &format!("{path}.steps"),
                format!("flow `{}` has no steps", f.name),
                Some("add at least one request under its `steps`".into()),
            ));
        }
        match (f.weight, &f.load) {
            (Some(0), _) => {
                return Err(cx.error(
                    &format!("{path}.weight"),
                    "`weight` must be at least 1",
                    Some("a flow that should not run can be left out".into()),
                ))
            }
            (Some(_), Some(_)) => {
                return Err(cx.error(
                    &format!("{path}.weight"),
                    format!("flow `{}` has both a `weight` and a `load` of its own", f.name),
                    Some("a weight shares the scenario's `load` between flows; a flow with its own `load` runs beside them: keep one".into()),
                ))
            }
            _ => {}
        }
        let own = f.load.as_ref();
        funnel(
            s,
            cx,
            &path,
            f.steps.clone(),
            own.unwrap_or(&s.load),
            own.is_none() && sharing > 1,
        )?;
    }
    if s.flows.is_empty() {
        funnel(s, cx, "", 0..s.steps.len(), &s.load, false)?;
    }
    Ok(())
}

/// A flow's step rates: the first step's is the flow's `constant-rate`, and none is above
/// the one before (a step cannot be reached by more iterations than reach its predecessor).
fn funnel(
    s: &Scenario,
    cx: &Context<'_>,
    flow_path: &str,
    steps: Range<usize>,
    load: &Load,
    shared_load: bool,
) -> Result<(), Error> {
    let Some(last) = steps.clone().rev().find(|&i| s.steps[i].rate.is_some()) else {
        return Ok(());
    };
    let first = steps.start;
    let here = |i: usize| format!("{}.rate", s.step_path(i));
    let Some(top) = s.steps[first].rate else {
        return Err(cx.error(
            &here(last),
            "a funnel starts at the flow's first step: it has no `rate`",
            Some(format!(
                "give step `{}` the flow's rate",
                s.steps[first].name
            )),
        ));
    };
    let load_path = if flow_path.is_empty() {
        "load".to_string()
    } else {
        format!("{flow_path}.load")
    };
    if shared_load {
        return Err(cx.error(
            &here(first),
            "a funnel flow needs a `load` of its own",
            Some(format!(
                "give the flow `load: {{executor: constant-rate, rate: {top}, duration: …, max_vus: …}}`"
            )),
        ));
    }
    match &load.executor {
        Executor::ConstantRate { rate, .. } if rate.as_per_second() == top.as_per_second() => {}
        Executor::ConstantRate { rate, .. } => {
            return Err(cx.error(
                &here(first),
                format!("the first step's rate {top} is not the flow's load rate {rate}"),
                Some(format!(
                    "the first step's rate is the flow's: make `{load_path}.rate` {top}"
                )),
            ))
        }
        other => {
            return Err(cx.error(
                &load_path,
                format!("a funnel runs on `constant-rate`, not `{}`", other.name()),
                Some(format!("use `executor: constant-rate` with `rate: {top}`")),
            ))
        }
    }
    let mut before = top;
    for i in steps {
        let Some(r) = s.steps[i].rate else { continue };
        if r.as_per_second() > before.as_per_second() {
            return Err(cx.error(
                &here(i),
                format!(
                    "step `{}` wants {r}, more than the {before} that reach the step before it",
                    s.steps[i].name
                ),
                Some("a funnel narrows: each step's rate is at most the one before".into()),
            ));
        }
        before = r;
    }
    Ok(())
}
