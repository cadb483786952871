//! The error every command returns, its exit code and the hint printed with it.
//!
//! Modules keep their own error enums; this one only classifies them, so that `main` prints an
//! error once, with its causes and a recommendation, and exits with the documented code.
//! No variant ever carries a secret value: messages name fields, files and steps only.

use std::path::PathBuf;

/// Exit codes, documented in the man page (see `cli::AFTER_HELP`).
pub mod exit {
    pub const OK: i32 = 0;
    /// Not an error: a command that ran to its end found something at or above its threshold
    /// (the CLI's `Outcome::Findings`).
    pub const FINDINGS: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const NOT_FOUND: i32 = 3;
    pub const REJECTED: i32 = 4;
    pub const UNAVAILABLE: i32 = 5;
    pub const LOCKED: i32 = 6;
    pub const INTEGRITY: i32 = 7;
    pub const IO: i32 = 8;
    /// `exec`: the program exists but cannot be run (not executable, a folder), as env and
    /// sudo report it.
    pub const CANNOT_RUN: i32 = 126;
    /// `exec`: no such program, as env and sudo report it.
    pub const NO_PROGRAM: i32 = 127;
    /// Standard output or error was closed by its reader (`| head`): 128 + SIGPIPE, what a
    /// shell reports for `cat` or `grep` in the same place. Nothing is printed.
    pub const PIPE: i32 = 141;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: a flag, a file's content, a missing secret.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },

    #[error("no account named '{0}' in this keychain")]
    NotFound(String),

    /// [`Error::NotFound`] with the names that look like what was typed.
    #[error("no account named '{name}' in this keychain")]
    NotFoundSimilar { name: String, similar: Vec<String> },

