//! Flows and the loads that drive them, compiled: which executors a run starts (one per
//! [`GroupPlan`]), which flows each one's iterations are shared between and by what weights,
//! and, for a funnel, what share of a flow's iterations goes on past each step.

use std::ops::Range;

use loadtape_scenario::{Load, Scenario};

/// A flow, compiled.
#[derive(Debug, Clone)]
pub struct FlowPlan {
    /// The flow's name (the scenario's own name for a scenario of one flow).
    pub name: String,
    /// Its steps, indices into [`super::Plan::steps`].
    pub steps: Range<usize>,
    /// Its share of its group's iterations, against the group's other flows.
    pub weight: u32,
    /// Per step of the flow (index `k` for `steps.start + k`): the share of the iterations
    /// that reached step `k - 1` that go on to step `k` (1 for the first step, and for every
    /// step when the flow is no funnel).
    pub go_on: Vec<f64>,
    /// The flow states step rates.
    pub funnel: bool,
    /// The flow has a `load` of its own (else it shares the scenario's by its weight).
    pub own_load: bool,
    /// The index of the group that runs it.
    pub group: usize,
    /// The token steps its iterations make sure of, in order: those its steps use (and the
    /// token steps those use), and every token step no flow's step uses (a cookie login).
    pub tokens: Vec<usize>,
}

/// One executor of the run and the flows it picks from: the scenario's `load` shared by the
/// flows without a load of their own, and one group per flow with its own.
#[derive(Debug, Clone)]
pub struct GroupPlan {
    /// The executor and its `iterations`.
    pub load: Load,
    /// Indices into [`super::Plan::flows`], in the scenario's order.
    pub flows: Vec<usize>,
    /// The group's VU ids start here, so that VUs of all groups are numbered apart (a
    /// `per-vu` data row is picked by the VU's id).
    pub first_vu: u64,
}

/// The flows and groups of `s`: a scenario of one flow is one group of one flow.
pub(super) fn compile(s: &Scenario) -> (Vec<FlowPlan>, Vec<GroupPlan>) {
    let mut flows = Vec::new();
    let mut groups: Vec<GroupPlan> = Vec::new();
    let mut shared: Option<usize> = None;
    for f in s.flows_or_one() {
        let index = flows.len();
        let group = match &f.load {
            Some(load) => {
                groups.push(group(load.clone(), index));
                groups.len() - 1
            }
            None => match shared {
                Some(g) => {
                    groups[g].flows.push(index);
                    g
                }
                None => {
                    groups.push(group(s.load.clone(), index));
                    shared = Some(groups.len() - 1);
                    groups.len() - 1
                }
            },
        };
        let rates: Vec<Option<f64>> = f
            .steps
            .clone()
            .map(|i| s.steps[i].rate.map(|r| r.as_per_second()))
            .collect();
        flows.push(FlowPlan {
            name: f.name.clone(),
            weight: f.weight_or_one(),
            go_on: go_on(&rates),
            funnel: rates.iter().any(Option::is_some),
            own_load: f.load.is_some(),
            steps: f.steps.clone(),
            group,
            tokens: Vec::new(),
        });
    }
    let mut first_vu = 0u64;
    for g in &mut groups {
        g.first_vu = first_vu;
        first_vu += g.load.executor.max_vus() as u64;
    }
    (flows, groups)
}

/// Each flow's token steps: what its steps' requests use, what those token steps use in
/// turn, and every token step no request uses (its effect is unseen, as a login
/// whose session is a cookie: it runs for every flow, as in a scenario of one flow).
pub(super) fn attach_tokens(flows: &mut [FlowPlan], steps: &[&[usize]], tokens: &[&[usize]]) {
    let used_anywhere: Vec<usize> = steps
        .iter()
        .chain(tokens)
        .flat_map(|uses| uses.iter().copied())
        .collect();
    for f in flows {
        let mut need = vec![false; tokens.len()];
        for uses in &steps[f.steps.clone()] {
            for &t in *uses {
                need[t] = true;
            }
        }
        for (t, n) in need.iter_mut().enumerate() {
            *n |= !used_anywhere.contains(&t);
        }
        // A token step uses only those before it: one pass from the last takes them all.
        for t in (0..tokens.len()).rev() {
            if need[t] {
                for &dep in tokens[t] {
                    need[dep] = true;
                }
            }
        }
        f.tokens = (0..tokens.len()).filter(|&t| need[t]).collect();
    }
}

fn group(load: Load, flow: usize) -> GroupPlan {
    GroupPlan {
        load,
        flows: vec![flow],
        first_vu: 0,
    }
}

/// Each step's share of the iterations that reached the step before: its rate over the last
/// rate stated before it (a step without a rate keeps the rate of the one before).
fn go_on(rates: &[Option<f64>]) -> Vec<f64> {
    let mut last: Option<f64> = None;
    rates
        .iter()
        .map(|r| {
            let share = match (last, r) {
                (Some(before), Some(now)) if before > 0.0 => (now / before).min(1.0),
                _ => 1.0,
            };
            if r.is_some() {
                last = *r;
            }
            share
        })
        .collect()
}

/// The run's VUs at most: every group's peak added up.
pub(super) fn max_vus(groups: &[GroupPlan]) -> u32 {
    groups
        .iter()
        .map(|g| g.load.executor.max_vus())
        .fold(0u32, u32::saturating_add)
}

/// How long the run's schedule lasts: its longest group's.
pub(super) fn duration(groups: &[GroupPlan]) -> std::time::Duration {
    groups
        .iter()
        .map(|g| g.load.executor.duration())
        .max()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_runs_the_token_steps_it_uses_and_those_no_flow_uses() {
        let text = "\
loadtape: scenario/v1
name: t
tokens:
  - name: platform
    scope: shared
    request: {method: GET, url: 'https://a.example/token'}
    extract: {access: {json: $.t}}
  - name: login
    request: {method: POST, url: 'https://a.example/login?a={{ access }}'}
    extract: {session: {json: $.s}}
  - name: other
    request: {method: POST, url: 'https://b.example/login'}
    extract: {b_session: {json: $.s}}
  - name: cookie
    request: {method: POST, url: 'https://a.example/cookie-login'}
    extract: {unused: {json: $.x}}
flows:
  - name: a
    steps:
      - name: a1
        request: {method: GET, url: 'https://a.example/x?s={{ session }}'}
  - name: b
    steps:
      - name: b1
        request: {method: GET, url: 'https://b.example/y?s={{ b_session }}'}
load: {executor: constant-vus, vus: 1, duration: 1s}
";
        let s = loadtape_scenario::load_scenario_str(text, "/nonexistent/t.yaml").unwrap();
        let plan = super::super::Plan::compile(
            &s,
            std::path::Path::new("/nonexistent/t.yaml"),
            Default::default(),
        )
        .unwrap();
        assert_eq!(
            plan.flows[0].tokens,
            [0, 1, 3],
            "login needs platform; cookie is unused"
        );
        assert_eq!(plan.flows[1].tokens, [2, 3]);
    }

    #[test]
    fn funnel_shares_are_rates_over_the_rate_before() {
        let g = go_on(&[Some(1000.0), Some(300.0), None, Some(50.0)]);
        assert_eq!(g.len(), 4);
        assert!((g[1] - 0.3).abs() < 1e-9 && g[2] == 1.0);
        assert!((g[3] - 50.0 / 300.0).abs() < 1e-9);
        assert_eq!(go_on(&[None, None]), vec![1.0, 1.0]);
    }
}
