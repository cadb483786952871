//! Exit codes and the classes of failure, in one table: what the process exits with and the
//! JSON error object's `"code"` for each class, and [`STATUSES`], the words every list of exit
//! statuses is generated from (`--help`, the man pages, the README).
//!
//! A leaf: it imports nothing, so every module, however low, may say which class its errors
//! belong to ([`Class`]) and what to do about them ([`Failure`]) without reaching up to
//! `error`. Only the table below turns a class into numbers and words.
#![deny(missing_docs)]

/// Success.
pub const OK: i32 = 0;
/// Not an error: a command that ran to its end found something at or above its threshold
/// (the CLI's `Outcome::Findings`).
pub const FINDINGS: i32 = 1;
/// Bad input: a flag, a file's content, a missing secret, a setting that must change.
pub const USAGE: i32 = 2;
/// No such account (or other named thing).
pub const NOT_FOUND: i32 = 3;
/// The provider rejected the credentials, now or before: a person must act; never retried.
pub const REJECTED: i32 = 4;
/// The provider or a shared store (OpenBao) is unreachable, sealed or asks to wait, or a
/// lock could not be had in time: try again later.
pub const UNAVAILABLE: i32 = 5;
/// The key store is missing, locked or not answering, or a passphrase is needed; no usable
/// OpenBao token; this machine is not (or no longer) a member of a shared keychain.
pub const LOCKED: i32 = 6;
/// A file is corrupt, tampered with, replayed, unauthenticated or writable by others; it was
/// left untouched.
pub const INTEGRITY: i32 = 7;
/// Reading or writing a file (or standard output) failed; OpenBao refused a path.
pub const IO: i32 = 8;
/// `exec`: the program exists but cannot be run (not executable, a folder), as env and
/// sudo report it.
pub const CANNOT_RUN: i32 = 126;
/// `exec`: no such program, as env and sudo report it.
pub const NO_PROGRAM: i32 = 127;
/// Standard output or error was closed by its reader (`| head`): 128 + SIGPIPE, what a
/// shell reports for `cat` or `grep` in the same place. Nothing is printed.
pub const PIPE: i32 = 141;

/// One documented exit status: its code and what it means, in the words every list of exit
/// statuses uses (`keychain --help`, `keychain help exit-codes`, the man pages, the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// The status the process ends with.
    pub code: i32,
    /// What it means, as one paragraph of plain text (no line breaks).
    pub meaning: &'static str,
}

