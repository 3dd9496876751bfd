//! What `run` writes while the run goes, not only at its end, so that a run killed at hour 50
//! leaves 50 hours: every second appended to `--timeline`, and `--out` rewritten every
//! `--checkpoint` (atomically: a reader never sees half a file) as a valid result marked
//! `partial: true`, `end_reason: checkpoint`, until the end writes the real one.

use std::path::PathBuf;

use loadtape_engine::{report, Outcome, Running};
use loadtape_report::result::RunResult;

use crate::timeline_file::TimelineFile;

/// `end_reason` of a result written while its run went on.
pub const CHECKPOINT: &str = "checkpoint";

/// What the command line says of a run that its result keeps.
pub struct Stamp {
    /// The scenario file as given.
    pub scenario_file: String,
    /// `--segment K/N` of a distributed run.
    pub segment: Option<String>,
    /// `--label`: the run's name among others, for `report compare`.
    pub label: Option<String>,
}

/// The files a run keeps up to date as it goes.
pub struct Along {
    /// `--timeline`, open.
    pub timeline: Option<TimelineFile>,
    /// `--out`, when checkpoints are on.
    checkpoint: Option<PathBuf>,
    /// What the result says of the run besides the engine's figures.
    stamp: Stamp,
    /// Set once a checkpoint could not be written (a full disk): said once; the run goes on.
    broken: bool,
}

impl Along {
    /// Files for a run: `timeline` already created, checkpoints of the result to `out`.
    pub fn new(timeline: Option<TimelineFile>, checkpoint: Option<PathBuf>, stamp: Stamp) -> Along {
        Along {
            timeline,
            checkpoint,
            stamp,
            broken: false,
        }
    }

    /// The run has started: its seconds count from its start.
    pub fn started(&mut self, running: &Running) {
        if let Some(t) = &mut self.timeline {
            t.set_started(running.started());
        }
    }

    /// After each poll of the run: new seconds to the timeline, a new checkpoint to `--out`.
    pub fn update(&mut self, running: &mut Running) {
        if let Some(t) = &mut self.timeline {
            t.append(&running.take_seconds());
        }
        if let Some(o) = running.take_checkpoint() {
            self.write_checkpoint(o);
        }
    }

    /// The run has ended: the last seconds to the timeline. (`--out` is written by the caller,
    /// with the other result files.)
    pub fn finished(&mut self, outcome: &Outcome) {
        if let Some(t) = &mut self.timeline {
            t.append(&outcome.last_seconds);
            outln!("timeline written to {}", t.path().display());
        }
    }

    /// The run's `result/v1` (so far, or at its end): the scenario file and the segment said.
    pub fn result(&self, o: &Outcome) -> RunResult {
        let mut r = report::result(o, Some(self.stamp.scenario_file.clone()));
        r.settings.segment = self.stamp.segment.clone();
        r.label = self.stamp.label.clone();
        r
    }

    fn write_checkpoint(&mut self, mut o: Outcome) {
        let Some(path) = self.checkpoint.as_ref().filter(|_| !self.broken) else {
            return;
        };
        // The timeline moved, not copied: a checkpoint of a long run holds one copy of it.
        let timeline = std::mem::take(&mut o.timeline);
        let mut r = self.result(&o);
        r.timeline = timeline;
        r.end_reason = CHECKPOINT.into();
        r.partial = true;
        if let Err(e) = crate::outputs::write_result(path, &r) {
            self.broken = true;
            eprintln!(
                "warning: checkpoint of {} failed: {e}; the run goes on and writes it at the end",
                path.display()
            );
        }
    }
}
