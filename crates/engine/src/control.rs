//! The run-wide stop switch, shared by the coordinator, every worker thread and the Ctrl-C
//! handler: the one piece of state that must reach all of them at once.

use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

/// Why a run ended: `result/v1`'s `end_reason` ([`EndReason::name`]), and whether the result
/// is partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Nothing stopped the run early: the executor's schedule ran its duration.
    Completed,
    /// `--iterations N` ended the run: every VU finished its flows well before the duration.
    Iterations,
    /// A `unique` data source ran out of rows.
    Data,
    /// A token step never succeeded: no step could run without it.
    Token,
    /// Stopped from outside ([`crate::Stopper::interrupt`]: Ctrl-C, SIGTERM), or a worker
    /// could not start; the result is marked partial.
    Interrupted,
    /// A VU stopped on a panic (a bug in loadtape): the run fails, its result is partial.
    Internal,
}

impl EndReason {
    /// The reason as `result/v1`'s `end_reason` spells it.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Completed => "completed",
            EndReason::Iterations => "iterations",
            EndReason::Data => "data",
            EndReason::Token => "token",
            EndReason::Interrupted => "interrupted",
            EndReason::Internal => "internal",
        }
    }
}

/// The run-wide stop switch.
#[derive(Default)]
pub(crate) struct Control {
    /// Cancelled when the run stops; each worker's stop is a child of it.
    stop: CancellationToken,
    reason: Mutex<Option<EndReason>>,
    /// What went wrong, when the run ends on a failure ([`Control::fail`]).
    detail: Mutex<Option<String>>,
}

impl Control {
    /// Ends the run early (the first reason given is kept).
    pub(crate) fn end(&self, reason: EndReason) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        r.get_or_insert(reason);
        drop(r);
        self.stop.cancel();
    }

    /// Ends the run because it cannot go on: `detail` says why (kept for the summary and the
    /// exit message). Only the first failure is kept; `say` is called with it, before the run
    /// is stopped, so that the reason is printed ahead of anything the stop causes.
    pub(crate) fn fail(&self, reason: EndReason, detail: String, say: impl FnOnce(&str)) {
        let mut d = self.detail.lock().unwrap_or_else(|p| p.into_inner());
        if d.is_none() && !self.stopped() {
            say(&detail);
            *d = Some(detail);
        }
        drop(d);
        self.end(reason);
    }

    /// Ends the run on a bug (a VU's panic): unlike [`Control::fail`], recorded even when the
    /// run is already stopping, so that the run cannot end as a success.
    pub(crate) fn internal(&self, detail: String, say: impl FnOnce(&str)) {
        let mut d = self.detail.lock().unwrap_or_else(|p| p.into_inner());
        if d.is_none() {
            say(&detail);
            *d = Some(detail);
        }
        drop(d);
        self.end(EndReason::Internal);
    }

    pub(crate) fn detail(&self) -> Option<String> {
        self.detail
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop.is_cancelled()
    }

    pub(crate) fn reason(&self) -> Option<EndReason> {
        *self.reason.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns once the run is stopped.
    pub(crate) async fn wait(&self) {
        self.stop.cancelled().await;
    }

    /// A stop of its own that the run's stop also triggers: a worker's.
    pub(crate) fn child_stop(&self) -> CancellationToken {
        self.stop.child_token()
    }
}