/// Every exit status keychain documents, in ascending order: the one table that `--help`, the
/// man pages and the README are generated from (a test holds them to it). A command's own page
/// may say more about what a code means for it, never list a code that is not here.
pub const STATUSES: &[ExitStatus] = &[
    ExitStatus {
        code: OK,
        meaning: "success",
    },
    ExitStatus {
        code: FINDINGS,
        meaning: "not an error: the command ran to its end and found something: audit, a finding at or above --fail-on; status, a warning (2 critical, 3 unknown: status exits as a monitoring plugin); scan, plain-text secrets; audit fingerprint, not the current value",
    },
    ExitStatus {
        code: USAGE,
        meaning: "usage error or bad input (a flag, a file's content, a missing secret, a reference that is not one); conflicting flags; a login stopped by the account's settings: a credential would have gone where the account does not allow (another host, plain http, a loopback port another user's socket holds; git-credential: a URL not given with --url), or the account lacks what its provider asks for (a password or refresh token, a TOTP secret, a client secret; the hint names the account); status: critical",
    },
    ExitStatus {
        code: NOT_FOUND,
        meaning: "account not found; status: unknown (its only codes are 0, 1, 2, 3 and 141, as a monitoring plugin's)",
    },
    ExitStatus {
        code: REJECTED,
        meaning: "the provider rejected the credentials: a person must act; keychain does not retry, and refuses further logons of the account until 'set' or one 'login --retry' (see keychain help login)",
    },
    ExitStatus {
        code: UNAVAILABLE,
        meaning: "provider unreachable, timed out or rate-limited; a shared store (OpenBao) unreachable, sealed or its lock lease lost; a lock (an account, the audit log, the member list, an OpenBao lease) another process held for all of --lock-timeout (the message names its pid, host and since when): try again later",
    },
    ExitStatus {
        code: LOCKED,
        meaning: "keychain locked or key store unavailable (Secret Service missing, locked or not answering; passphrase needed); no OpenBao token, or it expired and logging in again did not help; this machine joined a shared keychain but is not a member (yet, or any more)",
    },
    ExitStatus {
        code: INTEGRITY,
        meaning: "data integrity: a record is corrupt, tampered with, replayed or encrypted to another key; config.json or the member list does not authenticate (a planted recipient); a keychain file others can write (left untouched)",
    },
    ExitStatus {
        code: IO,
        meaning: "input/output error (disk full, permission denied), also writing standard output or error; OpenBao refused a path (403: the message names the path and the missing capability)",
    },
    ExitStatus {
        code: CANNOT_RUN,
        meaning: "exec: the program cannot be run (no execute permission, a folder)",
    },
    ExitStatus {
        code: NO_PROGRAM,
        meaning: "exec: no such program (checked before any logon)",
    },
    ExitStatus {
        code: PIPE,
        meaning: "standard output or error was closed by its reader (| head, grep -q): the command stops quietly, as cat and grep do (a shell reports them as 141 = 128 + SIGPIPE)",
    },
];

/// What the exit-status lists say after the table: a saved change keeps its status.
pub const STATUS_NOTE: &str = "A change that was saved (add, set, rm, init, import, refresh, unlock, lock, export, audit rotate) keeps its status when its closing message cannot be written. exec otherwise exits with the program's own status (or 128 + the signal that ended it).";

/// The documented meaning of `code`, when [`STATUSES`] has it.
pub fn meaning(code: i32) -> Option<&'static str> {
    STATUSES.iter().find(|s| s.code == code).map(|s| s.meaning)
}

/// The class of a failure. Each error of the core says which class it is; [`Class::exit_code`]
/// and [`Class::code`] read the one table ([`Class::row`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Bad input, or a setting that must change.
    Usage,
    /// No such account (or other named thing).
    NotFound,
    /// The provider rejected the credentials.
    Rejected,
    /// Not now: unreachable, sealed, asked to wait, or a lock held for the whole wait.
    Unavailable,
    /// The key store is missing, locked or not answering; no usable OpenBao token.
    KeyStore,
    /// This machine is not (or no longer) a member of the shared keychain.
    NotAMember,
    /// This machine joined but trusts no group key yet.
    NotJoined,
    /// A file is corrupt, tampered with, replayed, unauthenticated or writable by others.
    Integrity,
    /// Reading or writing a file failed; OpenBao refused a path.
    Io,
    /// Standard output or error could not be written.
    Output,
    /// Standard output or error was closed by its reader: end quietly.
    ClosedPipe,
    /// `exec`: no such program.
    NoProgram,
    /// `exec`: the program cannot be run.
    CannotRun,
}

impl Class {
    /// The table: each class's exit code and its JSON `"code"` (stable, kebab-case).
    pub const fn row(self) -> (i32, &'static str) {
        match self {
            Class::Usage => (USAGE, "usage"),
            Class::NotFound => (NOT_FOUND, "not-found"),
            Class::Rejected => (REJECTED, "rejected"),
            Class::Unavailable => (UNAVAILABLE, "unavailable"),
            Class::KeyStore => (LOCKED, "key-store"),
            Class::NotAMember => (LOCKED, "not-a-member"),
            Class::NotJoined => (LOCKED, "not-joined"),
            Class::Integrity => (INTEGRITY, "integrity"),
            Class::Io => (IO, "io"),
            Class::Output => (IO, "output"),
            Class::ClosedPipe => (PIPE, "output"),
            Class::NoProgram => (NO_PROGRAM, "no-program"),
            Class::CannotRun => (CANNOT_RUN, "cannot-run"),
        }
    }

