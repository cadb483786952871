//! Every conversion of a module's own error into [`Error`], in one file (as jj keeps its
//! library-error conversions): the low modules return their small errors and never name the
//! top-level one; here each becomes its class, message and advice. Messages are the small
//! error's own text; the advice for the ones that have none of their own is written here.

use std::path::PathBuf;

use super::Error;
use crate::config::ConfigError;
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
            other => match other.hint() {
                Some(hint) => Error::usage_hint(other.to_string(), hint),
                None => Error::usage(other.to_string()),
            },
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        let message = e.to_string();
        match e {
            ConfigError::NoFolder => {
                Error::usage_hint(message, "give --dir DIR or set KEYCHAIN_DIR")
            }
            ConfigError::NotInitialised { .. } => Error::usage_hint(
                message,
                "run 'keychain init' first, or point --dir/KEYCHAIN_DIR at an existing keychain",
            ),
            ConfigError::Exists { .. } => Error::usage_hint(
                message,
                "use it as it is, or choose another folder with --dir",
            ),
            ConfigError::BadRecipient(_) => Error::usage_hint(
                message,
                "an age public key starts with 'age1'; 'age-keygen -y KEYFILE' prints the one of a key file",
            ),
            ConfigError::Corrupt { path, reason } => Error::Integrity { path, reason },
            ConfigError::Unauthenticated { path, reason } => Error::Unauthenticated {
                hint: format!(
                    "nothing was written; compare the recipients 'keychain audit' lists with the ones you chose; if they are right, run 'keychain audit seal-config' to authenticate them; otherwise restore {} from a backup",
                    path.display()
                ),
                path,
                reason,
            },
            ConfigError::Io { context, source } => Error::Io { context, source },
        }
    }
}

impl From<SettingsError> for Error {
    fn from(e: SettingsError) -> Self {
        let hint = match e {
            SettingsError::LockTimeout(_) => {
                "set it (or --lock-timeout) to the seconds to wait for another process holding the account (default 60), or unset it"
            }
            SettingsError::OpenbaoLease(_) => {
                "every machine of a shared keychain must use the same lease; unset it for the default (30)"
            }
        };
        Error::usage_hint(e.to_string(), hint)
    }
}

impl From<TotpUnusable> for Error {
    fn from(e: TotpUnusable) -> Self {
        match e {
            TotpUnusable::Missing(ref name) => Error::usage_hint(
                e.to_string(),
                format!("add one with 'keychain set {name} --totp-file FILE'"),
            ),
            TotpUnusable::NotBase32(name) => Error::Integrity {
                path: name.into(),
                reason: "the stored TOTP secret is not valid base32".into(),
            },
            TotpUnusable::BadParams { ref name, .. } => Error::usage_hint(
                e.to_string(),
                format!("store the TOTP secret again with 'keychain set {name} --totp-file FILE'"),
            ),
        }
    }
}
