//! The error every command returns, its exit code and the hint printed with it.
//!
//! Modules keep their own error enums; this one only classifies them, so that `main` prints an
//! error once, with its causes and a recommendation, and exits with the documented code.
//! No variant ever carries a secret value: messages name fields, files and steps only.
#![deny(missing_docs)]

use std::path::PathBuf;

mod convert;

// re-export for the merge (issue 21): `error::exit::X` still names the codes, now in the leaf
// module `crate::exit`.
pub use crate::exit;
use crate::exit::Class;

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
        /// (see `trail::audit_error`).
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

impl ProviderCause {
    /// The cause's own advice, where its module gives one; a command in it names `account`
    /// when given.
    pub fn hint(&self, account: Option<&str>) -> Option<String> {
        match self {
            ProviderCause::Logon(e) => e.hint(account),
            ProviderCause::Token(e) => e.hint(account),
            ProviderCause::Discovery(e) => Some(e.hint(account)),
            ProviderCause::Client(_) => None,
        }
    }
}

/// A command of keychain for one account, quoted for a hint: `'keychain set acme --totp-file
/// FILE'`. Advice never carries a placeholder for the account's name (`ACCOUNT`): without the
/// name it says "for the account" in words.
pub fn account_command(verb: &str, account: Option<&str>, rest: &str) -> String {
    match account {
        Some(name) => format!("'keychain {verb} {name}{rest}'"),
        None if rest.is_empty() => format!("'keychain {verb}' for the account"),
        None => format!("'keychain {verb}' for the account, with{rest}"),
    }
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

    /// This error's class: its exit code and JSON `"code"` come from [`exit`]'s one table.
    pub fn class(&self) -> Class {
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

    /// The documented exit code of this error's class (see [`exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            // The audit log's failures keep the code they were given (`trail::audit_error`).
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
            Error::Record { .. } => Some(
                "the file was left untouched; restore the account from an export ('keychain import FILE.age --replace'; an older record file copied back is refused as a replay), or remove it with 'keychain rm' and add the account again"
                    .into(),
            ),
            Error::Integrity { .. } => Some("the file was left untouched; check that it is the right file and that it is whole".into()),
            Error::Unlogged { .. } => Some("the record and the audit log disagree: fix what stopped the log (its folder, the disk), then run 'keychain audit verify' and check the account against its events before the next change".into()),
            Error::Replayed { .. } => Some("the file was left untouched; find out who put the older copy back ('keychain audit' lists the account's events and 'keychain audit verify' checks the log); to keep the current secrets, restore the newest copy; to start over, 'keychain rm' the account and add it again".into()),
            Error::Unauthenticated { hint, .. } => Some(hint.clone()),
            Error::NotAMember { recipient } => Some(format!(
                "ask a member to run `keychain member add {recipient} --name HOST`, then run this again"
            )),
            Error::NotJoined { recipient } => Some(format!(
                "run `keychain member join CODE` with that code (a member that added {recipient} can print it again by running the same `keychain member add` once more); nothing is read or sealed until then"
            )),
            Error::WritableByOthers { fix, .. } => Some(fix.clone()),
            Error::Store(e) => e.hint(),
            // A refused code follows a logon that went through: the client's settings, not the
            // credentials, are what to check.
            Error::Rejected { cause: ProviderCause::Token(_), account, .. } => Some(format!("check the account's client id, client secret and redirect URI ('keychain show {account}'); keychain will not retry, so the account is not locked out")),
            Error::Rejected { cause, account, .. } => Some(cause.hint(Some(account)).unwrap_or_else(|| format!("check the password and TOTP secret with 'keychain set {account}'; keychain will not retry, so the account is not locked out"))),
            Error::RejectedBefore { account, .. } => Some(format!("store the right one with 'keychain set {account} --password-file FILE' (or --totp-file FILE), or, once the cause is fixed at the provider, allow one attempt with 'keychain login {account} --retry'")),
            Error::NotAdmitted(e) => Some(e.hint()),
            Error::Unavailable { retry, cause, .. } => {
                let when = format!("try again {}", retry.as_deref().unwrap_or("later"));
                Some(match cause.as_ref().and_then(|c| c.hint(None)) {
                    // The cause's advice ends in its own "try again later" where it has one.
                    Some(own) if retry.is_none() => own,
                    Some(own) => format!("{own}; {when}"),
                    None => when,
                })
            }
            Error::Audit { source, .. } => Some(match source.hint() {
                Some(own) => format!("nothing was changed, revealed or handed out; {own}"),
                None => "nothing was changed, revealed or handed out; run 'keychain audit verify' to see what is wrong with the log".into(),
            }),
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

/// How alike two account names are (0..1): Jaro-Winkler, which favours a shared start, over
/// the lower-cased names, so `Acme-prod` finds `acme-prod`.
fn similarity(typed: &str, name: &str) -> f64 {
    strsim::jaro_winkler(&typed.to_lowercase(), &name.to_lowercase())
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::audit::AuditError;
    use crate::logon::LogonError;
    use crate::oauth::{DiscoveryError, TokenError};
    use crate::record::RecordError;

    fn logon_rejected() -> LogonError {
        LogonError::Rejected {
            step: "password".into(),
            fields: vec!["username".into(), "password".into()],
            said: None,
        }
    }

    fn token_unavailable() -> TokenError {
        TokenError::Unavailable {
            path: "/oauth2/token".into(),
            reason: "connection refused".into(),
        }
    }

    fn audit_missing() -> AuditError {
        AuditError::NotInitialised {
            path: "/kc/audit.log".into(),
        }
    }

    #[test]
    fn a_rejected_logon_keeps_the_logon_error_as_its_source() {
        let error = Error::Rejected {
            what: "the headless logon was rejected".into(),
            account: "acme".into(),
            cause: ProviderCause::Logon(Box::new(logon_rejected())),
        };
        let source = error.source().expect("a source");
        let cause = source
            .downcast_ref::<ProviderCause>()
            .expect("a ProviderCause");
        assert!(
            matches!(cause, ProviderCause::Logon(e) if matches!(&**e, LogonError::Rejected { step, .. } if step == "password")),
            "{cause:?}"
        );
        assert_eq!(error.exit_code(), exit::REJECTED);
        assert_eq!(error.code(), "rejected");
    }

    #[test]
    fn an_unavailable_provider_keeps_the_token_error_as_its_source() {
        let error = Error::Unavailable {
            what: "the refresh did not go through".into(),
            retry: None,
            cause: Some(ProviderCause::Token(Box::new(token_unavailable()))),
        };
        let cause = error
            .source()
            .and_then(|s| s.downcast_ref::<ProviderCause>())
            .expect("a ProviderCause");
        assert!(
            matches!(cause, ProviderCause::Token(e) if matches!(**e, TokenError::Unavailable { .. })),
            "{cause:?}"
        );
        assert_eq!(error.exit_code(), exit::UNAVAILABLE);
        assert_eq!(error.code(), "unavailable");
        // The token error's advice is the hint; keychain's own rules add when to come back.
        assert_eq!(error.hint().as_deref(), Some("try again later"));
        let held = Error::Unavailable {
            what: "Exact Online allows a new access token 570 s after the previous one".into(),
            retry: Some("in 12 s".into()),
            cause: None,
        };
        assert_eq!(held.hint().as_deref(), Some("try again in 12 s"));
    }

    #[test]
    fn discovery_errors_are_reachable_through_the_source() {
        let error = Error::Unavailable {
            what: "the provider's endpoints could not be found".into(),
            retry: None,
            cause: Some(ProviderCause::Discovery(Box::new(
                DiscoveryError::Unavailable {
                    path: "/.well-known/openid-configuration".into(),
                    reason: "timed out".into(),
                },
            ))),
        };
        let cause = error
            .source()
            .and_then(|s| s.downcast_ref::<ProviderCause>());
        assert!(
            matches!(cause, Some(ProviderCause::Discovery(_))),
            "{cause:?}"
        );
        assert!(error.hint().unwrap().contains("reachable"));
    }

    #[test]
    fn a_record_that_does_not_open_keeps_the_record_error_as_its_source() {
        let error = Error::Record {
            path: "/kc/accounts/acme.kcr".into(),
            cause: RecordError::WrongKey,
        };
        let cause = error.source().and_then(|s| s.downcast_ref::<RecordError>());
        assert!(matches!(cause, Some(RecordError::WrongKey)), "{cause:?}");
        assert_eq!(error.exit_code(), exit::INTEGRITY);
        assert_eq!(error.code(), "integrity");
        assert!(error.hint().unwrap().contains("keychain import"));
    }

    #[test]
    fn one_line_holds_the_message_and_each_cause_once() {
        let error = Error::Unavailable {
            what: "the refresh did not go through".into(),
            retry: None,
            cause: Some(ProviderCause::Token(Box::new(token_unavailable()))),
        };
        assert_eq!(
            error.with_causes(),
            "the refresh did not go through: the token endpoint /oauth2/token is unavailable: connection refused"
        );
        // A message that quotes its cause does not repeat it.
        let audit = crate::trail::audit_error(audit_missing());
        assert_eq!(audit.with_causes(), audit.to_string());
    }

    #[test]
    fn an_unlogged_change_keeps_the_audit_failure_as_its_source() {
        let error = Error::Unlogged {
            path: "/kc/accounts/acme.kcr".into(),
            change: Unlogged::Written,
            undo: Box::new(crate::store::StoreError::Conflict("acme".into())),
            cause: audit_missing(),
        };
        let audit = error.source().and_then(|s| s.downcast_ref::<AuditError>());
        assert!(
            matches!(audit, Some(AuditError::NotInitialised { .. })),
            "{audit:?}"
        );
        assert_eq!(error.exit_code(), exit::INTEGRITY);
        assert_eq!(error.code(), "integrity");
    }

    /// Regression (issue 18, item 5): hints said 'keychain set ACCOUNT --totp-file FILE' and
    /// 'keychain show ACCOUNT'; a command in a hint names the account, or says "for the
    /// account" in words where the caller does not know it.
    #[test]
    fn no_hint_carries_a_placeholder_for_the_account() {
        let causes = || {
            vec![
                ProviderCause::Logon(Box::new(LogonError::TotpRequired {
                    path: "/mfa".into(),
                })),
                ProviderCause::Logon(Box::new(logon_rejected())),
                ProviderCause::Token(Box::new(TokenError::Rejected {
                    error: "invalid_grant".into(),
                    description: None,
                })),
                ProviderCause::Token(Box::new(token_unavailable())),
                ProviderCause::Discovery(Box::new(DiscoveryError::Protocol {
                    path: "/.well-known/openid-configuration".into(),
                    detail: "no token_endpoint".into(),
                })),
            ]
        };
        let mut hints = Vec::new();
        for cause in causes() {
            hints.push(cause.hint(Some("acme-books")));
            hints.push(cause.hint(None));
        }
        for cause in causes() {
            let rejected = Error::Rejected {
                what: "rejected".into(),
                account: "acme-books".into(),
                cause,
            };
            hints.push(rejected.hint());
        }
        for cause in causes() {
            hints.push(
                Error::Unavailable {
                    what: "unavailable".into(),
                    retry: None,
                    cause: Some(cause),
                }
                .hint(),
            );
        }
        for hint in hints.into_iter().flatten() {
            for placeholder in ["ACCOUNT", "NAME", "<account>"] {
                assert!(!hint.contains(placeholder), "{placeholder} in: {hint}");
            }
            if hint.contains("'keychain ") && !hint.contains("for the account") {
                assert!(hint.contains("acme-books"), "{hint}");
            }
        }
    }

    /// Words of advice: they belong in `hint()`, not in the message.
    const ADVICE: &[&str] = &[
        "run '",
        "run `",
        "rerun",
        "try again",
        "check ",
        "; use --",
        "add one",
        "a new logon is needed",
        "is the issuer",
        "store the right one",
    ];

    #[test]
    fn messages_say_what_went_wrong_and_hints_say_what_to_do() {
        let path = || PathBuf::from("/kc/audit.log");
        let cases: Vec<(String, Option<String>)> = vec![
            {
                let e = logon_rejected();
                (e.to_string(), Some("(the caller's)".into()))
            },
            {
                let e = LogonError::Unavailable {
                    step: "password".into(),
                    path: "/login".into(),
                    reason: "timed out".into(),
                };
                (e.to_string(), e.hint(Some("acme")))
            },
            {
                let e = LogonError::UnknownPage {
                    path: "/login".into(),
                    status: 200,
                    fields: vec![],
                };
                (e.to_string(), e.hint(Some("acme")))
            },
            {
                let e = LogonError::TotpRequired {
                    path: "/mfa".into(),
                };
                (e.to_string(), e.hint(Some("acme")))
            },
            {
                let e = TokenError::Rejected {
                    error: "invalid_grant".into(),
                    description: None,
                };
                (e.to_string(), e.hint(Some("acme")))
            },
            {
                let e = TokenError::RateLimited {
                    error: "slow_down".into(),
                    description: None,
                    retry_after: None,
                    new_refresh_token: None,
                };
                (e.to_string(), e.hint(Some("acme")))
            },
            {
                let e = token_unavailable();
                (e.to_string(), e.hint(Some("acme")))
            },
            {
                let e = DiscoveryError::Unavailable {
                    path: "/.well-known/openid-configuration".into(),
                    reason: "timed out".into(),
                };
                (e.to_string(), Some(e.hint(Some("acme"))))
            },
            {
                let e = DiscoveryError::Protocol {
                    path: "/.well-known/openid-configuration".into(),
                    detail: "no token_endpoint".into(),
                };
                (e.to_string(), Some(e.hint(Some("acme"))))
            },
            {
                let e = AuditError::Io {
                    what: "open",
                    path: path(),
                    source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
                };
                (e.to_string(), e.hint())
            },
            {
                let e = audit_missing();
                (e.to_string(), e.hint())
            },
            {
                let e = AuditError::StateMissing { path: path() };
                (e.to_string(), e.hint())
            },
            {
                let e = AuditError::AnchorMissing { path: path() };
                (e.to_string(), e.hint())
            },
            {
                let e = AuditError::Corrupt { path: path() };
                (e.to_string(), e.hint())
            },
            {
                let e = AuditError::PartialLine { path: path() };
                (e.to_string(), e.hint())
            },
            {
                let e = AuditError::Mismatch {
                    path: path(),
                    detail: "the last hash differs".into(),
                };
                (e.to_string(), e.hint())
            },
            {
                let e = Error::RejectedBefore {
                    account: "acme".into(),
                    step: "password".into(),
                    at: "2026-11-30T03:17:00Z".into(),
                    by: "etl".into(),
                };
                (e.to_string(), e.hint())
            },
            {
                let e = Error::NotAdmitted(crate::providers::NotAdmitted::TooSoon {
                    provider: "Exact Online",
                    interval: 570,
                    wait: 12,
                });
                (e.to_string(), e.hint())
            },
            {
                let e = Error::NotAdmitted(crate::providers::NotAdmitted::ErrorBudgetSpent {
                    provider: "Exact Online",
                    errors: 8,
                    limit: 10,
                    retry_at: 1_000_000,
                });
                (e.to_string(), e.hint())
            },
            {
                let e = Error::Unavailable {
                    what: "the TOTP code of this time step was used by the previous logon".into(),
                    retry: Some("in 12 s".into()),
                    cause: None,
                };
                (e.to_string(), e.hint())
            },
            {
                let e = Error::Unlogged {
                    path: "/kc/accounts/acme.kcr".into(),
                    change: Unlogged::Removed,
                    undo: Box::new(crate::store::StoreError::Conflict("acme".into())),
                    cause: audit_missing(),
                };
                (e.to_string(), e.hint())
            },
        ];
        for (message, hint) in cases {
            for word in ADVICE {
                assert!(
                    !message.contains(word),
                    "advice {word:?} in the message: {message}"
                );
            }
            assert!(
                hint.is_some_and(|h| !h.is_empty()),
                "no hint for: {message}"
            );
        }
    }
}
