//! The exit-code contract every binary keeps; Airflow and on-call scripts act on it.
//!
//! | code | meaning | what to do |
//! |------|---------|------------|
//! | 0 | the run finished; its summary line is on stdout | nothing |
//! | 1 | runtime or data failure (missing table, unreachable service, corrupt input) | read the error, fix, rerun the same range: reruns are idempotent |
//! | 2 | usage or configuration error (bad flag, bad date range, missing setting, stage not implemented) | fix the invocation; retrying as is will fail again |
//!
//! clap's own parse errors also exit with 2, so "2" always means "the command line is wrong".

use std::fmt;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    Failure,
    Usage,
}

impl ExitStatus {
    pub const fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
        }
    }

    /// Classifies an error: anything with a [`UsageError`] in its chain is the caller's mistake.
    pub fn of_error(err: &anyhow::Error) -> Self {
        if err.chain().any(|cause| cause.is::<UsageError>()) {
            ExitStatus::Usage
        } else {
            ExitStatus::Failure
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

/// An error in how the binary was invoked or configured; exits with 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn usage_errors_exit_2_even_when_wrapped() {
        let err = Err::<(), _>(UsageError::new("bad flag"))
            .context("while starting")
            .unwrap_err();
        assert_eq!(ExitStatus::of_error(&err), ExitStatus::Usage);
        assert_eq!(ExitStatus::of_error(&err).code(), 2);
    }

    #[test]
    fn other_errors_exit_1() {
        let err = anyhow::anyhow!("table missing");
        assert_eq!(ExitStatus::of_error(&err), ExitStatus::Failure);
    }
}
