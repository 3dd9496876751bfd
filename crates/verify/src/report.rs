//! What a verification found, per step and overall.

/// How one step's live answer compares with its recorded one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The answer looks like the recorded one.
    Same,
    /// The answer differs in a way that matters (the reasons say how).
    Diverged,
    /// The step was never sent (an earlier failure ended the iteration).
    NotReached,
    /// The step has no recorded exchange to compare with (hand-written, or no `recorded:`).
    Unrecorded,
}

impl Verdict {
    /// The word shown in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Diverged => "diverged",
            Verdict::NotReached => "not reached",
            Verdict::Unrecorded => "unrecorded",
        }
    }
}

/// One step (or token step) of the verified iteration.
#[derive(Debug, Clone)]
pub struct StepResult {
    /// The step's name.
    pub name: String,
    /// Whether it is a token step.
    pub token: bool,
    /// The recorded exchange's id.
    pub recorded: Option<u64>,
    /// The recorded status (0: the recording had no answer).
    pub recorded_status: Option<u16>,
    /// The live status; `None` when not sent or when it failed.
    pub live_status: Option<u16>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it diverged (or why it failed to be sent).
    pub reasons: Vec<String>,
}
