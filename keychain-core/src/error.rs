//! The error every command returns, its exit code and the hint printed with it.
//!
//! Modules keep their own error enums; this one only classifies them, so that `main` prints an
//! error once, with its causes and a recommendation, and exits with the documented code.
//! No variant ever carries a secret value: messages name fields, files and steps only.
#![deny(missing_docs)]

use std::path::PathBuf;

mod advice;
mod convert;

use crate::exit::{self, Class, Failure};

/// Why a command failed: one variant per class of failure, each with its exit code
/// ([`Error::exit_code`]) and its advice ([`Error::hint`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: a flag, a file's content, a missing secret.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
        /// What to do instead, when keychain knows.
        hint: Option<String>,
    },

    /// No account of that name (given).
    #[error("no account named '{0}' in this keychain")]
    NotFound(String),

    /// [`Error::NotFound`] with the names that look like what was typed.
    #[error("no account named '{name}' in this keychain")]
    NotFoundSimilar {
        /// The name as typed.
        name: String,
        /// Up to three existing names close to it, best first.
        similar: Vec<String>,
    },

    /// The key store is missing, locked or not answering.
    #[error(transparent)]
    KeyStore(#[from] crate::keystore::KeyStoreError),

    /// A file is corrupt or not what keychain expects (a configuration, an export).
    #[error("{path}: {reason}")]
    Integrity {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, citing a line or field, never a value.
        reason: String,
    },

    /// A record is corrupt, tampered with or encrypted to another key: the record's own error
    /// is the source.
    #[error("{path}: {cause}")]
    Record {
        /// The record's file.
        path: PathBuf,
        /// The record's own error.
        #[source]
        cause: crate::record::RecordError,
    },

    /// A change saved to the store whose audit event could not be written, and whose undo
    /// failed as well: the record and the log disagree. The audit failure is the source.
    #[error("{path}: {change} and could not be undone ({undo})")]
    Unlogged {
        /// The record's file.
        path: PathBuf,
        /// Which change was saved without its event.
        change: Unlogged,
        /// Why undoing it failed.
        undo: Box<crate::store::StoreError>,
        /// Why the event could not be written.
        #[source]
        cause: crate::audit::AuditError,
    },

    /// A record older than the last write the audit log recorded: a copy put back.
    #[error("{path}: {reason}")]
    Replayed {
        /// The record's file.
        path: PathBuf,
        /// The record's write counter and the one the log last recorded.
        reason: String,
    },

    /// A file that decides where secrets go (the configuration) does not authenticate.
    #[error("{path}: {reason}")]
    Unauthenticated {
        /// The file.
        path: PathBuf,
        /// Why it does not authenticate.
        reason: String,
        /// What to check, then how to authenticate it again or restore it.
        hint: String,
    },

    /// A keychain file or folder that another user could write (or that another user owns).
    #[error("{path}: {detail}; keychain refuses to use it")]
    WritableByOthers {
        /// The file or folder.
        path: PathBuf,
        /// Who owns it or can write it.
        detail: String,
        /// What to check and the command that makes it private again (`chmod`, `chown`).
        fix: String,
    },

    /// The store of records failed; its error picks the exit code and the hint.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),

    /// This machine joined a shared keychain but no member added it (or it was removed).
    #[error("this machine is not a member of the shared keychain (its public key is {recipient})")]
    NotAMember {
        /// This machine's age recipient, for a member to add.
        recipient: String,
    },

    /// This machine joined a shared keychain and may have been added, but has not checked the
    /// store against the join code of the member that added it: it trusts no group key yet.
    #[error(
        "this machine joined the shared keychain but trusts no group key yet: it needs the join code that 'keychain member add' printed on the member that added it (its public key is {recipient})"
    )]
    NotJoined {
        /// This machine's age recipient.
        recipient: String,
    },

    /// The provider rejected the credentials: a person must act. `what` says which operation;
    /// the provider's answer is the source.
    #[error("{what}")]
    Rejected {
        /// Which operation was rejected, for which account.
        what: String,
        /// The account's name, for the commands the hint gives.
        account: String,
        /// The provider's answer.
        #[source]
        cause: ProviderCause,
    },

    /// A provider's rule (a minimum interval between tokens, an error budget) says not now:
    /// nothing was sent. Exit 5, as an unavailable provider.
    #[error(transparent)]
    NotAdmitted(#[from] crate::providers::NotAdmitted),

    /// A logon the provider rejected before, held back until a person changes the credential
    /// or allows one attempt: no request is sent.
    #[error(
        "the provider rejected the {step} of account '{account}' at {at} (run by {by}); keychain sends no logon until it is changed, so the account is not locked out"
    )]
    RejectedBefore {
        /// The account's name.
        account: String,
        /// The logon step the provider rejected (the password, the code).
        step: String,
        /// When, as RFC 3339.
        at: String,
        /// The user whose run was rejected.
        by: String,
    },

    /// The provider could not be reached or asked us to wait, or keychain holds back to keep
    /// within the provider's rules. `retry` says when trying again can help ("in 30 s"); the
    /// provider's answer, when there was one, is the source.
    #[error("{what}")]
    Unavailable {
        /// What could not be done, for which account.
        what: String,
        /// When trying again can help, in words ("in 30 s"); `None` for "later".
        retry: Option<String>,
        /// The provider's answer, if there was one.
        #[source]
        cause: Option<ProviderCause>,
    },

    /// The audit log could not be written or does not verify; the operation fails closed.
    #[error("audit log: {source}")]
    Audit {
        /// What is wrong with the log.
        #[source]
        source: crate::audit::AuditError,
        /// The exit code: integrity for a log that does not verify, I/O or usage otherwise
        /// (see the `From<AuditError>` in `error/convert.rs`).
        code: i32,
    },

    /// Standard output or standard error could not be written (see `crate::output`).
    #[error("cannot write to standard {stream}: {source}")]
    Output {
        /// `output` or `error`.
        stream: &'static str,
        /// The write's error; a broken pipe ends quietly (see [`Error::is_closed_pipe`]).
        #[source]
        source: std::io::Error,
    },

    /// `exec` could not start its program: [`exit::NO_PROGRAM`] or [`exit::CANNOT_RUN`].
    #[error("{message}")]
    Program {
        /// What could not be run, and why.
        message: String,
        /// The exit code, as env and sudo give it.
        code: i32,
    },

    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What keychain was doing, naming the file.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A result whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which change of [`Error::Unlogged`] the audit log does not know about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlogged {
    /// A record was written (added or changed).
    Written,
    /// An account was removed.
    Removed,
}

