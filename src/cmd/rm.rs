//! `keychain rm`: remove an account.

use crate::audit::Event;
use crate::cli::RmArgs;
use crate::error::Result;
use crate::keychain::Keychain;
use crate::trail::Action;

pub fn run(kc: &Keychain, args: RmArgs) -> Result<()> {
    crate::store::validate_name(&args.name)?;
    let lock = kc.lock(&args.name)?;
    kc.remove(&*lock, Event::new("rm", Action::Rm).account(&args.name))?;
    crate::output::after_save(crate::output::err(&format!(
        "Removed account '{}'.\n",
        args.name
    )));
    Ok(())
}
