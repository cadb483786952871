//! `keychain rm`: remove an account.

use crate::cli::RmArgs;
use crate::error::Result;
use crate::keychain::Keychain;

pub fn run(kc: &Keychain, args: RmArgs) -> Result<()> {
    crate::store::validate_name(&args.name)?;
    let lock = kc.lock(&args.name)?;
    kc.remove(&*lock)?;
    eprintln!("Removed account '{}'.", args.name);
    Ok(())
}