impl std::fmt::Display for Unlogged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unlogged::Written => "the change was saved without its audit event",
            Unlogged::Removed => "the account was removed without its audit event",
        })
    }
}

/// What a provider answered (or failed to answer), kept whole behind [`Error::Rejected`] and
/// [`Error::Unavailable`] so that callers can match on it and `hint()` can ask it for advice.
/// Boxed: a provider's error is large and rare, and every `Result` carries the size of `Error`.
#[derive(Debug, thiserror::Error)]
pub enum ProviderCause {
    /// The headless logon (the provider's logon pages).
    #[error(transparent)]
    Logon(Box<crate::logon::LogonError>),
    /// The token endpoint (a refresh or the code exchange).
    #[error(transparent)]
    Token(Box<crate::oauth::TokenError>),
    /// OpenID discovery at the issuer.
    #[error(transparent)]
    Discovery(Box<crate::oauth::DiscoveryError>),
    /// The HTTP client could not be built (TLS set-up).
    #[error(transparent)]
    Client(Box<reqwest::Error>),
}

impl Error {
    /// A usage error without a hint.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: None,
        }
    }

    /// A usage error with the advice to print under it.
    pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// An I/O error with what keychain was doing (name the file; never a value read from it).
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The documented exit code of this error's class (see [`exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            // The audit log's failures keep the code they were given (the `From<AuditError>` in `error/convert.rs`).
            Error::Audit { code, .. } => *code,
            _ => self.class().exit_code(),
        }
    }

    /// The error's class for the JSON contract's error object (`"code"`), one per exit code
    /// family; stable, kebab-case.
    pub fn code(&self) -> &'static str {
        match self {
            // One code for the audit log, whatever its exit code.
            Error::Audit { .. } => "audit-log",
            _ => self.class().code(),
        }
    }

    /// The message with each cause that it does not already quote, joined by ": ": one line
    /// for the audit log and the JSON error object, where no "caused by" lines fit.
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        text
    }

    /// The reader of standard output or error went away: end quietly, as `cat` and `grep` do.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, Error::Output { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl Failure for Error {
    /// This error's class: its exit code and JSON `"code"` come from [`exit`]'s one table.
    fn class(&self) -> Class {
        match self {
            Error::Usage { .. } => Class::Usage,
            Error::NotFound(_) | Error::NotFoundSimilar { .. } => Class::NotFound,
            Error::KeyStore(e) => e.class(),
            Error::NotAMember { .. } => Class::NotAMember,
            Error::NotJoined { .. } => Class::NotJoined,
            Error::Integrity { .. }
            | Error::Record { .. }
            | Error::Unlogged { .. }
            | Error::Replayed { .. }
            | Error::Unauthenticated { .. }
            | Error::WritableByOthers { .. } => Class::Integrity,
            Error::Store(e) => e.class(),
            Error::Rejected { .. } | Error::RejectedBefore { .. } => Class::Rejected,
            Error::Unavailable { .. } | Error::NotAdmitted(_) => Class::Unavailable,
            Error::Io { .. } => Class::Io,
            Error::Output { .. } if self.is_closed_pipe() => Class::ClosedPipe,
            Error::Output { .. } => Class::Output,
            Error::Audit { code, .. } => Class::of_exit_code(*code),
            Error::Program { code, .. } if *code == exit::NO_PROGRAM => Class::NoProgram,
            Error::Program { .. } => Class::CannotRun,
        }
    }

    fn hint(&self) -> Option<String> {
        Error::hint(self)
    }
}

#[cfg(test)]
mod tests;