    /// The key store is missing, locked or not answering.
    #[error(transparent)]
    KeyStore(#[from] crate::keystore::KeyStoreError),

    /// A record or file is corrupt, tampered with or encrypted to another key.
    #[error("{path}: {reason}")]
    Integrity { path: PathBuf, reason: String },

    /// A record older than the last write the audit log recorded: a copy put back.
    #[error("{path}: {reason}")]
    Replayed { path: PathBuf, reason: String },

    /// A file that decides where secrets go (the configuration) does not authenticate.
    #[error("{path}: {reason}")]
    Unauthenticated {
        path: PathBuf,
        reason: String,
        hint: String,
    },

    /// A keychain file or folder that another user could write (or that another user owns).
    #[error("{path}: {detail}; keychain refuses to use it")]
    WritableByOthers {
        path: PathBuf,
        detail: String,
        fix: String,
    },

    #[error(transparent)]
    Store(#[from] crate::store::StoreError),

    /// This machine joined a shared keychain but no member added it (or it was removed).
    #[error("this machine is not a member of the shared keychain (its public key is {recipient})")]
    NotAMember { recipient: String },

    /// The provider rejected the credentials: a person must act.
    #[error("{0}")]
    Rejected(String),

    /// The provider could not be reached or asked us to wait.
    #[error("{0}")]
    Unavailable(String),

    /// The audit log could not be written or does not verify; the operation fails closed.
    #[error("audit log: {source}")]
    Audit {
        #[source]
        source: crate::audit::AuditError,
        code: i32,
    },

    /// Standard output or standard error could not be written (see `crate::output`).
    #[error("cannot write to standard {stream}: {source}")]
    Output {
        stream: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// `exec` could not start its program: [`exit::NO_PROGRAM`] or [`exit::CANNOT_RUN`].
    #[error("{message}")]
    Program { message: String, code: i32 },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage { .. } => exit::USAGE,
            Error::NotFound(_) | Error::NotFoundSimilar { .. } => exit::NOT_FOUND,
            Error::KeyStore(_) | Error::NotAMember { .. } => exit::LOCKED,
            Error::Integrity { .. }
            | Error::Replayed { .. }
            | Error::Unauthenticated { .. }
            | Error::WritableByOthers { .. } => exit::INTEGRITY,
            Error::Store(e) => e.exit_code(),
            Error::Rejected(_) => exit::REJECTED,
            Error::Unavailable(_) => exit::UNAVAILABLE,
            Error::Io { .. } => exit::IO,
            Error::Output { .. } if self.is_closed_pipe() => exit::PIPE,
            Error::Output { .. } => exit::IO,
            Error::Audit { code, .. } => *code,
            Error::Program { code, .. } => *code,
        }
    }

    /// The error's class for the JSON contract's error object (`"code"`), one per exit code
    /// family; stable, kebab-case.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Usage { .. } => "usage",
            Error::NotFound(_) | Error::NotFoundSimilar { .. } => "not-found",
            Error::KeyStore(_) => "key-store",
            Error::NotAMember { .. } => "not-a-member",
            Error::Integrity { .. }
            | Error::Replayed { .. }
            | Error::Unauthenticated { .. }
            | Error::WritableByOthers { .. } => "integrity",
            Error::Store(e) => match e.exit_code() {
                exit::NOT_FOUND => "not-found",
                exit::USAGE => "usage",
                exit::INTEGRITY => "integrity",
                exit::LOCKED => "key-store",
                exit::UNAVAILABLE => "unavailable",
                _ => "io",
            },
            Error::Rejected(_) => "rejected",
            Error::Unavailable(_) => "unavailable",
            Error::Audit { .. } => "audit-log",
            Error::Output { .. } => "output",
            Error::Program { code, .. } if *code == exit::NO_PROGRAM => "no-program",
            Error::Program { .. } => "cannot-run",
            Error::Io { .. } => "io",
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Usage { hint, .. } => hint.clone(),
            Error::NotFoundSimilar { similar, .. } => Some(format!(
                "did you mean {}? ('keychain list' shows every account)",
                similar
                    .iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
            Error::NotFound(_) => Some("run 'keychain list' to see the accounts, or 'keychain add' to create one".into()),
            Error::KeyStore(e) => Some(e.hint()),
            Error::Integrity { path, .. } if path.extension().is_some_and(|e| e == "kcr") => Some(
                "the file was left untouched; restore the account from an export ('keychain import FILE.age --replace'; an older record file copied back is refused as a replay), or remove it with 'keychain rm' and add the account again"
                    .into(),
            ),
            Error::Integrity { .. } => Some("the file was left untouched; check that it is the right file and that it is whole".into()),
            Error::Replayed { .. } => Some("the file was left untouched; find out who put the older copy back ('keychain audit' lists the account's events and 'keychain audit verify' checks the log); to keep the current secrets, restore the newest copy; to start over, 'keychain rm' the account and add it again".into()),
            Error::Unauthenticated { hint, .. } => Some(hint.clone()),
            Error::NotAMember { recipient } => Some(format!(
                "ask a member to run `keychain member add {recipient} --name HOST`, then run this again"
            )),
            Error::WritableByOthers { fix, .. } => Some(fix.clone()),
            Error::Store(e) => e.hint(),
            Error::Rejected(_) => Some("check the password and TOTP secret with 'keychain set'; keychain will not retry, so the account is not locked out".into()),
            Error::Unavailable(_) => Some("try again later".into()),
            Error::Audit { .. } => Some("nothing was changed, revealed or handed out; run 'keychain audit verify' to see what is wrong with the log".into()),
            Error::Program { code, .. } if *code == exit::NO_PROGRAM => Some("check the name and PATH, or give the program's full path".into()),
            Error::Program { .. } => Some("check that the file is an executable program (chmod +x) and not a folder".into()),
            Error::Io { .. } | Error::Output { .. } => None,
        }
    }

    /// Adds the accounts whose names look like the one not found (a typo, a case slip), so the
    /// hint can say "did you mean". Other errors are returned as they are.
    pub fn with_similar_names(self, names: impl FnOnce() -> Vec<String>) -> Self {
        let name = match self {
            Error::NotFound(name) | Error::Store(crate::store::StoreError::NotFound(name)) => name,
            other => return other,
        };
        let mut scored: Vec<(f64, String)> = names()
            .into_iter()
            .map(|n| (similarity(&name, &n), n))
            .filter(|(score, _)| *score >= 0.8)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        // The best few, and only those nearly as close as the best.
        let best = scored.first().map_or(0.0, |s| s.0);
        let similar: Vec<String> = scored
            .into_iter()
            .take_while(|(score, _)| *score >= best - 0.05)
            .take(3)
            .map(|(_, n)| n)
            .collect();
        if similar.is_empty() {
            Error::NotFound(name)
        } else {
            Error::NotFoundSimilar { name, similar }
        }
    }

    /// The reader of standard output or error went away: end quietly, as `cat` and `grep` do.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, Error::Output { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// How alike two account names are (0..1): Jaro-Winkler, which favours a shared start, over
/// the lower-cased names, so `Acme-prod` finds `acme-prod`.
fn similarity(typed: &str, name: &str) -> f64 {
    strsim::jaro_winkler(&typed.to_lowercase(), &name.to_lowercase())
}
