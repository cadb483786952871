//! `keychain store copy --to DIR [--move] [NAME...]`: accounts from this keychain into another
//! (local into shared on OpenBao, or back), each as one transaction there.

use crate::cli::StoreCopyArgs;
use crate::error::{Error, Result};
use crate::keychain::Keychain;

pub fn copy(kc: &Keychain, args: StoreCopyArgs) -> Result<()> {
    let target = Keychain::open(&args.to)?;
    if std::fs::canonicalize(&args.to).ok() == std::fs::canonicalize(&kc.dir).ok() {
        return Err(Error::usage("--to names this keychain itself"));
    }
    let names = if args.names.is_empty() {
        super::account_names(kc)?
    } else {
        args.names.clone()
    };
    // Every name is checked before anything is copied: a typo copies nothing.
    for name in &names {
        kc.peek(name)?;
    }
    for name in &names {
        kc.copy_account_to(&target, name, args.remove)?;
        let verb = if args.remove { "Moved" } else { "Copied" };
        crate::output::after_save(crate::output::err(&format!(
            "{verb} account '{name}' to {}.\n",
            target.location(name)
        )));
    }
    if !args.remove && !names.is_empty() {
        crate::output::after_save(crate::output::err(
            "note: the accounts are now in both keychains; use only one of them for logons ('keychain rm' them here), or each breaks the other's refresh-token chain\n",
        ));
    }
    Ok(())
}
