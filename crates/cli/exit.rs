//! Exit codes, as k6 uses them: 0 passed, 99 a threshold failed, 2 bad input, 1 anything else.

use std::process::ExitCode;

/// Why a command failed, and so which exit code it ends with.
#[derive(Debug)]
pub enum Failure {
    /// The user's input (a file, a flag) is wrong: exit 2.
    BadInput(anyhow::Error),
    /// Something else went wrong (a port in use, a disk error): exit 1.
    Other(anyhow::Error),
    /// The run finished but a threshold failed: exit 99, as k6.
    Thresholds(anyhow::Error),
}

impl Failure {
    pub fn report(self) -> ExitCode {
        let (code, error) = match self {
            Failure::BadInput(e) => (2, e),
            Failure::Other(e) => (1, e),
            Failure::Thresholds(e) => (99, e),
        };
        eprintln!("error: {error:#}");
        ExitCode::from(code)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Other(e)
    }
}
