//! `import` and `export`: accounts into and out of a keychain. The export format and the
//! import of an export or an Invantive settings file are `crate::transfer`'s (a file format and
//! its reader, with their own tests); these are the operations a command calls.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::keychain::Keychain;

pub use crate::transfer::Fate;
pub use crate::transfer::import::{ImportRequest as ImportOptions, Imported};

/// Imports the accounts of `options.file` (see [`crate::transfer::import::import`]).
pub fn import(kc: &Keychain, options: &ImportOptions) -> Result<Imported> {
    crate::transfer::import::import(kc, options)
}

/// What to export, and where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The age public key (age1...) the file is encrypted to, as typed.
    pub recipient: String,
    /// The file to write; refused if it exists.
    pub file: PathBuf,
}

/// An export written.
#[derive(Debug, Clone)]
pub struct Exported {
    /// How many accounts it holds.
    pub accounts: usize,
}

/// Writes every account of the keychain to `options.file`, encrypted to `options.recipient`.
/// `stray` hears of each entry of the accounts folder that is named like a record but is not
/// one (it is left out), as the listing finds it.
pub fn export(kc: &Keychain, options: &ExportOptions, stray: impl Fn(&Path)) -> Result<Exported> {
    let recipient = crate::config::parse_recipient(&options.recipient)?;
    let listing = kc.store().listing()?;
    listing.strays.iter().for_each(|path| stray(path));
    crate::transfer::export::export(kc, &listing.names, &recipient, &options.file)?;
    Ok(Exported {
        accounts: listing.names.len(),
    })
}
