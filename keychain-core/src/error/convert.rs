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
