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
/// failure later in the list leaves no copy unreported. An account the target holds already,
/// the same (see [`super::edit::same_account`]), is left as it is and `unchanged` hears of it
/// (a copy, not a move: a move removes here, so it goes through the refusal). Returns the names
/// copied.
pub fn copy(
    kc: &Keychain,
    options: &CopyOptions,
    stray: impl Fn(&Path),
    mut copied: impl FnMut(&str, Location),
    mut unchanged: impl FnMut(&str),
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
    let mut done = Vec::with_capacity(names.len());
    for name in &names {
        if !options.remove && same_there(kc, &target, name)? {
            unchanged(name);
            continue;
        }
        kc.copy_account_to(&target, name, options.remove)?;
        copied(name, target.location(name));
        done.push(name.clone());
    }
    Ok(done)
}

/// Whether `target` holds the account `name` already, the same as here. An account there that
/// cannot be read here (no key for it) is not taken for the same: the copy then refuses it.
fn same_there(kc: &Keychain, target: &Keychain, name: &str) -> Result<bool> {
    if target.store().read(name)?.is_none() {
        return Ok(false);
    }
    let (Ok((mine, _)), Ok((theirs, _))) = (kc.read(name), target.read(name)) else {
        return Ok(false);
    };
    Ok(super::edit::same_account(&theirs, &mine))
}
