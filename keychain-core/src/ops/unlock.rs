//! `unlock` and `lock`: the keychain's identity cached in the kernel keyring (Linux), or handed
//! to systemd-creds for a service credential.

use std::path::Path;

use secrecy::SecretString;

use crate::clock::SharedClock;
use crate::error::Result;
use crate::keychain::Keychain;

/// How to unlock.
#[derive(Debug, Clone)]
pub struct UnlockOptions {
    /// How long the identity stays cached, in seconds (1 s to 30 days, checked by the caller).
    pub seconds: u64,
    /// Instead of caching it: hand the identity out for systemd-creds.
    pub systemd_credential: bool,
    /// Whether the identity would go to a terminal (refused for `systemd_credential`).
    pub output_is_terminal: bool,
}

/// What an unlock did.
pub enum Unlocked {
    /// The identity is cached until this time (Unix seconds).
    Cached {
        /// When the cached identity ends.
        until: i64,
    },
    /// The identity, for systemd-creds, recorded in the audit log before it is handed out.
    Identity(SecretString),
}

/// Unlocks the keychain: loads its identity from the configured key store (unlocking must prove
/// the user can open it), checks it is the keychain's, then caches it or hands it out.
#[cfg(target_os = "linux")]
pub fn unlock(kc: &Keychain, options: &UnlockOptions) -> Result<Unlocked> {
    let identity = crate::keystore::for_kind(kc.config.key_store, &kc.dir, kc.settings()).load()?;
    if identity.to_public().to_string() != kc.config.recipient {
        return Err(crate::keystore::KeyStoreError::WrongIdentity {
            store: kc.config.key_store,
        }
        .into());
    }
    if options.systemd_credential {
        if options.output_is_terminal {
            return Err(crate::error::Error::usage_hint(
                "--systemd-credential writes the keychain's identity to standard output, which is a terminal",
                "pipe it into systemd-creds: keychain unlock --systemd-credential | systemd-creds encrypt --name=keychain-identity - /etc/credstore.encrypted/keychain-identity",
            ));
        }
        kc.log_event(crate::audit::Event::new(
            "unlock --systemd-credential",
            crate::audit::Action::Unlock,
        ))?;
        return Ok(Unlocked::Identity(identity.to_string()));
    }
    // No audit, no unlock: a log that cannot take the event refuses before the key is
    // cached, and one that fails after it takes the cached key back out.
    kc.check_audit()?;
    crate::keystore::kernel::store(&kc.dir, &identity, options.seconds, kc.now())?;
    if let Err(e) = kc.log_event(crate::audit::Event::new(
        "unlock",
        crate::audit::Action::Unlock,
    )) {
        let _ = crate::keystore::kernel::remove(&kc.dir);
        return Err(e);
    }
    let until = kc
        .now()
        .saturating_add(options.seconds.min(i64::MAX as u64) as i64);
    Ok(Unlocked::Cached { until })
}

/// Without the Linux kernel keyring there is nothing to unlock into.
#[cfg(not(target_os = "linux"))]
pub fn unlock(kc: &Keychain, options: &UnlockOptions) -> Result<Unlocked> {
    let _ = (kc, options);
    Err(crate::error::Error::usage(
        "keychain unlock needs the Linux kernel keyring",
    ))
}

/// Locks the keychain in `dir`: the cached identity removed, recorded in the audit log. Works
/// on a keychain folder even when its key store is unreachable. Returns whether one was cached;
/// `None` where there is no kernel keyring (nothing can have been cached).
pub fn lock(dir: &Path, clock: &SharedClock) -> Result<Option<bool>> {
    crate::config::Config::load(dir)?;
    #[cfg(target_os = "linux")]
    {
        let removed = crate::keystore::kernel::remove(dir)?;
        crate::audit::record_in(
            dir,
            clock,
            crate::audit::Event::new("lock", crate::audit::Action::Lock),
        )?;
        Ok(Some(removed))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = clock;
        Ok(None)
    }
}
