//! `ramping-vus`: the number of iterating VUs follows the stages (linear between them). Every
//! VU up to the peak exists from the start; one above the current target sleeps, in steps of
//! 50 ms, until the ramp reaches it, so a VU ramped down and up again keeps its session and
//! its connections.

use std::time::Duration;

use loadtape_scenario::VuStage;

use super::guard::{guarded, Active};
use super::share::{more, Executor, Share};
use crate::schedule::vus_at;
use crate::vu::{Flow, Vu};

pub(super) struct RampingVus {
    /// VUs iterating at the start, before the first stage.
    pub start_vus: u32,
    /// Each stage's target and how long the ramp to it takes.
    pub stages: Vec<VuStage>,
    /// The peak of the ramp.
    pub max_vus: u32,
}

impl Executor for RampingVus {
    fn start(&self, share: &Share) {
        let (iterations, start, first) = (share.iterations, share.start, share.first_vu);
        for id in share.ids(self.max_vus) {
            let mut vu = Vu::new(id, share.ctx.clone());
            let ctx = share.ctx.clone();
            let stages = self.stages.clone();
            let start_vus = self.start_vus;
            share.tasks.spawn_local(guarded(ctx.clone(), async move {
                let mut active = None;
                while more(&ctx, iterations, &vu) {
                    let want = vus_at(start_vus, &stages, start.elapsed()) as u64;
                    if vu.id - first >= want {
                        active = None;
                        if !ctx.sleep(Duration::from_millis(50)).await {
                            break;
                        }
                        continue;
                    }
                    if active.is_none() {
                        active = Some(Active::new(&ctx));
                    }
                    if vu.iteration(None).await == Flow::Stop {
                        break;
                    }
                }
            }));
        }
    }
}
