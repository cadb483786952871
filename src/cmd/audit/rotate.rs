//! `keychain audit rotate`: the live log moves to `audit.log.N` and a new one continues its
//! chain (`ops::audit::rotate`, where the why is).

use crate::error::Result;
use crate::keychain::Keychain;

pub fn run(kc: &Keychain) -> Result<()> {
    let old = crate::ops::audit::rotate::rotate(kc)?;
    crate::output::after_save(crate::output::err(&format!(
        "Rotated the audit log: the old one is now {}; keep it, 'keychain audit verify' reads every rotated file.\n",
        old.display()
    )));
    Ok(())
}
