//! Every knob that a global flag or the environment sets, as one value built once at start.
//!
//! The CLI builds [`Settings`] from its arguments (each with `#[arg(env = "KEYCHAIN_...")]`, so
//! `--help` and the man pages list the variables) and hands it down; nothing below reads the
//! environment for these. The parsers here are the one place each value is validated, with the
//! message and exit code the user sees.
#![deny(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use crate::lockfile::DEFAULT_LOCK_TIMEOUT;

/// A setting given that keychain cannot use; `error.rs` adds what to set instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// `--lock-timeout`/`KEYCHAIN_LOCK_TIMEOUT` is not seconds from 0 to a day (given, escaped).
    #[error(
        "--lock-timeout/KEYCHAIN_LOCK_TIMEOUT '{}' is not a number of seconds from 0 to 86400",
        .0.escape_debug()
    )]
    LockTimeout(String),
    /// `--openbao-lease`/`KEYCHAIN_OPENBAO_LEASE` is unusable; the text says why.
    #[error("{0}")]
    OpenbaoLease(String),
}

impl crate::exit::Failure for SettingsError {
    fn class(&self) -> crate::exit::Class {
        crate::exit::Class::Usage
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            SettingsError::LockTimeout(_) => "set it (or --lock-timeout) to the seconds to wait for another process holding the account (default 60), or unset it",
            SettingsError::OpenbaoLease(_) => "every machine of a shared keychain must use the same lease; unset it for the default (30)",
        }.into())
    }
}

type Result<T, E = SettingsError> = std::result::Result<T, E>;

/// The longest lock timeout accepted: a day. Anything longer is a mistake.
const MAX_LOCK_TIMEOUT_SECS: f64 = 86_400.0;
/// Longest wait for any keyring call: a Secret Service can hang.
pub const MAX_KEYRING_TIMEOUT: Duration = Duration::from_secs(5);
/// The highest scrypt work factor keychain writes or accepts when decrypting (age calibrates to
/// about 19 here).
pub const MAX_WORK_FACTOR: u8 = 22;

/// What the environment and the global flags decide, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long to wait for another process holding an account.
    pub lock_timeout: Duration,
    /// How long to wait for one call to the OS credential store.
    pub keyring_timeout: Duration,
    /// Where a `passphrase` key store's passphrase comes from without a prompt (its first line).
    pub passphrase_file: Option<PathBuf>,
    /// The scrypt log2 work factor for a new passphrase identity; `None`: age's calibration.
    pub scrypt_work_factor: Option<u8>,
    /// How long a key derived from the passphrase file stays in the kernel keyring after its last
    /// use ([`crate::keystore::derived`]); `None`: never cached (a prompt, or a passphrase
    /// systemd handed to one service run).
    pub derived_key_cache: Option<Duration>,
    /// The identity systemd handed to this service (`$CREDENTIALS_DIRECTORY/keychain-identity`,
    /// [`crate::keystore::credential`]), when it did.
    pub identity_credential: Option<PathBuf>,
    /// The lease of a lock key a shared store (OpenBao) creates; see `store::openbao::lease`.
    pub openbao_lease: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            keyring_timeout: MAX_KEYRING_TIMEOUT,
            passphrase_file: None,
            scrypt_work_factor: None,
            derived_key_cache: None,
            identity_credential: None,
            openbao_lease: crate::store::openbao::lease::DEFAULT_LEASE,
        }
    }
}

/// The lock timeout as given (`--lock-timeout` or `KEYCHAIN_LOCK_TIMEOUT`), validated: seconds
/// from 0 to a day; unset or blank means the default.
pub fn lock_timeout(value: Option<&str>) -> Result<Duration> {
    let Some(text) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(DEFAULT_LOCK_TIMEOUT);
    };
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..=MAX_LOCK_TIMEOUT_SECS).contains(&s) => {
            Ok(Duration::from_secs_f64(s))
        }
        _ => Err(SettingsError::LockTimeout(text.to_string())),
    }
}

/// The keyring timeout as given (`--keyring-timeout` or `KEYCHAIN_KEYRING_TIMEOUT`): seconds,
/// fractions allowed, never more than [`MAX_KEYRING_TIMEOUT`]; anything unusable means the cap.
pub fn keyring_timeout(value: Option<&str>) -> Duration {
    value
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        // Capped before the conversion: a huge value would overflow a Duration and panic.
        .map(|s| Duration::from_secs_f64(s.min(MAX_KEYRING_TIMEOUT.as_secs_f64())))
        .unwrap_or(MAX_KEYRING_TIMEOUT)
}

/// The lock lease of a shared store as given (`--openbao-lease` or `KEYCHAIN_OPENBAO_LEASE`):
/// seconds from 2 to 3600; unset or blank means 30.
pub fn openbao_lease(value: Option<&str>) -> Result<Duration> {
    crate::store::openbao::lease::lease_from_env(value).map_err(SettingsError::OpenbaoLease)
}

/// The scrypt work factor as given (`KEYCHAIN_SCRYPT_WORK_FACTOR`): 1 to [`MAX_WORK_FACTOR`];
/// anything else means age's calibration (about a second), as before.
pub fn scrypt_work_factor(value: Option<&str>) -> Option<u8> {
    value
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| (1..=MAX_WORK_FACTOR).contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_timeout_is_validated_at_the_edge() {
        assert_eq!(lock_timeout(None).unwrap(), DEFAULT_LOCK_TIMEOUT);
        assert_eq!(lock_timeout(Some(" ")).unwrap(), DEFAULT_LOCK_TIMEOUT);
        assert_eq!(
            lock_timeout(Some("2.5")).unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(lock_timeout(Some("0")).unwrap(), Duration::ZERO);
        assert_eq!(
            lock_timeout(Some("86400")).unwrap(),
            Duration::from_secs(86_400)
        );
        for bad in [
            "1e300",
            "-1",
            "NaN",
            "inf",
            "86401",
            "ten",
            "18446744073709551616",
        ] {
            let e = crate::error::Error::from(lock_timeout(Some(bad)).unwrap_err());
            assert_eq!(e.exit_code(), crate::exit::USAGE, "{bad}");
            assert!(e.to_string().contains("KEYCHAIN_LOCK_TIMEOUT"), "{bad}");
        }
    }

    #[test]
    fn keyring_timeout_never_panics_and_never_exceeds_its_cap() {
        assert_eq!(keyring_timeout(Some("0.5")), Duration::from_millis(500));
        for v in [
            "1e300",
            "1e20",
            "18446744073709551616",
            "inf",
            "-3",
            "x",
            "",
            "99",
        ] {
            assert_eq!(keyring_timeout(Some(v)), MAX_KEYRING_TIMEOUT, "{v}");
        }
        assert_eq!(keyring_timeout(None), MAX_KEYRING_TIMEOUT);
    }

    #[test]
    fn scrypt_work_factor_outside_its_range_is_age_calibration() {
        assert_eq!(scrypt_work_factor(Some("10")), Some(10));
        for v in ["0", "23", "-1", "x", ""] {
            assert_eq!(scrypt_work_factor(Some(v)), None, "{v}");
        }
        assert_eq!(scrypt_work_factor(None), None);
    }
}
