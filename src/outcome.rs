//! How a command that ran to its end turned out, and the exit status that says so. Errors are the
//! other way a command ends (`main` prints them and exits with their code); an outcome is for a
//! command that finished and already reported what it found.

use std::process::ExitCode;

use keychain_core::exit;

/// The exit statuses of `status`, as monitoring plugins (Nagios, Icinga) give them.
pub mod nagios {
    /// Nothing found that would stop a job.
    pub const OK: i32 = 0;
    /// A job will soon fail, or needs a person.
    pub const WARNING: i32 = 1;
    /// A job would fail.
    pub const CRITICAL: i32 = 2;
    /// The check itself could not be made (no keychain, no such account, a store that does
    /// not answer).
    pub const UNKNOWN: i32 = 3;
}

/// A finished command's result for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked was done: exit 0.
    Success,
    /// The command reported findings at or above its threshold (audit, status, scan,
    /// fingerprint): exit 1.
    Findings,
    /// The command went on past failures and reported each (refresh: a provider unavailable;
    /// import: entries refused; audit verify: a log that does not verify); the status is the
    /// class of those failures, one of the documented codes in [`exit`].
    Failed(i32),
    /// `exec`: the program's own exit status.
    Child(i32),
}

impl Outcome {
    /// `Success` or `Findings`.
    pub fn findings_if(found: bool) -> Self {
        if found {
            Outcome::Findings
        } else {
            Outcome::Success
        }
    }

    /// The numeric status (0-255).
    pub fn code(self) -> i32 {
        match self {
            Outcome::Success => exit::OK,
            Outcome::Findings => exit::FINDINGS,
            Outcome::Failed(code) | Outcome::Child(code) => code,
        }
    }

    pub fn exit_code(self) -> ExitCode {
        status(self.code())
    }
}

/// An exit status from a documented code; anything outside 0-255 (never produced) is 1.
pub fn status(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
