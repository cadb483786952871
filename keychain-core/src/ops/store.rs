//! `store copy`: accounts from this keychain into another (local into shared on OpenBao, or
//! back), each as one transaction there ([`Keychain::copy_account_to`]).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::store::Location;

/// What to copy, and where.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// The keychain folder to copy into.
    pub to: PathBuf,
    /// The accounts, as given; empty for all. Each is checked (a valid name, a readable
    /// account) before anything is copied, in the order given.
    pub names: Vec<String>,
    /// Remove each account here once it is stored there (a move).
    pub remove: bool,
}

/// Copies (or moves) the accounts of `options` into the keychain `options.to`. `stray` hears
/// of each entry of the accounts folder that is not a record when all accounts are copied;
/// `copied` hears of each account as soon as it is stored there, with where it now is, so a
/// failure later in the list leaves no copy unreported. Returns the names copied.
pub fn copy(
    kc: &Keychain,
    options: &CopyOptions,
    stray: impl Fn(&Path),
    mut copied: impl FnMut(&str, Location),
) -> Result<Vec<String>> {
    let target = Keychain::open(&options.to)?;
    if std::fs::canonicalize(&options.to).ok() == std::fs::canonicalize(&kc.dir).ok() {
        return Err(Error::usage("--to names this keychain itself"));
    }
    let names = if options.names.is_empty() {
        let listing = kc.store().listing()?;
        listing.strays.iter().for_each(|path| stray(path));
        listing.names
    } else {
        options.names.clone()
    };
    // Every name is checked before anything is copied: a typo copies nothing.
    for name in &names {
        kc.peek(name)?;
    }
    for name in &names {
        kc.copy_account_to(&target, name, options.remove)?;
        copied(name, target.location(name));
    }
    Ok(names)
}
