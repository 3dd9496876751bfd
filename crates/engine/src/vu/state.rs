//! A VU's own state: its variables, data rows, tokens, connections and cookie jar. Kept apart
//! from the code that runs the flow so that the flow, its requests and its token steps can each
//! use it without using one another back.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use loadtape_scenario::Pick;

use crate::ctx::Ctx;
use crate::http::Conn;
use crate::jar::Jar;
use crate::tokens::TokenValue;
use crate::vars::View;

/// A per-VU token's state (its values are the VU's locals).
#[derive(Default, Clone, Copy)]
pub(super) struct OwnToken {
    pub(super) generation: u64,
    pub(super) refresh_at: Option<Instant>,
    /// `None` when no lifetime is known.
    pub(super) expires_at: Option<Instant>,
    pub(super) fetched_at: Option<Instant>,
    /// This VU's share (0 to 1) of the early refresh that keeps VUs from refreshing together.
    pub(super) spread: f64,
}

/// One virtual user; its flow runs on one worker's thread, one iteration at a time.
pub(crate) struct Vu {
    /// The VU's number in the run, unique across workers: it picks a `per-vu` data row and
    /// decides when a ramp reaches the VU.
    pub id: u64,
    pub(super) ctx: Rc<Ctx>,
    pub(super) locals: Vec<Option<String>>,
    pub(super) typed: Vec<bool>,
    pub(super) rows: Vec<Option<usize>>,
    pub(super) shared: Vec<Option<Arc<TokenValue>>>,
    pub(super) own: Vec<OwnToken>,
    pub(super) conns: Vec<Option<Conn>>,
    pub(super) jar: Jar,
    pub(super) vars_ready: bool,
    /// Iterations this VU has finished or given up on: what `--iterations` counts.
    pub iterations: u64,
}

impl Vu {
    pub(crate) fn new(id: u64, ctx: Rc<Ctx>) -> Vu {
        let plan = &ctx.plan;
        let rows = plan
            .data
            .iter()
            .map(|d| (d.pick == Pick::PerVu).then(|| d.for_vu(id)))
            .collect();
        let own = OwnToken {
            spread: fastrand::f64(),
            ..OwnToken::default()
        };
        Vu {
            id,
            locals: vec![None; plan.slots.locals()],
            typed: vec![false; plan.slots.locals()],
            rows,
            shared: vec![None; plan.tokens.len()],
            own: vec![own; plan.tokens.len()],
            conns: (0..plan.origins.len()).map(|_| None).collect(),
            jar: Jar::default(),
            vars_ready: false,
            iterations: 0,
            ctx,
        }
    }

    pub(super) fn view(&self) -> View<'_> {
        View {
            table: &self.ctx.plan.slots,
            locals: &self.locals,
            typed: &self.typed,
            rows: &self.rows,
            data: &self.ctx.plan.data,
            shared: &self.shared,
        }
    }
}
