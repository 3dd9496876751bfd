//! `constant-vus`: every VU iterates from the start to the end of the run.

use super::guard::{guarded, Active};
use super::share::{more, Executor, Share};
use crate::vu::{Flow, Vu};

pub(super) struct ConstantVus {
    /// VUs in the whole run (this worker runs its share of them).
    pub vus: u32,
}

impl Executor for ConstantVus {
    fn start(&self, share: &Share) {
        let iterations = share.iterations;
        for id in share.ids(self.vus) {
            let mut vu = Vu::new(id, share.ctx.clone());
            let ctx = share.ctx.clone();
            share.tasks.spawn_local(guarded(ctx.clone(), async move {
                let _active = Active::new(&ctx);
                while more(&ctx, iterations, &vu) {
                    if vu.iteration(None).await == Flow::Stop {
                        break;
                    }
                }
            }));
        }
    }
}
