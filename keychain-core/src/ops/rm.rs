//! `rm`: remove accounts. Every name is checked before any is removed, so a typo in the list
//! removes nothing; the front end may ask a person to confirm in between.

use crate::audit::Action;
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::name::AccountName;
use crate::store::StoreError;

/// The accounts to remove.
#[derive(Debug, Clone)]
pub struct RmOptions {
    /// Their names as given; a name given twice is removed once. Each is parsed in turn with
    /// the check of its existence, so the first name that is wrong in either way is the one
    /// reported.
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
    let mut names: Vec<AccountName> = Vec::new();
    for text in &options.names {
        let name = AccountName::parse(text).map_err(StoreError::from)?;
        if kc.store().read(&name)?.is_none() {
            return Err(Error::NotFound(text.clone()));
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let shown: Vec<&str> = names.iter().map(AccountName::as_str).collect();
    if !confirm(&shown)? {
        return Err(Error::usage("not confirmed: nothing removed"));
    }
    for name in names {
        let lock = kc.lock(&name)?;
        kc.remove(&*lock, Event::new("rm", Action::Rm).account(&name))?;
        removed(&name);
    }
    Ok(())
}
