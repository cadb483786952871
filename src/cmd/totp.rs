//! `keychain totp`: the current code on stdout, the seconds left on stderr on a terminal.

use std::io::IsTerminal;

use secrecy::ExposeSecret;

use crate::cli::TotpArgs;
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::record::{Account, SecretField};
use crate::totp::TotpSecret;

pub fn run(kc: &Keychain, args: TotpArgs) -> Result<()> {
    let (account, _) = kc.read(&args.name)?;
    let totp = totp_of(&account)?;
    let mut now = crate::clock::now() as u64;
    if let Some(min_left) = args.fresh {
        // A whole step is the most anyone can ask for.
        let min_left = min_left.min(totp.period);
        while totp.seconds_left(now) < min_left {
            std::thread::sleep(std::time::Duration::from_secs(totp.seconds_left(now)));
            now = crate::clock::now() as u64;
        }
    }
    let code = totp.code_at(now);
    super::print_stdout(&zeroize::Zeroizing::new(format!(
        "{}\n",
        code.expose_secret()
    )))?;
    if std::io::stderr().is_terminal() {
        eprintln!("{} s left", totp.seconds_left(now));
    }
    Ok(())
}

/// The account's TOTP generator, from the stored secret and its parameters.
pub fn totp_of(account: &Account) -> Result<TotpSecret> {
    let secret = account.secret(SecretField::TotpSecret).ok_or_else(|| {
        Error::usage_hint(
            format!("account '{}' has no TOTP secret", account.header.name),
            "add one with 'keychain set NAME --totp-file FILE'",
        )
    })?;
    let mut totp = TotpSecret::parse(secret.expose_secret()).map_err(|_| Error::Integrity {
        path: account.header.name.clone().into(),
        reason: "the stored TOTP secret is not valid base32".into(),
    })?;
    if let Some(params) = &account.header.totp {
        totp.algorithm = params.algorithm;
        totp.digits = params.digits;
        totp.period = params.period;
    }
    Ok(totp)
}
