//! `import` and `export`: accounts into and out of a keychain. The export format and the
//! import of an export or an Invantive settings file are `crate::transfer`'s (a file format and
//! its reader, with their own tests); these are the operations a command calls.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::keychain::Keychain;

pub use crate::transfer::Fate;
pub use crate::transfer::import::{ImportRequest as ImportOptions, Imported};
pub use crate::transfer::strip::StripPlan;

use crate::invantive::SettingsFile;

/// What `import` did: the accounts, and with `strip` the settings file's strip.
pub struct ImportDone {
    /// Each entry's name and fate, and the settings file read.
    pub imported: Imported,
    /// The strip, when `strip` was asked and the file was a settings file.
    pub stripped: Option<Stripped>,
}

/// Imports the accounts of `options.file` (see [`crate::transfer::import::import`]); with
/// `options.strip`, then strips the settings file of the values the keychain now holds.
///
/// A front end hears of each half as it is done, so its report of the accounts is out before
/// the strip begins (a strip that fails leaves that report said): `on_imported` after the
/// accounts are saved, `on_plan` with the settings file and its strip plan before the file is
/// touched.
pub fn import(
    kc: &Keychain,
    options: &ImportOptions,
    on_imported: impl FnOnce(&Imported),
    on_plan: impl FnOnce(&SettingsFile, &StripPlan),
) -> Result<ImportDone> {
    let imported = crate::transfer::import::import(kc, options)?;
    on_imported(&imported);
    let stripped = match &imported.settings {
        Some(file) if options.strip => Some(strip(kc, &options.file, file, on_plan)?),
        _ => None,
    };
    Ok(ImportDone { imported, stripped })
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

/// What `strip` did.
#[derive(Debug)]
pub struct Stripped {
    /// Which values were cut (read back from the keychain and found equal) and which left.
    pub plan: StripPlan,
    /// The backup kept beside the file (mode 0600, it still holds the values); `None` when
    /// nothing was to be cut, so the file is untouched.
    pub backup: Option<PathBuf>,
}

/// Removes from the settings `file` (read from `given`, resolved) exactly the values the
/// keychain holds with the same value, recording the strip first (see
/// [`crate::transfer::strip`]). `on_plan` hears the plan before the file is touched, so a
/// front end has said what is to be moved even if the cut fails.
fn strip(
    kc: &Keychain,
    given: &Path,
    file: &SettingsFile,
    on_plan: impl FnOnce(&SettingsFile, &StripPlan),
) -> Result<Stripped> {
    let plan = crate::transfer::strip::plan(kc, given, file);
    on_plan(file, &plan);
    if plan.moved.is_empty() {
        return Ok(Stripped { plan, backup: None });
    }
    let backup = crate::transfer::strip::apply(kc, file, &plan)?;
    Ok(Stripped {
        plan,
        backup: Some(backup),
    })
}
