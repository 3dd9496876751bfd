//! `loadtape-verify`: replays one iteration of a converted scenario and compares every answer
//! with the exchange it was converted from (`recorded:` on each step), so a scenario is known
//! to be right before it is run as load. Static detection never sees everything; the server
//! under test is the oracle.
//!
//! - [`run_once`] replays one VU's single iteration (token steps included) and returns what
//!   the engine's observer saw.
//! - [`compare`] turns that into a [`Report`]: per step a [`Verdict`] with its reasons, and
//!   for the first diverging step a [`Cause`] with its evidence and, when there is one, the
//!   scenario [`Fix`].
//!
//! The crate never prints: the CLI renders the report.

mod cause;
mod compare;
mod report;
mod values;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use loadtape_engine::{Observed, Observer, Options, Plan, PlanError};
use loadtape_recording::{Exchange, Recording};
use loadtape_scenario::{Executor, Scenario};

pub use cause::{Cause, Fix};
pub use report::{StepResult, Verdict};

/// The whole verification.
#[derive(Debug, Clone)]
pub struct Report {
    /// Token steps, then steps, in the order the scenario runs them.
    pub steps: Vec<StepResult>,
    /// Why the first diverging step diverged, when something did.
    pub cause: Option<Cause>,
}

impl Report {
    /// Every step that was compared matched.
    pub fn matched(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s.verdict, Verdict::Same | Verdict::Unrecorded))
    }
}

/// Replays one iteration with one VU against `options`' targets and returns every exchange
/// as sent and answered, in order.
pub fn run_once(
    scenario: &Scenario,
    file: &Path,
    mut options: Options,
) -> Result<Vec<Observed>, PlanError> {
    let mut one = scenario.clone();
    // One iteration covers every step: the flows of a mixed scenario run one after another
    // (their steps are in flow order already), without the funnel's step rates.
    one.flows.clear();
    one.thresholds = None;
    for step in &mut one.steps {
        step.rate = None;
    }
    one.load.executor = Executor::ConstantVus {
        vus: 1,
        duration: std::time::Duration::from_secs(300),
    };
    one.load.iterations = Some(1);
    let seen: Arc<Mutex<Vec<Observed>>> = Arc::default();
    let into = seen.clone();
    options.workers = 1;
    options.observer = Some(Observer::new(move |o| {
        if let Ok(mut v) = into.lock() {
            v.push(o.clone());
        }
    }));
    let plan = Plan::compile(&one, file, options)?;
    loadtape_engine::start(plan)?.finish();
    let out = seen.lock().map(|v| v.clone()).unwrap_or_default();
    Ok(out)
}

/// The steps as the scenario runs them: token steps, then steps (name, token?, recorded id).
fn order(s: &Scenario) -> Vec<(String, bool, Option<u64>)> {
    let tokens = s.tokens.iter().map(|t| (t.name.clone(), true, t.recorded));
    let steps = s.steps.iter().map(|t| (t.name.clone(), false, t.recorded));
    tokens.chain(steps).collect()
}

/// Compares what [`run_once`] saw with the recording the scenario was converted from.
pub fn compare(scenario: &Scenario, recording: &Recording, seen: &[Observed]) -> Report {
    let by_id: HashMap<u64, &Exchange> = recording.exchanges.iter().map(|e| (e.id, e)).collect();
    let steps_order = order(scenario);
    // The first (token steps refresh; only the first sending is this iteration's own).
    let mut live: HashMap<&str, &Observed> = HashMap::new();
    for o in seen {
        live.entry(o.step.as_str()).or_insert(o);
    }
    let mut steps = Vec::new();
    for (name, token, recorded) in &steps_order {
        let rec = recorded.and_then(|id| by_id.get(&id).copied());
        steps.push(step_result(
            name,
            *token,
            *recorded,
            rec,
            live.get(name.as_str()),
        ));
    }
    let cause = steps
        .iter()
        .position(|s| s.verdict == Verdict::Diverged)
        .map(|at| {
            let ctx = cause::Context {
                scenario,
                by_id: &by_id,
                live: &live,
                steps: &steps,
            };
            cause::analyse(&ctx, at)
        });
    Report { steps, cause }
}

fn step_result(
    name: &str,
    token: bool,
    recorded: Option<u64>,
    rec: Option<&Exchange>,
    live: Option<&&Observed>,
) -> StepResult {
    let mut r = StepResult {
        name: name.to_string(),
        token,
        recorded,
        recorded_status: rec.map(|e| e.response.as_ref().map_or(0, |r| r.status)),
        live_status: None,
        verdict: Verdict::NotReached,
        reasons: Vec::new(),
    };
    let Some(o) = live else {
        return r;
    };
    match &o.outcome {
        Err(m) => {
            r.verdict = Verdict::Diverged;
            r.reasons.push(format!("no answer: {m}"));
        }
        Ok(a) => {
            r.live_status = Some(a.status.as_u16());
            r.verdict = match rec.and_then(|e| e.response.as_ref()) {
                None if recorded.is_none() => Verdict::Unrecorded,
                None => {
                    r.reasons.push(match recorded {
                        Some(id) => {
                            format!("exchange {id} is not in the recording (or had no answer)")
                        }
                        None => String::new(),
                    });
                    Verdict::Unrecorded
                }
                Some(resp) => {
                    r.reasons = compare::differences(resp, a);
                    if r.reasons.is_empty() {
                        Verdict::Same
                    } else {
                        Verdict::Diverged
                    }
                }
            };
        }
    }
    r
}
