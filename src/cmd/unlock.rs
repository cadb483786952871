//! `keychain unlock` and `keychain lock`: the identity cached in the kernel keyring
//! (`ops::unlock`).

use clap::Args;

use crate::cmd::Ctx;
use crate::error::Result;
use crate::ops::unlock::{self, UnlockOptions, Unlocked};
use secrecy::ExposeSecret;

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
    let options = UnlockOptions {
        // At least 1 s and at most 30 days: checked by `parse_unlock_duration`.
        seconds: args.duration.as_secs(),
        systemd_credential: args.systemd_credential,
        output_is_terminal: args.systemd_credential && crate::output::stdout_is_terminal(),
    };
    match unlock::unlock(kc, &options)? {
        Unlocked::Cached { until } => {
            crate::output::after_save(crate::output::err(&format!(
                "Unlocked {} for {}, until {} ('keychain status' shows it).\n",
                kc.dir.display(),
                crate::text::duration(args.duration),
                crate::clock::rfc3339(until)
            )));
        }
        // `unlock --systemd-credential`: the identity on standard output, which is not a
        // terminal (it goes into `systemd-creds encrypt`), logged before it is written.
        Unlocked::Identity(identity) => {
            let line = zeroize::Zeroizing::new(format!("{}\n", identity.expose_secret()));
            crate::output::raw(line.as_bytes())?;
            crate::output::after_save(crate::output::err(&format!(
                "Wrote the identity of {} for systemd-creds; give the service LoadCredentialEncrypted={} ('keychain help cron').\n",
                kc.dir.display(),
                crate::keystore::credential::CREDENTIAL_NAME
            )));
        }
    }
    ctx.confirm("unlock", &[])
}

pub fn lock(ctx: &Ctx) -> Result<()> {
    let dir = &ctx.dir()?;
    match unlock::lock(dir, &ctx.clock)? {
        Some(true) => {
            crate::output::after_save(crate::output::err(&format!("Locked {}.\n", dir.display())))
        }
        Some(false) => crate::output::after_save(crate::output::err(&format!(
            "{} was not unlocked.\n",
            dir.display()
        ))),
        None => {}
    }
    ctx.confirm("lock", &[])
}
