//! `convert --verify`: the converted scenario is replayed once against the target and
//! compared with its recording (`loadtape verify`); what verify can fix (an extractor the
//! live answers show is missing, a value to generate) becomes evidence, the scenario is
//! converted again with it, and verified again, for a bounded number of rounds. JMeter's
//! Correlation Recorder and LoadRunner correlate by replaying and comparing; this closes the
//! loop in one command.

use std::path::Path;

use anyhow::anyhow;
use loadtape_detect::Evidence;
use loadtape_recording::Recording;

use crate::exit::Failure;
use crate::server_args::ServerArgs;

/// What a repair loop works on.
pub(crate) struct Repair<'a> {
    /// The scenario file, rewritten after each fix.
    pub(crate) scenario: &'a Path,
    /// The recording it was converted from: what verify compares with.
    pub(crate) recording: &'a Recording,
    /// Where the target is.
    pub(crate) server: &'a ServerArgs,
    /// How many verify rounds at most.
    pub(crate) rounds: u32,
}

impl Repair<'_> {
    /// Verifies, fixes, and verifies again until a round matches (Ok), a divergence has no
    /// fix or its fix did not help, or the rounds run out (exit 1, with the evidence).
    /// `rebuild` converts again with the evidence and rewrites the scenario, returning what
    /// the evidence changed.
    pub(crate) fn run(
        &self,
        mut evidence: Evidence,
        rebuild: impl Fn(&Evidence) -> Result<Vec<String>, Failure>,
    ) -> Result<(), Failure> {
        let file = self.scenario.display();
        let mut said: Vec<String> = Vec::new();
        for round in 1..=self.rounds.max(1) {
            outln!();
            outln!("verify, round {round}: one iteration against the target");
            let report = crate::verify::check(self.scenario, self.recording, self.server)?;
            crate::verify::print_table(&report);
            if report.matched() {
                outln!(
                    "verified: every step answered as recorded{}",
                    match round - 1 {
                        0 => String::new(),
                        n => format!(" after {n} fix(es), written as comments in {file}"),
                    }
                );
                outln!("next: loadtape run {file}{}", self.server.as_flags());
                return Ok(());
            }
            let Some(cause) = report.cause else {
                break;
            };
            let Some(fact) = cause.fact() else {
                return Err(Failure::Other(anyhow!(
                    "verify diverged at step `{}` and found no fix it can apply: {} ({file} is \
                     written as converted; edit it as the `to do` line says)",
                    cause.step,
                    cause.summary
                )));
            };
            if !evidence.add(fact) {
                return Err(Failure::Other(anyhow!(
                    "verify diverged at step `{}` again after its fix was applied: {} (the fix \
                     is in {file}; the cause is elsewhere)",
                    cause.step,
                    cause.summary
                )));
            }
            let changes = rebuild(&evidence)?;
            let new: Vec<String> = changes.into_iter().filter(|c| !said.contains(c)).collect();
            crate::out::list(&format!("fixed in {file}"), &new);
            said.extend(new);
        }
        Err(Failure::Other(anyhow!(
            "{file} still diverges from its recording after {} verify round(s) (--rounds)",
            self.rounds.max(1)
        )))
    }
}
