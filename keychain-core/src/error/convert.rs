//! Every conversion of a module's own error into [`Error`], in one file (as jj keeps its
//! library-error conversions): the low modules return their small errors and never name the
//! top-level one; here each becomes its class, message and advice. Messages are the small
//! error's own text; the advice for the ones that have none of their own is written here.

use std::path::PathBuf;

use super::Error;
use crate::config::ConfigError;
use crate::exit::{Class, Failure};
use crate::record::TotpUnusable;
use crate::settings::SettingsError;
use crate::store::StoreError;
use crate::store::kv::KvError;
use crate::validate::Invalid;

impl From<KvError> for Error {
    fn from(e: KvError) -> Self {
        match e {
            KvError::Corrupt { location, reason } => Error::Integrity {
                path: PathBuf::from(location),
                reason,
            },
            KvError::Io { context, source } => Error::Io { context, source },
            // Another machine wrote first: nothing was lost, and running again re-reads.
            KvError::Conflict { .. } => Error::Unavailable {
                what: e.to_string(),
                retry: Some("now".into()),
                cause: None,
            },
            KvError::Bao(e) => Error::Store(StoreError::Bao(e)),
            KvError::LockBusy(busy) => Error::Store(StoreError::Busy(busy)),
        }
    }
}

impl From<Invalid> for Error {
    fn from(invalid: Invalid) -> Self {
        match invalid {
            Invalid::Name(e) => e.into(),
            other => usage(&other),
        }
    }
}

/// A small error of the usage class becomes [`Error::Usage`] with its message and advice.
fn usage(e: &impl Failure) -> Error {
    debug_assert_eq!(e.class(), Class::Usage);
    Error::Usage {
        message: e.to_string(),
        hint: e.hint(),
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Corrupt { path, reason } => Error::Integrity { path, reason },
            ConfigError::Unauthenticated { .. } => {
                let hint = e.hint().unwrap_or_default();
                let ConfigError::Unauthenticated { path, reason } = e else {
                    unreachable!()
                };
                Error::Unauthenticated { path, reason, hint }
            }
            ConfigError::Io { context, source } => Error::Io { context, source },
            _ => usage(&e),
        }
    }
}

impl From<SettingsError> for Error {
    fn from(e: SettingsError) -> Self {
        usage(&e)
    }
}

impl From<TotpUnusable> for Error {
    fn from(e: TotpUnusable) -> Self {
        match e {
            TotpUnusable::NotBase32(name) => Error::Integrity {
                path: name.into(),
                reason: "the stored TOTP secret is not valid base32".into(),
            },
            _ => usage(&e),
        }
    }
}

/// An audit failure is an integrity problem when the log was tampered with, an I/O one
/// otherwise.
impl From<crate::audit::AuditError> for Error {
    fn from(e: crate::audit::AuditError) -> Self {
        use crate::audit::AuditError;
        let code = match e {
            AuditError::Io { .. } => crate::exit::IO,
            // Like an account's lock: another process holds it; try again later.
            AuditError::LockBusy(_) => crate::exit::UNAVAILABLE,
            AuditError::NotInitialised { .. } | AuditError::NothingToRotate { .. } => {
                crate::exit::USAGE
            }
            // The shared trail's store: unreachable or sealed (5), forbidden (8), no token (6).
            AuditError::Store { code, .. } => code,
            // Files beside the log, worded as keychain's own I/O and integrity errors.
            AuditError::File { context, source } => return Error::io(context, source),
            AuditError::OfflineMarker { path } => {
                return Error::Integrity {
                    path,
                    reason: "not a number: it says how far this machine's offline events were copied into the shared trail".into(),
                };
            }
            _ => crate::exit::INTEGRITY,
        };
        Error::Audit { source: e, code }
    }
}

/// A scan's failure as the keychain's error: a file that cannot be read is an I/O error (its
/// exit code), anything about the content is bad input (exit 2) with the scan's hint.
impl From<crate::invantive::ScanError> for Error {
    fn from(e: crate::invantive::ScanError) -> Self {
        match e {
            crate::invantive::ScanError::Io { what, path, source } => {
                Error::io(format!("could not {what} {}", path.display()), source)
            }
            other => match other.hint() {
                Some(hint) => Error::usage_hint(other.to_string(), hint),
                None => Error::usage(other.to_string()),
            },
        }
    }
}

/// A reference that does not parse is bad input, with the way to write one.
impl From<crate::reference::ReferenceError> for Error {
    fn from(e: crate::reference::ReferenceError) -> Self {
        use crate::reference::ReferenceError;
        let hint = match e {
            ReferenceError::Unterminated { .. } => {
                "close it with '}}', or write '\\{{' for a literal '{{' before keychain://"
            }
            ReferenceError::AtLine { .. } => {
                "each line is VAR=keychain://ACCOUNT/FIELD; '#' starts a comment"
            }
            _ => "a reference is keychain://ACCOUNT/FIELD, e.g. keychain://acme/access-token",
        };
        Error::usage_hint(e.to_string(), hint)
    }
}
