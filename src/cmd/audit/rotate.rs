//! `keychain audit rotate`: the live log moves to `audit.log.N`; the new log's first line
//! continues seq, key chain and hash chain, so `verify` still checks the whole history. Keep
//! every rotated file: verification needs them all, oldest first.

use crate::error::Result;
use crate::keychain::Keychain;

pub fn run(kc: &Keychain) -> Result<()> {
    let old = crate::audit::log_of(&kc.dir, kc.clock())
        .waiting_at_most(kc.settings().lock_timeout)
        .rotate()?;
    crate::output::after_save(crate::output::err(&format!(
        "Rotated the audit log: the old one is now {}; keep it, 'keychain audit verify' reads every rotated file.\n",
        old.display()
    )));
    Ok(())
}
