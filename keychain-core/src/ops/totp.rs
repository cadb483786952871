//! `totp`: the current TOTP code of an account, recorded in the audit log before it is shown.

use secrecy::SecretString;

use crate::audit::{Action, Event};
use crate::error::Result;
use crate::keychain::Keychain;
use crate::name::AccountName;

/// Whose code, and how fresh.
#[derive(Debug, Clone)]
pub struct TotpOptions {
    /// The account.
    pub name: AccountName,
    /// Wait for the next time step when fewer than this many seconds remain in the current one
    /// (at most a whole step).
    pub fresh: Option<u64>,
}

/// A code and its time step.
pub struct Code {
    /// The code.
    pub code: SecretString,
    /// Seconds left in its time step.
    pub seconds_left: u64,
    /// The length of a time step, in seconds.
    pub period: u64,
}

/// The account's current code.
pub fn totp(kc: &Keychain, options: &TotpOptions) -> Result<Code> {
    let (account, _) = kc.read(&options.name)?;
    let totp = account.totp()?;
    // A code is a working second factor: recorded before it is shown (one append). No write
    // counter: this read took no lock, and only writes may set the counter replays are judged by.
    kc.log_event(Event::new("totp", Action::Totp).account(&options.name))?;
    let mut now = kc.now().max(0) as u64;
    if let Some(min_left) = options.fresh {
        // A whole step is the most anyone can ask for.
        let min_left = min_left.min(totp.period);
        while totp.seconds_left(now) < min_left {
            kc.clock()
                .sleep(std::time::Duration::from_secs(totp.seconds_left(now)));
            now = kc.now().max(0) as u64;
        }
    }
    Ok(Code {
        code: totp.code_at(now),
        seconds_left: totp.seconds_left(now),
        period: totp.period,
    })
}
