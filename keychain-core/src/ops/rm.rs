//! `rm`: remove accounts. Every name is checked before any is removed, so a typo in the list
//! removes nothing; the front end may ask a person to confirm in between.

use crate::audit::Event;
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::store::validate_name;
use crate::trail::Action;

/// The accounts to remove.
#[derive(Debug, Clone)]
pub struct RmOptions {
    /// Their names; a name given twice is removed once.
    pub names: Vec<String>,
}

/// Removes every account of `options.names`, once all exist and `confirm` (given the names,
/// each once) says yes; `removed` hears of each account as soon as it is gone, so a failure
/// later in the list leaves no removal unreported. A `false` from `confirm` removes nothing.
pub fn rm(
    kc: &Keychain,
    options: &RmOptions,
    confirm: impl FnOnce(&[&str]) -> Result<bool>,
    mut removed: impl FnMut(&str),
) -> Result<()> {
    let mut names: Vec<&str> = Vec::new();
    for name in &options.names {
        validate_name(name)?;
        if kc.store().read(name)?.is_none() {
            return Err(Error::NotFound(name.clone()));
        }
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    if !confirm(&names)? {
        return Err(Error::usage("not confirmed: nothing removed"));
    }
    for name in names {
        let lock = kc.lock(name)?;
        kc.remove(&*lock, Event::new("rm", Action::Rm).account(name))?;
        removed(name);
    }
    Ok(())
}