    /// The documented exit code.
    pub const fn exit_code(self) -> i32 {
        self.row().0
    }

    /// The JSON error object's `"code"`.
    pub const fn code(self) -> &'static str {
        self.row().1
    }

    /// The class of an error that carries only an exit code (OpenBao's, an audit failure's):
    /// the first class of the table with that code; any other code reads as I/O.
    pub const fn of_exit_code(code: i32) -> Class {
        match code {
            USAGE => Class::Usage,
            NOT_FOUND => Class::NotFound,
            REJECTED => Class::Rejected,
            UNAVAILABLE => Class::Unavailable,
            LOCKED => Class::KeyStore,
            INTEGRITY => Class::Integrity,
            NO_PROGRAM => Class::NoProgram,
            CANNOT_RUN => Class::CannotRun,
            PIPE => Class::ClosedPipe,
            _ => Class::Io,
        }
    }
}

/// The one convention for the core's errors (issue 21): the message (`Display`) says what
/// happened, naming files, fields and accounts, never a value; [`Failure::class`] picks the exit
/// code and JSON code from the table above; [`Failure::hint`] says what a person can do, or
/// `None` when the message says it all. Advice names the account when the error carries it;
/// advice that cannot know it says "for the account" in words, never a placeholder (issue 18).
///
/// Each small error implements it in its own module; `error.rs` converts them into the
/// top-level error without re-deciding either. (Errors whose advice needs an account they do
/// not carry, the provider's answers in `oauth` and `logon`, keep their
/// `hint(account: Option<&str>)` until they carry it.)
pub trait Failure: std::error::Error {
    /// The class of failure: its exit code and JSON code.
    fn class(&self) -> Class;
    /// What a person can do about it; `None` when the message says it all.
    fn hint(&self) -> Option<String>;
}

impl Class {
    /// Every class, in the table's order.
    pub const ALL: &'static [Class] = &[
        Class::Usage,
        Class::NotFound,
        Class::Rejected,
        Class::Unavailable,
        Class::KeyStore,
        Class::NotAMember,
        Class::NotJoined,
        Class::Integrity,
        Class::Io,
        Class::Output,
        Class::ClosedPipe,
        Class::NoProgram,
        Class::CannotRun,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[Class] = Class::ALL;

    #[test]
    fn an_exit_code_reads_back_as_the_first_class_with_it() {
        for &class in ALL {
            let first = ALL
                .iter()
                .find(|c| c.exit_code() == class.exit_code())
                .unwrap();
            assert_eq!(Class::of_exit_code(class.exit_code()), *first, "{class:?}");
        }
        assert_eq!(Class::of_exit_code(99), Class::Io);
    }

    /// Every code a class exits with is documented, and the table is in ascending order with
    /// one row per code.
    #[test]
    fn every_exit_code_is_documented_once_in_order() {
        for &class in ALL {
            assert!(meaning(class.exit_code()).is_some(), "{class:?}");
        }
        assert!(meaning(FINDINGS).is_some() && meaning(OK).is_some());
        assert!(STATUSES.windows(2).all(|w| w[0].code < w[1].code));
        assert!(STATUSES.iter().all(|s| !s.meaning.contains('\n')));
    }

    /// The JSON contract's codes (README, JSON output): renaming one breaks scripts.
    #[test]
    fn the_json_codes_are_the_documented_ones() {
        let codes: Vec<_> = ALL.iter().map(|c| c.code()).collect();
        assert_eq!(
            codes,
            [
                "usage",
                "not-found",
                "rejected",
                "unavailable",
                "key-store",
                "not-a-member",
                "not-joined",
                "integrity",
                "io",
                "output",
                "output",
                "no-program",
                "cannot-run"
            ]
        );
    }
}
