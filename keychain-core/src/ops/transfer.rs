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

/// The settings file an `import --strip` read, to strip of the values the keychain now holds.
#[derive(Clone, Copy)]
pub struct StripOptions<'a> {
    /// The path as given (a symbolic link is noted: its target is rewritten, the link stays).
    pub given: &'a Path,
    /// The file as the import read it, at the link's target.
    pub file: &'a crate::invantive::SettingsFile,
}

/// What `strip` did.
#[derive(Debug)]
pub struct Stripped {
    /// Which values were cut (read back from the keychain and found equal) and which left.
    pub plan: StripPlan,
    /// The backup kept beside the file (mode 0600, it still holds the values); `None` when
    /// nothing was to be cut, so the file is untouched.
    pub backup: Option<PathBuf>,
}

pub use crate::transfer::strip::StripPlan;

/// Removes from the settings file exactly the values the keychain holds with the same value,
/// recording the strip first (see [`crate::transfer::strip`]). `on_plan` hears the plan before
/// the file is touched, so a front end has said what is to be moved even if the cut fails.
pub fn strip(
    kc: &Keychain,
    options: StripOptions<'_>,
    on_plan: impl FnOnce(&StripPlan),
) -> Result<Stripped> {
    let plan = crate::transfer::strip::plan(kc, options.given, options.file);
    on_plan(&plan);
    if plan.moved.is_empty() {
        return Ok(Stripped { plan, backup: None });
    }
    let backup = crate::transfer::strip::apply(kc, options.file, &plan)?;
    Ok(Stripped {
        plan,
        backup: Some(backup),
    })
}
