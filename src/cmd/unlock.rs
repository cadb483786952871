//! `keychain unlock` and `keychain lock`: the identity cached in the kernel keyring.

use std::path::Path;

use crate::cli::UnlockArgs;
use crate::error::Result;
use crate::keychain::Keychain;

pub fn unlock(kc: &Keychain, args: UnlockArgs) -> Result<()> {
    // At least 1 s and at most 30 days: checked by `cli::parse_unlock_duration`.
    let seconds = args.duration.as_secs();
    #[cfg(target_os = "linux")]
    {
        // Always from the configured store: unlocking must prove the user can open it.
        let identity =
            crate::keystore::for_kind(kc.config.key_store, &kc.dir, kc.settings()).load()?;
        if identity.to_public().to_string() != kc.config.recipient {
            return Err(crate::keystore::KeyStoreError::WrongIdentity {
                store: kc.config.key_store,
            }
            .into());
        }
        // No audit, no unlock: a log that cannot take the event refuses before the key is
        // cached, and one that fails after it takes the cached key back out.
        kc.check_audit()?;
        crate::keystore::kernel::store(&kc.dir, &identity, seconds, kc.now())?;
        if let Err(e) = crate::trail::record(
            kc,
            crate::audit::Event::new("unlock", crate::trail::Action::Unlock),
        ) {
            let _ = crate::keystore::kernel::remove(&kc.dir);
            return Err(e);
        }
        let until = kc.now().saturating_add(seconds.min(i64::MAX as u64) as i64);
        crate::output::after_save(crate::output::err(&format!(
            "Unlocked {} for {}, until {} ('keychain status' shows it).\n",
            kc.dir.display(),
            humantime::format_duration(args.duration),
            crate::clock::rfc3339(until)
        )));
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (kc, seconds);
        Err(crate::error::Error::usage(
            "keychain unlock needs the Linux kernel keyring",
        ))
    }
}

pub fn lock(dir: &Path, clock: &crate::clock::SharedClock) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        let removed = crate::keystore::kernel::remove(dir)?;
        crate::trail::record_in(
            dir,
            clock,
            crate::audit::Event::new("lock", crate::trail::Action::Lock),
        )?;
        if removed {
            crate::output::after_save(crate::output::err(&format!("Locked {}.\n", dir.display())));
        } else {
            crate::output::after_save(crate::output::err(&format!(
                "{} was not unlocked.\n",
                dir.display()
            )));
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (dir, clock);
        Ok(())
    }
}
