//! The global flags that make the core's [`Settings`], each with its environment variable
//! (`#[arg(env)]`: `--help` and the man pages list them), read once by `dispatch`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;

use crate::error::Result;
use crate::keystore::passphrase;
use crate::settings::{self, Settings};

#[derive(Debug, Args, Clone, Default)]
pub struct SettingsArgs {
    /// Seconds to wait for another process holding an account (default 60, at most 86400)
    #[arg(
        long,
        global = true,
        env = "KEYCHAIN_LOCK_TIMEOUT",
        hide_env_values = true,
        value_name = "SECONDS"
    )]
    pub lock_timeout: Option<String>,

    /// Seconds to wait for the OS credential store (at most and by default 5)
    #[arg(
        long,
        global = true,
        env = "KEYCHAIN_KEYRING_TIMEOUT",
        hide_env_values = true,
        value_name = "SECONDS"
    )]
    pub keyring_timeout: Option<String>,

    /// File whose first line is the passphrase of a 'passphrase' key store (e.g. a systemd
    /// credential); without it keychain reads $CREDENTIALS_DIRECTORY/keychain-passphrase when
    /// systemd passed that credential, else prompts on a terminal
    #[arg(
        long,
        global = true,
        env = "KEYCHAIN_PASSPHRASE_FILE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    // An OsString, not a PathBuf: clap refuses an empty path, and an empty variable has always
    // meant "not set".
    pub passphrase_file: Option<OsString>,

    /// scrypt log2 work factor for a new passphrase identity (default: age's calibration, about
    /// one second); low values are for tests only
    #[arg(
        long,
        global = true,
        env = "KEYCHAIN_SCRYPT_WORK_FACTOR",
        hide = true,
        hide_env_values = true,
        value_name = "N"
    )]
    pub scrypt_work_factor: Option<String>,

    /// Seconds of the lock lease on a shared store (OpenBao): a holder that dies is taken over
    /// after it (default 30, 2 to 3600); every machine of the keychain should use the same
    #[arg(
        long,
        global = true,
        env = "KEYCHAIN_OPENBAO_LEASE",
        hide_env_values = true,
        value_name = "SECONDS"
    )]
    pub openbao_lease: Option<String>,
}

/// The keychain folder: `--dir` or `KEYCHAIN_DIR`, else the XDG data folder of this user.
pub fn keychain_dir(flag: Option<PathBuf>) -> Result<PathBuf> {
    crate::config::resolve_dir(
        flag,
        std::env::var_os("XDG_DATA_HOME"),
        std::env::var_os("HOME"),
    )
    .map_err(Into::into)
}

impl SettingsArgs {
    /// The validated settings; a bad value is a usage error (exit 2) naming its variable.
    pub fn settings(&self) -> Result<Settings> {
        // systemd's, not keychain's: where `LoadCredential=` put the service's credentials.
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        let given = self
            .passphrase_file
            .clone()
            .map(PathBuf::from)
            .filter(|p| !p.as_os_str().is_empty());
        if let Some(file) = &given {
            // Read whenever the key is needed, and standard input may be a command's own.
            crate::input::not_a_stream(file, "--passphrase-file")?;
        }
        Ok(Settings {
            lock_timeout: settings::lock_timeout(self.lock_timeout.as_deref())?,
            keyring_timeout: settings::keyring_timeout(self.keyring_timeout.as_deref()),
            // Only a passphrase file the user names is one this user can read at any time, so
            // only its derived key is cached (see the README, "Key stores").
            derived_key_cache: given.as_ref().map(|_| crate::keystore::DERIVED_KEY_IDLE),
            passphrase_file: passphrase::passphrase_file(given, credentials.as_deref()),
            identity_credential: crate::keystore::credential::path(credentials.as_deref()),
            scrypt_work_factor: settings::scrypt_work_factor(self.scrypt_work_factor.as_deref()),
            openbao_lease: settings::openbao_lease(self.openbao_lease.as_deref())?,
        })
    }
}
