//! `keychain unlock` and `keychain lock`: the identity cached in the kernel keyring.

use clap::Args;

use crate::cmd::Ctx;
use crate::error::Result;
use crate::keychain::Keychain;

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// How long the identity stays cached, e.g. 8h, 30m, 7d (from 1s to 30d). The default, 25h, reaches past the
    /// next run of any daily job whenever the unlock happens (8 h after 17:00 ends before a
    /// 03:17 job); 'keychain status' says when it ends
    #[arg(long = "for", value_name = "DURATION", default_value = "25h", value_parser = parse_unlock_duration)]
    pub duration: std::time::Duration,

    /// Instead of caching it: write the identity to standard output, for systemd-creds to
    /// encrypt into a service credential (refused on a terminal). As root: keychain unlock
    /// --systemd-credential | systemd-creds encrypt --name=keychain-identity -
    /// /etc/credstore.encrypted/keychain-identity; the service then needs
    /// LoadCredentialEncrypted=keychain-identity and no passphrase (keychain help cron)
    #[arg(long, conflicts_with = "duration")]
    pub systemd_credential: bool,
}

/// The longest `unlock --for`: the kernel counts a key's timeout in 32-bit seconds, and a cached
/// identity that outlives a month is a forgotten one.
pub const MAX_UNLOCK: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// `--for DURATION`, validated here so that what is reported is what the kernel is told.
pub fn parse_unlock_duration(text: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d < std::time::Duration::from_secs(1) {
        return Err("must be at least one second".into());
    }
    if d > MAX_UNLOCK {
        return Err("must be at most 30 days (30d); unlock again when it runs out".into());
    }
    Ok(d)
}

pub fn unlock(ctx: &Ctx, args: UnlockArgs) -> Result<()> {
    let kc = &ctx.open()?;
    // At least 1 s and at most 30 days: checked by `parse_unlock_duration`.
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
        if args.systemd_credential {
            return systemd_credential(kc, &identity);
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

/// `unlock --systemd-credential`: the identity on standard output, which must not be a terminal
/// (it goes into `systemd-creds encrypt`), logged before it is written.
#[cfg(target_os = "linux")]
fn systemd_credential(kc: &Keychain, identity: &crate::keystore::Identity) -> Result<()> {
    use secrecy::ExposeSecret;
    if crate::output::stdout_is_terminal() {
        return Err(crate::error::Error::usage_hint(
            "--systemd-credential writes the keychain's identity to standard output, which is a terminal",
            "pipe it into systemd-creds: keychain unlock --systemd-credential | systemd-creds encrypt --name=keychain-identity - /etc/credstore.encrypted/keychain-identity",
        ));
    }
    crate::trail::record(
        kc,
        crate::audit::Event::new("unlock --systemd-credential", crate::trail::Action::Unlock),
    )?;
    let line = zeroize::Zeroizing::new(format!("{}\n", identity.to_string().expose_secret()));
    crate::output::raw(line.as_bytes())?;
    crate::output::after_save(crate::output::err(&format!(
        "Wrote the identity of {} for systemd-creds; give the service LoadCredentialEncrypted={} ('keychain help cron').\n",
        kc.dir.display(),
        crate::keystore::credential::CREDENTIAL_NAME
    )));
    Ok(())
}

pub fn lock(ctx: &Ctx) -> Result<()> {
    // Works on a keychain folder even when its key store is unreachable.
    let dir = &ctx.dir()?;
    crate::config::Config::load(dir)?;
    let clock = &ctx.clock;
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
